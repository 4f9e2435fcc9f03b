"""The simulator over real HTTP on 127.0.0.1: API rules, state, faults, admin paths, process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from conftest import SimulatorProcesses

from batchtool import api
from batchtool.errors import UsageError
from batchtool.simulator import (
    DEFAULT_API_KEY,
    DEFAULT_API_USERNAME,
    DROPPED,
    OVER_CAPACITY,
    Fault,
    FaultConfig,
    Simulator,
    Store,
)
from batchtool.simulator.capacity import Capacity
from batchtool.simulator.faults import FaultInjector
from batchtool.simulator.store import password_digest, seed_customer

AUTH = {"api-username": DEFAULT_API_USERNAME, "api-key": DEFAULT_API_KEY}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    sim: Simulator | str,
    operation: str,
    data: Mapping[str, str] | str | bytes | None = None,
    *,
    headers: Mapping[str, str] = AUTH,
    method: str = "PATCH",
    client_timeout_s: float | None = None,
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """One request; returns (status, parsed JSON body or raw text, response)."""
    base = sim if isinstance(sim, str) else sim.base_url
    client_timeout = aiohttp.ClientTimeout(total=client_timeout_s) if client_timeout_s else None
    async with http.request(
        method,
        api.endpoint_url(base, operation),
        data=data,
        headers=headers,
        timeout=client_timeout,
    ) as resp:
        text = await resp.text()
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    return resp.status, body, resp


def assert_error(status: int, body: Any, expected_status: int, *fragments: str) -> None:
    assert status == expected_status, body
    assert isinstance(body, dict) and body["status"] == "error", body
    for fragment in fragments:
        assert fragment in body["message"], body


# Store and seeding


def test_seeded_ids_follow_the_documented_scheme() -> None:
    store = Store(customers=500)
    customer = store.get("191")
    assert customer is not None
    assert (customer.customer_id, customer.subscription_id, customer.orderid) == (
        "191",
        "S191",
        "100191",
    )
    assert store.find("subscription_id", "S191") is customer
    assert store.find("orderid", "100191") is customer
    assert customer.fields["email"].endswith("@example.com")
    assert customer.fields["firstname"] and customer.fields["lastname"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("customer_id", "0", id="zero"),
        pytest.param("customer_id", "501", id="past-the-end"),
        pytest.param("customer_id", "01", id="leading-zero"),
        pytest.param("customer_id", "S1", id="subscription-as-customer-id"),
        pytest.param("subscription_id", "1", id="no-prefix"),
        pytest.param("orderid", "100000", id="orderid-below-range"),
        pytest.param("orderid", "5", id="small-orderid"),
    ],
)
def test_lookup_misses(key: str, value: str) -> None:
    assert Store(customers=500).find(key, value) is None


def test_seeding_is_deterministic() -> None:
    assert seed_customer(42) == seed_customer(42)
    assert Store(10).get("7") == Store(10).get("7")
    assert seed_customer(1).fields != seed_customer(2).fields


# The API: success


async def test_set_customer_details_answers_true_and_applies(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    status, body, resp = await call(
        http,
        simulator,
        "set_customer_details",
        {"customer_id": "191", "firstname": "Test", "zip": "66666", "country": "US"},
    )
    assert (status, body) == (200, True)
    assert resp.content_type == "application/json"
    customer = simulator.store.get("191")
    assert customer is not None
    assert customer.fields["firstname"] == "Test"
    assert customer.fields["zip"] == "66666"


async def test_base_url_ending_in_api_works(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(http, simulator.base_url + "/api", "lock", {"customer_id": "1"})
    assert (status, body) == (200, True)


@pytest.mark.parametrize("key", ["customer_id", "subscription_id", "orderid"])
async def test_lock_and_unlock_by_every_lookup_key(
    simulator: Simulator, http: aiohttp.ClientSession, key: str
) -> None:
    value = {"customer_id": "5", "subscription_id": "S5", "orderid": "100005"}[key]
    customer = simulator.store.get("5")
    assert customer is not None
    assert (await call(http, simulator, "lock", {key: value}))[:2] == (200, True)
    assert customer.locked
    assert (await call(http, simulator, "unlock", {key: value}))[:2] == (200, True)
    assert not customer.locked


async def test_value_sent_exactly_as_typed(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    form = {"customer_id": "3", "zip": "01234", "password": "  two words  ", "city": "Zürich & Co"}
    assert (await call(http, simulator, "set_customer_details", form))[:2] == (200, True)
    customer = simulator.store.get("3")
    assert customer is not None
    assert customer.fields["zip"] == "01234"
    assert customer.fields["city"] == "Zürich & Co"
    assert customer.password_matches("  two words  ")
    assert "two words" not in json.dumps(customer.to_json())


# The API: lock state


async def test_locked_customer_refuses_details_until_unlocked(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    edit = {"customer_id": "10", "firstname": "New"}
    for _ in range(2):  # lock is idempotent
        assert (await call(http, simulator, "lock", {"customer_id": "10"}))[:2] == (200, True)
    status, body, _ = await call(http, simulator, "set_customer_details", edit)
    assert_error(status, body, 409, "locked")
    customer = simulator.store.get("10")
    assert customer is not None and customer.fields["firstname"] != "New"
    for _ in range(2):  # unlock is idempotent
        assert (await call(http, simulator, "unlock", {"orderid": "100010"}))[:2] == (200, True)
    assert (await call(http, simulator, "set_customer_details", edit))[:2] == (200, True)
    assert customer.fields["firstname"] == "New"


async def test_lock_does_not_refuse_forget(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    await call(http, simulator, "lock", {"customer_id": "11"})
    assert (await call(http, simulator, "forget", {"customer_id": "11"}))[:2] == (200, True)


# The API: REMOVE and forget


async def test_remove_removes_a_field(simulator: Simulator, http: aiohttp.ClientSession) -> None:
    form = {"subscription_id": "S4", "address1": "REMOVE", "custom1": "x"}
    assert (await call(http, simulator, "set_customer_details", form))[:2] == (200, True)
    customer = simulator.store.get("4")
    assert customer is not None
    assert "address1" not in customer.fields
    assert customer.fields["custom1"] == "x"


async def test_password_cannot_be_removed(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    form = {"customer_id": "4", "password": "REMOVE"}
    status, body, _ = await call(http, simulator, "set_customer_details", form)
    assert_error(status, body, 400, "password")
    customer = simulator.store.get("4")
    assert customer is not None and customer.password_matches("seed-password-4")


async def test_forget_clears_identifying_fields_except_kept(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    form = {"orderid": "100012", "keep": "firstname, city,member_note"}
    for _ in range(2):  # idempotent
        assert (await call(http, simulator, "forget", form))[:2] == (200, True)
    customer = simulator.store.get("12")
    seeded = seed_customer(12)
    assert customer is not None
    assert customer.fields["firstname"] == seeded.fields["firstname"]
    assert customer.fields["city"] == seeded.fields["city"]
    for gone in ("lastname", "email", "address1", "username", "password", "phone", "shipping_city"):
        assert gone not in customer.fields
    assert customer.tables["member_auth"] == []
    assert customer.tables["member_note"] == seeded.tables["member_note"]
    assert (customer.subscription_id, customer.orderid) == ("S12", "100012")
    assert customer.forgotten


async def test_forget_rejects_unknown_keep_names(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    form = {"customer_id": "13", "keep": "firstname,email,nickname"}
    status, body, _ = await call(http, simulator, "forget", form)
    assert_error(status, body, 400, "'email'", "'nickname'")
    customer = simulator.store.get("13")
    assert customer is not None and not customer.forgotten


# The API: refusals


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        pytest.param({}, "api-username, api-key", id="none"),
        pytest.param({"api-username": DEFAULT_API_USERNAME}, "api-key", id="no-key"),
        pytest.param({"api-key": DEFAULT_API_KEY}, "api-username", id="no-username"),
        pytest.param({**AUTH, "api-key": "wrong"}, "invalid", id="wrong-key"),
        pytest.param({**AUTH, "api-username": "offerit_admin"}, "invalid", id="wrong-username"),
    ],
)
async def test_authentication(
    simulator: Simulator, http: aiohttp.ClientSession, headers: dict[str, str], fragment: str
) -> None:
    status, body, _ = await call(http, simulator, "unlock", {"customer_id": "1"}, headers=headers)
    assert_error(status, body, 401, fragment)
    assert simulator.log[-1].applied is False


@pytest.mark.parametrize(
    ("operation", "form", "expected", "fragments"),
    [
        pytest.param(
            "lock", {}, 400, ("customer_id or subscription_id or orderid",), id="no-lookup"
        ),
        pytest.param(
            "lock",
            {"customer_id": "1", "orderid": "100001"},
            400,
            ("'customer_id'", "'orderid'"),
            id="two-lookups",
        ),
        pytest.param(
            "set_customer_details",
            {"orderid": "100001", "firstname": "X"},
            400,
            ("orderid",),
            id="set-by-orderid",
        ),
        pytest.param(
            "set_customer_details", {"customer_id": "1"}, 400, ("At least one",), id="set-no-params"
        ),
        pytest.param(
            "set_customer_details",
            {"customer_id": "1", "fristname": "X", "nick": "y"},
            400,
            ("'fristname'", "'nick'"),
            id="unknown-params",
        ),
        pytest.param(
            "unlock",
            {"customer_id": "1", "firstname": "X"},
            400,
            ("'firstname'",),
            id="detail-on-unlock",
        ),
        pytest.param(
            "lock", {"customer_id": "1", "keep": "city"}, 400, ("'keep'",), id="keep-on-lock"
        ),
        pytest.param(
            "set_customer_details",
            {"customer_id": "1", "firstname": ""},
            400,
            ("empty", "REMOVE"),
            id="empty-value",
        ),
        pytest.param("lock", {"customer_id": ""}, 400, ("empty",), id="empty-lookup"),
        pytest.param(
            "set_customer_details",
            {"customer_id": "1", "email": "not an address"},
            400,
            ("email",),
            id="bad-email",
        ),
        pytest.param("lock", {"customer_id": "1001"}, 404, ("not found",), id="unknown-customer"),
        pytest.param("lock", {"subscription_id": "X1"}, 404, ("not found",), id="unknown-sub"),
        pytest.param(
            "delete", {"customer_id": "1"}, 404, ("unknown API operation",), id="unknown-op"
        ),
    ],
)
async def test_refusals(
    simulator: Simulator,
    http: aiohttp.ClientSession,
    operation: str,
    form: dict[str, str],
    expected: int,
    fragments: tuple[str, ...],
) -> None:
    before = simulator.store.get("1")
    snapshot = before.to_json() if before is not None else None
    status, body, _ = await call(http, simulator, operation, form)
    assert_error(status, body, expected, *fragments)
    after = simulator.store.get("1")
    assert after is not None and after.to_json() == snapshot
    assert simulator.log[-1].status == expected
    assert simulator.log[-1].applied is False


async def test_method_other_than_patch_is_405(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    status, body, resp = await call(http, simulator, "lock", {"customer_id": "1"}, method="POST")
    assert_error(status, body, 405, "PATCH")
    assert resp.headers["Allow"] == "PATCH"


@pytest.mark.parametrize(
    ("data", "headers", "expected"),
    [
        pytest.param(
            '{"customer_id": "1"}',
            {**AUTH, "Content-Type": "application/json"},
            415,
            id="json",
        ),
        pytest.param(b"customer_id=1", AUTH, 415, id="no-content-type"),
        pytest.param(
            "customer_id=1",
            {**AUTH, "Content-Type": "application/x-www-form-urlencoded; charset=latin-1"},
            415,
            id="latin-1",
        ),
        pytest.param(
            b"customer_id=1&firstname=%ff",
            {**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
            400,
            id="not-utf-8",
        ),
        pytest.param(
            "customer_id=1&garbage",
            {**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
            400,
            id="malformed",
        ),
        pytest.param(
            "customer_id=1&firstname=a&firstname=b",
            {**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
            400,
            id="repeated-parameter",
        ),
    ],
)
async def test_body_must_be_a_utf8_form(
    simulator: Simulator,
    http: aiohttp.ClientSession,
    data: str | bytes,
    headers: dict[str, str],
    expected: int,
) -> None:
    status, body, _ = await call(http, simulator, "set_customer_details", data, headers=headers)
    assert_error(status, body, expected)


# Request log and admin paths


async def test_log_records_each_request_in_order(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    await call(http, simulator, "set_customer_details", {"customer_id": "2", "password": "s3cret"})
    await call(http, simulator, "lock", {"subscription_id": "S2"})
    await call(http, simulator, "set_customer_details", {"customer_id": "2", "city": "Oslo"})
    log = simulator.log
    assert [(e.operation, e.lookup, e.status, e.applied) for e in log] == [
        ("set_customer_details", ("customer_id", "2"), 200, True),
        ("lock", ("subscription_id", "S2"), 200, True),
        ("set_customer_details", ("customer_id", "2"), 409, False),
    ]
    assert log[0].form == {"customer_id": "2", "password": api.MASK}
    assert log[2].form == {"customer_id": "2", "city": "Oslo"}
    assert log[0].time <= log[1].time <= log[2].time
    assert all(e.fault is None for e in log)


async def test_log_can_be_disabled_or_capped(http: aiohttp.ClientSession) -> None:
    async with Simulator(customers=10, log_requests=False) as sim:
        await call(http, sim, "lock", {"customer_id": "1"})
        assert sim.log == []
        assert sim.requests_served == 1
    async with Simulator(customers=10, log_limit=2) as sim:
        for cid in ("1", "2", "3"):
            await call(http, sim, "lock", {"customer_id": cid})
        assert [e.lookup for e in sim.log] == [("customer_id", "2"), ("customer_id", "3")]
        sim.clear_log()
        assert sim.log == []


async def test_admin_paths(simulator: Simulator, http: aiohttp.ClientSession) -> None:
    await call(http, simulator, "lock", {"orderid": "100020"})
    async with http.get(simulator.base_url + "/_sim/log") as resp:
        assert resp.status == 200
        log = await resp.json()
    assert log == [
        {
            "time": log[0]["time"],
            "operation": "lock",
            "form": {"orderid": "100020"},
            "lookup": ["orderid", "100020"],
            "status": 200,
            "applied": True,
            "fault": None,
        }
    ]
    async with http.get(simulator.base_url + "/_sim/customers/20") as resp:
        customer = await resp.json()
    assert customer["locked"] is True
    assert customer["subscription_id"] == "S20"
    async with http.get(simulator.base_url + "/_sim/customers/999999") as resp:
        assert resp.status == 404


# Faults


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"rate_500": 1.5}, id="rate-above-1"),
        pytest.param({"rate_429": -0.1}, id="negative-rate"),
        pytest.param({"rate_500": 0.6, "drop_after": 0.6}, id="rates-sum-above-1"),
        pytest.param({"latency_ms": -1}, id="negative-latency"),
        pytest.param({"slow_s": float("nan")}, id="nan"),
        pytest.param({"seed": 1.5}, id="float-seed"),
    ],
)
def test_fault_config_is_validated_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FaultConfig(**kwargs)


def test_fault_sequence_is_reproducible_by_seed() -> None:
    config = FaultConfig(rate_429=0.1, rate_500=0.1, drop_before=0.1, slow_rate=0.1, seed=7)

    def draw(cfg: FaultConfig) -> list[tuple[Fault | None, float]]:
        injector = FaultInjector(cfg)
        return [(d.fault, d.delay_s) for d in (injector.decide() for _ in range(200))]

    first = draw(config)
    assert first == draw(config)
    assert first != draw(FaultConfig(**{**config.__dict__, "seed": 8}))
    kinds = {fault for fault, _ in first}
    assert {Fault.RATE_LIMITED, Fault.ERROR_500, Fault.DROP_BEFORE, Fault.SLOW, None} <= kinds


async def _statuses(
    http: aiohttp.ClientSession, sim: Simulator, n: int
) -> list[tuple[str | None, int | str]]:
    for i in range(n):
        with contextlib.suppress(aiohttp.ClientError):  # dropped connections
            await call(http, sim, "lock", {"customer_id": str(i % 10 + 1)})
    return [(e.fault, e.status) for e in sim.log]


async def test_faults_over_http_are_reproducible_by_seed(http: aiohttp.ClientSession) -> None:
    config = FaultConfig(
        rate_429=0.15,
        rate_500=0.1,
        rate_502=0.1,
        rate_503=0.1,
        drop_before=0.1,
        drop_after=0.1,
        seed=123,
    )
    runs = []
    for _ in range(2):
        async with Simulator(customers=10, faults=config) as sim:
            runs.append(await _statuses(http, sim, 60))
    assert runs[0] == runs[1]
    seen = {fault for fault, _ in runs[0]}
    assert seen == {None, *Fault} - {Fault.SLOW}
    expected_status: dict[str | None, int | str] = {
        None: 200,
        "429": 429,
        "500": 500,
        "502": 502,
        "503": 503,
        "drop_before": DROPPED,
        "drop_after": DROPPED,
    }
    assert all(status == expected_status[fault] for fault, status in runs[0])


async def test_429_carries_retry_after(simulator: Simulator, http: aiohttp.ClientSession) -> None:
    simulator.faults = FaultConfig(rate_429=1, retry_after_s=2)
    status, body, resp = await call(http, simulator, "lock", {"customer_id": "1"})
    assert_error(status, body, 429)
    assert resp.headers["Retry-After"] == "2"
    customer = simulator.store.get("1")
    assert customer is not None and not customer.locked
    simulator.faults = FaultConfig(rate_429=1, retry_after_s=0.25)
    assert (await call(http, simulator, "lock", {"customer_id": "1"}))[2].headers[
        "Retry-After"
    ] == "0.25"


@pytest.mark.parametrize(
    ("config", "status", "content_type"),
    [
        pytest.param(FaultConfig(rate_500=1), 500, "application/json", id="500"),
        pytest.param(FaultConfig(rate_502=1), 502, "text/html", id="502-html-like-a-proxy"),
        pytest.param(FaultConfig(rate_503=1), 503, "application/json", id="503"),
    ],
)
async def test_server_errors_change_nothing(
    simulator: Simulator,
    http: aiohttp.ClientSession,
    config: FaultConfig,
    status: int,
    content_type: str,
) -> None:
    simulator.faults = config
    got, _, resp = await call(http, simulator, "lock", {"customer_id": "1"})
    assert (got, resp.content_type) == (status, content_type)
    customer = simulator.store.get("1")
    assert customer is not None and not customer.locked
    assert simulator.log[-1].applied is False


async def test_drop_before_loses_the_request(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    simulator.faults = FaultConfig(drop_before=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(http, simulator, "lock", {"customer_id": "1"})
    customer = simulator.store.get("1")
    assert customer is not None and not customer.locked
    entry = simulator.log[-1]
    assert (entry.status, entry.applied, entry.fault) == (DROPPED, False, Fault.DROP_BEFORE)
    assert entry.lookup == ("customer_id", "1")


async def test_drop_after_applies_but_loses_the_answer(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    simulator.faults = FaultConfig(drop_after=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(http, simulator, "lock", {"customer_id": "1"})
    customer = simulator.store.get("1")
    assert customer is not None and customer.locked
    entry = simulator.log[-1]
    assert (entry.status, entry.applied, entry.fault) == (DROPPED, True, Fault.DROP_AFTER)
    # The server is fine afterwards: the next request on a new connection is answered.
    simulator.faults = FaultConfig()
    assert (await call(http, simulator, "unlock", {"customer_id": "1"}))[:2] == (200, True)


async def test_slow_answer_outlasts_the_client_timeout(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    simulator.faults = FaultConfig(slow_rate=1, slow_s=0.6)
    with pytest.raises(asyncio.TimeoutError):
        await call(http, simulator, "lock", {"customer_id": "1"}, client_timeout_s=0.2)
    customer = simulator.store.get("1")
    assert customer is not None and customer.locked  # applied, the answer just came too late
    started = time.monotonic()
    status, body, _ = await call(
        http, simulator, "unlock", {"customer_id": "1"}, client_timeout_s=5
    )
    assert (status, body) == (200, True)
    assert time.monotonic() - started >= 0.55


async def test_stop_cuts_slow_answers_short(http: aiohttp.ClientSession) -> None:
    sim = Simulator(customers=10, faults=FaultConfig(slow_rate=1, slow_s=30))
    await sim.start()
    pending = asyncio.ensure_future(call(http, sim, "lock", {"customer_id": "1"}))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await sim.stop()
    assert time.monotonic() - started < 0.5
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await pending
    customer = sim.store.get("1")
    assert customer is not None and customer.locked  # applied before the slow wait


async def test_latency_with_jitter(simulator: Simulator, http: aiohttp.ClientSession) -> None:
    simulator.faults = FaultConfig(latency_ms=60, jitter_ms=20, seed=3)
    started = time.monotonic()
    await asyncio.gather(*(call(http, simulator, "lock", {"customer_id": "1"}) for _ in range(5)))
    elapsed = time.monotonic() - started
    assert 0.035 <= elapsed < 1.0  # concurrent requests: the latency is not a global lock
    injector = FaultInjector(simulator.faults)
    delays = [injector.decide().delay_s for _ in range(100)]
    assert all(0.04 <= d <= 0.08 for d in delays)
    assert max(delays) - min(delays) > 0.03  # jitter spreads them over most of ±20 ms


# Capacity: K at work, Q waiting, 503 for the rest


async def test_capacity_serves_k_lets_q_wait_and_refuses_the_rest() -> None:
    capacity = Capacity(workers=2, queue=1)
    finish = asyncio.Event()
    served: list[int] = []
    refused: list[int] = []

    async def request(n: int) -> None:
        async with capacity.admit() as admitted:
            if not admitted:
                refused.append(n)
                return
            served.append(n)
            await finish.wait()

    tasks = [asyncio.create_task(request(n)) for n in range(5)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert served == [0, 1]  # two at work, one waiting for them
    assert refused == [3, 4]  # the rest refused at once
    finish.set()
    await asyncio.gather(*tasks)
    assert served == [0, 1, 2] and capacity.peak == 3
    async with capacity.admit() as admitted:  # room again
        assert admitted


async def stats(http: aiohttp.ClientSession, sim: Simulator) -> Any:
    async with http.get(sim.base_url + "/_sim/stats") as resp:
        assert resp.status == 200
        return await resp.json()


async def test_over_capacity_is_refused_at_once_with_nginx_503(
    http: aiohttp.ClientSession,
) -> None:
    # Answers take 30 s: the first request holds the only worker, the second waits for it.
    sim = Simulator(customers=10, faults=FaultConfig(latency_ms=30_000), workers=1, queue=1)
    await sim.start()
    try:
        held = [
            asyncio.ensure_future(call(http, sim, "lock", {"customer_id": cid})) for cid in "12"
        ]
        for _ in range(500):
            if (await stats(http, sim))["capacity"]["peak"] == 2:
                break
            await asyncio.sleep(0.01)
        status, body, resp = await call(http, sim, "lock", {"customer_id": "3"})
        assert (status, resp.content_type) == (503, "text/html")
        assert "<title>503 Service Temporarily Unavailable</title>" in body
        entry = sim.log[-1]
        assert (entry.status, entry.fault, entry.applied) == (503, OVER_CAPACITY, False)
        assert entry.lookup == ("customer_id", "3")
        customer = sim.store.get("3")
        assert customer is not None and not customer.locked
        assert await stats(http, sim) == {
            "requests": 2,  # the one at work and the one refused; the waiting one not yet
            "statuses": {"503": 1},
            "capacity": {"workers": 1, "queue": 1, "peak": 2},
        }
    finally:
        await sim.stop()
    for pending in held:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await pending


async def test_answers_are_counted_by_status(
    simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    await call(http, simulator, "lock", {"customer_id": "1"})
    await call(http, simulator, "unlock", {"customer_id": "1"})
    await call(http, simulator, "lock", {"customer_id": "999999"})
    await call(http, simulator, "lock", {"customer_id": "1"}, headers={})
    assert simulator.statuses == {200: 2, 404: 1, 401: 1}
    assert await stats(http, simulator) == {
        "requests": 4,
        "statuses": {"200": 2, "401": 1, "404": 1},
        "capacity": None,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"queue": 2},
            "--queue needs --workers: requests wait in it for a worker",
            id="queue-without-workers",
        ),
        pytest.param(
            {"workers": 0},
            "--workers must be a whole number of at least 1, not 0",
            id="no-workers",
        ),
        pytest.param(
            {"workers": 2, "queue": -1},
            "--queue must be a whole number of at least 0, not -1",
            id="negative-queue",
        ),
    ],
)
def test_capacity_is_checked_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        Simulator(**kwargs)
    assert str(caught.value) == message


# State file


async def test_state_is_saved_on_stop_and_loaded_at_start(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    state = tmp_path / "sim.json"
    async with Simulator(customers=50, state_path=state) as sim:
        await call(http, sim, "lock", {"customer_id": "7"})
        await call(http, sim, "set_customer_details", {"customer_id": "8", "city": "REMOVE"})
    assert state.exists()
    async with Simulator(customers=20, state_path=state) as sim:
        seven, eight = sim.store.get("7"), sim.store.get("8")
        assert seven is not None and seven.locked
        assert eight is not None and "city" not in eight.fields
        assert sim.store.customers == 50  # the file's larger count wins: nobody disappears
        assert sim.store.get("50") is not None
        status, body, _ = await call(
            http, sim, "set_customer_details", {"customer_id": "7", "zip": "1"}
        )
        assert_error(status, body, 409)


def test_unreadable_state_file_is_a_clear_error(tmp_path: Path) -> None:
    from batchtool.errors import UsageError

    state = tmp_path / "sim.json"
    state.write_text("{not json")
    with pytest.raises(UsageError, match=r"sim\.json"):
        Simulator(state_path=state)


def test_password_is_stored_as_a_digest() -> None:
    customer = seed_customer(1)
    assert customer.fields["password"] == password_digest("seed-password-1")
    assert customer.password_matches("seed-password-1")


# As its own process


async def test_process_prints_ready_serves_and_saves_state_on_sigterm(
    simulator_process: SimulatorProcesses, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    base_url = simulator_process("--customers", "30", "--state", str(state), "--seed", "1")
    assert base_url.startswith("http://127.0.0.1:")
    assert (await call(http, base_url, "lock", {"orderid": "100030"}))[:2] == (200, True)
    async with http.get(base_url + "/_sim/customers/30") as resp:
        assert (await resp.json())["locked"] is True
    async with http.get(base_url + "/_sim/log") as resp:
        assert [e["lookup"] for e in await resp.json()] == [["orderid", "100030"]]
    assert simulator_process.stop(base_url) == 0
    saved = Store.load(state)
    thirty = saved.get("30")
    assert thirty is not None and thirty.locked


async def test_process_capacity_from_arguments(
    simulator_process: SimulatorProcesses, http: aiohttp.ClientSession
) -> None:
    base_url = simulator_process("--workers", "6", "--queue", "2")
    assert (await call(http, base_url, "lock", {"customer_id": "1"}))[:2] == (200, True)
    async with http.get(base_url + "/_sim/stats") as resp:
        assert await resp.json() == {
            "requests": 1,
            "statuses": {"200": 1},
            "capacity": {"workers": 6, "queue": 2, "peak": 1},
        }


async def test_process_faults_from_arguments(
    simulator_process: SimulatorProcesses, http: aiohttp.ClientSession
) -> None:
    base_url = simulator_process("--rate-503", "1", "--api-key", "k2")
    headers = {**AUTH, "api-key": "k2"}
    status, body, _ = await call(http, base_url, "lock", {"customer_id": "1"}, headers=headers)
    assert_error(status, body, 503)
