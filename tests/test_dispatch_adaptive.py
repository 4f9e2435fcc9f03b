"""The engine with adaptive concurrency (the default): the gate, the limit it reports, and a
run against a model of a busy server, all in virtual time.

The helpers (fake senders, virtual time) are test_dispatch's.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict

import pytest
from test_dispatch import BUSY, OK, FakeSender, VirtualTime, request, rows, run

from batchtool import model
from batchtool.dispatch import DispatchConfig
from batchtool.dispatch.pacing import Gate
from batchtool.web import words


class BusyServer:
    """A sender that behaves as a server with ``workers`` at a time, ``queue`` waiting, and 503
    at once for the rest; a request takes ``service_s`` of virtual time. It also checks the
    gate: no request may start while the limit last reported is already in flight."""

    def __init__(self, time: VirtualTime, workers: int, queue: int, service_s: float) -> None:
        self.time = time
        self.workers = workers
        self.queue = queue
        self.service_s = service_s
        self._slots = asyncio.Semaphore(workers)
        self._admitted = 0
        self.in_flight = 0
        self.limit = 0  # as last reported through on_limit
        self.limits: list[int] = []
        self.answers: dict[int | None, int] = defaultdict(int)
        self.started: dict[str, list[int]] = defaultdict(list)  # customer -> rows, in start order
        self._active: set[str] = set()

    def on_limit(self, limit: int) -> None:
        self.limit = limit
        self.limits.append(limit)

    async def send(self, req: model.Request) -> model.Attempt:
        assert self.in_flight < self.limit, "a request started beyond the limit"
        customer = req.lookup[1]
        assert customer not in self._active, f"two rows of customer {customer} overlap"
        if not self.started[customer] or self.started[customer][-1] != req.row:
            self.started[customer].append(req.row)
        self.in_flight += 1
        self._active.add(customer)
        try:
            answer = await self._answer()
        finally:
            self.in_flight -= 1
            self._active.discard(customer)
        self.answers[answer.http_status] += 1
        return answer

    async def _answer(self) -> model.Attempt:
        if self._admitted >= self.workers + self.queue:
            await self.time.sleep(0.0005)
            return BUSY
        self._admitted += 1
        try:
            async with self._slots:
                await self.time.sleep(self.service_s)
        finally:
            self._admitted -= 1
        return OK


async def test_a_busy_server_loses_no_row_and_refuses_few_requests() -> None:
    time = VirtualTime()
    server = BusyServer(time, workers=3, queue=1, service_s=0.020)
    inputs = [request(i, str(i % 50)) for i in range(1, 1501)]
    clock = asyncio.create_task(time.run_clock())
    try:
        report, outcomes = await run(
            iter(inputs), server, DispatchConfig(), time=time, on_limit=server.on_limit
        )
    finally:
        clock.cancel()
    assert sorted(o.row for o in outcomes) == list(range(1, 1501))
    assert {o.status for o in outcomes} == {model.OK}
    sent = sum(server.answers.values())
    assert sent == report.requests_sent
    assert server.answers[503] <= 0.03 * sent
    # Near what the server can take (3 at work, 1 waiting), on average over the run.
    assert report.mean_concurrency is not None and 3 <= report.mean_concurrency <= 3 + 1 + 1
    # Per-customer order holds: each customer's rows started in file order.
    expected: dict[str, list[int]] = defaultdict(list)
    for req in inputs:
        expected[req.lookup[1]].append(req.row)
    assert server.started == expected


async def test_the_limit_is_reported_at_the_start_and_at_each_change() -> None:
    time = VirtualTime()
    server = BusyServer(time, workers=3, queue=1, service_s=0.020)
    clock = asyncio.create_task(time.run_clock())
    try:
        await run(rows(300), server, DispatchConfig(), time=time, on_limit=server.on_limit)
    finally:
        clock.cancel()
    assert server.limits[0] == 4
    assert len(server.limits) > 2
    assert all(a != b for a, b in itertools.pairwise(server.limits))


async def test_a_roomy_server_gets_the_maximum() -> None:
    time = VirtualTime()
    server = BusyServer(time, workers=1000, queue=0, service_s=0.020)
    clock = asyncio.create_task(time.run_clock())
    try:
        report, outcomes = await run(
            rows(2000), server, DispatchConfig(max_concurrency=32), time=time,
            on_limit=server.on_limit,
        )
    finally:
        clock.cancel()
    assert len(outcomes) == 2000 and server.answers[503] == 0
    assert max(server.limits) == 32 == server.limits[-1]
    assert report.mean_concurrency is not None and report.mean_concurrency > 0.8 * 32


async def test_a_fixed_concurrency_reports_itself_once() -> None:
    limits: list[int] = []
    sender = FakeSender(lambda req, n: BUSY if req.row % 3 == 0 and n == 1 else OK)
    report, outcomes = await run(
        rows(100), sender, DispatchConfig(concurrency=7), on_limit=limits.append
    )
    assert limits == [7]
    assert report.mean_concurrency == 7.0
    assert len(outcomes) == 100


async def test_stop_releases_rows_waiting_at_the_gate_unsent() -> None:
    stop = asyncio.Event()
    release = asyncio.Event()
    four_in_flight = asyncio.Event()
    never = asyncio.Event()

    async def script(req: model.Request, n: int) -> model.Attempt:
        if sender.in_flight == 4:
            four_in_flight.set()
        await release.wait()
        return OK

    async def sleep(seconds: float) -> None:  # the grace period: let the four finish
        release.set()
        await never.wait()

    async def interrupt() -> None:
        await four_in_flight.wait()
        for _ in range(20):  # the other workers reach the gate and wait there
            await asyncio.sleep(0)
        stop.set()

    sender = FakeSender(script)
    helper = asyncio.create_task(interrupt())
    # 8 workers, a limit of 4 at first: 4 rows in flight, the others wait at the gate.
    report, outcomes = await asyncio.wait_for(
        run(rows(100), sender, DispatchConfig(max_concurrency=8), stop=stop, sleep=sleep), 5
    )
    await helper
    assert report.interrupted
    assert report.requests_sent == len(sender.calls) == 4
    assert sorted(o.row for o in outcomes) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("status", "cuts"),
    [
        pytest.param(429, True, id="429"),
        pytest.param(502, True, id="502"),
        pytest.param(503, True, id="503"),
        pytest.param(504, True, id="504"),
        pytest.param(None, True, id="no-answer"),
        pytest.param(500, False, id="500-is-a-fault-not-overload"),
    ],
)
async def test_overload_answers_cut_the_limit(status: int | None, cuts: bool) -> None:
    limits: list[int] = []
    answer = model.Attempt(
        ok=False, http_status=status, error="trouble", retryable=True, retry_after=0.0
    )
    # The first rows are answered: the server is there. Then row 20 meets the answer.
    sender = FakeSender(lambda req, n: answer if req.row == 20 and n == 1 else OK)
    _, outcomes = await run(rows(40), sender, DispatchConfig(), on_limit=limits.append)
    assert {o.status for o in outcomes} == {model.OK}
    assert any(b < a for a, b in itertools.pairwise(limits)) == cuts


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _gate(clock: _Clock, heard: list[model.Slowdown]) -> Gate[int]:
    async def never(row: int) -> model.Attempt:
        raise AssertionError("nothing is sent here")

    return Gate(
        never,
        maximum=64,
        clock=clock,
        halting=lambda: False,
        on_limit=None,
        on_slowdown=heard.append,
    )


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        pytest.param(BUSY, "the installation answered 503 (busy)", id="503"),
        pytest.param(
            model.Attempt(ok=False, http_status=429, error="HTTP 429: slow down", retryable=True),
            "the installation answered 429 (too many requests)",
            id="429",
        ),
        pytest.param(
            model.Attempt(ok=False, http_status=502, error="HTTP 502: Bad Gateway", retryable=True),
            "the installation answered 502 (gateway error)",
            id="502",
        ),
        pytest.param(
            model.Attempt(ok=False, http_status=504, error="HTTP 504: timeout", retryable=True),
            "the installation answered 504 (gateway timeout)",
            id="504",
        ),
        pytest.param(
            model.Attempt(
                ok=False, http_status=None, error="timed out after 30 s", retryable=True
            ),
            "the installation did not answer in time",
            id="timeout",
        ),
        pytest.param(
            model.Attempt(
                ok=False,
                http_status=None,
                error="connection lost before an answer (ServerDisconnectedError)",
                retryable=True,
            ),
            "the installation refused or dropped the connection",
            id="connection-reset",
        ),
    ],
)
def test_an_overload_cut_says_why_in_words(answer: model.Attempt, said: str) -> None:
    clock, heard = _Clock(), list[model.Slowdown]()
    gate = _gate(clock, heard)
    clock.now = 1.0
    gate.learn(0.5, answer)
    assert gate.limit == 2  # the first limit, 4, cut to 70 %
    assert [words.slowdown(s) for s in heard] == [f"{said}: slowing down to 2 at a time"]
    gate.learn(0.6, answer)  # sent before the cut: the same overload, no second cut
    assert len(heard) == 1


def test_answers_getting_slower_say_so_when_the_limit_falls() -> None:
    clock, heard = _Clock(), list[model.Slowdown]()
    gate = _gate(clock, heard)

    def round_of(rtt: float) -> None:
        for _ in range(gate.limit):
            sent = clock.now
            clock.now += rtt
            gate.learn(sent, OK)

    round_of(0.1)  # the idle round trip
    round_of(0.2)  # slow once: may be a hiccup, so nothing changes
    assert heard == [] and gate.limit == 4
    round_of(0.2)  # slow twice: the server is queueing
    assert [words.slowdown(s) for s in heard] == [
        "answers are getting slower: slowing down to 3 at a time"
    ]



async def test_the_engine_passes_the_gates_reasons_on() -> None:
    heard: list[model.Slowdown] = []
    sender = FakeSender(lambda req, n: BUSY if n == 1 else OK)
    _, outcomes = await run(rows(20), sender, DispatchConfig(), on_slowdown=heard.append)
    assert {o.status for o in outcomes} == {"ok"} and len(outcomes) == 20
    assert heard and {(s.status, s.error) for s in heard} == {(503, None)}
