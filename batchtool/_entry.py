"""Entry point of the ``batchtool`` command: tune polars for this workload, then run the CLI.

polars reads its thread and morsel settings from the environment when it starts, so they
are set here, before anything imports it; a value the user exported wins.
"""

from __future__ import annotations

import os

#: Measured on the 2-core reference machine (benchmarks/RESULTS.md): one polars thread
#: with 50k-row morsels streams a 1M-row dry run faster (one pass is I/O- and parse-bound,
#: and the other core is left to the OS) and with ~60 MB less peak memory than the
#: default, and it keeps the batches a live run pulls from polars small.
POLARS_DEFAULTS = {"POLARS_MAX_THREADS": "1", "POLARS_IDEAL_MORSEL_SIZE": "50000"}


def main() -> None:
    for name, value in POLARS_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from batchtool.cli import main as cli_main

    cli_main()
