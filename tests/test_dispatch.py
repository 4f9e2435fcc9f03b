"""The engine: retries, per-customer order, bounded memory, rate limit and stop conditions.

A fake Sender (no HTTP) and a fake clock/sleep make every test fast and deterministic.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest

from batchtool import errors, model
from batchtool.dispatch import DispatchConfig, DispatchReport, dispatch

OK = model.Attempt(ok=True, http_status=200, error=None)
BUSY = model.Attempt(ok=False, http_status=503, error="HTTP 503: busy", retryable=True)
NOT_FOUND = model.Attempt(ok=False, http_status=404, error="HTTP 404: No such customer")
REFUSED = model.Attempt(
    ok=False, http_status=401, error="HTTP 401: Invalid api key", auth_refused=True
)


def request(row: int, customer: str | None = None) -> model.Request:
    value = customer if customer is not None else str(row)
    return model.Request(
        row=row,
        operation="unlock",
        lookup=("customer_id", value),
        form=(("customer_id", value),),
    )


def rows(n: int, customers: int | None = None) -> Iterator[model.Request]:
    """A lazy stream, as the reader gives: n rows, over ``customers`` customers if given."""
    for i in range(1, n + 1):
        yield request(i, str(i % customers) if customers else None)


class FakeTime:
    """A clock that only moves when someone sleeps; every wait is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        target = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, target)


class VirtualTime(FakeTime):
    """Simulated time for many concurrent sleepers: ``run_clock`` wakes them in time order,
    each once everything runnable has settled, so each wakes at exactly its own time."""

    def __init__(self) -> None:
        super().__init__()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, self._seq, wake))
        self._seq += 1
        await wake

    async def run_clock(self) -> None:
        while True:
            for _ in range(50):
                await asyncio.sleep(0)
            if self._sleepers:
                when, _, wake = heapq.heappop(self._sleepers)
                self.now = max(self.now, when)
                if not wake.done():
                    wake.set_result(None)


class FakeSender:
    """Answers from a script: ``script(request, attempt_number)`` -> Attempt (or raises)."""

    def __init__(self, script: Callable[[model.Request, int], Any] | None = None) -> None:
        self.script = script or (lambda req, n: OK)
        self.calls: list[tuple[int, int]] = []  # (row, attempt number) in start order
        self._attempts: dict[int, int] = defaultdict(int)
        self.in_flight = 0
        self.max_in_flight = 0

    async def send(self, req: model.Request) -> model.Attempt:
        self._attempts[req.row] += 1
        n = self._attempts[req.row]
        self.calls.append((req.row, n))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            answer = self.script(req, n)
            if not isinstance(answer, model.Attempt):
                answer = await answer
            await asyncio.sleep(0)
            return answer
        finally:
            self.in_flight -= 1


async def run(
    requests: Any,
    sender: Any,
    config: DispatchConfig | None = None,
    *,
    time: FakeTime | None = None,
    seed: int = 1,
    **kwargs: Any,
) -> tuple[DispatchReport, list[model.Outcome]]:
    outcomes: list[model.Outcome] = kwargs.pop("outcomes", [])
    fake = time or FakeTime()
    report = await dispatch(
        requests,
        sender,
        config or DispatchConfig(),
        on_outcome=kwargs.pop("on_outcome", outcomes.append),
        sleep=kwargs.pop("sleep", fake.sleep),
        clock=fake.clock,
        rng=random.Random(seed),
        **kwargs,
    )
    return report, outcomes


# -- retries -------------------------------------------------------------------------------


async def test_backoff_is_full_jitter_from_the_seeded_rng() -> None:
    time = FakeTime()
    sender = FakeSender(lambda req, n: BUSY if n < 5 else OK)
    config = DispatchConfig(max_attempts=5, backoff_base_s=0.5, backoff_max_s=30.0)
    report, (outcome,) = await run([request(1)], sender, config, time=time, seed=42)

    rng = random.Random(42)
    assert time.waits == [rng.uniform(0, 0.5 * 2**k) for k in range(4)]
    assert outcome == model.Outcome(
        row=1,
        status=model.OK,
        http_status=200,
        attempts=5,
        error=None,
        elapsed_ms=round(sum(time.waits) * 1000),
    )
    assert report.requests_sent == 5


@pytest.mark.parametrize("seed", range(20))
async def test_full_jitter_stays_within_its_bounds(seed: int) -> None:
    time = FakeTime()
    config = DispatchConfig(max_attempts=8, backoff_base_s=1.0, backoff_max_s=10.0)
    await run([request(1)], FakeSender(lambda req, n: BUSY), config, time=time, seed=seed)
    ceilings = [min(10.0, 2.0**k) for k in range(7)]
    assert len(time.waits) == 7
    assert all(0 <= w <= c for w, c in zip(time.waits, ceilings, strict=True))


async def test_retry_after_is_honoured_and_capped() -> None:
    time = FakeTime()
    answers = [
        model.Attempt(
            ok=False, http_status=429, error="HTTP 429: slow", retryable=True, retry_after=7.0
        ),
        model.Attempt(
            ok=False, http_status=503, error="HTTP 503: later", retryable=True, retry_after=3600.0
        ),
        OK,
    ]
    config = DispatchConfig(retry_after_max_s=300.0)
    _, (outcome,) = await run(
        [request(1)], FakeSender(lambda r, n: answers[n - 1]), config, time=time
    )
    assert time.waits == [7.0, 300.0]
    assert outcome.status == model.OK and outcome.attempts == 3
    assert outcome.elapsed_ms == 307_000


async def test_non_retryable_answer_is_final_at_once() -> None:
    time = FakeTime()
    sender = FakeSender(lambda req, n: NOT_FOUND)
    report, outcomes = await run([request(1)], sender, time=time)
    assert outcomes == [
        model.Outcome(
            row=1,
            status=model.FAILED,
            http_status=404,
            attempts=1,
            error="HTTP 404: No such customer",
            elapsed_ms=0,
        )
    ]
    assert time.waits == [] and report.requests_sent == 1


@pytest.mark.parametrize("max_attempts", [1, 3, 5])
async def test_gives_up_after_max_attempts(max_attempts: int) -> None:
    sender = FakeSender(lambda req, n: BUSY)
    _, (outcome,) = await run([request(1)], sender, DispatchConfig(max_attempts=max_attempts))
    plural = "attempt" if max_attempts == 1 else "attempts"
    assert outcome.status == model.FAILED
    assert outcome.attempts == max_attempts == len(sender.calls)
    assert outcome.http_status == 503
    assert outcome.error == f"gave up after {max_attempts} {plural}: HTTP 503: busy"


async def test_last_answer_wins_after_a_retry() -> None:
    sender = FakeSender(lambda req, n: BUSY if n == 1 else NOT_FOUND)
    _, (outcome,) = await run([request(1)], sender)
    assert (outcome.attempts, outcome.http_status, outcome.error) == (
        2,
        404,
        "HTTP 404: No such customer",
    )


async def test_elapsed_runs_from_first_start_to_final_answer() -> None:
    time = FakeTime()

    async def slow(req: model.Request, n: int) -> model.Attempt:
        await time.sleep(0.25)  # the request itself takes a quarter second
        return BUSY if req.row == 1 and n == 1 else OK

    # One worker, one start per second: row 1 starts at 0, is retried at 1.0 and answers at
    # 1.25; row 2 waits for its slot at 2.0, which is not part of its own time.
    config = DispatchConfig(concurrency=1, rate_limit=1.0)
    _, outcomes = await run([request(1), request(2)], FakeSender(slow), config, time=time)
    assert [(o.row, o.attempts, o.elapsed_ms) for o in outcomes] == [(1, 2, 1250), (2, 1, 250)]


async def test_a_sender_bug_costs_one_row_not_the_run() -> None:
    def script(req: model.Request, n: int) -> model.Attempt:
        if req.row == 2:
            raise ValueError("boom")
        return OK

    report, outcomes = await run(rows(3), FakeSender(script))
    by_row = {o.row: o for o in outcomes}
    assert by_row[2].status == model.FAILED
    assert by_row[2].error == "internal error: ValueError: boom"
    assert by_row[2].attempts == 1
    assert by_row[1].status == by_row[3].status == model.OK
    assert report == DispatchReport(
        aborted=None, interrupted=False, requests_sent=3, mean_concurrency=4.0
    )


# -- ordering and memory -------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(DispatchConfig(concurrency=64), id="fixed-64"),
        pytest.param(DispatchConfig(), id="auto"),
    ],
)
async def test_per_customer_order_at_high_concurrency(config: DispatchConfig) -> None:
    rng = random.Random(5)
    active: set[str] = set()
    started: dict[str, list[int]] = defaultdict(list)

    async def script(req: model.Request, n: int) -> model.Attempt:
        customer = req.lookup[1]
        if n == 1:  # a retry of the same row is not a new start of the customer
            assert customer not in active, f"two rows of customer {customer} overlap"
            started[customer].append(req.row)
        active.add(customer)
        for _ in range(rng.randrange(6)):
            await asyncio.sleep(0)
        active.discard(customer)
        return BUSY if rng.random() < 0.1 else OK

    inputs = [request(i, str(rng.randrange(40))) for i in range(1, 3001)]
    sender = FakeSender(script)
    _, outcomes = await run(iter(inputs), sender, config)

    expected: dict[str, list[int]] = defaultdict(list)
    for req in inputs:
        expected[req.lookup[1]].append(req.row)
    assert started == expected
    assert sorted(o.row for o in outcomes) == list(range(1, 3001))
    assert 1 < sender.max_in_flight <= 40  # parallel across customers, never within one
    # Outcomes of one customer are reported in input order too.
    reported: dict[str, list[int]] = defaultdict(list)
    for o in outcomes:
        reported[inputs[o.row - 1].lookup[1]].append(o.row)
    assert reported == expected


async def test_same_value_under_another_key_is_another_customer() -> None:
    a = model.Request(row=1, operation="lock", lookup=("customer_id", "7"), form=())
    b = model.Request(row=2, operation="lock", lookup=("orderid", "7"), form=())
    gate = asyncio.Event()

    async def script(req: model.Request, n: int) -> model.Attempt:
        if req.row == 1:
            await gate.wait()  # row 2 must not wait for row 1
        else:
            gate.set()
        return OK

    _, outcomes = await run([a, b], FakeSender(script))
    assert [o.row for o in outcomes] == [2, 1]


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(DispatchConfig(concurrency=16, buffer_rows=100), id="fixed-16"),
        pytest.param(DispatchConfig(buffer_rows=100), id="auto"),
    ],
)
async def test_hot_customer_with_10k_rows_keeps_the_buffer_bounded(
    config: DispatchConfig,
) -> None:
    pulled = 0
    high_water = 0
    outcomes: list[model.Outcome] = []

    def stream() -> Iterator[model.Request]:
        nonlocal pulled
        for i in range(1, 10_001):
            pulled += 1
            # One customer holds almost every row; a few others are sprinkled in.
            yield request(i, "191" if i % 50 else f"other-{i}")

    def on_outcome(outcome: model.Outcome) -> None:
        nonlocal high_water
        high_water = max(high_water, pulled - len(outcomes))
        outcomes.append(outcome)

    report, _ = await asyncio.wait_for(
        run(stream(), FakeSender(), config, on_outcome=on_outcome, outcomes=outcomes), 10
    )
    assert len(outcomes) == 10_000 and report.requests_sent == 10_000
    assert high_water <= 100
    hot = [o.row for o in outcomes if o.row % 50]
    assert hot == sorted(hot)


async def test_input_is_pulled_lazily() -> None:
    pulled = 0

    def stream() -> Iterator[model.Request]:
        nonlocal pulled
        for i in range(1, 1_000_001):
            pulled += 1
            yield request(i)

    stop = asyncio.Event()
    outcomes: list[model.Outcome] = []

    def on_outcome(outcome: model.Outcome) -> None:
        outcomes.append(outcome)
        if len(outcomes) == 10:
            stop.set()

    config = DispatchConfig(concurrency=4, buffer_rows=50)
    report, _ = await run(stream(), FakeSender(), config, stop=stop, on_outcome=on_outcome)
    assert report.interrupted
    assert pulled <= len(outcomes) + 50


# -- rate limit ----------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [pytest.param(8, id="fixed-8"), "auto"])
async def test_rate_limit_spaces_every_start_retries_included(
    concurrency: int | Literal["auto"],
) -> None:
    time = VirtualTime()
    starts: list[float] = []

    def script(req: model.Request, n: int) -> model.Attempt:
        starts.append(time.now)
        return BUSY if req.row % 5 == 0 and n == 1 else OK

    config = DispatchConfig(concurrency=concurrency, rate_limit=10.0, backoff_base_s=0.01)
    clock = asyncio.create_task(time.run_clock())
    try:
        report, outcomes = await run(rows(30), FakeSender(script), config, time=time)
    finally:
        clock.cancel()
    assert len(outcomes) == 30 and report.requests_sent == 36
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.1 - 1e-9
    assert starts[-1] == pytest.approx(35 * 0.1)  # paced, and not slowed down further


# -- stop conditions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(DispatchConfig(concurrency=8), id="fixed-8"),
        pytest.param(DispatchConfig(max_concurrency=8), id="auto"),
    ],
)
async def test_auth_refused_stops_the_run(config: DispatchConfig) -> None:
    sender = FakeSender(lambda req, n: REFUSED)
    report, outcomes = await run(rows(1000), sender, config)
    assert report.aborted == (
        "authentication refused (HTTP 401): Invalid api key — check the api key and api username"
    )
    assert not report.interrupted
    assert report.requests_sent <= 8  # only what was already in flight
    assert len(outcomes) == report.requests_sent
    assert all(o.status == model.FAILED and o.error == REFUSED.error for o in outcomes)


UNREACHABLE = model.Attempt(
    ok=False, http_status=None, error="cannot connect: Connection refused", retryable=True
)


async def test_a_server_that_never_answers_aborts_after_a_few_rows() -> None:
    sender = FakeSender(lambda req, n: UNREACHABLE)
    report, outcomes = await run(rows(1000), sender, DispatchConfig(concurrency=2, max_attempts=3))
    assert report.aborted is not None
    assert report.aborted.startswith("no answer from the server for the first 3 rows")
    assert "Connection refused" in report.aborted and "--resume" in report.aborted
    assert len(outcomes) <= 4  # the third failure stops it; one more may have been in flight
    assert all(o.status == model.FAILED and o.attempts == 3 for o in outcomes)


async def test_unanswered_rows_after_the_server_answered_are_ordinary_failures() -> None:
    # Once the server has answered, a flaky connection is the server's trouble, row by row.
    sender = FakeSender(lambda req, n: OK if req.row == 1 else UNREACHABLE)
    report, outcomes = await run(rows(20), sender, DispatchConfig(concurrency=1, max_attempts=1))
    assert report.aborted is None
    assert len(outcomes) == 20
    assert sum(o.status == model.FAILED for o in outcomes) == 19


async def test_after_auth_refused_in_flight_rows_finish_and_nothing_is_retried() -> None:
    release = asyncio.Event()

    async def script(req: model.Request, n: int) -> model.Attempt:
        if req.row == 1:
            await asyncio.sleep(0)
            return REFUSED
        await release.wait()
        return BUSY if req.row == 2 else OK

    async def later() -> None:
        for _ in range(20):
            await asyncio.sleep(0)
        release.set()

    helper = asyncio.create_task(later())
    sender = FakeSender(script)
    report, outcomes = await run(rows(100), sender, DispatchConfig(concurrency=4))
    await helper
    assert report.aborted is not None
    assert sorted(sender.calls) == [(1, 1), (2, 1), (3, 1), (4, 1)]
    by_row = {o.row: o.status for o in outcomes}
    # Row 2 would have been retried: it is not final, so no outcome (a resume sends it).
    assert by_row == {1: model.FAILED, 3: model.OK, 4: model.OK}


async def test_stop_lets_in_flight_rows_finish_within_grace() -> None:
    stop = asyncio.Event()
    release = asyncio.Event()
    grace_started = asyncio.Event()
    never = asyncio.Event()

    async def script(req: model.Request, n: int) -> model.Attempt:
        if req.row > 10:
            stop.set()
            await release.wait()
        return OK

    async def sleep(seconds: float) -> None:
        assert seconds == 10.0  # only the grace period sleeps in this run
        grace_started.set()
        await never.wait()

    async def finish_in_flight() -> None:
        await grace_started.wait()
        release.set()

    helper = asyncio.create_task(finish_in_flight())
    sender = FakeSender(script)
    report, outcomes = await run(
        rows(1000), sender, DispatchConfig(concurrency=4), stop=stop, sleep=sleep
    )
    await helper
    assert report.interrupted and report.aborted is None
    assert len(outcomes) == report.requests_sent == len(sender.calls) <= 14
    assert {o.status for o in outcomes} == {model.OK}


async def test_stop_cuts_off_what_outlasts_the_grace() -> None:
    stop = asyncio.Event()
    cancelled: list[int] = []

    async def script(req: model.Request, n: int) -> model.Attempt:
        if req.row > 10:
            stop.set()
            try:
                await asyncio.Event().wait()  # a request that never answers
            except asyncio.CancelledError:
                cancelled.append(req.row)
                raise
        return OK

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        for _ in range(20):  # long enough for the rows that do answer
            await asyncio.sleep(0)

    sender = FakeSender(script)
    config = DispatchConfig(concurrency=4, grace_s=2.5)
    report, outcomes = await run(rows(1000), sender, config, stop=stop, sleep=sleep)
    assert report.interrupted
    assert waits == [2.5]
    assert sorted(o.row for o in outcomes) == list(range(1, 11))
    assert sorted(cancelled) == [r for r, _ in sender.calls if r > 10]
    assert cancelled


async def test_row_waiting_for_a_retry_gets_no_outcome_when_stopped() -> None:
    stop = asyncio.Event()
    never = asyncio.Event()

    async def sleep(seconds: float) -> None:
        stop.set()  # Ctrl-C during the backoff
        await never.wait()

    sender = FakeSender(lambda req, n: BUSY if req.row == 1 else OK)
    report, outcomes = await asyncio.wait_for(run([request(1)], sender, stop=stop, sleep=sleep), 5)
    assert report.interrupted and outcomes == [] and sender.calls == [(1, 1)]


async def test_row_waiting_for_its_rate_limit_slot_is_not_sent_when_stopped() -> None:
    stop = asyncio.Event()
    never = asyncio.Event()

    async def sleep(seconds: float) -> None:
        stop.set()  # Ctrl-C while row 2 waits for its slot
        await never.wait()

    sender = FakeSender()
    config = DispatchConfig(concurrency=2, rate_limit=1.0)
    report, outcomes = await asyncio.wait_for(
        run(rows(3), sender, config, stop=stop, sleep=sleep), 5
    )
    assert report.interrupted and report.requests_sent == 1
    assert sender.calls == [(1, 1)] and [o.row for o in outcomes] == [1]


async def test_stop_set_before_the_run_sends_nothing() -> None:
    stop = asyncio.Event()
    stop.set()
    sender = FakeSender()
    report, outcomes = await run(rows(10), sender, stop=stop)
    assert report == DispatchReport(aborted=None, interrupted=True, requests_sent=0)
    assert outcomes == [] and sender.calls == []


async def test_an_on_outcome_error_stops_the_run() -> None:
    seen: list[int] = []

    def on_outcome(outcome: model.Outcome) -> None:
        seen.append(outcome.row)
        if len(seen) == 3:
            raise OSError("journal: disk full")

    sender = FakeSender()
    with pytest.raises(OSError, match="disk full"):
        await run(rows(10_000), sender, DispatchConfig(concurrency=4), on_outcome=on_outcome)
    assert len(sender.calls) < 20


async def test_an_input_error_is_raised_after_pulled_rows_finish() -> None:
    def stream() -> Iterator[model.Request]:
        yield from rows(5)
        raise ValueError("line 6: bad bytes")

    outcomes: list[model.Outcome] = []
    with pytest.raises(ValueError, match="line 6"):
        await run(stream(), FakeSender(), outcomes=outcomes)
    assert sorted(o.row for o in outcomes) == [1, 2, 3, 4, 5]


async def test_every_started_row_gets_exactly_one_outcome() -> None:
    rng = random.Random(11)

    async def script(req: model.Request, n: int) -> model.Attempt:
        for _ in range(rng.randrange(4)):
            await asyncio.sleep(0)
        roll = rng.random()
        if roll < 0.05:
            raise RuntimeError("bug")
        if roll < 0.25:
            return BUSY
        if roll < 0.35:
            return NOT_FOUND
        return OK

    sender = FakeSender(script)
    report, outcomes = await run(
        rows(2000, customers=300), sender, DispatchConfig(concurrency=16, max_attempts=3)
    )
    assert sorted(o.row for o in outcomes) == list(range(1, 2001))
    assert sum(o.attempts for o in outcomes) == report.requests_sent == len(sender.calls)


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"concurrency": 0}, "--concurrency", id="concurrency-0"),
        pytest.param({"concurrency": 2.5}, "--concurrency", id="concurrency-float"),
        pytest.param({"concurrency": "fast"}, "--concurrency", id="concurrency-word"),
        pytest.param({"max_concurrency": 0}, "--max-concurrency", id="max-concurrency-0"),
        pytest.param({"max_attempts": 0}, "--max-attempts", id="max-attempts-0"),
        pytest.param({"rate_limit": 0}, "--rate-limit", id="rate-0"),
        pytest.param({"rate_limit": -1.0}, "--rate-limit", id="rate-negative"),
        pytest.param({"rate_limit": float("inf")}, "--rate-limit", id="rate-inf"),
        pytest.param({"backoff_base_s": -1}, "backoff_base_s", id="backoff-negative"),
        pytest.param({"backoff_max_s": float("nan")}, "backoff_max_s", id="backoff-max-nan"),
        pytest.param({"retry_after_max_s": -5}, "retry_after_max_s", id="retry-after-max"),
        pytest.param({"grace_s": -1}, "grace_s", id="grace-negative"),
        pytest.param({"buffer_rows": 0}, "buffer_rows", id="buffer-0"),
    ],
)
def test_bad_configuration_is_a_usage_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.UsageError, match=message):
        DispatchConfig(**kwargs)


def test_default_configuration_is_valid() -> None:
    config = DispatchConfig(rate_limit=2.5)
    assert config.concurrency == "auto" and config.max_attempts == 5
    assert config.max_in_flight == 64
    assert config.effective_buffer_rows >= config.max_in_flight


@pytest.mark.parametrize(
    ("kwargs", "max_in_flight"),
    [
        pytest.param({}, 64, id="auto"),
        pytest.param({"max_concurrency": 200}, 200, id="auto-max-200"),
        pytest.param({"concurrency": 8}, 8, id="fixed-8"),
        pytest.param({"concurrency": 500}, 500, id="fixed-above-the-auto-maximum"),
    ],
)
def test_most_requests_in_flight(kwargs: dict[str, Any], max_in_flight: int) -> None:
    # What the HTTP connection pool must allow.
    assert DispatchConfig(**kwargs).max_in_flight == max_in_flight


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"concurrency": "fast"},
            "--concurrency must be a whole number of at least 1 or auto, not 'fast'",
            id="word",
        ),
        pytest.param(
            {"concurrency": 8, "max_concurrency": 32},
            "--max-concurrency applies only to --concurrency auto, not to a fixed "
            "--concurrency 8 — give one or the other",
            id="max-with-fixed",
        ),
    ],
)
def test_concurrency_messages(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.UsageError) as caught:
        DispatchConfig(**kwargs)
    assert str(caught.value) == message
