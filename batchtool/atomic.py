"""Replace a file atomically: a crash leaves the old file or the complete new one, never half.

The new content goes to a temporary file in the same folder (a rename is atomic only within
one filesystem), is synced, renamed over the target, and the folder is synced so the rename
itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


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
