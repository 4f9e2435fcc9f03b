"""Who may try to sign in now: throttles per user name and per client address, and the fair,
bounded queue in front of password hashing.

A password check costs tens of milliseconds of CPU on purpose (scrypt), so a flood of
sign-ins could keep everyone else out. These rules keep a person's sign-in quick during one:

- ``SignInThrottle``: too many failures for one user name, or from one client address,
  within ``FAILURE_WINDOW_S`` answer 429 without hashing. Failures expire in order from the
  front of one queue, so a flood of random names costs O(1) per sign-in.
- ``HashQueue``: hashing has threads of its own (about one per core), fed round-robin across
  client addresses, so one address with many sign-ins waiting delays another by one hash at
  most per turn. A sign-in beyond a small number waiting per address, or beyond a global
  cap, is answered 429 at once, without hashing (``Busy``).
- Addresses with failures in the window share a smaller part of that cap: a flood of wrong
  passwords fills at most that part, and someone whose sign-ins do not fail finds room.
- A name nobody has costs no hashing (``check_password``): instead of checking the password
  against a dummy hash, it waits as long as a recent real check took (one of the last
  ``SAMPLES`` measured), so its answer comes as late as a wrong password's would. A real
  dummy check now and then (``SAMPLE_EVERY_S``) keeps those times current. A flood of
  random names then takes no CPU from anyone's sign-in; it still counts against its address.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, TypeVar, cast

from batchtool.web.users import Users

#: Failed sign-ins within the window after which that user name, or that client address,
#: answers 429 until the oldest leaves the window.
MAX_FAILURES: Final = 5
MAX_ADDRESS_FAILURES: Final = 20
FAILURE_WINDOW_S: Final = 300.0

#: Hashing threads at most: each scrypt takes 32 MiB while it runs.
MAX_HASH_WORKERS: Final = 4
#: Sign-ins waiting or hashing at once: from one address; in all, per hashing thread; and
#: from addresses with failures in the window, per hashing thread.
PER_ADDRESS: Final = 2
TOTAL_PER_WORKER: Final = 8
FAILING_PER_WORKER: Final = 2
#: What a 429 for a full queue asks the client to wait.
BUSY_RETRY_S: Final = 2
#: Durations of real checks kept to stand in for checks not made. An unknown name is
#: checked for real, to time it, once per ``SAMPLE_EVERY_S`` — once per ``FIRST_SAMPLES_S``
#: while fewer than ``MIN_SAMPLES`` are known (before the first, a stand-in waits
#: ``FIRST_GUESS_S``).
SAMPLES: Final = 32
MIN_SAMPLES: Final = 8
SAMPLE_EVERY_S: Final = 5.0
FIRST_SAMPLES_S: Final = 0.5
FIRST_GUESS_S: Final = 0.1

T = TypeVar("T")


def hash_workers() -> int:
    """About one hashing thread per core this process may use, at most ``MAX_HASH_WORKERS``."""
    return max(1, min(MAX_HASH_WORKERS, len(os.sched_getaffinity(0))))


class SignInThrottle:
    """Counts failed sign-ins per user name (case-insensitively) and per client address, in
    a sliding window."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._events: deque[tuple[float, str, str]] = deque()
        self._by_name: dict[str, deque[float]] = {}
        self._by_address: dict[str, deque[float]] = {}

    def _expire(self) -> None:
        cutoff = self._clock() - FAILURE_WINDOW_S
        while self._events and self._events[0][0] <= cutoff:
            at, name, address = self._events.popleft()
            for table, key in ((self._by_name, name), (self._by_address, address)):
                times = table.get(key)
                # A name's failures are forgotten when it signs in: then there is none to drop.
                if times and times[0] <= at:
                    times.popleft()
                if times is not None and not times:
                    del table[key]

    def _wait(self, times: deque[float] | None, limit: int) -> float:
        if times is None or len(times) < limit:
            return 0.0
        return times[-limit] + FAILURE_WINDOW_S - self._clock()

    def name_wait_s(self, name: str) -> float:
        """Seconds until ``name`` may try again; 0 when it may now."""
        self._expire()
        return self._wait(self._by_name.get(name.casefold()), MAX_FAILURES)

    def address_wait_s(self, address: str) -> float:
        """Seconds until sign-ins from ``address`` are tried again; 0 when they are now."""
        self._expire()
        return self._wait(self._by_address.get(address), MAX_ADDRESS_FAILURES)

    def failing(self, address: str) -> bool:
        """Whether a sign-in from ``address`` failed within the window."""
        self._expire()
        return address in self._by_address

    def failed(self, name: str, address: str) -> None:
        self._expire()
        now, key = self._clock(), name.casefold()
        self._events.append((now, key, address))
        self._by_name.setdefault(key, deque()).append(now)
        self._by_address.setdefault(address, deque()).append(now)

    def succeeded(self, name: str) -> None:
        self._by_name.pop(name.casefold(), None)


class Busy(Exception):
    """Too many sign-ins waiting: answer 429 now, without hashing. ``str`` says why."""

    retry_after_s = BUSY_RETRY_S


@dataclass
class _Job:
    work: Callable[[], object]
    failing: bool
    done: asyncio.Future[object] = field(repr=False)


class HashQueue:
    """Runs password checks in threads of its own, round-robin across client addresses.

    ``executor``, ``sleep``, ``clock`` (monotonic seconds) and ``rng`` are injectable for
    tests (default: ``workers`` threads of its own, real time).
    """

    def __init__(
        self,
        *,
        workers: int,
        executor: Executor | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.workers = workers
        self._executor = executor or ThreadPoolExecutor(workers, "batchtool-sign-in")
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        #: How long the latest real checks took, in seconds.
        self.took: deque[float] = deque(maxlen=SAMPLES)
        self._next_sample = 0.0
        self._total_cap = TOTAL_PER_WORKER * workers
        self._failing_cap = FAILING_PER_WORKER * workers
        # Addresses with sign-ins waiting, in turn order: the first is served next, then
        # goes to the back if it has more.
        self._waiting: OrderedDict[str, deque[_Job]] = OrderedDict()
        self._per_address: dict[str, int] = {}
        self._total = 0
        self._failing = 0
        self._running = 0

    @property
    def pending(self) -> int:
        """Sign-ins waiting or hashing now."""
        return self._total

    def _admit(self, address: str) -> None:
        if self._per_address.get(address, 0) >= PER_ADDRESS:
            raise Busy("Too many sign-ins at once from your address — try again in a moment.")

    def wants_sample(self) -> bool:
        """Whether a check not needed is to be made for real anyway, to time it."""
        now = self._clock()
        if now < self._next_sample:
            return False
        enough = len(self.took) >= MIN_SAMPLES
        self._next_sample = now + (SAMPLE_EVERY_S if enough else FIRST_SAMPLES_S)
        return True

    async def stand_in(self, address: str) -> None:
        """Wait as long as a recent check took, without making one; admitted as ``run``
        admits ``address`` (Busy when it has too many waiting)."""
        self._admit(address)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        try:
            await self._sleep(self._rng.choice(self.took) if self.took else FIRST_GUESS_S)
        finally:
            self._uncount_address(address)

    async def run(self, address: str, work: Callable[[], T], *, failing: bool) -> T:
        """``work()`` in a hashing thread when ``address`` has its turn; raises Busy at once
        when its address, the queue, or (``failing``: the address failed lately) the part of
        the queue for failing addresses is full."""
        self._admit(address)
        if self._total >= self._total_cap or (failing and self._failing >= self._failing_cap):
            raise Busy("The server is busy with other sign-ins — try again in a moment.")
        job = _Job(work, failing, asyncio.get_running_loop().create_future())
        self._waiting.setdefault(address, deque()).append(job)
        self._count(address, job, +1)
        self._dispatch()
        try:
            return cast(T, await job.done)
        finally:
            self._count(address, job, -1)
            if not job.done.done():  # cancelled while waiting: never start it
                job.done.cancel()

    def _count(self, address: str, job: _Job, step: int) -> None:
        if step > 0:
            self._per_address[address] = self._per_address.get(address, 0) + 1
        else:
            self._uncount_address(address)
        self._total += step
        self._failing += step if job.failing else 0

    def _uncount_address(self, address: str) -> None:
        left = self._per_address[address] - 1
        if left:
            self._per_address[address] = left
        else:
            del self._per_address[address]

    def _timed(self, work: Callable[[], object]) -> object:
        # In a hashing thread: deque.append is atomic.
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.took.append(time.perf_counter() - started)

    def _dispatch(self) -> None:
        while self._running < self.workers and self._waiting:
            address, jobs = next(iter(self._waiting.items()))
            job = jobs.popleft()
            if jobs:
                self._waiting.move_to_end(address)
            else:
                del self._waiting[address]
            if job.done.done():
                continue
            self._running += 1
            future = asyncio.get_running_loop().run_in_executor(
                self._executor, functools.partial(self._timed, job.work)
            )
            future.add_done_callback(functools.partial(self._finished, job))

    def _finished(self, job: _Job, future: asyncio.Future[object]) -> None:
        self._running -= 1
        # Read even when nobody waits any more, so a failed check is never left unretrieved.
        error = None if future.cancelled() else future.exception()
        if not job.done.done():
            if future.cancelled():
                job.done.cancel()
            elif error is not None:
                job.done.set_exception(error)
            else:
                job.done.set_result(future.result())
        self._dispatch()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._executor.shutdown(wait=False, cancel_futures=True)


async def check_password(
    queue: HashQueue, users: Users, address: str, name: str, password: str, *, failing: bool
) -> str | None:
    """``name``'s stamp if ``password`` is theirs, else None; checked in ``queue`` for
    ``address``, or, for a name nobody has, stood in for (see the module's docstring)."""
    check = functools.partial(users.sign_in, name, password)
    if users.exists(name) or queue.wants_sample():
        return await queue.run(address, check, failing=failing)
    await queue.stand_in(address)
    return None
