"""Where the ops page keeps its files, and the settings one server runs with."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from batchtool.audit import FILE_NAME as AUDIT_FILE

ENV_DATA_DIR: Final = "BATCHTOOL_DATA_DIR"

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8750
DEFAULT_MAX_UPLOAD_MB: Final = 100
#: Customer data of a run is kept this many days after it ends (``retention``); 0: for ever.
DEFAULT_RETENTION_DAYS: Final = 90

#: A signed-in session ends this long after sign-in, whatever happens in between: a work day
#: with room for a long send, short enough that a forgotten browser does not stay signed in.
SESSION_TTL_S: Final = 12 * 3600


def default_data_dir() -> Path:
    """``$BATCHTOOL_DATA_DIR``, else ``$XDG_DATA_HOME/batchtool`` (``~/.local/share``)."""
    if env := os.environ.get(ENV_DATA_DIR):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "batchtool"


@dataclass(frozen=True)
class WebConfig:
    """One server's settings. ``clock`` (wall time, seconds) is injectable for tests."""

    data_dir: Path
    config_path: Path | None = None
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    simulate: bool = False
    session_ttl_s: float = SESSION_TTL_S
    retention_days: int = DEFAULT_RETENTION_DAYS
    clock: Callable[[], float] = field(default=time.time, repr=False)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def users_path(self) -> Path:
        return self.data_dir / "users.json"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def mappings_path(self) -> Path:
        return self.data_dir / "column-mappings.json"

    @property
    def audit_path(self) -> Path:
        return self.data_dir / AUDIT_FILE
