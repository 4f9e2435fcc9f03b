"""Presets: a status a selection step gives a row instead of sending it; the rows a run sends."""

from __future__ import annotations

from typing import Final

import polars as pl

from batchtool import model
from batchtool.plan.columns import PRESET_ERROR, PRESET_STATUS, VALID

#: Statuses a selection step may give a row instead of sending it.
PRESET_STATUSES: Final[tuple[str, ...]] = (model.UNCHANGED, model.SKIPPED)


def preset(
    planned: pl.LazyFrame, where: pl.Expr, status: str, reason: str | pl.Expr | None = None
) -> pl.LazyFrame:
    """Give rows matching ``where`` the status ``status`` (and ``reason``) without sending them.

    A row keeps the first preset it was given: selection steps apply in order, and an
    earlier step's decision is not overwritten by a later one.
    """
    if status not in PRESET_STATUSES:
        raise ValueError(f"a selection step may give {PRESET_STATUSES}, not {status!r}")
    free = pl.col(PRESET_STATUS).is_null() & where.fill_null(False)
    why = reason if isinstance(reason, pl.Expr) else pl.lit(reason, dtype=pl.String)
    return planned.with_columns(
        pl.when(free).then(pl.lit(status)).otherwise(pl.col(PRESET_STATUS)).alias(PRESET_STATUS),
        pl.when(free).then(why).otherwise(pl.col(PRESET_ERROR)).alias(PRESET_ERROR),
    )


def to_send() -> pl.Expr:
    """True for the rows a live run sends: valid, and not given a status by a selection step."""
    return pl.col(VALID) & pl.col(PRESET_STATUS).is_null()
