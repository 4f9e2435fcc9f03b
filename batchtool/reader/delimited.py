"""CSV, TSV and other delimited text: the header line, then every value as text, streamed lazily
by polars from the header's line on."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from batchtool.errors import InputError
from batchtool.reader.formats import RawTable
from batchtool.reader.messages import open_quote_message, unclosed_quote_line


def read_delimited(data: Path, name: Path, separator: str, header_line: int, eol: str) -> RawTable:
    """A UTF-8 delimited file's header (on line ``header_line``) and lazily scanned rows;
    ``name`` is what messages say."""
    # Lines, not records, are skipped: a title above the header may hold a stray quote.
    skip = header_line - 1
    first = pl.scan_csv(
        data,
        has_header=False,
        infer_schema=False,
        n_rows=1,
        separator=separator,
        skip_lines=skip,
        eol_char=eol,
    ).collect()
    if not first.height:
        # No header record ends: a quote in it opens and never closes.
        raise InputError(open_quote_message(name, unclosed_quote_line(data, eol)))
    headers: list[str | None] = [
        None if v is None else str(v).removeprefix("\ufeff") for v in first.row(0)
    ]
    columns = [f"_c{i}" for i in range(len(headers))]
    frame = pl.scan_csv(
        data,
        has_header=True,
        infer_schema=False,
        new_columns=columns,
        separator=separator,
        skip_lines=skip,
        eol_char=eol,
    )
    labels = [str(i + 1) for i in range(len(headers))]
    return RawTable(frame, headers, labels, header_row=header_line)
