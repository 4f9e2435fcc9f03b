"""Parquet: every column turned into the text a person would type for its value, and floating-
point columns marked where a value may not be the one meant (past 15 digits, or not whole)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from batchtool.errors import InputError
from batchtool.reader.formats import (
    NUMBER_FLOAT_ROUNDED,
    NUMBER_FRACTION,
    RawTable,
)
from batchtool.reader.limits import MAX_CELL_CHARS, cell_message, check_columns, rows_message
from batchtool.reader.messages import explain_polars


def read_parquet(data: Path, name: Path, max_rows: int | None = None) -> RawTable:
    """A Parquet file's columns as text, scanned lazily; ``name`` is what messages say.

    Refused when it has more columns than a spreadsheet, or (given) more than ``max_rows``
    rows: both are in the file's footer, so nothing is loaded to find out. Refused too when a
    text holds more than a spreadsheet cell does (``_check_cells``).
    """
    scan = pl.scan_parquet(data)
    try:
        schema = scan.collect_schema()
        check_columns(name, len(schema), "the file")
        if max_rows is not None and scan.select(pl.len()).collect().item() > max_rows:
            raise InputError(rows_message(name, max_rows))
        _check_cells(scan, schema, name)
    except pl.exceptions.PolarsError as exc:
        # Whatever polars makes of a footer it cannot decode, the file is damaged.
        raise explain_polars(name, exc) from exc
    exprs = []
    marks: dict[int, pl.Expr] = {}
    for i, (col, dtype) in enumerate(schema.items()):
        exprs.append(_parquet_text(col, dtype).alias(f"_c{i}"))
        if dtype.is_float():
            exprs.append(_float_mark(pl.col(col), dtype).alias(f"_n{i}"))
            marks[i] = pl.col(f"_n{i}")
    names: list[str | None] = list(schema.names())
    return RawTable(scan.select(exprs), names, [repr(c) for c in schema.names()], numbers=marks)


def _check_cells(scan: pl.LazyFrame, schema: pl.Schema, name: Path) -> None:
    """A text (or a nested value, sent as JSON text) longer than a spreadsheet cell holds is
    refused, naming its column and row, as the other formats refuse it. One streaming pass
    over those columns alone; numbers and dates can never be that long."""
    texts = {
        col: _parquet_text(col, dtype)
        for col, dtype in schema.items()
        if dtype == pl.String or dtype.is_nested()
    }
    if not texts:
        return
    # Bytes first: counting them is cheap, and only a text of more bytes can be too long.
    most = scan.select(e.str.len_bytes().max().alias(c) for c, e in texts.items())
    for col, longest in most.collect(engine="streaming").row(0, named=True).items():
        if longest is None or longest <= MAX_CELL_CHARS:
            continue
        too_long = texts[col].str.len_chars() > MAX_CELL_CHARS
        first = scan.select(too_long.arg_true().first()).collect(engine="streaming").item()
        if first is not None:
            where = f"row {int(first) + 1} of column {col!r}"
            raise InputError(cell_message(name, where))


#: Significand bits per float type: integers up to 2**bits are held exactly.
_SIGNIFICAND_BITS: Final[dict[pl.DataType, int]] = {pl.Float64(): 53, pl.Float32(): 24}


def _float_mark(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """An id that went through a float (pandas turns an integer column with a gap into
    floats) is exact only below 2**53 (2**24 for 32-bit floats): from there on, marked."""
    finite = e.is_finite()
    exact = 2 ** _SIGNIFICAND_BITS.get(dtype, 11)
    return (
        pl.when(finite & (e.abs() >= exact))
        .then(pl.lit(NUMBER_FLOAT_ROUNDED))
        .when(finite & (e != e.round(0)))
        .then(pl.lit(NUMBER_FRACTION))
    )


def _parquet_text(col: str, dtype: pl.DataType) -> pl.Expr:
    """The text a person would type for a value stored as ``dtype``."""
    e = pl.col(col)
    if dtype.is_float():
        # Integral floats as plain digits (never 191.0 or 1e+20); Decimal keeps all of them.
        whole = e.cast(pl.Decimal(38, 0), strict=False).cast(pl.String)
        return pl.when(e.is_finite() & (e == e.round(0))).then(whole).otherwise(e.cast(pl.String))
    if isinstance(dtype, pl.Datetime):
        zone = "%:z" if dtype.time_zone else ""
        return (
            pl.when(e.dt.time() == pl.time(0))
            .then(e.dt.strftime("%Y-%m-%d"))
            .when(e.dt.nanosecond() != 0)
            .then(e.dt.strftime(f"%Y-%m-%d %H:%M:%S%.f{zone}"))
            .otherwise(e.dt.strftime(f"%Y-%m-%d %H:%M:%S{zone}"))
        )
    if dtype.is_nested():
        # As JSON text, the way a JSON Lines file shows the same value.
        return pl.struct(e.alias("v")).struct.json_encode().str.json_path_match("$.v")
    if isinstance(dtype, pl.Duration):
        return e.dt.to_string()  # ISO 8601, e.g. PT5S
    return e.cast(pl.String)
