"""One process at a time changes a data dir's runs: a server while it serves, or
``batchtool purge`` while it purges. Each holds the lock (:mod:`batchtool.lockfile`) on
``<data dir>/serve.lock``, which names its pid; the other is refused, naming it.

The server keeps every run in memory: a purge behind its back would leave it showing
downloads that are gone, and saving a run again could bring back what the purge stripped;
a second server would mark the first one's sending runs interrupted. So ``batchtool purge``
refuses while a server runs (the server purges by itself, daily), and a server does not
start while another server or a purge holds the data dir.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from batchtool.errors import UsageError
from batchtool.lockfile import LockBusy, LockUnavailable, RunLock

LOCK_NAME: Final = "serve.lock"


class DataDirBusy(Exception):
    """Another process holds the data dir; ``pid`` is the one its lock file names."""

    def __init__(self, pid: str) -> None:
        super().__init__(f"held by pid {pid}")
        self.pid = pid


@contextlib.contextmanager
def holding(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir`` for this process; DataDirBusy if another one does, UsageError if it
    cannot be locked at all. The kernel lets go of it however the process ends."""
    try:
        lock = RunLock.acquire(data_dir / LOCK_NAME)
    except LockBusy as busy:
        raise DataDirBusy(busy.pid) from None
    except LockUnavailable as exc:
        raise UsageError(
            f"cannot lock the data dir {data_dir} ({exc.reason}) — choose another --data-dir"
        ) from None
    with lock:
        yield
