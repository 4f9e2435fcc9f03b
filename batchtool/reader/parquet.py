"""Parquet: every column turned into the text a person would type for its value."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from batchtool.reader.formats import RawTable


def read_parquet(data: Path) -> RawTable:
    """A Parquet file's columns as text, scanned lazily."""
    scan = pl.scan_parquet(data)
    schema = scan.collect_schema()
    exprs = []
    for i, (col, dtype) in enumerate(schema.items()):
        exprs.append(_parquet_text(col, dtype).alias(f"_c{i}"))
    return RawTable(scan.select(exprs), list(schema.names()), [repr(c) for c in schema.names()])


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
