"""The data dir's small JSON files: written whole or not at all, readable by their owner only."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) for this user alone; an existing folder is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def write_json(path: Path, data: Any) -> None:
    """Replace ``path`` atomically with ``data`` as JSON, mode 0600.

    Written to a private temp file beside it, synced, then renamed: a crash leaves the old
    file or the new one, never half of one.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> Any:
    """The JSON in ``path``; None when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return json.loads(text)
