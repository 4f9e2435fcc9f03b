"""CSV and TSV: the header line, then every value as text, streamed lazily by polars."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from batchtool.errors import InputError
from batchtool.reader.formats import SEPARATORS, RawTable
from batchtool.reader.sniff import decoded


def read_delimited(data: Path, name: Path, fmt: str, head: bytes, encoding: str | None) -> RawTable:
    """A delimited text file's header and lazily scanned rows; ``name`` is what messages say."""
    source: str | bytes = str(data)
    if encoding is not None:
        source = head = decoded(data, name, encoding)
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise InputError(f"{name}: the file has no header row — put the column names first")
    separator = SEPARATORS[fmt]
    first = pl.scan_csv(
        source, has_header=False, infer_schema=False, n_rows=1, separator=separator
    ).collect()
    headers: list[str | None] = [
        None if v is None else str(v).removeprefix("\ufeff") for v in first.row(0)
    ]
    columns = [f"_c{i}" for i in range(len(headers))]
    frame = pl.scan_csv(
        source,
        has_header=True,
        infer_schema=False,
        separator=separator,
        new_columns=columns,
    )
    return RawTable(frame, headers, [str(i + 1) for i in range(len(headers))])
