"""Where things are and what every scenario shares: paths, the interpreter, credentials."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

BENCH: Final = Path(__file__).resolve().parent.parent
ROOT: Final = BENCH.parent
OUT: Final = BENCH / "out"
RUNS: Final = OUT / "runs"
PY: Final = sys.executable
BATCHTOOL: Final = str(Path(PY).parent / "batchtool")

API_USERNAME: Final = "sim_admin"
API_KEY: Final = "sim-not-a-secret-key"  # the simulator's published demo key, not a secret
CONCURRENCY: Final = 64  # every concurrent contestant gets the same
RUN_TIMEOUT_S: Final = 180.0  # default limit for one contestant run
MB: Final = 1_000_000  # targets are judged in MB of 10^6 bytes (stricter than MiB)
