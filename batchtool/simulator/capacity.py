"""The simulator's capacity model: K requests worked on at a time, Q waiting, the rest refused.

This is how PHP-FPM behind nginx behaves, the usual setup of the installations batchtool talks
to: a pool of ``workers`` processes each handles one request at a time (the configured latency
is its service time), a listen backlog holds up to ``queue`` requests until a worker is free,
and a request that finds both full is answered 503 at once. It is what adaptive concurrency is
tested against: sending more than K + Q at a time only earns 503s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from batchtool.errors import UsageError

#: What nginx answers when the pool and its backlog are full.
OVER_CAPACITY_PAGE = (
    b"<html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><center><h1>503 Service Temporarily Unavailable</h1></center><hr>"
    b"<center>nginx</center></body></html>"
)


class Capacity:
    """``workers`` requests at a time, ``queue`` more waiting for one; ``admit`` refuses the rest.

    ``peak`` is the most requests ever admitted at once (in service plus waiting).
    """

    def __init__(self, workers: int, queue: int = 0) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise UsageError(f"--workers must be a whole number of at least 1, not {workers!r}")
        if isinstance(queue, bool) or not isinstance(queue, int) or queue < 0:
            raise UsageError(f"--queue must be a whole number of at least 0, not {queue!r}")
        self.workers = workers
        self.queue = queue
        self.peak = 0
        self._admitted = 0
        self._slots = asyncio.Semaphore(workers)

    def reset(self) -> None:
        """Start afresh when the server starts again, perhaps in another event loop."""
        self._admitted = 0
        self._slots = asyncio.Semaphore(self.workers)

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[bool]:
        """Yields False at once when workers and queue are full (answer 503); else waits for a
        worker, yields True and keeps the worker until the block ends."""
        if self._admitted >= self.workers + self.queue:
            yield False
            return
        self._admitted += 1
        self.peak = max(self.peak, self._admitted)
        try:
            async with self._slots:
                yield True
        finally:
            self._admitted -= 1

    def to_json(self) -> dict[str, int]:
        return {"workers": self.workers, "queue": self.queue, "peak": self.peak}
