"""The frame a reader hands on: ``row`` numbers, values trimmed (except ``password``), a results
file's formula guard undone, empty cells as null, rows with no value at all dropped (their
number still counted), then the hidden ``number:`` marks of the kept columns."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

import polars as pl

from batchtool import api
from batchtool.model import FORMULA_CHARACTERS, FORMULA_GUARD
from batchtool.reader.formats import IGNORED_PREFIX, NUMBER_PREFIX, ROW, RawTable

#: Rows read to decide cheaply that a file has data (see has_data_rows).
_HAS_DATA_PROBE_ROWS: Final = 1000

#: A cell the results writer guarded: guards, then a character that starts a formula.
_GUARDED: Final = "^" + FORMULA_GUARD + "+[" + FORMULA_CHARACTERS.replace("-", r"\-") + "]"


def finish(raw: RawTable, names: list[str | None]) -> pl.LazyFrame:
    """The named, trimmed, nulled frame of ``raw``'s kept columns (``names`` None: dropped)."""
    kept = [(i, col) for i, col in enumerate(names) if col is not None]
    marks = [
        (raw.numbers[i], NUMBER_PREFIX + col)
        for i, col in kept
        if i in raw.numbers and not col.startswith(IGNORED_PREFIX)
    ]
    # Trimming and nulling in two passes: in one expression polars strips every value twice.
    trimmed = raw.frame.with_row_index(ROW, offset=1).select(
        pl.col(ROW).cast(pl.Int64),
        *(_trimmed(pl.col(f"_c{i}"), col, raw.formula_guarded).alias(col) for i, col in kept),
        *(mark.alias(col) for mark, col in marks),
    )
    frame = trimmed.select(
        pl.col(ROW), *(_null_if_blank(col) for _, col in kept), *(col for _, col in marks)
    )
    return frame.filter(pl.any_horizontal(pl.col(col).is_not_null() for _, col in kept))


def unguard(text: str) -> str:
    """A header of a results file as the user wrote it, without the writer's formula guard."""
    first = text.lstrip(FORMULA_GUARD)[:1]
    guarded = text[:1] == FORMULA_GUARD and first != "" and first in FORMULA_CHARACTERS
    return text[1:] if guarded else text


def unguarded(e: pl.Expr) -> pl.Expr:
    """The text values of a results file's column as written before the formula guard: only
    the writer's own guard is undone, so ``'=x`` typed so (written ``''=x``) stays ``'=x``."""
    return pl.when(e.str.contains(_GUARDED)).then(e.str.slice(1)).otherwise(e)


def _trimmed(e: pl.Expr, col: str, guarded: bool) -> pl.Expr:
    if col in api.UNTRIMMED_COLUMNS:
        return e  # a password is typed exactly, and a results file never shows one
    e = e.str.strip_chars()
    # The value sent is then the one first typed.
    return unguarded(e) if guarded else e


def has_data_rows(raw: RawTable, names: list[str | None], frame: pl.LazyFrame) -> bool:
    """Whether any row has a non-empty cell, settled from the first rows where possible.

    Asking the filtered frame for one row makes polars parse far into a big file on every
    thread (tens of MB for a million rows); the raw head is cheap because the row limit
    reaches the scan. Only a file that opens with that many blank rows needs the full look.
    """
    head = raw.frame.head(_HAS_DATA_PROBE_ROWS).collect()
    if finish(replace(raw, frame=head.lazy()), names).head(1).collect().height:
        return True
    if head.height < _HAS_DATA_PROBE_ROWS:
        return False
    return frame.head(1).collect().height > 0


def _null_if_blank(col: str) -> pl.Expr:
    """Empty (or, in a password, blank) -> null; an ignored secret column is masked."""
    e = pl.col(col)
    if col in api.UNTRIMMED_COLUMNS:
        # Whitespace alone is no password anyone meant to set: treat it as an empty cell.
        return pl.when(e.str.strip_chars().str.len_bytes() > 0).then(e).alias(col)
    present = e.str.len_bytes() > 0
    if col.startswith(IGNORED_PREFIX):
        original = col.removeprefix(IGNORED_PREFIX)
        if api.COLUMN_LOOKUP.get(api.normalise_column_name(original)) in api.SECRET_COLUMNS:
            # Ignored columns are echoed in the results; results mask only "password" itself.
            return pl.when(present).then(pl.lit(api.MASK)).alias(col)
    return pl.when(present).then(e).alias(col)
