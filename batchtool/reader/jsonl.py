"""JSON Lines: the union of the records' keys as columns (no more than a spreadsheet has), every
value as text."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from batchtool.errors import InputError
from batchtool.reader.formats import RawTable
from batchtool.reader.limits import check_columns


def read_jsonl(data: Path, name: Path) -> RawTable:
    """A UTF-8 JSON Lines file's keys and lazily scanned records; ``name`` is what messages say."""
    try:
        keys = pl.scan_ndjson(data, infer_schema_length=None).collect_schema().names()
    except pl.exceptions.SchemaError:
        # A key whose values change type between records defeats polars' inference.
        keys = _jsonl_keys(data)
    if not keys:
        raise InputError(f"{name}: no JSON records with any field — is it the right file?")
    check_columns(name, len(keys), "the file")
    frame = pl.scan_ndjson(data, schema=dict.fromkeys(keys, pl.String)).select(
        pl.col(k).alias(f"_c{i}") for i, k in enumerate(keys)
    )
    return RawTable(frame, list(keys), [repr(k) for k in keys])


def _jsonl_keys(data: Path) -> list[str]:
    keys: dict[str, None] = {}
    with data.open(encoding="utf-8-sig", errors="replace") as lines:
        for line in lines:
            try:
                record = json.loads(line) if line.strip() else None
            except ValueError:
                continue  # polars names the broken line when the frame is read
            if isinstance(record, dict):
                keys.update(dict.fromkeys(record))
    return list(keys)
