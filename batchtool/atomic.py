"""Files batchtool writes: checked before a run, replaced atomically at its end.

A file written last (results, sync state, metrics) is checked up front, because finding out
at the end that it cannot be written would cost the run its record. The new content goes to
a temporary file in the same folder (a rename is atomic only within one filesystem), is
synced, renamed over the target, and the folder is synced so the rename itself survives a
power cut: a crash leaves the old file or the complete new one, never half.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from batchtool import errors


def check_writable(path: Path, option: str, what: str | None = None) -> None:
    """Fail (UsageError) unless a file can be written at ``path``; ``option`` names the option
    that chose the path, ``what`` the file (default: the option)."""
    name = f"{what or option} '{path}'"
    folder = path.parent
    if path.is_dir():
        raise errors.UsageError(f"{name} is a folder — give {option} a file name")
    if not folder.is_dir():
        raise errors.UsageError(
            f"{name}: folder '{folder}' does not exist — create it or choose another "
            f"{option} path"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise errors.UsageError(
            f"{name}: cannot write in folder '{folder}' (permission denied) — choose another "
            f"{option} path"
        )


def fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_temp(path: Path) -> Path:
    # Not mkstemp: its files are private (0600), and a metrics file must stay readable by
    # node_exporter's user. Created with 0666 less the umask, like any file the user writes.
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def replace_file(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temp_path)`` to make the new content, then move it over ``path`` durably.

    ``write`` may use any writer that takes a path (polars, open()); OSError is left to the
    caller to explain. The temporary file is removed if anything fails.
    """
    tmp = _new_temp(path)
    try:
        write(tmp)
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    # Some filesystems cannot sync a folder; the file itself is complete either way.
    with contextlib.suppress(OSError):
        fsync_path(path.parent, directory=True)


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    replace_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
