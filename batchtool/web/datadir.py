"""One process at a time changes a data dir's runs: a server while it serves, or
``batchtool purge`` while it purges. Each holds an flock on ``<data dir>/serve.lock``, which
names its pid; the other is refused, naming it.

The server keeps every run in memory: a purge behind its back would leave it showing
downloads that are gone, and saving a run again could bring back what the purge stripped.
So ``batchtool purge`` refuses while a server runs (the server purges by itself, daily), and
a server does not start in the middle of a purge.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from batchtool.errors import UsageError

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
    path = data_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _unlockable(data_dir, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                raise DataDirBusy(pid if pid.isdigit() else "unknown") from None
            raise _unlockable(data_dir, exc) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)


def _unlockable(data_dir: Path, exc: OSError) -> UsageError:
    return UsageError(
        f"cannot lock the data dir {data_dir} ({exc.strerror or exc}) — choose another --data-dir"
    )
