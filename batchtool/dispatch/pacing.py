"""Pacing: when a request may start (the rate limit) and how many may be in flight (the gate)."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final, Generic, TypeVar

from batchtool import model
from batchtool.limiter import AdaptiveLimit

#: Answers that mean "too much, slow down" (an answer with no status and worth retrying is a
#: refused or reset connection or a timeout: overload too). 502 and 504 are what nginx says
#: when the application behind it is overwhelmed or too slow.
OVERLOAD_STATUSES: Final = frozenset({429, 502, 503, 504})

_RowT = TypeVar("_RowT")


class Halted(Exception):
    """The run is stopping: the row at hand gets no outcome and is not started again."""


class RateLimit:
    """At most ``per_second`` requests started per second, retries included."""

    __slots__ = ("_clock", "_interval", "_next_start")

    def __init__(self, per_second: float, clock: Callable[[], float]) -> None:
        self._interval = 1.0 / per_second
        self._next_start = -math.inf
        self._clock = clock

    def reserve(self) -> float:
        """Take the next start; the seconds to wait for it (0 or less: start now)."""
        now = self._clock()
        start = max(now, self._next_start)
        self._next_start = start + self._interval  # reserved before waiting: no two share it
        return start - now


class Gate(Generic[_RowT]):
    """Adaptive concurrency: a request starts only while fewer than the limiter's current
    limit are in flight; the others wait, first come first served. :meth:`learn` feeds the
    limiter every answer."""

    def __init__(
        self,
        send: Callable[[_RowT], Awaitable[model.Attempt]],
        *,
        maximum: int,
        clock: Callable[[], float],
        halting: Callable[[], bool],
        on_limit: Callable[[int], None] | None,
        on_slowdown: Callable[[model.Slowdown], None] | None = None,
    ) -> None:
        self._send = send
        self._halting = halting
        self._on_limit = on_limit
        self._on_slowdown = on_slowdown
        self._limiter = AdaptiveLimit(maximum=maximum, clock=clock)
        self.limit = self._limiter.limit
        self._in_flight = 0
        # Requests waiting for a place at the gate, first come first served; each future's
        # result says whether it got one (False: the run is stopping).
        self._queue: deque[asyncio.Future[bool]] = deque()

    async def send(self, row: _RowT) -> model.Attempt:
        """``send(row)`` once the gate lets it through; ``Halted`` (nothing sent) when the run
        stops while it waits."""
        if self._in_flight < self.limit and not self._queue:
            self._in_flight += 1  # room at once, the usual case: no coroutine to wait in
        else:
            await self._wait()
        try:
            return await self._send(row)
        finally:
            self._in_flight -= 1
            self._open()

    def learn(self, sent_at: float, attempt: model.Attempt) -> None:
        """Feed the limiter the answer to a request sent at ``sent_at``."""
        status = attempt.http_status
        overload = status in OVERLOAD_STATUSES or (status is None and attempt.retryable)
        limiter = self._limiter
        limiter.on_answer(sent_at, in_flight=self._in_flight, overload=overload, ok=attempt.ok)
        limit = limiter.limit
        if limit != self.limit:
            slower = limit < self.limit
            self.limit = limit
            self._open()
            if self._on_limit is not None:
                self._on_limit(limit)
            if slower and self._on_slowdown is not None:
                self._on_slowdown(_slowdown(limit, attempt if overload else None))

    def close(self) -> None:
        """The run is stopping: every request waiting at the gate gets ``Halted``."""
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(False)

    def mean(self) -> float:
        """The limit, averaged over the run's time."""
        return self._limiter.mean()

    async def _wait(self) -> None:
        """Wait for a place under the limit, first come first served; ``Halted`` when the
        run stops meanwhile."""
        if self._halting():
            raise Halted
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        try:
            admitted = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self._in_flight -= 1  # admitted just as it was cancelled: give the place back
            raise
        if not admitted:
            raise Halted

    def _open(self) -> None:
        """Admit waiting requests while there is room under the limit (places are counted
        when given, so a request admitted but not yet running holds its place)."""
        queue = self._queue
        while queue and self._in_flight < self.limit:
            waiter = queue.popleft()
            if not waiter.done():  # a cancelled waiter gave up its turn
                self._in_flight += 1
                waiter.set_result(True)


def _slowdown(limit: int, overload: model.Attempt | None) -> model.Slowdown:
    """Why the limit fell to ``limit``: the overload answer that cut it, or (None) a cut for
    latency, the only other way the limiter lowers it."""
    if overload is None:
        return model.Slowdown(limit)
    if overload.http_status is not None:
        return model.Slowdown(limit, status=overload.http_status)
    return model.Slowdown(limit, error=overload.error)
