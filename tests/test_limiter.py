"""The adaptive limit on its own: a fake clock, and a model of a server it is fed from.

The model is a queueing server (K workers each taking the service time, Q places to wait, an
immediate 503 for the rest) and a client that always has rows to send: it keeps ``limit``
requests in flight and feeds every answer to the limiter. Everything runs in model time, so
these tests are exact and instant.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import pytest

from batchtool.limiter import (
    CUT,
    IDLE_PROBE,
    INITIAL_LIMIT,
    MAX_SHRINK,
    MIN_SHRINK,
    TOLERANCE,
    AdaptiveLimit,
)

#: How long a refusal takes to come back: the server answers it without doing any work.
REFUSAL_S = 0.0005
#: What the network adds to every answer.
NETWORK_S = 0.001


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ServerModel:
    """``workers`` at a time, each for ``service_s`` (a function of the time, so a test can
    make the server slower midway), ``queue`` waiting, 503 for the rest. None: no limit."""

    workers: int | None
    queue: int = 0
    service_s: float = 0.020

    def service(self, now: float) -> float:
        return self.service_s


@dataclass
class SlowsDown(ServerModel):
    """A server that becomes slower for everyone at ``at_s`` (its own load, not ours)."""

    at_s: float = 0.0
    later_s: float = 0.060

    def service(self, now: float) -> float:
        return self.later_s if now >= self.at_s else self.service_s


@dataclass
class Run:
    answers: int = 0
    ok: int = 0
    refused: int = 0
    limits: list[tuple[float, int]] = field(default_factory=list)  # (time, limit) at changes
    most_in_flight: int = 0
    slowest_ratio: float = 0.0  # the worst answer's time over the idle answer's time

    @property
    def refused_share(self) -> float:
        return self.refused / self.answers

    def limits_after(self, t: float) -> list[int]:
        before = [limit for when, limit in self.limits if when <= t]
        return before[-1:] + [limit for when, limit in self.limits if when > t]


def drive(server: ServerModel, duration_s: float, maximum: int = 64) -> tuple[Run, AdaptiveLimit]:
    """Feed the limiter from ``server`` for ``duration_s`` of model time."""
    clock = Clock()
    limiter = AdaptiveLimit(maximum=maximum, clock=clock)
    run = Run(limits=[(0.0, limiter.limit)])
    events: list[tuple[float, int, str, float]] = []  # (when, seq, what, sent_at)
    seq = 0
    in_flight = 0
    busy = 0
    waiting: deque[float] = deque()  # sent_at of requests waiting for a worker

    def schedule(when: float, what: str, sent_at: float) -> None:
        nonlocal seq
        heapq.heappush(events, (when, seq, what, sent_at))
        seq += 1

    def start_service(sent_at: float) -> None:
        nonlocal busy
        busy += 1
        schedule(clock.now + server.service(clock.now), "done", sent_at)

    def send() -> None:
        nonlocal in_flight
        in_flight += 1
        run.most_in_flight = max(run.most_in_flight, in_flight)
        now = clock.now
        if server.workers is None or busy < server.workers:
            start_service(now)
        elif len(waiting) < server.queue:
            waiting.append(now)
        else:
            schedule(now + REFUSAL_S, "refused", now)

    while clock.now < duration_s:
        while in_flight < limiter.limit:
            send()
        when, _, what, sent_at = heapq.heappop(events)
        if what == "done":
            # The worker is free as the answer leaves; the client has it a moment later.
            busy -= 1
            if waiting:
                start_service(waiting.popleft())
            schedule(when + NETWORK_S, "answer", sent_at)
            clock.now = when
            continue
        clock.now = when
        limiter.on_answer(
            sent_at, in_flight=in_flight, overload=what == "refused", ok=what == "answer"
        )
        in_flight -= 1
        run.answers += 1
        if what == "refused":
            run.refused += 1
        else:
            run.ok += 1
            idle = server.service(sent_at) + NETWORK_S
            run.slowest_ratio = max(run.slowest_ratio, (when - sent_at) / idle)
        if limiter.limit != run.limits[-1][1]:
            run.limits.append((clock.now, limiter.limit))
    return run, limiter


# -- against a model of a server -----------------------------------------------------------


def test_a_busy_server_gets_close_to_its_capacity_and_few_refusals() -> None:
    # As the measurement: 6 workers, 2 waiting, 20 ms a request: 300 answers/s.
    run, limiter = drive(ServerModel(workers=6, queue=2), duration_s=30.0)
    assert run.refused_share <= 0.03
    assert run.ok / 30.0 >= 0.9 * 300
    steady = run.limits_after(2.0)
    assert min(steady) >= 4 and max(steady) <= 6 + 2 + 1  # near K..K+Q, probing one above
    assert 6 <= limiter.mean() <= 8


@pytest.mark.parametrize(
    ("workers", "queue"),
    [
        pytest.param(1, 0, id="one-worker-no-queue"),
        pytest.param(3, 1, id="3-workers-queue-1"),
        pytest.param(20, 5, id="20-workers-queue-5"),
        pytest.param(40, 0, id="40-workers-no-queue"),
    ],
)
def test_other_capacities_converge_without_many_refusals(workers: int, queue: int) -> None:
    run, _ = drive(ServerModel(workers=workers, queue=queue), duration_s=30.0)
    assert run.refused_share <= 0.03
    assert run.ok / 30.0 >= 0.85 * workers / 0.020
    assert max(run.limits_after(5.0)) <= workers + queue + 1


def test_a_roomy_server_gets_the_maximum_within_a_few_round_trips() -> None:
    run, limiter = drive(ServerModel(workers=None), duration_s=10.0)
    assert run.refused == 0
    reached = next(when for when, limit in run.limits if limit == 64)
    assert reached < 10 * 0.021  # slow start: doubling each round trip
    assert run.limits[-1][1] == 64
    assert limiter.mean() >= 0.95 * 64


def test_the_maximum_is_never_exceeded() -> None:
    run, _ = drive(ServerModel(workers=None), duration_s=5.0, maximum=10)
    assert max(limit for _, limit in run.limits) == 10
    assert run.most_in_flight == 10


def test_a_deep_queue_is_noticed_by_latency_before_any_refusal() -> None:
    # nginx + PHP-FPM's usual backlog is hundreds: the server queues long before it refuses.
    run, limiter = drive(ServerModel(workers=6, queue=500), duration_s=30.0)
    assert run.refused == 0
    assert run.ok / 30.0 >= 0.95 * 300
    # The limit settles where answers take about TOLERANCE times the idle time (a little
    # more: a round sees the queue of a new limit only partly built), and stays there.
    assert max(run.limits_after(2.0)) <= 2 * 6
    assert 6 * TOLERANCE <= limiter.mean() <= 2 * 6


def test_a_server_slower_for_everyone_is_not_taken_for_queueing() -> None:
    # At 10 s the server's own answers become three times slower (its other users, a backup):
    # the limit backs off once, sees no relief, measures the idle time again at half
    # the limit, finds it slow too and takes it as the new idle time.
    run, _ = drive(SlowsDown(workers=None, at_s=10.0), duration_s=20.0)
    assert min(run.limits_after(10.0)) == 64 * MAX_SHRINK * IDLE_PROBE
    assert run.limits[-1][1] == 64
    back = next(when for when, limit in run.limits if when > 10.0 and limit == 64)
    assert back < 11.0


# -- the rules one by one, with a fake clock -----------------------------------------------


def answers(
    limiter: AdaptiveLimit, clock: Clock, n: int, *, rtt: float, in_flight: int | None = None
) -> None:
    """``n`` successful answers, each taking ``rtt``, one after the other in model time."""
    for _ in range(n):
        sent_at = clock.now
        clock.now += rtt
        used = limiter.limit if in_flight is None else in_flight
        limiter.on_answer(sent_at, in_flight=used, overload=False, ok=True)


def test_starts_small() -> None:
    limiter = AdaptiveLimit(maximum=64, clock=Clock())
    assert limiter.limit == INITIAL_LIMIT == 4
    assert AdaptiveLimit(maximum=2, clock=Clock()).limit == 2


def test_slow_start_doubles_each_round_of_calm_answers() -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock)
    seen = [limiter.limit]
    for _ in range(5):
        answers(limiter, clock, limiter.limit, rtt=0.020)
        seen.append(limiter.limit)
    assert seen == [4, 8, 16, 32, 64, 64]


def test_a_burst_of_overload_answers_is_one_cut() -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock, initial=20)
    sent_at = clock.now
    clock.now += 0.001
    for _ in range(20):  # twenty 503s to requests all sent under the old limit
        limiter.on_answer(sent_at, in_flight=20, overload=True, ok=False)
    assert limiter.limit == int(20 * CUT) == 14
    # A request sent after the cut that is refused again is news: another cut.
    sent_after = clock.now
    clock.now += 0.001
    limiter.on_answer(sent_after, in_flight=14, overload=True, ok=False)
    assert limiter.limit == int(20 * CUT * CUT) == 9


def test_overload_never_cuts_below_one() -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock)
    for _ in range(20):
        sent_at = clock.now
        clock.now += 0.001
        limiter.on_answer(sent_at, in_flight=1, overload=True, ok=False)
    assert limiter.limit == 1


def test_after_an_overload_it_recovers_quickly_then_probes_slowly() -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock, initial=20)
    answers(limiter, clock, 40, rtt=0.020)  # the idle time is known
    assert limiter.limit == 40  # slow start
    sent_at = clock.now
    clock.now += 0.001
    limiter.on_answer(sent_at, in_flight=40, overload=True, ok=False)
    assert limiter.limit == 28
    rounds = []
    for _ in range(5):
        answers(limiter, clock, limiter.limit, rtt=0.020)
        rounds.append(limiter.limit)
    # Back to just below the limit that met the overload within two rounds, then one more
    # only after PROBE_ANSWERS answers or so (three rounds of 39).
    assert rounds == [33, 39, 39, 39, 40]


def test_latency_above_tolerance_shrinks_in_proportion() -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock, initial=10)
    answers(limiter, clock, 10, rtt=0.020)
    assert limiter.limit == 20
    answers(limiter, clock, 20, rtt=0.020 * 2.4)  # well above the idle time...
    assert limiter.limit == 20  # ... but once could be a hiccup: hold
    answers(limiter, clock, 20, rtt=0.020 * 2.4)  # twice: queueing
    assert limiter.limit == int(20 * TOLERANCE / 2.4) == 12
    # Quicker with fewer in flight: it was our queue. Calm now, so it grows again, by about
    # its square root (slow start is over)...
    answers(limiter, clock, 12, rtt=0.022)
    assert limiter.limit == int(12.5 + math.sqrt(12.5)) == 16
    # ... or by one when the answers are slower than half-way to the tolerance.
    answers(limiter, clock, 16, rtt=0.020 * 1.4)
    assert limiter.limit == 17


@pytest.mark.parametrize(
    ("ratio", "limit"),
    [
        pytest.param(10.0, int(20 * MAX_SHRINK), id="at-most-half"),
        pytest.param(1.6, int(20 * MIN_SHRINK), id="enough-to-tell-next-round"),
    ],
)
def test_a_shrink_for_latency_is_bounded(ratio: float, limit: int) -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock, initial=10)
    answers(limiter, clock, 10, rtt=0.020)
    answers(limiter, clock, 40, rtt=0.020 * ratio)
    assert limiter.limit == limit


def test_one_slow_round_is_a_hiccup() -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock, initial=10)
    answers(limiter, clock, 10, rtt=0.020)
    answers(limiter, clock, 20, rtt=0.020 * 10)  # the client's machine stalled, say
    assert limiter.limit == 20
    answers(limiter, clock, 20, rtt=0.020)
    assert limiter.limit == 40  # still in slow start: nothing was wrong


def test_no_relief_from_shrinking_makes_the_slower_time_the_idle_one() -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock, initial=10)
    answers(limiter, clock, 10, rtt=0.020)
    answers(limiter, clock, 40, rtt=0.060)
    assert limiter.limit == 10  # three times slower, twice: the biggest shrink, half
    answers(limiter, clock, 10, rtt=0.060)  # half the requests, the same time: not our queue?
    assert limiter.limit == int(10 * IDLE_PROBE) == 5  # one round at half the limit tells
    answers(limiter, clock, 5, rtt=0.060)
    assert limiter.limit == 10  # slow even then: the new idle time, and back to the limit
    answers(limiter, clock, 10, rtt=0.060)
    assert limiter.limit == 13  # calm at the new idle time: growing


def test_a_queue_that_had_not_drained_yet_keeps_the_idle_time() -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock, initial=10)
    answers(limiter, clock, 10, rtt=0.020)
    answers(limiter, clock, 40, rtt=0.060)
    answers(limiter, clock, 10, rtt=0.060)
    answers(limiter, clock, 5, rtt=0.021)  # quick with fewer in flight: our queue
    assert limiter.limit == 10
    answers(limiter, clock, 10, rtt=0.060)
    assert limiter.limit == int(10 * MAX_SHRINK) == 5  # still measured against 20 ms


def test_only_successful_answers_measure_the_latency() -> None:
    # A quick 404 says nothing about how busy the server is; it must not set the idle time.
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock, initial=10)
    for _ in range(10):
        sent_at = clock.now
        clock.now += 0.001
        limiter.on_answer(sent_at, in_flight=10, overload=False, ok=False)
    answers(limiter, clock, 10, rtt=0.020)
    assert limiter.limit == 20


def test_a_limit_not_used_does_not_grow() -> None:
    # A file that is all one customer's rows sends one at a time: no reason to allow more.
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock)
    answers(limiter, clock, 100, rtt=0.020, in_flight=1)
    assert limiter.limit == INITIAL_LIMIT


def test_mean_is_weighted_by_time() -> None:
    clock = Clock()
    limiter = AdaptiveLimit(maximum=64, clock=clock)
    answers(limiter, clock, 4, rtt=0.25)  # one second at 4, then 8
    assert limiter.limit == 8
    clock.now = 3.0  # two seconds at 8
    assert limiter.mean() == pytest.approx((4 * 1 + 8 * 2) / 3)


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="minimum"):
        AdaptiveLimit(maximum=0, clock=Clock())
