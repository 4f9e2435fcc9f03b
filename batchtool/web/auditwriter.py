"""The ops page's one writer of audit lines: what requests did while a sync ran is written
together in the next one (group commit), off the event loop.

Each request waits until its own line is on disk, as before, but lines no longer queue one
sync each: a flood of failed sign-ins (each one a line) takes one thread and one sync per
batch, and the sign-in of the real user behind it waits for one batch, not for the flood.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from batchtool.audit import Action, AuditLog

#: Lines written under one lock and sync at most: keeps one batch's wait short.
MAX_BATCH: Final = 500


class AuditWriter:
    """Writes ``Action``s to ``log`` in batches; ``write`` returns once its line is synced."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self._waiting: list[tuple[Action, asyncio.Future[dict[str, Any]]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def write(self, action: Action) -> dict[str, Any]:
        """Append one line; raises what appending raises (a ``UsageError`` naming the file)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append((action, future))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._drain())
        # A request that goes away does not take its line with it: the writer still owns it.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Wait until every line handed over is written (the server is stopping)."""
        while self._writing is not None and not self._writing.done():
            await self._writing

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            try:
                entries = await asyncio.to_thread(self.log.append_all, [a for a, _ in batch])
            except Exception as exc:  # every waiting request learns why its line is missing
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for (_, future), entry in zip(batch, entries, strict=True):
                    if not future.done():
                        future.set_result(entry)
