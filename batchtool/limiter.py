"""Adaptive concurrency: how many requests may be in flight, learnt from the server's answers.

Pure arithmetic over what the engine reports (when a request was sent, whether its answer said
"overloaded", whether it succeeded); no I/O and no asyncio, and time comes from an injected
clock, so a test drives it with a fake clock and a model of a server. The engine
(``dispatch``) lets at most :attr:`AdaptiveLimit.limit` requests be in flight.

The rules, in the spirit of TCP Vegas and Netflix's concurrency-limits. The limit is judged
once per *round*: once ``limit`` successful answers have come back to requests sent since
the limit last changed, i.e. about one round trip at the current limit.

- **Overload** (the engine decides which answers say so: 429, 503, no answer...): the limit
  is cut to ``CUT`` of itself at once, but at most once per round trip: only an answer to a
  request sent after the last cut counts, so a burst of 503s to requests sent under the old
  limit is one cut, not twenty. The limit at the cut is remembered: growing back is quick up
  to just below it, then one more only every ``PROBE_ANSWERS`` calm answers, so a server that
  refuses at a fixed point is probed rarely.
- **Latency**: a round's mean round trip over the *idle* one (the least round mean seen)
  above ``TOLERANCE``, two rounds running (one alone may be a hiccup of the client's
  machine or the network: growth just pauses), means the server is queueing our requests:
  shrink in proportion (by ``MIN_SHRINK`` to ``MAX_SHRINK``). If the next round is still
  slow and shrinking brought no relief (the round trip did not fall with the limit), the
  cause may be the server's other work, not our queue: one round at ``IDLE_PROBE`` of the
  limit tells. Slow even then: that is the server's idle time now (its other users, a
  backup, a busy machine), so take it as the idle one and go back to the limit. Quick then:
  it was our queue after all (it had not drained yet), so go back and go on.
- **Otherwise grow**, but only when the limit was used (one customer's rows, sent one at a
  time, never need more): doubling each round until the first sign of trouble (slow start,
  so a roomy server is reached within a few round trips), then by about its square root,
  or by one when the round trip is already more than half-way to ``TOLERANCE``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

#: Where a run starts: gentle on a server that is already struggling.
INITIAL_LIMIT: Final = 4
#: The limit after an overload answer, as a fraction of the limit before it.
CUT: Final = 0.7
#: A round's mean round trip over the idle one above which the server is queueing.
TOLERANCE: Final = 1.5
#: The largest and the smallest single shrink for latency, as fractions of the limit. The
#: smallest is big enough that the next round can tell whether it brought relief.
MAX_SHRINK: Final = 0.5
MIN_SHRINK: Final = 0.85
#: Near the limit that last met an overload answer: one more per this many calm answers.
PROBE_ANSWERS: Final = 100
#: The limit for a round that measures the idle time again, as a fraction of the limit.
IDLE_PROBE: Final = 0.5
#: After a shrink for latency, the share of the proportional relief that shows the wait was
#: a queue of ours (see ``_relieved``).
RELIEF: Final = 0.8


class AdaptiveLimit:
    """The current limit on requests in flight, between ``minimum`` and ``maximum``.

    The engine calls :meth:`on_answer` for every answer, then reads :attr:`limit`.
    """

    def __init__(
        self,
        *,
        maximum: int,
        clock: Callable[[], float],
        minimum: int = 1,
        initial: int = INITIAL_LIMIT,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, not {minimum} and {maximum}")
        self.minimum = minimum
        self.maximum = maximum
        self._clock = clock
        self._estimate = float(min(max(initial, minimum), maximum))
        self.limit = int(self._estimate)
        self._slow_start = True

        now = clock()
        self._started = now
        self._changed = now  # the limit has had its value since then (for the mean)
        self._area = 0.0  # integral of the limit over time, until _changed
        self._last_cut = -math.inf
        self._overload_at: float | None = None  # the limit when an overload answer last came
        self._idle_rtt = math.inf
        # After a shrink for latency: the round (limit, mean round trip) that caused it.
        self._shrunk_from: tuple[int, float] | None = None
        # During a round at a small limit that measures the idle time: the limit to go back to.
        self._probe_return: float | None = None
        self._slow_before = False  # the last round judged was slow (above the tolerance)

        # The round: successful answers to requests sent since the limit last changed.
        self._round_start = now
        self._round_rtt = 0.0
        self._round_answers = 0
        self._round_used = 0

    def on_answer(self, sent_at: float, *, in_flight: int, overload: bool, ok: bool) -> None:
        """One answer, to a request sent at ``sent_at`` (the clock's time) while ``in_flight``
        requests were in flight, this one included. ``overload``: the answer says the server
        is overloaded. ``ok``: a successful answer, whose round trip measures the server's work
        (a quick 404 says nothing about how busy the server is)."""
        now = self._clock()
        if overload:
            if sent_at >= self._last_cut:
                self._last_cut = now
                self._slow_start = False
                self._shrunk_from = None
                estimate = self._estimate
                if self._probe_return is not None:  # overloaded even at a small limit
                    estimate, self._probe_return = self._probe_return, None
                self._overload_at = estimate
                self._set(estimate * CUT, now)
            return
        if not ok or sent_at < self._round_start:
            return  # says nothing about the server's work at the current limit
        self._round_rtt += now - sent_at
        self._round_answers += 1
        if in_flight > self._round_used:
            self._round_used = in_flight
        if self._round_answers >= self.limit:
            self._judge_round(now)

    def _judge_round(self, now: float) -> None:
        rtt = self._round_rtt / self._round_answers
        if self._probe_return is not None:  # the round at a small limit is over
            if rtt > self._idle_rtt * TOLERANCE:
                self._idle_rtt = rtt  # slow with hardly anything in flight: the new idle time
            back, self._probe_return = self._probe_return, None
            self._set(back, now)
            return
        self._idle_rtt = min(self._idle_rtt, rtt)
        ratio = rtt / self._idle_rtt if self._idle_rtt > 0 else 1.0
        shrunk_from, self._shrunk_from = self._shrunk_from, None
        slow_before, self._slow_before = self._slow_before, ratio > TOLERANCE
        if ratio > TOLERANCE:
            if shrunk_from is None and not slow_before:
                # One slow round may be a hiccup (the client's machine busy for a moment, the
                # network): hold, and act if the next round is slow too.
                self._new_round(now)
            elif shrunk_from is not None and not _relieved(shrunk_from, (self.limit, rtt)):
                self._slow_start = False
                self._probe_return = self._estimate
                self._set(self._estimate * IDLE_PROBE, now)
            else:
                self._slow_start = False
                self._slow_before = False  # the next round judges the shrink, alone
                self._shrunk_from = (self.limit, rtt)
                shrink = min(MIN_SHRINK, max(MAX_SHRINK, TOLERANCE / ratio))
                self._set(self._estimate * shrink, now)
        elif self._round_used >= self.limit:
            self._set(self._grown(ratio), now)
        else:
            self._new_round(now)

    def _grown(self, ratio: float) -> float:
        estimate = self._estimate
        if self._slow_start:
            return estimate * 2
        # Close to the tolerance, a big step would overshoot into the server's queue.
        step = max(1.0, math.sqrt(estimate)) if ratio <= (1 + TOLERANCE) / 2 else 1.0
        overload = self._overload_at
        if overload is None or estimate >= overload + 1:  # past it without trouble: it moved
            return estimate + step
        if estimate < overload - 1:  # recovering from the cut: quickly, to just below it
            return min(estimate + step, overload - 1)
        # Where the server said "too much": probe, one more per PROBE_ANSWERS answers.
        return estimate + self.limit / PROBE_ANSWERS

    def _set(self, estimate: float, now: float) -> None:
        self._estimate = min(max(estimate, float(self.minimum)), float(self.maximum))
        limit = int(self._estimate)
        if limit != self.limit:
            self._area += self.limit * (now - self._changed)
            self._changed = now
            self.limit = limit
        self._new_round(now)

    def _new_round(self, now: float) -> None:
        self._round_start = now
        self._round_rtt = 0.0
        self._round_answers = 0
        self._round_used = 0

    def mean(self) -> float:
        """The limit's mean since this limiter was made, each value weighted by how long it
        held."""
        now = self._clock()
        elapsed = now - self._started
        if elapsed <= 0:
            return float(self.limit)
        return (self._area + self.limit * (now - self._changed)) / elapsed


def _relieved(before: tuple[int, float], after: tuple[int, float]) -> bool:
    """Whether the round trip fell with the limit as queueing would have it.

    A server working flat out answers at a fixed rate, so the round trip is proportional to
    the requests in flight: a smaller limit gives a proportionally quicker answer. Less than
    ``RELIEF`` of that means the wait was not (only) in a queue of ours: sending less costs
    throughput there, so it is worth measuring again.
    """
    (limit_before, rtt_before), (limit_after, rtt_after) = before, after
    if limit_after >= limit_before:
        return True  # the shrink was too small to move the limit: nothing to compare
    proportional = 1 - limit_after / limit_before
    return rtt_after / rtt_before <= 1 - RELIEF * proportional


__all__ = ["INITIAL_LIMIT", "AdaptiveLimit"]
