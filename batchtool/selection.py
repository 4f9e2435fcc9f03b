"""--only-failed: a results file sent again sends only the rows that were not done.

A selection step (see ``plan.preset``): rows the earlier run finished get the status
``skipped`` with the reason, and are never sent; every other row is validated and sent as
usual. The earlier run's status and error come from the results file's own columns, which
the reader keeps as bookkeeping (``result:status``, ``result:error``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from batchtool import model
from batchtool.errors import UsageError
from batchtool.plan import preset
from batchtool.reader import BOOKKEEPING_PREFIX

EARLIER_STATUS: Final = BOOKKEEPING_PREFIX + "status"
EARLIER_ERROR: Final = BOOKKEEPING_PREFIX + "error"
#: Earlier statuses that mean the row needs nothing more: it was applied, or had nothing to
#: apply (``unchanged``, under --changed-only).
DONE: Final[tuple[str, ...]] = (model.OK, model.UNCHANGED)
_EARLIER: Final = " in the earlier run"


def reason(status: str) -> str:
    """Why a row done in an earlier run is not sent, e.g. "ok in the earlier run"."""
    return status + _EARLIER


def only_failed(planned: pl.LazyFrame, path: Path) -> pl.LazyFrame:
    """``planned`` with the rows an earlier run finished given ``skipped`` and the reason.

    A row skipped that way once stays skipped: sending this run's results file again with
    --only-failed still sends nothing it already did.
    """
    names = planned.collect_schema().names()
    if EARLIER_STATUS not in names:
        raise UsageError(
            f"{path}: --only-failed needs a batchtool results file, with its status column — "
            "this file has none; to send every row, run it without --only-failed"
        )
    status = pl.col(EARLIER_STATUS).str.strip_chars().str.to_lowercase()
    error = pl.col(EARLIER_ERROR) if EARLIER_ERROR in names else pl.lit(None, dtype=pl.String)
    skipped_as_done = (status == model.SKIPPED) & error.is_in([reason(s) for s in DONE])
    done = status.is_in(DONE) | skipped_as_done
    why = pl.when(skipped_as_done).then(error).otherwise(pl.concat_str(status, pl.lit(_EARLIER)))
    return preset(planned, done, model.SKIPPED, why)
