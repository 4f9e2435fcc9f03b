"""One process at a time: an flock'ed lock file that names its holder's pid.

The kernel drops an flock when its holder dies, however it dies (kill -9, a power cut needs
no lock at all), so a lock file left behind is simply taken by the next process. The file is
private (0600): anyone who could open it could also flock it and lock its owner out. Callers
word the refusals: the journal in terms of a results path, the ops page of a data dir.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path


class LockHeld(Exception):
    """Another live process holds the lock; ``pid`` is what its file says ("unknown" if
    nothing readable)."""

    def __init__(self, pid: str) -> None:
        super().__init__(f"locked by pid {pid}")
        self.pid = pid


class LockFailed(Exception):
    """The lock file opened but cannot be locked (e.g. a filesystem without flock)."""

    def __init__(self, strerror: str) -> None:
        super().__init__(strerror)
        self.strerror = strerror


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def acquire(path: Path) -> int:
    """Take the lock at ``path`` (created if missing) and write this pid into it.

    Returns the descriptor that holds it (give it to :func:`release`). Raises OSError when
    the file cannot be created, LockFailed when it cannot be locked, LockHeld when another
    process holds it.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockFailed(exc.strerror or str(exc)) from exc
            raise LockHeld(pid) from None
        # The previous holder unlinks the file on release; if that happened between our open
        # and our flock, we hold a lock on a file nobody else will ever open: try again.
        try:
            current = os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        mine = os.fstat(fd)
        if (mine.st_dev, mine.st_ino) == (current.st_dev, current.st_ino):
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def release(fd: int, path: Path) -> None:
    """Give the lock up and remove its file."""
    # Unlink while still holding the flock, so no one can lock the doomed inode meanwhile.
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.close(fd)
