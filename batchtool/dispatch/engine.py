"""The engine: feeds rows to workers in per-customer chains, sends them, and stops when it must."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

from batchtool import model
from batchtool.dispatch.config import DispatchConfig
from batchtool.dispatch.pacing import Gate, Halted, RateLimit
from batchtool.dispatch.retry import RetryPolicy
from batchtool.remedies import RESUME_FIX

_Lookup = tuple[str, str]


class Sender(Protocol):
    """Anything that sends one request and classifies the answer (``client.Client``, a fake)."""

    async def send(self, request: model.Request) -> model.Attempt: ...


@dataclass
class DispatchReport:
    """How the run ended. Rows without an outcome were never started (or were cut off)."""

    aborted: str | None  # why sending stopped (credentials refused, server unreachable)
    interrupted: bool  # the stop event ended the run early
    requests_sent: int  # HTTP requests started, retries included
    #: The limit on requests in flight, averaged over the run's time (the fixed concurrency
    #: when fixed); None when nothing ran.
    mean_concurrency: float | None = None


async def dispatch(
    requests: Iterable[model.Request],
    sender: Sender,
    config: DispatchConfig,
    *,
    on_outcome: Callable[[model.Outcome], None],
    on_limit: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_slowdown: Callable[[model.Slowdown], None] | None = None,
) -> DispatchReport:
    """Send every request; call ``on_outcome`` once per row as soon as its outcome is final.

    ``on_limit`` is called with the limit on requests in flight when sending starts and each
    time it changes (with a fixed concurrency: once); ``on_slowdown`` each time the adaptive
    limit falls, with why. Rows never started get no outcome (the
    caller reports them skipped). An exception from ``on_outcome`` or ``on_limit`` cancels
    everything in flight and is raised from here; so is one from the ``requests`` iterator,
    after the rows already pulled have finished.
    """
    engine = _Engine(
        sender,
        config,
        on_outcome=on_outcome,
        on_limit=on_limit,
        stop=stop,
        sleep=sleep,
        clock=clock,
        rng=rng or random.Random(),
        on_slowdown=on_slowdown,
    )
    return await engine.run(iter(requests))


#: Rows that must fail without any HTTP answer, before any request got one, to abort the run.
UNREACHABLE_ROWS: Final = 3


class _Engine:
    def __init__(
        self,
        sender: Sender,
        config: DispatchConfig,
        *,
        on_outcome: Callable[[model.Outcome], None],
        on_limit: Callable[[int], None] | None,
        stop: asyncio.Event | None,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        rng: random.Random,
        on_slowdown: Callable[[model.Slowdown], None] | None = None,
    ) -> None:
        self._sender = sender
        self._config = config
        self._on_outcome = on_outcome
        self._on_limit = on_limit
        self._on_slowdown = on_slowdown
        self._workers = config.max_in_flight
        self._stop = stop
        self._sleep_fn = sleep
        self._clock = clock
        self._rate = RateLimit(config.rate_limit, clock) if config.rate_limit else None

        # Rows pulled but not final; the feeder waits for room.
        self._room = asyncio.Semaphore(config.effective_buffer_rows)
        # Heads of chains, ready for any worker; None tells a worker to finish.
        self._ready: asyncio.Queue[model.Request | None] = asyncio.Queue()
        # Active lookups -> their rows waiting behind the one being sent (None: nothing waits,
        # the common case, so no deque is built for a customer with a single row).
        self._chains: dict[_Lookup, deque[model.Request] | None] = {}

        self._halted = False
        self._halt_event = asyncio.Event()
        self._aborted: str | None = None
        # Until some request gets an HTTP answer, rows failing without one mean the server
        # cannot be reached at all (wrong base URL, DNS, TLS, down): see _report.
        self._answered = False
        self._unanswered_rows = 0
        self._interrupted = False
        self._feed_error: BaseException | None = None
        self._requests_sent = 0
        self._retries = RetryPolicy(config, sleep=self._sleep_or_halt, rng=rng)

        # How a row's every request goes out: straight away, or (adaptive) through the gate.
        self._send_row: Callable[[_Row], Awaitable[model.Attempt]] = self._send
        self._gate: Gate[_Row] | None = None  # adaptive concurrency only

    # -- the run ---------------------------------------------------------------------------

    async def run(self, rows: Iterator[model.Request]) -> DispatchReport:
        if self._stop is not None and self._stop.is_set():
            return DispatchReport(aborted=None, interrupted=True, requests_sent=0)
        if self._config.adaptive:
            # Through the gate before the rate limit: a start reserved while waiting at the
            # gate would be spent late, and several such could then start at once.
            self._gate = Gate(
                self._send,
                maximum=self._workers,
                clock=self._clock,
                halting=self._halting,
                on_limit=self._on_limit,
                on_slowdown=self._on_slowdown,
            )
            self._send_row = self._gate.send
        if self._on_limit is not None:
            self._on_limit(self._gate.limit if self._gate else self._workers)
        workers = {asyncio.create_task(self._work()) for _ in range(self._workers)}
        feeder = asyncio.create_task(self._feed(rows))
        stop_wait = asyncio.create_task(self._stop.wait()) if self._stop is not None else None
        grace: asyncio.Task[None] | None = None
        try:
            while workers:
                waiting: set[asyncio.Future[Any]] = set(workers)
                if stop_wait is not None:
                    waiting.add(stop_wait)
                if grace is not None:
                    waiting.add(grace)
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if stop_wait in done:
                    stop_wait = None
                    self._interrupted = True
                    self._halt()
                    grace = asyncio.create_task(self._wait_grace())
                elif grace is not None and grace in done:
                    # Grace is over: what is still in flight is cut off, without an outcome.
                    break
                for worker in done & workers:
                    workers.discard(worker)
                    worker.result()  # a worker fails only when on_outcome raised: stop now
        finally:
            leftover = [t for t in (feeder, stop_wait, grace, *workers) if t is not None]
            for task in leftover:
                task.cancel()
            await asyncio.gather(*leftover, return_exceptions=True)
        if self._feed_error is not None:
            raise self._feed_error
        return DispatchReport(
            aborted=self._aborted,
            interrupted=self._interrupted,
            requests_sent=self._requests_sent,
            mean_concurrency=self._gate.mean() if self._gate else float(self._workers),
        )

    async def _wait_grace(self) -> None:
        await self._sleep_fn(self._config.grace_s)

    def _halt(self) -> None:
        """Start nothing more; idle workers finish, busy ones finish their current request."""
        if self._halted:
            return
        self._halted = True
        self._halt_event.set()
        for _ in range(self._workers):
            self._ready.put_nowait(None)
        if self._gate is not None:
            self._gate.close()

    def _halting(self) -> bool:
        # The stop event is checked directly too: between its being set and the run loop
        # noticing, no new request may start.
        if not self._halted and self._stop is not None and self._stop.is_set():
            self._interrupted = True
            self._halt()
        return self._halted

    # -- feeding ---------------------------------------------------------------------------

    async def _feed(self, rows: Iterator[model.Request]) -> None:
        chains = self._chains
        room = self._room
        ready = self._ready
        try:
            while True:
                await room.acquire()
                if self._halted:
                    return
                try:
                    request = next(rows)
                except StopIteration:
                    break
                lookup = request.lookup
                if lookup in chains:
                    waiting = chains[lookup]
                    if waiting is None:
                        waiting = chains[lookup] = deque()
                    waiting.append(request)
                else:
                    chains[lookup] = None
                    ready.put_nowait(request)
        except Exception as exc:
            # The rows already pulled still finish; the error is raised when they have.
            self._feed_error = exc
        if not self._halted:
            for _ in range(self._workers):
                ready.put_nowait(None)

    # -- working ---------------------------------------------------------------------------

    async def _work(self) -> None:
        chains = self._chains
        ready = self._ready
        while True:
            request = await ready.get()
            if request is None:  # no more rows, or the run is stopping
                return
            while request is not None:
                if self._halting():
                    return
                try:
                    await self._run_row(request)
                except Halted:
                    return
                self._room.release()
                # Continue this customer's chain here: its next row may start only now.
                lookup = request.lookup
                waiting = chains[lookup]
                if waiting:
                    request = waiting.popleft()
                else:
                    del chains[lookup]
                    request = None

    async def _run_row(self, request: model.Request) -> None:
        row = _Row(request)
        final = await self._send_row(row)
        if final.retryable and self._config.max_attempts > 1:
            # Tenacity only for rows that need a retry: most rows succeed the first time, and
            # building a retry loop for each would cost more CPU than the request itself.
            final = await self._retries.retry(final, self._send_row, row)
        self._report(row, final)

    def _report(self, row: _Row, final: model.Attempt) -> None:
        if final.http_status is None and not self._answered and not final.ok:
            self._unanswered_rows += 1
            if self._unanswered_rows >= UNREACHABLE_ROWS and self._aborted is None:
                # Every later row would burn its retries the same way: stop, resumable.
                first = f"no answer from the server for the first {self._unanswered_rows} rows"
                if final.retryable:
                    self._aborted = (
                        f"{first} ({final.error}) — check the base URL and the network, "
                        f"{RESUME_FIX}"
                    )
                else:  # e.g. a certificate refused: the error itself says what to change
                    self._aborted = f"{first}: {final.error}"
                self._halt()
        error = final.error
        if final.retryable:  # still worth retrying, so it ran out of attempts
            error = (
                f"gave up after {row.attempts} attempt{'s' if row.attempts > 1 else ''}: {error}"
            )
        self._on_outcome(
            model.Outcome(
                row=row.request.row,
                status=model.OK if final.ok else model.FAILED,
                http_status=final.http_status,
                attempts=row.attempts,
                error=error,
                elapsed_ms=round((self._clock() - row.started) * 1000),
            )
        )

    async def _send(self, row: _Row) -> model.Attempt:
        """One request within the rate limit; never raises but ``Halted`` (nothing sent then)."""
        rate = self._rate
        if rate is not None:
            wait = rate.reserve()
            if wait > 0:
                await self._sleep_or_halt(wait)
        if self._halting():
            raise Halted
        if not row.attempts:
            row.started = self._clock()  # after any rate-limit wait: the row's own time
        row.attempts += 1
        self._requests_sent += 1
        gate = self._gate
        sent_at = self._clock() if gate is not None else 0.0
        try:
            attempt = await self._sender.send(row.request)
        except Exception as exc:  # a bug in a sender must cost one row, not the run
            attempt = model.Attempt(
                ok=False, http_status=None, error=f"internal error: {type(exc).__name__}: {exc}"
            )
        if gate is not None:
            gate.learn(sent_at, attempt)
        if attempt.http_status is not None:
            self._answered = True
        if attempt.auth_refused and self._aborted is None:
            self._aborted = _abort_reason(attempt)
            self._halt()
        return attempt

    # -- waiting ---------------------------------------------------------------------------

    async def _sleep_or_halt(self, seconds: float) -> None:
        """Sleep, but give up at once (``Halted``) when the run stops meanwhile."""
        if self._halting():
            raise Halted
        if seconds > 0:
            nap = asyncio.ensure_future(self._sleep_fn(seconds))
            halt = asyncio.create_task(self._halt_event.wait())
            try:
                await asyncio.wait((nap, halt), return_when=asyncio.FIRST_COMPLETED)
            finally:
                nap.cancel()
                halt.cancel()
        if self._halting():
            raise Halted


class _Row:
    """One row on its way: how many requests it took, and when the first one started."""

    __slots__ = ("attempts", "request", "started")

    def __init__(self, request: model.Request) -> None:
        self.request = request
        self.attempts = 0
        self.started = 0.0


def _abort_reason(attempt: model.Attempt) -> str:
    status = attempt.http_status
    message = attempt.error or "no message"
    prefix = f"HTTP {status}: "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return f"authentication refused (HTTP {status}): {message} — check the api key and api username"
