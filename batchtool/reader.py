"""Read any supported input file into a lazy polars frame of text columns named by the API.

Every value comes out as the text a person sees in the file (``01234`` stays ``01234``, a
number stored as ``191.0`` reads ``191``), trimmed except ``password``, empty meaning null.
Booleans read ``true``/``false``; Excel dates ``YYYY-MM-DD`` (``YYYY-MM-DD HH:MM:SS`` with a
time of day, ``HH:MM:SS`` for a time alone); nested JSON or Parquet values as JSON text.
JSON numbers read as polars prints them (``191.0`` -> ``191``, ``1.50`` -> ``1.5``).
Rows whose every cell is empty are dropped, but ``row`` still counts them, so ``row`` + 1 is
the line (sheet row) under a one-line header.

Any problem with the file or its columns is an :class:`errors.InputError` with a one-line
message naming the file and what to do.
"""

from __future__ import annotations

import codecs
import collections
import csv
import difflib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

import fastexcel
import polars as pl

from batchtool import api
from batchtool.errors import InputError, UsageError

FORMATS: Final[tuple[str, ...]] = ("csv", "tsv", "parquet", "xlsx", "xls", "jsonl")

_EXTENSIONS: Final[dict[str, str]] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

_FORMAT_ALIASES: Final[dict[str, str]] = {
    **{fmt: fmt for fmt in FORMATS},
    **{ext.lstrip("."): fmt for ext, fmt in _EXTENSIONS.items()},
}

_FORMAT_TITLES: Final[dict[str, str]] = {
    "csv": "CSV",
    "tsv": "TSV",
    "parquet": "Parquet",
    "xlsx": "Excel .xlsx",
    "xls": "Excel .xls",
    "jsonl": "JSON Lines",
}

_SEPARATORS: Final[dict[str, str]] = {"csv": ",", "tsv": "\t"}
_TEXT_FORMATS: Final[frozenset[str]] = frozenset({"csv", "tsv", "jsonl"})
_EXCEL_FORMATS: Final[frozenset[str]] = frozenset({"xlsx", "xls"})

ROW: Final = "row"
IGNORED_PREFIX: Final = "ignored:"

# Enough to hold any real header line, small enough to read eagerly on every run.
_HEAD_BYTES: Final = 64 * 1024
_CHUNK_BYTES: Final = 1024 * 1024

_UTF8_NAMES: Final[frozenset[str]] = frozenset({"utf-8", "utf-8-sig"})

_MAGIC_ZIP: Final = b"PK\x03\x04"
_MAGIC_OLE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAGIC_PARQUET: Final = b"PAR1"


@dataclass(frozen=True)
class InputTable:
    """An input file read lazily: ``row``, then one String column per file column.

    ``headers`` maps each frame column (not ``row``) to its header exactly as written.
    """

    path: Path
    format: str
    frame: pl.LazyFrame
    headers: dict[str, str]


@dataclass(frozen=True)
class _Source:
    """How a text file was handed to polars, so a late polars error can be located in it."""

    fmt: str
    encoding: str | None


# polars reports bad UTF-8 or a ragged row only when the frame is collected, long after
# read_input returned; polars_errors(path) looks the file up here to say where the problem is.
_SOURCES: dict[str, _Source] = {}

#: Rows read to decide cheaply that a file has data (see _has_data_rows).
_HAS_DATA_PROBE_ROWS: Final = 1000


@dataclass(frozen=True)
class _Raw:
    """A file's columns before naming: String columns ``_c0``.., their headers, their labels."""

    frame: pl.LazyFrame
    headers: list[str | None]
    labels: list[str]  # how a person finds column i: "3" in a CSV, "C" in a sheet
    empty_columns: frozenset[int] = frozenset()  # Excel columns without any value at all
    sheet: str | None = None


def read_input(
    path: str | Path,
    *,
    fmt: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    column_map: Mapping[str, str] | None = None,
    ignore_columns: Sequence[str] = (),
) -> InputTable:
    """Open ``path`` lazily, check its header and first row, name its columns by the API."""
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise InputError(_explain_os(path, FileNotFoundError()))
    if path.is_dir():
        raise InputError(_explain_os(path, IsADirectoryError()))
    chosen = _choose_format(path, fmt)
    if sheet is not None and chosen not in _EXCEL_FORMATS:
        raise UsageError(f"{name}: --sheet applies to Excel files only; this is {_title(chosen)}")
    encoding = _check_encoding(name, chosen, encoding)
    head = _read_head(path)
    chosen = _check_content(name, chosen, head, encoding)

    _SOURCES[_key(path)] = _Source(chosen, encoding)
    with polars_errors(path):
        if chosen in ("csv", "tsv"):
            raw = _read_delimited(path, chosen, head, encoding)
        elif chosen == "jsonl":
            raw = _read_jsonl(path, encoding)
        elif chosen == "parquet":
            raw = _read_parquet(path)
        else:
            raw = _read_excel(path, chosen, sheet)
        names, headers = _name_columns(name, raw, column_map or {}, ignore_columns)
        if not headers:
            raise InputError(f"{name}: the file has no columns — is it the right file?")
        if chosen == "xlsx" and raw.sheet is not None:
            _check_xlsx_cells(name, path, raw, names)
        frame = _finish(raw, names)
        if not _has_data_rows(raw, names, frame):
            where = f"sheet '{raw.sheet}'" if raw.sheet else "the file"
            raise InputError(
                f"{name}: {where} has a header but no data rows — add rows under the header"
            )
    return InputTable(path=path, format=chosen, frame=frame, headers=headers)


_DATA_ERRORS: Final = (
    pl.exceptions.ComputeError,
    pl.exceptions.NoDataError,
)


@contextmanager
def polars_errors(path: Path) -> Iterator[None]:
    """Turn polars/fastexcel/OS errors raised while the lazy frame is collected into InputError
    one-liners.

    Only errors about the data are translated: a ColumnNotFoundError or the like is a bug in
    the code around the block and stays one.
    """
    try:
        yield
    except _DATA_ERRORS as exc:
        raise InputError(_explain_polars(Path(path), exc)) from exc
    except fastexcel.FastExcelError as exc:
        raise InputError(
            f"{path}: cannot read it as an Excel workbook ({_first_line(exc)}) — "
            "check that it opens in Excel and save it again"
        ) from exc
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        # Only these: the block may also do network I/O, whose OSErrors are not about the file.
        raise InputError(_explain_os(Path(path), exc)) from exc
    except BaseException as exc:
        # A Rust panic in a reader (calamine on a damaged .xls, say) arrives as pyo3's
        # PanicException, a BaseException that each extension module defines for itself.
        if type(exc).__name__ != "PanicException":
            raise
        source = _SOURCES.get(_key(Path(path)))
        fmt = _title(source.fmt) if source else "its format"
        raise InputError(
            f"{path}: cannot read it as {fmt}: the file looks damaged ({_first_line(exc)}) — "
            "open it in the program that made it and save it again"
        ) from exc


# --- choosing and checking the file ------------------------------------------------------


def _choose_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        chosen = _FORMAT_ALIASES.get(fmt.strip().lower().lstrip("."))
        if chosen is None:
            raise UsageError(f"unknown --format '{fmt}' — use one of: {', '.join(FORMATS)}")
        return chosen
    chosen = _EXTENSIONS.get(path.suffix.lower())
    if chosen is None:
        what = f"extension '{path.suffix}'" if path.suffix else "no extension"
        raise InputError(
            f"{path}: cannot tell the file's format from {what} — "
            f"pass --format ({', '.join(FORMATS)})"
        )
    return chosen


def _check_encoding(name: str, fmt: str, encoding: str | None) -> str | None:
    """The codec to decode a text file with, or None for polars' own UTF-8 reading."""
    if encoding is None:
        return None
    if fmt not in _TEXT_FORMATS:
        raise UsageError(
            f"{name}: --encoding applies to CSV, TSV and JSON Lines only; "
            f"{_title(fmt)} files carry their own encoding"
        )
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(
            f"unknown --encoding '{encoding}' — use a Python codec name such as "
            "utf-8, latin-1 or cp1252"
        ) from None
    # polars streams UTF-8 itself (BOM or not); only other encodings need decoding first.
    return None if codec in _UTF8_NAMES else codec


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError as exc:
        raise InputError(_explain_os(path, exc)) from exc
    if not head:
        raise InputError(f"{path}: the file is empty (0 bytes) — is it the right file?")
    return head


def _sniff(head: bytes) -> str:
    """What the first bytes say the file is: a binary format's name, else "csv" or "jsonl"."""
    if head.startswith(_MAGIC_PARQUET):
        return "parquet"
    if head.startswith(_MAGIC_ZIP):
        return "xlsx"
    if head.startswith(_MAGIC_OLE):
        return "xls"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"


def _looks_like(kind: str) -> str:
    return {
        "parquet": "a Parquet file",
        "xlsx": "an Excel .xlsx workbook (or another zip file)",
        "xls": "an old Excel .xls workbook",
        "jsonl": "JSON Lines text",
        "csv": "text, such as CSV",
    }[kind]


def _check_content(name: str, fmt: str, head: bytes, encoding: str | None) -> str:
    """Refuse a file whose bytes are not ``fmt``; returns the format to read it with."""
    kind = _sniff(head)
    if fmt in _EXCEL_FORMATS:
        if kind in _EXCEL_FORMATS:
            return kind  # calamine reads both; a misnamed workbook is still a workbook
        raise InputError(
            f"{name}: this is not an Excel workbook (it looks like {_looks_like(kind)}) — "
            f"rename it to its real extension or pass --format {_suggest(kind)}"
        )
    if fmt == "parquet":
        if kind != "parquet":
            raise InputError(
                f"{name}: this is not a Parquet file (it looks like {_looks_like(kind)}) — "
                f"rename it to its real extension or pass --format {_suggest(kind)}"
            )
        return fmt
    if kind in ("parquet", "xlsx", "xls"):
        raise InputError(
            f"{name}: this is not {_title(fmt)} text (it looks like {_looks_like(kind)}) — "
            f"rename it to its real extension or pass --format {kind}"
        )
    if encoding is None:
        _check_utf8_head(name, head)
    return fmt


def _suggest(kind: str) -> str:
    return kind if kind in FORMATS else "csv"


def _check_utf8_head(name: str, head: bytes) -> None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{name}: the file is UTF-16 text — pass --encoding utf-16")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise InputError(_not_utf8(name, head[exc.start], exc.start, head)) from None
    if b"\x00" in head:
        raise InputError(
            f"{name}: the file holds binary data (NUL bytes), not text — is it the right file?"
        )


def _not_utf8(name: str, byte: int, offset: int, before: bytes) -> str:
    line = before[:offset].count(b"\n") + 1
    return (
        f"{name}: not valid UTF-8 (byte 0x{byte:02x} at offset {offset}, line {line}) — "
        "pass --encoding latin-1 (or the file's real encoding)"
    )


def _decoded(path: Path, encoding: str) -> bytes:
    """The whole file as UTF-8 bytes, for polars, which reads nothing else."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(_explain_os(path, exc)) from exc
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name}: not valid {encoding} (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}, line {line}) — pass the file's real encoding with --encoding"
        ) from None
    return text.removeprefix("\ufeff").encode("utf-8")


# --- one reader per format ---------------------------------------------------------------


def _read_delimited(path: Path, fmt: str, head: bytes, encoding: str | None) -> _Raw:
    source: str | bytes = str(path)
    if encoding is not None:
        source = head = _decoded(path, encoding)
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise InputError(f"{path}: the file has no header row — put the column names first")
    separator = _SEPARATORS[fmt]
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
    return _Raw(frame, headers, [str(i + 1) for i in range(len(headers))])


def _read_jsonl(path: Path, encoding: str | None) -> _Raw:
    source: str | bytes = str(path) if encoding is None else _decoded(path, encoding)
    try:
        keys = pl.scan_ndjson(source, infer_schema_length=None).collect_schema().names()
    except pl.exceptions.SchemaError:
        # A key whose values change type between records defeats polars' inference.
        keys = _jsonl_keys(source)
    if not keys:
        raise InputError(f"{path}: no JSON records with any field — is it the right file?")
    frame = pl.scan_ndjson(source, schema=dict.fromkeys(keys, pl.String)).select(
        pl.col(k).alias(f"_c{i}") for i, k in enumerate(keys)
    )
    return _Raw(frame, list(keys), [repr(k) for k in keys])


def _jsonl_keys(source: str | bytes) -> list[str]:
    keys: dict[str, None] = {}
    with _open_text(source) as lines:
        for line in lines:
            try:
                record = json.loads(line) if line.strip() else None
            except ValueError:
                continue  # polars names the broken line when the frame is read
            if isinstance(record, dict):
                keys.update(dict.fromkeys(record))
    return list(keys)


def _read_parquet(path: Path) -> _Raw:
    scan = pl.scan_parquet(path)
    schema = scan.collect_schema()
    exprs = []
    for i, (col, dtype) in enumerate(schema.items()):
        exprs.append(_parquet_text(col, dtype).alias(f"_c{i}"))
    return _Raw(scan.select(exprs), list(schema.names()), [repr(c) for c in schema.names()])


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


def _read_excel(path: Path, fmt: str, sheet: str | None) -> _Raw:
    name = str(path)
    # calamine picks its parser by extension; the bytes let it go by content instead.
    source = path if _EXTENSIONS.get(path.suffix.lower()) == fmt else path.read_bytes()
    reader = fastexcel.read_excel(source)
    sheets: list[str] = list(reader.sheet_names)
    if sheet is None:
        if not sheets:
            raise InputError(f"{name}: the workbook has no sheets — is it the right file?")
        sheet = sheets[0]
    elif sheet not in sheets:
        listed = ", ".join(f"'{s}'" for s in sheets)
        raise InputError(
            f"{name}: no sheet '{sheet}' — the sheets are {listed}; pick one with --sheet"
        )
    loaded = reader.load_sheet(sheet, header_row=None, dtypes="string")
    whole: pl.DataFrame = loaded.to_polars()
    if whole.height == 0:
        raise InputError(
            f"{name}: sheet '{sheet}' is empty — put a header row and data in it, "
            "or pick another sheet with --sheet"
        )
    letters = [_column_letter(info.absolute_index) for info in loaded.available_columns()]
    headers: list[str | None] = [None if v is None else str(v) for v in whole.row(0)]
    data = whole.slice(1)
    empty = frozenset(i for i, c in enumerate(data.columns) if data[c].null_count() == data.height)
    data = data.select(_excel_text(pl.col(c)).alias(f"_c{i}") for i, c in enumerate(data.columns))
    return _Raw(data.lazy(), headers, letters, empty, sheet)


def _excel_text(e: pl.Expr) -> pl.Expr:
    # fastexcel renders dates as datetimes and lone times on Excel's day zero: show what
    # Excel shows instead.
    return e.str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "${1}").str.replace(
        r"^1899-12-31 (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$", "${1}"
    )


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


_NS: Final = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS: Final = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS: Final = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _check_xlsx_cells(name: str, path: Path, raw: _Raw, names: list[str | None]) -> None:
    """Refuse error cells (#N/A...) and never-calculated formulas, which calamine reads as empty.

    Sending nothing where the sheet shows #N/A would silently skip a change the user asked for;
    in a column the user chose to ignore, it does no harm.
    """
    assert raw.sheet is not None
    used = {
        raw.labels[i]: i
        for i, col in enumerate(names)
        if col is not None and not col.startswith(IGNORED_PREFIX)
    }
    try:
        problem = _first_bad_cell(path, raw.sheet, set(used))
    except (KeyError, StopIteration, zipfile.BadZipFile, ElementTree.ParseError, OSError):
        return  # best effort: calamine already read the sheet, this check only adds detail
    if problem is not None:
        ref, what = problem
        header = raw.headers[used[re.sub(r"\d", "", ref)]] or ""
        raise InputError(
            f"{name}: cell {ref} on sheet '{raw.sheet}' holds {what} — fix it, or skip the "
            f"column with --ignore-column {_shell(header)}"
        )


def _first_bad_cell(path: Path, sheet: str, letters: set[str]) -> tuple[str, str] | None:
    with zipfile.ZipFile(path) as z:
        workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        rid = next(
            s.get(f"{_REL_NS}id") for s in workbook.iter(f"{_NS}sheet") if s.get("name") == sheet
        )
        target = next(
            r.get("Target") for r in rels.iter(f"{_PKG_REL_NS}Relationship") if r.get("Id") == rid
        )
        if target is None:
            return None
        member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        with z.open(member) as f:
            for _, el in ElementTree.iterparse(f):
                if el.tag != f"{_NS}c":
                    continue
                ref = el.get("r", "")
                if re.sub(r"\d", "", ref) in letters:
                    value = el.find(f"{_NS}v")
                    text = value.text if value is not None else None
                    if el.get("t") == "e":
                        return ref, f"the error {text or '#ERROR'}"
                    if el.find(f"{_NS}f") is not None and not text and el.get("t") != "str":
                        return ref, (
                            "a formula that was never calculated (open and save the file "
                            "in Excel or LibreOffice)"
                        )
                el.clear()
    return None


# --- naming the columns ------------------------------------------------------------------


def _name_columns(
    name: str,
    raw: _Raw,
    column_map: Mapping[str, str],
    ignore_columns: Sequence[str],
) -> tuple[list[str | None], dict[str, str]]:
    """Each column's frame name (None: an empty unnamed Excel column, dropped), and headers."""
    targets = _map_targets(name, column_map)
    norm_targets = {api.normalise_column_name(k): v for k, v in targets.items()}
    ignored = set(ignore_columns)
    norm_ignored = {api.normalise_column_name(c) for c in ignore_columns}

    seen_header: dict[str, int] = {}
    for i, header in enumerate(raw.headers):
        if header is None or not header.strip():
            if i in raw.empty_columns:
                continue
            raise InputError(
                f"{name}: column {raw.labels[i]} has no header — give it one, or delete the column"
            )
        if header in seen_header:
            first = raw.labels[seen_header[header]]
            raise InputError(
                f"{name}: the header '{header}' appears twice (columns {first} and "
                f"{raw.labels[i]}) — rename or delete one"
            )
        seen_header[header] = i

    names: list[str | None] = []
    headers: dict[str, str] = {}
    owner: dict[str, str] = {}
    unknown: list[str] = []
    for header in raw.headers:
        if header is None or not header.strip():
            names.append(None)
            continue
        norm = api.normalise_column_name(header)
        mapped = targets.get(header) or norm_targets.get(norm)
        if header in ignored or norm in norm_ignored:
            if mapped is not None:
                raise InputError(
                    f"{name}: column '{header}' is both mapped with --map and skipped with "
                    "--ignore-column — keep one of the two"
                )
            col = IGNORED_PREFIX + header
        elif mapped is not None:
            col = mapped
        elif norm in api.COLUMN_LOOKUP:
            col = api.COLUMN_LOOKUP[norm]
        else:
            unknown.append(header)
            names.append(None)
            continue
        if col in owner:
            raise InputError(
                f"{name}: columns '{owner[col]}' and '{header}' both mean '{col}' — "
                "delete or rename one"
            )
        owner[col] = header
        headers[col] = header
        names.append(col)
    if unknown:
        raise InputError(_unknown_column(name, unknown))
    return names, headers


def _map_targets(name: str, column_map: Mapping[str, str]) -> dict[str, str]:
    targets: dict[str, str] = {}
    for header, target in column_map.items():
        api_name = api.COLUMN_LOOKUP.get(api.normalise_column_name(target))
        if api_name is None:
            raise InputError(
                f"{name}: --map \"{header}={target}\": '{target}' is not a column batchtool "
                f"knows — use one of: {', '.join(api.KNOWN_COLUMNS)}"
            )
        targets[header] = api_name
    return targets


def _unknown_column(name: str, unknown: list[str]) -> str:
    header = unknown[0]
    guess = _closest(header)
    hint = f" — did you mean '{guess}'? Rename it" if guess else " — rename it to an API name"
    target = guess or "NAME"
    more = ""
    if len(unknown) > 1:
        rest = ", ".join(f"'{h}'" for h in unknown[1:])
        more = f" (also unknown: {rest})"
    return (
        f"{name}: unknown column '{header}'{hint}, map it with --map \"{header}={target}\", "
        f"or skip it with --ignore-column {_shell(header)}{more}"
    )


def _closest(header: str) -> str | None:
    norm = api.normalise_column_name(header)
    if not norm:
        return None
    # "Email Address" or "Zip Code": a known name inside the header is the likeliest meaning.
    inside = [c for n, c in api.COLUMN_LOOKUP.items() if len(n) >= 3 and n in norm]
    if inside:
        return max(inside, key=len)
    close = difflib.get_close_matches(norm, list(api.COLUMN_LOOKUP), n=1, cutoff=0.6)
    return api.COLUMN_LOOKUP[close[0]] if close else None


def _shell(word: str) -> str:
    """``word`` as one shell argument, quoted only when it has to be."""
    if re.fullmatch(r"[\w.:/+-]+", word):
        return word
    for special in ("\\", '"', "$", "`"):
        word = word.replace(special, "\\" + special)
    return f'"{word}"'


# --- the final frame ---------------------------------------------------------------------


def _finish(raw: _Raw, names: list[str | None]) -> pl.LazyFrame:
    kept = [(f"_c{i}", col) for i, col in enumerate(names) if col is not None]
    # Trimming and nulling in two passes: in one expression polars strips every value twice.
    trimmed = raw.frame.with_row_index(ROW, offset=1).select(
        pl.col(ROW).cast(pl.Int64),
        *(
            (pl.col(src) if col in api.UNTRIMMED_COLUMNS else pl.col(src).str.strip_chars()).alias(
                col
            )
            for src, col in kept
        ),
    )
    frame = trimmed.select(pl.col(ROW), *(_null_if_blank(col) for _, col in kept))
    return frame.filter(pl.any_horizontal(pl.col(col).is_not_null() for _, col in kept))


def _has_data_rows(raw: _Raw, names: list[str | None], frame: pl.LazyFrame) -> bool:
    """Whether any row has a non-empty cell, settled from the first rows where possible.

    Asking the filtered frame for one row makes polars parse far into a big file on every
    thread (tens of MB for a million rows); the raw head is cheap because the row limit
    reaches the scan. Only a file that opens with that many blank rows needs the full look.
    """
    head = raw.frame.head(_HAS_DATA_PROBE_ROWS).collect()
    if _finish(replace(raw, frame=head.lazy()), names).head(1).collect().height:
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


# --- explaining late errors --------------------------------------------------------------


def _explain_polars(path: Path, exc: Exception) -> str:
    message = str(exc)
    lowered = message.lower()
    source = _SOURCES.get(_key(path))
    fmt = source.fmt if source else _EXTENSIONS.get(path.suffix.lower(), "csv")
    if ("utf-8" in lowered or "utf8" in lowered) and fmt not in _TEXT_FORMATS:
        return (
            f"{path}: a text column holds bytes that are not valid UTF-8 — "
            "store that column as UTF-8 text"
        )
    if "utf-8" in lowered or "utf8" in lowered:
        located = _locate_bad_utf8(path) if source is None or source.encoding is None else None
        if located is not None:
            return located
        return f"{path}: not valid UTF-8 — pass --encoding latin-1 (or the file's real encoding)"
    if "more fields than defined" in lowered:
        return _explain_ragged(path, source)
    if "not properly escaped" in lowered:
        return _explain_open_quote(path, source)
    if fmt == "jsonl":
        return _explain_jsonl(path, source, message)
    if isinstance(exc, pl.exceptions.NoDataError):
        return f"{path}: the file has no header row — put the column names first"
    return (
        f"{path}: cannot read it as {_title(fmt)} ({_first_line(exc)}) — "
        f"check that it really is a {_title(fmt)} file, or pass --format"
    )


def _locate_bad_utf8(path: Path) -> str | None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    newlines = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK_BYTES):
                try:
                    decoder.decode(chunk, final=False)
                except UnicodeDecodeError as exc:
                    # The decoder may hold up to 3 bytes of a split character from the last chunk.
                    pending = len(decoder.getstate()[0])
                    start = max(exc.start - pending, 0)
                    line = newlines + chunk[:start].count(b"\n") + 1
                    return (
                        f"{path}: not valid UTF-8 (byte 0x{chunk[start]:02x} at offset "
                        f"{offset + start}, line {line}) — pass --encoding latin-1 "
                        "(or the file's real encoding)"
                    )
                offset += len(chunk)
                newlines += chunk.count(b"\n")
    except OSError:
        return None
    return None


def _explain_ragged(path: Path, source: _Source | None) -> str:
    fix = "remove the extra separator, or quote the value that contains it"
    for line, row, fields, expected in _csv_records(path, source):
        if fields > expected:
            return (
                f"{path}: line {line} (row {row}) has {fields} fields but the header has "
                f"{expected} — {fix}"
            )
    return f"{path}: a row has more fields than the header — {fix}"


def _explain_open_quote(path: Path, source: _Source | None) -> str:
    fix = 'close it, and write a " inside a quoted value as ""'
    last = collections.deque(_csv_records(path, source), maxlen=1)
    # A quote that never closes swallows the rest of the file into the last record.
    where = f"line {last[0][0]}" if last else "a line"
    return f"{path}: {where} opens a quoted value that never closes — {fix}"


def _csv_records(path: Path, source: _Source | None) -> Iterator[tuple[int, int, int, int]]:
    """(first line, row, field count, header's field count) of each record, read by Python."""
    fmt = source.fmt if source else "csv"
    encoding = source.encoding if source and source.encoding else "utf-8-sig"
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as f:
            records = csv.reader(f, delimiter=_SEPARATORS.get(fmt, ","))
            header = next(records, [])
            start = records.line_num + 1
            for row, fields in enumerate(records, start=1):
                yield start, row, len(fields), len(header)
                start = records.line_num + 1
    except (OSError, csv.Error):
        return


def _explain_jsonl(path: Path, source: _Source | None, message: str) -> str:
    fix = 'each line must be one JSON object such as {"customer_id": "191"}'
    data: str | bytes = str(path)
    if source is not None and source.encoding is not None:
        try:
            data = _decoded(path, source.encoding)
        except InputError:
            data = str(path)
    records = 0
    try:
        with _open_text(data) as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                records += 1
                try:
                    record = json.loads(line)
                except ValueError:
                    return f"{path}: line {number} is not valid JSON — {fix}"
                if not isinstance(record, dict):
                    return f"{path}: line {number} is not a JSON object — {fix}"
    except OSError:
        pass
    if not records:
        return f"{path}: no JSON records, only blank lines — is it the right file?"
    return f"{path}: cannot read it as JSON Lines ({message.splitlines()[0]}) — {fix}"


def _explain_os(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file — check the path"
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return f"{path}: is a directory — give the path of the input file inside it"
    if isinstance(exc, PermissionError):
        return f"{path}: permission denied — make the file readable (chmod u+r) or copy it"
    return f"{path}: cannot read the file ({exc.strerror or exc}) — check the path and the disk"


# --- small helpers -----------------------------------------------------------------------


@contextmanager
def _open_text(source: str | bytes) -> Iterator[Iterator[str]]:
    if isinstance(source, bytes):
        yield io.StringIO(source.decode("utf-8"))
    else:
        with open(source, encoding="utf-8-sig", errors="replace") as f:
            yield f


def _key(path: Path) -> str:
    return os.path.abspath(path)


def _title(fmt: str) -> str:
    return _FORMAT_TITLES.get(fmt, fmt)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
