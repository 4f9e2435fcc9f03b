"""Entry point of the ``batchtool`` command: tune polars for this workload, then run the CLI.

polars reads its thread, morsel and allocator settings from the environment when it starts,
so they are set here, before anything imports it; a value the user exported wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Measured on the 2-core reference machine (benchmarks/RESULTS.md): one polars thread
#: with 50k-row morsels streams a 1M-row dry run faster (one pass is I/O- and parse-bound,
#: and the other core is left to the OS) and with ~60 MB less peak memory than the
#: default, and it keeps the batches a live run pulls from polars small.
POLARS_DEFAULTS = {"POLARS_MAX_THREADS": "1", "POLARS_IDEAL_MORSEL_SIZE": "50000"}

#: polars' allocator (jemalloc) keeps freed pages for 0.5 s, then lets the kernel take them
#: back only lazily, 1 s later; until then they count in the process's memory. A run frees
#: big frames between its phases (the sync diff, then the results pass), so the next phase's
#: peak landed on top of the last one's: a 1M-row --changed-only dry run peaked at 406-414
#: MB. Returning pages after 100 ms, at once, kept it at 318-324 MB for ~0.1 CPU s.
ALLOCATOR = "_RJEM_MALLOC_CONF"
ALLOCATOR_DEFAULTS = ("dirty_decay_ms:100", "muzzy_decay_ms:0")
#: What polars itself writes into the environment at import: a parent process that imported
#: polars passes it down to us, and it is no choice of the user's.
_POLARS_OWN = frozenset({"dirty_decay_ms:500", "muzzy_decay_ms:1000"})
_DECAY_OPTIONS = ("dirty_decay_ms:", "muzzy_decay_ms:")


def tuned(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings to add to ``environ`` before polars loads (none the user already chose)."""
    settings = {name: value for name, value in POLARS_DEFAULTS.items() if name not in environ}
    chosen = [
        option
        for option in environ.get(ALLOCATOR, "").split(",")
        if option and option not in _POLARS_OWN
    ]
    if not any(option.startswith(_DECAY_OPTIONS) for option in chosen):
        settings[ALLOCATOR] = ",".join([*chosen, *ALLOCATOR_DEFAULTS])
    return settings


def main() -> None:
    os.environ.update(tuned(os.environ))
    from batchtool.cli import main as cli_main

    cli_main()
