"""Reasons and warnings for numbers the reader marked as damaged (by Excel, by floating point)."""

from __future__ import annotations

from typing import Final

import polars as pl

from batchtool import api
from batchtool.reader import (
    BOOKKEEPING_PREFIX,
    NUMBER_EXCEL_ROUNDED,
    NUMBER_FLOAT_ROUNDED,
    NUMBER_FRACTION,
    NUMBER_PREFIX,
)

# What Excel writes to a CSV for a number too wide for its cell: "1.23457E+16". Digits are lost.
_EXCEL_SCIENTIFIC_PATTERN: Final = r"^[+-]?\d(?:\.\d+)?E[+-]\d+$"

#: Why a lookup id marked by the reader (see reader.NUMBER_PREFIX) cannot be trusted.
_DAMAGED_ID: Final[dict[str, str]] = {
    NUMBER_EXCEL_ROUNDED: (
        "was rounded by Excel, which keeps only 15 digits of a number — "
        "format the column as text and retype it"
    ),
    NUMBER_FLOAT_ROUNDED: (
        "went through a floating-point number, which cannot hold all its digits — "
        "store the column as text and write it again"
    ),
    NUMBER_FRACTION: "is not a whole number — retype the id",
}
_EXCEL_SCIENTIFIC: Final = (
    "is a number Excel wrote in scientific notation, without all its digits — "
    "format the column as text in Excel and retype it"
)
#: The same damage in a value that is sent anyway.
_DAMAGED_VALUE: Final[dict[str, str]] = {
    NUMBER_EXCEL_ROUNDED: "was rounded by Excel, which keeps only 15 digits of a number",
    NUMBER_FLOAT_ROUNDED: "went through a floating-point number, which cannot hold all its digits",
}
_SENT_ANYWAY: Final = " — sent as it is; check it"


def damaged_lookups(present: set[str]) -> list[pl.Expr]:
    """Reasons for a lookup id that may not be the one the user typed: sending it could
    change another customer.

    A results file shows such an id as text, so reading it back would launder it: there the
    id stays invalid while it is still the one the earlier run's error named.
    """
    earlier_error = BOOKKEEPING_PREFIX + "error"
    reasons = []
    for key in (k for k in api.LOOKUP_KEYS if k in present):
        value = pl.col(key)
        quoted = (pl.lit(f"{key} '"), value, pl.lit("' "))
        damaged = []
        mark = NUMBER_PREFIX + key
        if mark in present:
            damaged.append(_by_mark(pl.col(mark), quoted, _DAMAGED_ID))
        if earlier_error in present:
            for text in _DAMAGED_ID.values():
                reason = pl.concat_str(*quoted, pl.lit(text))
                named = pl.col(earlier_error).str.contains(reason, literal=True)
                damaged.append(pl.when(named).then(reason))
        if damaged:
            reasons.append(pl.coalesce(damaged))
        reasons.append(
            pl.when(value.str.contains(_EXCEL_SCIENTIFIC_PATTERN)).then(
                pl.concat_str(*quoted, pl.lit(_EXCEL_SCIENTIFIC))
            )
        )
    return reasons


def damaged_values(present: set[str]) -> list[pl.Expr]:
    """Warnings for other values the reader marked as damaged the same way; they are sent as
    they are. (Scientific notation is not looked for here: scanning every text column of every
    file for it cost the 1M-row benchmark file 0.45 s of CPU and 40 MB.)"""
    warnings = []
    for param in (p for p in api.DETAIL_PARAMS if NUMBER_PREFIX + p in present):
        shown = pl.lit(api.MASK) if param in api.SECRET_COLUMNS else pl.col(param)
        quoted = (pl.lit(f"{param} '"), shown, pl.lit("' "))
        warnings.append(
            _by_mark(pl.col(NUMBER_PREFIX + param), quoted, _DAMAGED_VALUE, _SENT_ANYWAY)
        )
    return warnings


def _by_mark(
    mark: pl.Expr, quoted: tuple[pl.Expr, ...], texts: dict[str, str], suffix: str = ""
) -> pl.Expr:
    """The text for each reader mark in ``texts`` (null for other marks and none)."""
    return pl.coalesce(
        pl.when(mark == kind).then(pl.concat_str(*quoted, pl.lit(text + suffix)))
        for kind, text in texts.items()
    )
