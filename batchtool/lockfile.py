"""One run at a time per file a run writes: an flock'ed lock file beside it, holding the pid.

The lock is the flock, not the file: a run killed with -9 leaves its lock file behind, and
the next run simply takes it (the kernel dropped the flock with the process). The holder
unlinks the file while still holding the flock, so nobody can lock a doomed inode meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from batchtool.errors import BatchtoolError


def lock_path(path: Path) -> Path:
    """The lock file of the file at ``path``: ``<path>.lock``."""
    return path.with_name(path.name + ".lock")


class LockBusy(Exception):
    """Another process holds the lock; ``pid`` is the one its file names ("unknown" if none)."""

    def __init__(self, pid: str) -> None:
        super().__init__(f"held by pid {pid}")
        self.pid = pid


class LockUnavailable(Exception):
    """The lock file cannot be created (``creating``) or locked: ``reason`` says why."""

    def __init__(self, reason: str, *, creating: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.creating = creating


class RunLock:
    """A held lock on ``path``; :meth:`release` (or leaving the ``with`` block) lets it go."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path) -> RunLock:
        """Lock ``path``; LockBusy when another process holds it, LockUnavailable when it
        cannot be created or locked at all."""
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise LockUnavailable(str(exc.strerror or exc), creating=True) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                pid = _read_pid(fd)
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise LockUnavailable(str(exc.strerror or exc), creating=False) from exc
                raise LockBusy(pid) from None
            # The previous holder unlinks the file on release; if that happened between our
            # open and our flock, we hold a lock on a file nobody else will ever open: again.
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
        return cls(path, fd)

    @classmethod
    def take(
        cls, path: Path, *, what: str, option: str, error: type[BatchtoolError]
    ) -> RunLock:
        """Lock ``path`` or raise ``error``: the message names the other run's pid and says
        that it is writing ``what``, or to choose another ``option`` path."""
        try:
            return cls.acquire(path)
        except LockBusy as busy:
            raise error(
                f"another batchtool run (pid {busy.pid}) is writing {what} — "
                f"wait for it to finish or choose another {option} path"
            ) from None
        except LockUnavailable as exc:
            if exc.creating:
                raise error(
                    f"cannot create the lock file {path}: {exc.reason} — "
                    f"choose another {option} path"
                ) from exc
            raise error(f"cannot lock {path}: {exc.reason} — choose another {option} path") from exc

    def release(self) -> None:
        """Let the lock go (again: nothing)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
