"""reader: any supported file becomes a lazy frame of the text a person sees, or one clear error."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import importlib.util
import json
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batchtool import api, reader
from batchtool.errors import InputError, UnknownColumn, UnknownColumnsError, UsageError
from batchtool.reader import FORMATS, InputTable, polars_errors, read_input

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers -----------------------------------------------------------------------------


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def write_csv(path: Path, rows: Sequence[Sequence[str]], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]], sheet: str = "Sheet1") -> Path:
    """Cells typed as given: str -> text, int/float -> number, date/datetime -> date, bool."""
    workbook = xlsxwriter.Workbook(path)
    date = workbook.add_format({"num_format": "yyyy-mm-dd"})
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws = workbook.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            _write_cell(ws, r, c, value, date, stamp)
    workbook.close()
    return path


def _write_cell(ws: Any, r: int, c: int, value: Any, date: Any, stamp: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        ws.write_boolean(r, c, value)
    elif isinstance(value, dt.datetime):
        ws.write_datetime(r, c, value, stamp)
    elif isinstance(value, dt.date):
        ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date)
    elif isinstance(value, int | float):
        ws.write_number(r, c, value)
    else:
        ws.write_string(r, c, value)


def write_xls(
    path: Path, sheets: Sequence[tuple[str, Sequence[Sequence[str | float | None]]]]
) -> Path:
    """A minimal BIFF8 .xls (one compound-file stream; text and number cells): no xls writer
    is installed, and calamine reads this subset like any Excel 97-2003 file."""

    def record(kind: int, body: bytes) -> bytes:
        return struct.pack("<HH", kind, len(body)) + body

    def bof(kind: int) -> bytes:
        return record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))

    def boundsheet(offset: int, name: str) -> bytes:
        body = struct.pack("<IBBBB", offset, 0, 0, len(name), 1) + name.encode("utf-16-le")
        return record(0x0085, body)

    def cell(r: int, c: int, value: str | float) -> bytes:
        if isinstance(value, str):
            text = struct.pack("<HB", len(value), 1) + value.encode("utf-16-le")
            return record(0x0204, struct.pack("<HHH", r, c, 0) + text)
        return record(0x0203, struct.pack("<HHHd", r, c, 0, float(value)))

    eof = record(0x000A, b"")
    substreams = []
    for _, rows in sheets:
        width = max((len(row) for row in rows), default=0)
        body = bof(0x10) + record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
        for r, row in enumerate(rows):
            body += b"".join(cell(r, c, v) for c, v in enumerate(row) if v is not None)
        substreams.append(body + eof)
    offset = len(bof(5)) + sum(len(boundsheet(0, n)) for n, _ in sheets) + len(eof)
    globals_ = bof(5)
    for (name, _), sub in zip(sheets, substreams, strict=True):
        globals_ += boundsheet(offset, name)
        offset += len(sub)
    stream = globals_ + eof + b"".join(substreams)
    # At least 4096 bytes so the stream lives in normal sectors, not the mini stream.
    stream += b"\x00" * (max(4096, -(-len(stream) // 512) * 512) - len(stream))
    sectors = len(stream) // 512
    end, free = 0xFFFFFFFE, 0xFFFFFFFF
    fat = [0xFFFFFFFD, end, *range(3, 2 + sectors), end]
    fat += [free] * (128 - len(fat))
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<9I", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + struct.pack("<I", free) * 108
    )

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBBIII", len(encoded), kind, 1, free, free, child)
            + b"\x00" * 36
            + struct.pack("<IQ", start, size)
        )

    directory = entry("Root Entry", 5, 1, end, 0) + entry("Workbook", 2, free, 2, len(stream))
    directory += b"\x00" * (512 - len(directory))
    path.write_bytes(header + struct.pack("<128I", *fat) + directory + stream)
    return path


def load(path: Path, **kwargs: Any) -> pl.DataFrame:
    table = read_input(path, **kwargs)
    with polars_errors(table.path):
        return table.frame.collect()


def rows(path: Path, **kwargs: Any) -> list[dict[str, Any]]:
    return load(path, **kwargs).to_dicts()


def input_error(path: Path, **kwargs: Any) -> str:
    """The one-line message read_input (or collecting its frame) gives for ``path``."""
    with pytest.raises(InputError) as info:
        load(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# --- formats -----------------------------------------------------------------------------


def _same_data_in(tmp_path: Path, suffix: str) -> Path:
    header = ["operation", "customer_id", "zip"]
    data = [["lock", "191", "01234"], ["set", "S9", "99"]]
    path = tmp_path / f"in{suffix}"
    if suffix in (".csv",):
        return write_csv(path, [header, *data])
    if suffix in (".tsv", ".tab"):
        return write_csv(path, [header, *data], delimiter="\t")
    if suffix in (".parquet", ".pq"):
        pl.DataFrame(data, schema=header, orient="row").write_parquet(path)
        return path
    if suffix == ".xlsx":
        return write_xlsx(path, [header, *data])
    if suffix == ".xls":
        return write_xls(path, [("Sheet1", [header, *data])])
    lines = (json.dumps(dict(zip(header, d, strict=True))) for d in data)
    return write(path, "\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("suffix", "fmt"),
    [
        pytest.param(".csv", "csv", id="csv"),
        pytest.param(".tsv", "tsv", id="tsv"),
        pytest.param(".tab", "tsv", id="tab"),
        pytest.param(".parquet", "parquet", id="parquet"),
        pytest.param(".pq", "parquet", id="pq"),
        pytest.param(".xlsx", "xlsx", id="xlsx"),
        pytest.param(".xls", "xls", id="xls"),
        pytest.param(".jsonl", "jsonl", id="jsonl"),
        pytest.param(".ndjson", "jsonl", id="ndjson"),
    ],
)
def test_format_is_chosen_by_extension(tmp_path: Path, suffix: str, fmt: str) -> None:
    path = _same_data_in(tmp_path, suffix)
    table = read_input(path)
    assert table.format == fmt
    assert table.path == path
    assert isinstance(table.frame, pl.LazyFrame)
    assert table.frame.collect().to_dicts() == [
        {"row": 1, "operation": "lock", "customer_id": "191", "zip": "01234"},
        {"row": 2, "operation": "set", "customer_id": "S9", "zip": "99"},
    ]


def test_formats_lists_every_format() -> None:
    assert set(FORMATS) == {"csv", "tsv", "parquet", "xlsx", "xls", "jsonl"}


@pytest.mark.parametrize(
    ("suffix", "fmt"),
    [
        pytest.param(".tsv", "csv", id="tsv-data-read-as-csv-ext"),
        pytest.param(".csv", "tsv", id="csv-ext-read-as-tsv"),
        pytest.param(".parquet", "parquet", id="parquet-renamed-txt"),
        pytest.param(".xlsx", "xlsx", id="xlsx-renamed-txt"),
        pytest.param(".jsonl", "jsonl", id="jsonl-renamed-txt"),
    ],
)
def test_format_option_overrides_extension(tmp_path: Path, suffix: str, fmt: str) -> None:
    source = _same_data_in(tmp_path, suffix)
    if suffix in (".tsv", ".csv"):
        # A file with the other separator under the wrong extension, read with --format.
        delimiter = "\t" if fmt == "tsv" else ","
        write_csv(source, [["operation", "customer_id"], ["lock", "1"]], delimiter=delimiter)
        expected = [{"row": 1, "operation": "lock", "customer_id": "1"}]
    else:
        expected = None
    renamed = source.rename(tmp_path / "export.txt")
    table = read_input(renamed, fmt=fmt)
    assert table.format == fmt
    got = table.frame.collect().to_dicts()
    if expected is not None:
        assert got == expected
    else:
        assert got[0]["customer_id"] == "191"


def test_unknown_extension_asks_for_format(tmp_path: Path) -> None:
    path = write(tmp_path / "changes.dat", "operation,customer_id\nlock,1\n")
    message = input_error(path)
    assert "pass --format" in message
    assert "'.dat'" in message


def test_unknown_format_name_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id\nlock,1\n")
    with pytest.raises(UsageError, match="unknown --format 'xml'"):
        read_input(path, fmt="xml")


# --- the frame ---------------------------------------------------------------------------


def test_frame_is_row_then_text_columns_and_headers_keep_the_file_spelling(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "in.csv", "Operation, Customer ID ,E-mail,Notes\nlock,1,a@b.c,x\n")
    table = read_input(path, ignore_columns=["Notes"])
    schema = table.frame.collect_schema()
    assert list(schema.names()) == ["row", "operation", "customer_id", "email", "ignored:Notes"]
    assert schema["row"] == pl.Int64
    assert all(schema[c] == pl.String for c in schema.names() if c != "row")
    assert table.headers == {
        "operation": "Operation",
        "customer_id": " Customer ID ",
        "email": "E-mail",
        "ignored:Notes": "Notes",
    }
    assert isinstance(table, InputTable)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        pytest.param("First Name", "firstname", id="spaces"),
        pytest.param("first_name", "firstname", id="underscore"),
        pytest.param("FIRSTNAME", "firstname", id="upper"),
        pytest.param("first-name", "firstname", id="dash"),
        pytest.param("Order ID", "orderid", id="order-id"),
        pytest.param("customerID", "customer_id", id="camel"),
        pytest.param("  Zip ", "zip", id="padded"),
        pytest.param("Address 1", "address1", id="address1"),
        pytest.param("KEEP", "keep", id="keep"),
    ],
)
def test_column_names_match_ignoring_case_spaces_underscores_dashes(
    tmp_path: Path, header: str, name: str
) -> None:
    path = write_csv(tmp_path / "in.csv", [["operation", header], ["lock", "v"]])
    table = read_input(path)
    assert table.headers[name] == header
    assert table.frame.collect()[name].to_list() == ["v"]


def test_values_are_trimmed_and_empty_means_null(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.csv",
        'operation,customer_id,city,zip\n  lock ,  0191\t,"  New York  ",\n set ,2,   ,""\n',
    )
    assert rows(path) == [
        {"row": 1, "operation": "lock", "customer_id": "0191", "city": "New York", "zip": None},
        {"row": 2, "operation": "set", "customer_id": "2", "city": None, "zip": None},
    ]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param("  pass word  ", "  pass word  ", id="surrounding-space-kept"),
        pytest.param("\tx", "\tx", id="tab-kept"),
        pytest.param("   ", None, id="blank-is-empty"),
        pytest.param("", None, id="empty"),
    ],
)
def test_password_keeps_its_whitespace(tmp_path: Path, cell: str, expected: str | None) -> None:
    path = write_csv(
        tmp_path / "in.csv", [["operation", "customer_id", "password"], ["set", "1", cell]]
    )
    assert rows(path)[0]["password"] == expected


def test_blank_rows_are_dropped_but_still_numbered(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id\nlock,1\n\n , \nunlock,2\n,\n")
    assert rows(path) == [
        {"row": 1, "operation": "lock", "customer_id": "1"},
        {"row": 4, "operation": "unlock", "customer_id": "2"},
    ]


def test_fewer_fields_than_the_header_are_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id,city\nlock,1\n")
    assert rows(path) == [{"row": 1, "operation": "lock", "customer_id": "1", "city": None}]


def test_quoted_values_keep_separators_quotes_and_newlines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.csv",
        'operation,customer_id,address1\nset,1,"12, ""Main"" St\nFlat 2"\nlock,2,\n',
    )
    assert rows(path) == [
        {"row": 1, "operation": "set", "customer_id": "1", "address1": '12, "Main" St\nFlat 2'},
        {"row": 2, "operation": "lock", "customer_id": "2", "address1": None},
    ]


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id\r\nlock,1\r\nunlock,2\r\n")
    assert load(path)["customer_id"].to_list() == ["1", "2"]


# --- column mapping, ignoring, unknown columns -------------------------------------------


@pytest.mark.parametrize(
    ("column_map", "header"),
    [
        pytest.param({"E-mail address": "email"}, "E-mail address", id="exact"),
        pytest.param({"e-mail address": "email"}, "E-mail address", id="normalised-key"),
        pytest.param({"E-mail address": "E-Mail"}, "E-mail address", id="normalised-target"),
    ],
)
def test_column_map(tmp_path: Path, column_map: dict[str, str], header: str) -> None:
    path = write_csv(
        tmp_path / "in.csv", [["operation", "customer_id", header], ["set", "1", "a@b.c"]]
    )
    table = read_input(path, column_map=column_map)
    assert table.headers["email"] == header
    assert table.frame.collect()["email"].to_list() == ["a@b.c"]


def test_column_map_can_rename_a_known_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [["operation", "id"], ["lock", "1"]])
    assert rows(path, column_map={"id": "customer_id"})[0]["customer_id"] == "1"


def test_column_map_to_an_unknown_name_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [["operation", "mail"], ["lock", "1"]])
    message = input_error(path, column_map={"mail": "e_mail_address"})
    assert "--map \"mail=e_mail_address\": 'e_mail_address' is not a column" in message
    assert "email" in message


def test_mapped_and_ignored_at_once_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [["operation", "mail"], ["lock", "1"]])
    message = input_error(path, column_map={"mail": "email"}, ignore_columns=["mail"])
    assert "both mapped" in message


def test_unknown_column_suggests_the_closest_name(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "input.csv", [["operation", "customer_id", "fristname"], ["set", "1", "A"]]
    )
    assert input_error(path) == (
        f"{path}: unknown column 'fristname' — did you mean 'firstname'? Rename it, map it "
        'with --map "fristname=firstname", or skip it with --ignore-column fristname'
    )


@pytest.mark.parametrize(
    ("header", "guess"),
    [
        pytest.param("Email Address", "email", id="contains-email"),
        pytest.param("Zip Code", "zip", id="contains-zip"),
        pytest.param("lastnme", "lastname", id="typo"),
        pytest.param("Customer Number", "customer_id", id="close"),
    ],
)
def test_unknown_column_suggestions(tmp_path: Path, header: str, guess: str) -> None:
    path = write_csv(tmp_path / "in.csv", [["operation", header], ["lock", "1"]])
    assert f"did you mean '{guess}'?" in input_error(path)


def test_unknown_column_without_a_close_name_has_no_suggestion(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv", [["operation", "Favourite colour", "zzz"], ["lock", "1", "2"]]
    )
    message = input_error(path)
    assert "did you mean" not in message
    assert "unknown column 'Favourite colour'" in message
    assert '--ignore-column "Favourite colour"' in message
    assert "also unknown: 'zzz'" in message


@pytest.mark.parametrize(
    "ignore",
    [pytest.param("Notes", id="exact"), pytest.param("notes", id="normalised")],
)
def test_ignored_columns_are_kept_under_their_header(tmp_path: Path, ignore: str) -> None:
    path = write_csv(
        tmp_path / "in.csv", [["operation", "customer_id", "Notes"], ["lock", "1", " hi "]]
    )
    table = read_input(path, ignore_columns=[ignore])
    assert table.headers["ignored:Notes"] == "Notes"
    assert table.frame.collect().to_dicts() == [
        {"row": 1, "operation": "lock", "customer_id": "1", "ignored:Notes": "hi"}
    ]


def test_ignoring_a_known_column_keeps_it_out_of_the_api_names(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv", [["operation", "customer_id", "City"], ["lock", "1", "X"]]
    )
    frame = load(path, ignore_columns=["City"])
    assert "city" not in frame.columns
    assert frame["ignored:City"].to_list() == ["X"]


def test_an_ignored_password_column_is_masked(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        [["operation", "customer_id", "Password"], ["lock", "1", "s3cret"], ["lock", "2", ""]],
    )
    assert load(path, ignore_columns=["Password"])["ignored:Password"].to_list() == [api.MASK, None]


def test_ignoring_a_column_that_is_not_there_is_harmless(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [["operation", "customer_id"], ["lock", "1"]])
    assert load(path, ignore_columns=["Notes"]).columns == ["row", "operation", "customer_id"]


def test_two_columns_with_one_api_name_are_refused(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv", [["operation", "First Name", "first_name"], ["set", "a", "b"]]
    )
    message = input_error(path)
    assert "'First Name' and 'first_name' both mean 'firstname'" in message


def test_a_mapped_column_colliding_with_a_known_one_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [["operation", "email", "mail"], ["set", "a", "b"]])
    assert "'email' and 'mail' both mean 'email'" in input_error(path, column_map={"mail": "email"})


def test_duplicate_headers_are_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [["operation", "Notes", "Notes"], ["lock", "a", "b"]])
    message = input_error(path, ignore_columns=["Notes"])
    assert "'Notes' appears twice (columns 2 and 3)" in message


def test_a_column_without_header_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,,customer_id\nlock,x,1\n")
    assert "column 2 has no header" in input_error(path)


# --- BOM and encodings -------------------------------------------------------------------


def test_a_bom_never_reaches_a_column_name(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "\ufeffoperation,customer_id\nlock,1\n".encode())
    table = read_input(path)
    assert table.headers == {"operation": "operation", "customer_id": "customer_id"}
    assert table.frame.collect()["operation"].to_list() == ["lock"]


def test_a_bom_before_a_quoted_header(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", '\ufeff"Operation","Customer ID"\nlock,1\n')
    assert read_input(path).headers["operation"] == "Operation"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        pytest.param("latin-1", "Zürich", id="latin-1"),
        pytest.param("cp1252", "5 € off", id="cp1252"),
        pytest.param("utf-16", "Łódź", id="utf-16"),
        pytest.param("utf-8", "Zoë", id="utf-8-explicit"),
        pytest.param("utf-8-sig", "Zoë", id="utf-8-sig"),
    ],
)
def test_encoding_option(tmp_path: Path, encoding: str, text: str) -> None:
    body = f"operation,customer_id,city\nset,1,{text}\n"
    if encoding == "utf-8-sig":
        body = "\ufeff" + body
    path = write(tmp_path / "in.csv", body.encode(encoding))
    table = read_input(path, encoding=encoding)
    assert "operation" in table.headers
    assert table.frame.collect()["city"].to_list() == [text]


def test_encoding_option_for_json_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl", '{"operation": "set", "city": "Zürich"}\n'.encode("latin-1")
    )
    assert rows(path, encoding="latin-1")[0]["city"] == "Zürich"


def test_not_utf8_in_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "input.csv", "operation,cité\nlock,1\n".encode("latin-1"))
    assert input_error(path) == (
        f"{path}: not valid UTF-8 (byte 0xe9 at offset 13, line 1) — pass --encoding latin-1 "
        "(or the file's real encoding)"
    )


def test_not_utf8_deep_in_the_body(tmp_path: Path) -> None:
    good = "".join(f"lock,{i}\n" for i in range(20_000))  # well past the eagerly checked head
    data = ("operation,customer_id\n" + good).encode() + b"lock,caf\xe9\n"
    path = write(tmp_path / "input.csv", data)
    assert input_error(path) == (
        f"{path}: not valid UTF-8 (byte 0xe9 at offset {len(data) - 2}, line 20002) — "
        "pass --encoding latin-1 (or the file's real encoding)"
    )


def test_not_utf8_found_only_when_the_frame_is_collected(tmp_path: Path) -> None:
    path = write(tmp_path / "input.csv", "operation,customer_id\nlock,1\n")
    table = read_input(path)
    with path.open("ab") as f:  # polars reads the body only now, as for a big file
        f.write(b"lock,caf\xe9\n")
    with pytest.raises(InputError) as info, polars_errors(table.path):
        table.frame.collect()
    assert str(info.value) == (
        f"{path}: not valid UTF-8 (byte 0xe9 at offset 37, line 3) — "
        "pass --encoding latin-1 (or the file's real encoding)"
    )


@pytest.mark.parametrize(
    ("encoding", "mark"),
    [
        pytest.param("utf-16-le", codecs.BOM_UTF16_LE, id="utf-16-le"),
        pytest.param("utf-16-be", codecs.BOM_UTF16_BE, id="utf-16-be"),
        pytest.param("utf-32-le", codecs.BOM_UTF32_LE, id="utf-32-le"),
        pytest.param("utf-8", codecs.BOM_UTF8, id="utf-8"),
    ],
)
def test_a_byte_order_mark_says_the_encoding(tmp_path: Path, encoding: str, mark: bytes) -> None:
    text = "operation,customer_id,city\nset,1,Łódź\nlock,2,\n"
    path = write(tmp_path / "in.csv", mark + text.encode(encoding))
    table = read_input(path)
    assert list(table.headers) == ["operation", "customer_id", "city"]
    assert table.frame.collect().rows() == [(1, "set", "1", "Łódź"), (2, "lock", "2", None)]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_says_which(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id\nlock,1\n".encode(encoding))
    assert input_error(path) == (
        f"{path}: the file looks like {encoding.upper()} text without a byte order mark — "
        f"pass --encoding {encoding}"
    )


def test_an_encoding_option_that_contradicts_the_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id\nlock,1\n".encode("utf-16"))
    with pytest.raises(UsageError) as caught:
        read_input(path, encoding="latin-1")
    assert str(caught.value) == (
        f"{path}: the file starts with a UTF-16 byte order mark but --encoding says "
        "iso8859-1 — leave --encoding out"
    )


def test_wrong_encoding_option_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,city\nset,Zürich\n".encode())
    message = input_error(path, encoding="ascii")
    assert "not valid ascii (byte 0xc3" in message
    assert "--encoding" in message


def test_unknown_encoding_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id\nlock,1\n")
    with pytest.raises(UsageError, match="unknown --encoding 'latin-42'"):
        read_input(path, encoding="latin-42")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        pytest.param("sheet", "Sheet1", id="sheet"),
        pytest.param("encoding", "latin-1", id="encoding"),
    ],
)
def test_options_that_do_not_apply_are_usage_errors(
    tmp_path: Path, option: str, value: str
) -> None:
    path = _same_data_in(tmp_path, ".csv" if option == "sheet" else ".parquet")
    with pytest.raises(UsageError, match=f"--{option} applies to"):
        read_input(path, sheet=value) if option == "sheet" else read_input(path, encoding=value)


# --- bad files ---------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    assert input_error(tmp_path / "nope.csv").endswith("no such file — check the path")


def test_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert "is a directory" in input_error(folder)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id\nlock,1\n")
    if os.geteuid() == 0:  # root reads anything: pretend the permission check failed

        def denied(*_: Any, **__: Any) -> Any:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(Path, "open", denied)
    else:
        path.chmod(0)
    assert "permission denied" in input_error(path)


@pytest.mark.parametrize(
    "suffix",
    [pytest.param(s, id=s) for s in (".csv", ".tsv", ".jsonl", ".parquet", ".xlsx", ".xls")],
)
def test_empty_file(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / f"in{suffix}", b"")
    assert "the file is empty (0 bytes)" in input_error(path)


@pytest.mark.parametrize(
    "data", [pytest.param("\n\n", id="newlines"), pytest.param("\ufeff", id="bom-only")]
)
def test_no_header_row(tmp_path: Path, data: str) -> None:
    assert "no header row" in input_error(write(tmp_path / "in.csv", data))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("operation,customer_id\n", id="header-line"),
        pytest.param("operation,customer_id", id="no-newline"),
        pytest.param("operation,customer_id\n\n,\n", id="blank-rows-only"),
    ],
)
def test_header_only(tmp_path: Path, data: str) -> None:
    message = input_error(write(tmp_path / "in.csv", data))
    assert message.endswith("the file has a header but no data rows — add rows under the header")


def test_header_only_sheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "in.xlsx", [["Operation", "Customer ID"]], sheet="Changes")
    assert "sheet 'Changes' has a header but no data rows" in input_error(path)


def test_header_only_parquet(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pl.DataFrame(schema={"operation": pl.String, "customer_id": pl.String}).write_parquet(path)
    assert "no data rows" in input_error(path)


def test_ragged_row_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "input.csv", 'operation,customer_id\nlock,1\nset,"a\nb"\nset,2,Ann\n')
    assert input_error(path) == (
        f"{path}: line 5 (row 3) has 3 fields but the header has 2 — remove the extra "
        "separator, or quote the value that contains it"
    )


def test_ragged_row_found_only_when_the_frame_is_collected(tmp_path: Path) -> None:
    body = "".join(f"lock\t{i}\n" for i in range(30_000))
    path = write(tmp_path / "in.tsv", "operation\tcustomer_id\n" + body)
    table = read_input(path)
    with path.open("a") as f:
        f.write("a\tb\tc\n")
    expected = r"line 30002 \(row 30001\) has 3 fields"
    with pytest.raises(InputError, match=expected), polars_errors(table.path):
        table.frame.collect()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        pytest.param("in.xlsx", "operation,customer_id\nlock,1\n",
                     "this is not an Excel workbook (it looks like text, such as CSV) — rename it "
                     "to its real extension or pass --format csv", id="csv-renamed-xlsx"),
        pytest.param("in.xls", '{"operation": "lock"}\n',
                     "this is not an Excel workbook (it looks like JSON Lines text) — rename it "
                     "to its real extension or pass --format jsonl", id="jsonl-renamed-xls"),
        pytest.param("in.parquet", "operation,customer_id\nlock,1\n",
                     "this is not a Parquet file (it looks like text, such as CSV)",
                     id="csv-renamed-parquet"),
        pytest.param("in.csv", b"PAR1\x00\x01garbage",
                     "this is not CSV text (it looks like a Parquet file) — rename it to its "
                     "real extension or pass --format parquet", id="parquet-renamed-csv"),
        pytest.param("in.jsonl", b"PK\x03\x04\x14\x00",
                     "this is not JSON Lines text (it looks like an Excel .xlsx workbook",
                     id="xlsx-renamed-jsonl"),
        pytest.param("in.csv", bytes(range(256)) * 4, "not valid UTF-8 (byte 0x80",
                     id="garbage-bytes"),
        pytest.param("in.csv", b"op\x00\x01\x02,customer\n\x00\x00\x00",
                     "binary data (NUL bytes), not text", id="binary-ascii"),
        pytest.param("in.parquet", b"PAR1" + b"\x00" * 50, "cannot read it as Parquet",
                     id="truncated-parquet"),
        pytest.param("in.xlsx", b"PK\x03\x04" + b"\x00" * 50, "cannot read it as an Excel",
                     id="broken-zip"),
        pytest.param("in.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
                     "Excel", id="broken-ole"),
    ],
)  # fmt: skip
def test_wrong_or_broken_content(
    tmp_path: Path, name: str, data: str | bytes, expected: str
) -> None:
    assert expected in input_error(write(tmp_path / name, data))


def test_unclosed_quote_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", 'operation,customer_id\nlock,1\nlock,"2\nlock,3\n')
    assert input_error(path) == (
        f'{path}: line 3 opens a quoted value that never closes — close it, and write a " '
        'inside a quoted value as ""'
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param("\n\n", "no JSON records, only blank lines", id="blank-lines"),
        pytest.param("{}\n{}\n", "no JSON records with any field", id="empty-objects"),
    ],
)
def test_json_lines_without_fields(tmp_path: Path, data: str, expected: str) -> None:
    assert expected in input_error(write(tmp_path / "in.jsonl", data))


def test_invalid_json_line_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"operation": "lock", "customer_id": 1}\n{oops\n')
    assert input_error(path) == (
        f"{path}: line 2 is not valid JSON — each line must be one JSON object such as "
        '{"customer_id": "191"}'
    )


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"operation": "lock"}\n["lock", 1]\n')
    assert "line 2 is not a JSON object" in input_error(path)


# --- polars_errors -----------------------------------------------------------------------


def test_polars_errors_leaves_bugs_alone(tmp_path: Path) -> None:
    table = read_input(write(tmp_path / "in.csv", "operation,customer_id\nlock,1\n"))
    with pytest.raises(pl.exceptions.ColumnNotFoundError), polars_errors(table.path):
        table.frame.select("no_such_column").collect()


def test_polars_errors_reports_a_file_gone_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id\nlock,1\n")
    table = read_input(path)
    path.unlink()
    with pytest.raises(InputError, match="no such file"), polars_errors(table.path):
        table.frame.collect()


def test_polars_errors_passes_input_errors_through(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^mine$"), polars_errors(tmp_path / "x.csv"):
        raise InputError("mine")


# --- Excel -------------------------------------------------------------------------------


def test_excel_values_are_what_the_sheet_shows(tmp_path: Path) -> None:
    header = [
        "Operation",
        "Customer ID",
        "Zip",
        "custom1",
        "custom2",
        "custom3",
        "custom4",
        "custom5",
    ]
    data: list[list[Any]] = [
        [
            "lock",
            191,
            "01234",
            1.5,
            dt.date(2024, 1, 5),
            dt.datetime(2024, 1, 5, 13, 4, 5),
            True,
            0.1,
        ],
        ["lock", 2**53, "007", 100.0, dt.date(1999, 12, 31), dt.datetime(2024, 1, 5), False, -42],
        ["lock", 123456789012345, " 42 ", 1e20, None, None, None, 0.1 + 0.2],
    ]
    path = write_xlsx(tmp_path / "in.xlsx", [header, *data])
    frame = load(path)
    # Numbers of more than 15 digits are marked: Excel cannot hold them exactly (see plan.py).
    assert frame["number:customer_id"].to_list() == [None, "excel-rounded", None]
    assert frame["number:custom1"].to_list() == [None, None, "excel-rounded"]
    assert frame.select(pl.exclude("^number:.*$")).to_dicts() == [
        {"row": 1, "operation": "lock", "customer_id": "191", "zip": "01234", "custom1": "1.5",
         "custom2": "2024-01-05", "custom3": "2024-01-05 13:04:05", "custom4": "true",
         "custom5": "0.1"},
        {"row": 2, "operation": "lock", "customer_id": "9007199254740992", "zip": "007",
         "custom1": "100", "custom2": "1999-12-31", "custom3": "2024-01-05", "custom4": "false",
         "custom5": "-42"},
        {"row": 3, "operation": "lock", "customer_id": "123456789012345", "zip": "42",
         "custom1": "100000000000000000000", "custom2": None, "custom3": None, "custom4": None,
         "custom5": "0.3"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    "number",
    [
        pytest.param(12345678901234567, id="17-digits"),
        pytest.param(12345678901234567890, id="20-digits"),
        pytest.param(2**63, id="2**63"),
    ],
)
def test_excel_big_integers_never_get_an_exponent(tmp_path: Path, number: int) -> None:
    # Excel stores these as doubles (it keeps 15 digits itself): no "e+19", no ".0".
    path = write_xlsx(tmp_path / "in.xlsx", [["operation", "customer_id"], ["lock", float(number)]])
    text = load(path)["customer_id"].item()
    assert text.isdigit()
    assert len(text) == len(str(number))
    assert text[:15] == str(number)[:15]


def test_excel_time_and_formula_cells(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    workbook = xlsxwriter.Workbook(path)
    ws = workbook.add_worksheet()
    ws.write_row(0, 0, ["operation", "customer_id", "custom1", "custom2"])
    ws.write_row(1, 0, ["lock", 7])
    ws.write_formula(1, 2, "=B2*2", None, 14)
    ws.write_datetime(1, 3, dt.time(13, 30), workbook.add_format({"num_format": "hh:mm"}))
    ws.write(2, 0, "lock")
    ws.write_formula(2, 1, '="0"&"8"', None, "08")
    workbook.close()
    assert rows(path) == [
        {"row": 1, "operation": "lock", "customer_id": "7", "custom1": "14", "custom2": "13:30:00"},
        {"row": 2, "operation": "lock", "customer_id": "08", "custom1": None, "custom2": None},
    ]


def test_excel_error_cell_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    workbook = xlsxwriter.Workbook(path)
    ws = workbook.add_worksheet("Data")
    ws.write_row(0, 0, ["operation", "customer_id", "Notes"])
    ws.write(1, 0, "lock")
    ws.write_formula(1, 1, "=VLOOKUP(1,D:E,2,FALSE)", None, "#N/A")
    ws.write_formula(1, 2, "=1/0", None, "#DIV/0!")
    workbook.close()
    assert input_error(path, ignore_columns=["Notes"]) == (
        f"{path}: cell B2 on sheet 'Data' holds the error #N/A — fix it, or skip the column "
        "with --ignore-column customer_id"
    )


def test_excel_error_cell_in_an_ignored_column_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    workbook = xlsxwriter.Workbook(path)
    ws = workbook.add_worksheet()
    ws.write_row(0, 0, ["operation", "customer_id", "Notes"])
    ws.write_row(1, 0, ["lock", 1])
    ws.write_formula(1, 2, "=1/0", None, "#DIV/0!")
    workbook.close()
    assert rows(path, ignore_columns=["Notes"])[0]["ignored:Notes"] is None


def test_excel_formula_never_calculated_is_refused(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "in.xlsx"
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.append(["operation", "customer_id"])
    ws.append(["lock", "=1+1"])  # openpyxl saves formulas without a cached value
    workbook.save(path)
    assert "cell B2 on sheet 'Sheet' holds a formula that was never calculated" in input_error(path)


def test_excel_sheet_selection(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    workbook = xlsxwriter.Workbook(path)
    workbook.add_worksheet("Readme").write(0, 0, "see the other sheet")
    second = workbook.add_worksheet("Changes")
    second.write_row(0, 0, ["operation", "customer_id"])
    second.write_row(1, 0, ["unlock", 5])
    workbook.close()
    assert rows(path, sheet="Changes") == [{"row": 1, "operation": "unlock", "customer_id": "5"}]
    assert "unknown column 'see the other sheet'" in input_error(path)
    assert input_error(path, sheet="Nope") == (
        f"{path}: no sheet 'Nope' — the sheets are 'Readme', 'Changes'; pick one with --sheet"
    )


def test_excel_empty_sheet(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    workbook = xlsxwriter.Workbook(path)
    workbook.add_worksheet("Empty")
    workbook.close()
    assert "sheet 'Empty' is empty" in input_error(path)


def test_excel_table_away_from_a1_blank_rows_and_unnamed_empty_columns(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    workbook = xlsxwriter.Workbook(path)
    ws = workbook.add_worksheet()
    ws.write_row(2, 1, ["Operation", "Customer ID"])  # header in B3
    ws.write_row(3, 1, ["lock", 1])
    ws.write_row(5, 1, ["unlock", 1])  # a blank row 5 in between
    ws.write_blank(9, 4, None, workbook.add_format({"bold": True}))  # formatted, empty: E10
    workbook.close()
    assert rows(path) == [
        {"row": 1, "operation": "lock", "customer_id": "1"},
        {"row": 3, "operation": "unlock", "customer_id": "1"},
    ]


def test_excel_values_without_a_header_are_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "in.xlsx", [["operation", "customer_id"], ["lock", 1, "stray"]])
    assert "column C has no header" in input_error(path)


def test_excel_duplicate_headers_name_their_columns(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "in.xlsx", [["operation", "City", "City"], ["lock", "a", "b"]])
    assert "'City' appears twice (columns B and C)" in input_error(path)


def test_xls_values_and_sheets(tmp_path: Path) -> None:
    path = write_xls(
        tmp_path / "in.xls",
        [
            ("Readme", [["nothing here"]]),
            ("Changes", [["Operation", "Customer ID", "Zip", "City"],
                         ["lock", 191, "01234", "Zürich"],
                         ["set", 2.0**53, None, 1.5]]),
        ],
    )  # fmt: skip
    assert rows(path, sheet="Changes") == [
        {"row": 1, "operation": "lock", "customer_id": "191", "zip": "01234", "city": "Zürich"},
        {
            "row": 2,
            "operation": "set",
            "customer_id": "9007199254740992",
            "zip": None,
            "city": "1.5",
        },
    ]
    assert "the sheets are 'Readme', 'Changes'" in input_error(path, sheet="Other")


def test_xls_that_crashes_the_reader_is_an_input_error(tmp_path: Path) -> None:
    path = write_xls(tmp_path / "in.xls", [("Sheet1", [["operation"], ["lock"]])])
    data = bytearray(path.read_bytes())
    # The Workbook stream's size (directory sector, second entry) shrunk below the mini-stream
    # cutoff: calamine then looks for a mini stream that is not there and panics.
    struct.pack_into("<Q", data, 1024 + 128 + 120, 100)
    path.write_bytes(bytes(data))
    assert "the file looks damaged" in input_error(path)


def test_xls_extension_on_an_xlsx_workbook_still_reads(tmp_path: Path) -> None:
    path = _same_data_in(tmp_path, ".xlsx").rename(tmp_path / "old.xls")
    table = read_input(path)
    assert table.format == "xlsx"
    assert table.frame.collect()["zip"].to_list() == ["01234", "99"]


# --- Parquet -----------------------------------------------------------------------------


def test_parquet_values_are_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    frame = pl.DataFrame(
        {
            "operation": ["lock", "set"],
            "customer_id": pl.Series([191, 2**63 - 1], dtype=pl.Int64),
            "subscription_id": pl.Series([2**64 - 1, 0], dtype=pl.UInt64),
            "orderid": [191.0, 1e20],
            "zip": pl.Series([1.5, 3.0], dtype=pl.Float32),
            "custom1": [dt.date(2024, 1, 5), None],
            "custom2": [dt.datetime(2024, 1, 5, 13, 4, 5), dt.datetime(2024, 1, 5)],
            "custom3": [True, False],
            "custom4": pl.Series([decimal.Decimal("1.50"), None], dtype=pl.Decimal(10, 2)),
            "custom5": pl.Series(["gold", "silver"], dtype=pl.Categorical),
            "city": [[1, 2], None],
            "state": [{"a": 1}, {"a": None}],
            "country": pl.Series([None, None], dtype=pl.Null),
            "username": [0.25, float("nan")],
        }
    )
    frame.write_parquet(path)
    read = load(path)
    # Floats are marked where the value may not be the one meant (see plan.py).
    assert read.select(pl.selectors.starts_with("number:")).to_dicts() == [
        {"number:orderid": None, "number:zip": "fraction", "number:username": "fraction"},
        {"number:orderid": "float-rounded", "number:zip": None, "number:username": None},
    ]
    assert read.select(pl.exclude("^number:.*$")).to_dicts() == [
        {"row": 1, "operation": "lock", "customer_id": "191",
         "subscription_id": "18446744073709551615", "orderid": "191", "zip": "1.5",
         "custom1": "2024-01-05", "custom2": "2024-01-05 13:04:05",
         "custom3": "true", "custom4": "1.50", "custom5": "gold", "city": "[1,2]",
         "state": '{"a":1}', "country": None, "username": "0.25"},
        {"row": 2, "operation": "set", "customer_id": "9223372036854775807", "subscription_id": "0",
         "orderid": "100000000000000000000", "zip": "3", "custom1": None, "custom2": "2024-01-05",
         "custom3": "false", "custom4": None, "custom5": "silver", "city": None,
         "state": '{"a":null}', "country": None, "username": "NaN"},
    ]  # fmt: skip


def test_parquet_headers_are_matched_too(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pl.DataFrame({"Operation": ["lock"], "Customer ID": [7], "Notes": ["x"]}).write_parquet(path)
    table = read_input(path, ignore_columns=["Notes"])
    assert table.headers == {
        "operation": "Operation",
        "customer_id": "Customer ID",
        "ignored:Notes": "Notes",
    }
    assert table.frame.collect().row(0) == (1, "lock", "7", "x")


# --- JSON Lines --------------------------------------------------------------------------


def test_json_lines_values_are_text(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl",
        '{"operation": "lock", "customer_id": 191, "zip": "01234", "custom1": 191.0,'
        ' "custom2": true}\n'
        "\n"
        '{"operation": "set", "customer_id": 18446744073709551617, "custom1": 1.5, "custom3": null,'
        ' "custom4": {"k": [1]}}\n'
        '{"customer_id": "S9", "custom1": "x", "operation": "unlock", "custom5": "late key"}\n',
    )
    table = read_input(path)
    assert list(table.headers) == [
        "operation", "customer_id", "zip", "custom1", "custom2", "custom3", "custom4", "custom5"
    ]  # fmt: skip
    assert table.frame.collect().to_dicts() == [
        {"row": 1, "operation": "lock", "customer_id": "191", "zip": "01234", "custom1": "191",
         "custom2": "true", "custom3": None, "custom4": None, "custom5": None},
        {"row": 2, "operation": "set", "customer_id": "18446744073709551617", "zip": None,
         "custom1": "1.5", "custom2": None, "custom3": None, "custom4": '{"k": [1]}',
         "custom5": None},
        {"row": 3, "operation": "unlock", "customer_id": "S9", "zip": None, "custom1": "x",
         "custom2": None, "custom3": None, "custom4": None, "custom5": "late key"},
    ]  # fmt: skip


def test_json_lines_key_whose_type_changes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl",
        '{"operation": "lock", "customer_id": {"a": 1}}\n'
        '{"operation": "lock", "customer_id": {"b": "x"}}\n',
    )
    assert load(path)["customer_id"].to_list() == ['{"a": 1}', '{"b": "x"}']


def test_json_lines_unknown_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl", '{"operation": "lock", "customer_id": 1}\n{"fristname": "A"}\n'
    )
    assert "unknown column 'fristname' — did you mean 'firstname'?" in input_error(path)


# --- properties: what is written is what is read -----------------------------------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40
)
_VALUE = (
    st.one_of(
        _TEXT,
        st.from_regex(r"0[0-9]{0,40}", fullmatch=True),  # leading zeros, long digit strings
        st.from_regex(r"-?[0-9]{15,25}(\.[0-9]{1,5})?(e\+?[0-9]{1,3})?", fullmatch=True),
        st.sampled_from(
            ["a,b", '"quoted"', "line\nbreak", "cr\r\nlf", "'", "=1+1", "REMOVE", "NA", "null"]
        ),
    )
    .map(str.strip)
    .filter(bool)
)
# Excel cells cannot hold most control characters; fastexcel and xlsxwriter agree on the rest.
_XLSX_VALUE = _VALUE.filter(lambda v: all(c in "\t\n" or c >= " " for c in v) and "\r" not in v)
_PASSWORD = st.tuples(
    st.sampled_from(["", " ", "  ", "\t"]), _VALUE, st.sampled_from(["", " ", "\t "])
)


@FAST
@given(values=st.lists(_VALUE, min_size=1, max_size=5), password=_PASSWORD)
@example(
    values=["01234", "12345678901234567890123", 'Zoë, "the"\nsecond'], password=(" ", "pw", " ")
)
def test_csv_round_trip(tmp_path_factory: pytest.TempPathFactory, values: list[str],
                        password: tuple[str, str, str]) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("csv") / "in.csv"
    secret = "".join(password)
    write_csv(path, [["operation", "password"], *([v, secret] for v in values)])
    frame = load(path)
    assert frame["operation"].to_list() == values
    assert frame["password"].to_list() == [secret] * len(values)


@FAST
@given(values=st.lists(_VALUE, min_size=1, max_size=5), password=_PASSWORD)
def test_parquet_round_trip(tmp_path_factory: pytest.TempPathFactory, values: list[str],
                            password: tuple[str, str, str]) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("pq") / "in.parquet"
    secret = "".join(password)
    pl.DataFrame({"operation": values, "password": [secret] * len(values)}).write_parquet(path)
    frame = load(path)
    assert frame["operation"].to_list() == values
    assert frame["password"].to_list() == [secret] * len(values)


@FAST
@given(
    values=st.lists(_XLSX_VALUE, min_size=1, max_size=5),
    password=_PASSWORD.filter(
        lambda p: "\r" not in p[1] and all(c in "\t\n" or c >= " " for c in p[1])
    ),
)
def test_xlsx_round_trip(tmp_path_factory: pytest.TempPathFactory, values: list[str],
                         password: tuple[str, str, str]) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("xlsx") / "in.xlsx"
    secret = "".join(password)
    write_xlsx(path, [["operation", "password"], *([v, secret] for v in values)])
    frame = load(path)
    assert frame["operation"].to_list() == values
    assert frame["password"].to_list() == [secret] * len(values)


@FAST
@given(
    signed=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=5),
    unsigned=st.integers(0, 2**64 - 1),
    whole_float=st.integers(-(2**53), 2**53),
)
@example(signed=[2**53 + 1, -(2**63)], unsigned=2**64 - 1, whole_float=2**53)
def test_parquet_numbers_read_as_typed(tmp_path_factory: pytest.TempPathFactory, signed: list[int],
                                       unsigned: int, whole_float: int) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("pqn") / "in.parquet"
    n = len(signed)
    pl.DataFrame(
        {
            "customer_id": pl.Series(signed, dtype=pl.Int64),
            "orderid": pl.Series([unsigned] * n, dtype=pl.UInt64),
            "zip": pl.Series([float(whole_float)] * n, dtype=pl.Float64),
        }
    ).write_parquet(path)
    frame = load(path)
    assert frame["customer_id"].to_list() == [str(i) for i in signed]
    assert frame["orderid"].to_list() == [str(unsigned)] * n
    assert frame["zip"].to_list() == [str(whole_float)] * n


@FAST
@given(numbers=st.lists(st.integers(-(10**15) + 1, 10**15 - 1), min_size=1, max_size=5))
@example(numbers=[191, 0, -7, 999999999999999])
def test_xlsx_numbers_read_as_typed(
    tmp_path_factory: pytest.TempPathFactory, numbers: list[int]
) -> None:
    # Excel keeps 15 significant digits: every integer a person can type reads back as typed.
    path = tmp_path_factory.mktemp("xlsxn") / "in.xlsx"
    write_xlsx(path, [["customer_id"], *([float(n)] for n in numbers)])
    assert load(path)["customer_id"].to_list() == [str(n) for n in numbers]


# --- sample_data -------------------------------------------------------------------------


def test_ops_sheet_covers_every_operation_and_keep() -> None:
    table = read_input(SAMPLES / "ops_changes.xlsx")
    assert table.headers["email"] == "E-mail"
    frame = table.frame.collect()
    operations = {api.OPERATION_ALIASES[o.lower()] for o in frame["operation"].to_list()}
    assert operations == set(api.OPERATIONS)
    assert 25 <= frame.height <= 40
    assert api.REMOVE in frame["address2"].to_list()
    assert frame.filter(pl.col("keep").is_not_null())[
        "operation"
    ].str.to_lowercase().unique().to_list() == ["forget"]
    ids = [int(i) for i in frame["customer_id"].to_list()]
    assert all(1 <= i <= 1000 for i in ids)
    assert "02134" in frame["zip"].to_list()


def test_ops_sheet_never_updates_a_locked_customer() -> None:
    frame = read_input(SAMPLES / "ops_changes.xlsx").frame.collect()
    locked: set[str] = set()
    for record in frame.iter_rows(named=True):
        operation = api.OPERATION_ALIASES[record["operation"].lower()]
        customer = record["customer_id"]
        if operation == api.LOCK:
            locked.add(customer)
        elif operation == api.UNLOCK:
            locked.discard(customer)
        elif operation == api.SET_CUSTOMER_DETAILS:
            assert customer not in locked, record


@pytest.mark.parametrize("name", ["changes.tsv", "changes.parquet", "changes.jsonl"])
def test_sample_equivalents_read_like_the_csv(name: str) -> None:
    expected = load(SAMPLES / "changes.csv")
    got = load(SAMPLES / name)
    assert got.to_dicts() == expected.select(got.columns).to_dicts()
    assert set(expected.columns) - set(got.columns) <= {"country"}  # JSON omits absent keys


def test_sample_csv_covers_every_operation_and_lookup() -> None:
    frame = load(SAMPLES / "changes.csv")
    operations = {api.OPERATION_ALIASES[o.lower()] for o in frame["operation"].to_list()}
    assert operations == set(api.OPERATIONS)
    for key in api.LOOKUP_KEYS:
        assert frame[key].drop_nulls().len() > 0, key


def test_mistakes_are_row_level() -> None:
    frame = load(SAMPLES / "mistakes.csv")
    assert frame.height >= 8


def test_typo_header_is_a_file_level_error() -> None:
    path = SAMPLES / "typo_header.csv"
    assert "unknown column 'fristname' — did you mean 'firstname'?" in input_error(path)


def test_samples_are_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in SAMPLES.iterdir() if p.suffix != ".py")
    for name in made:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name


def test_reader_keeps_no_per_file_state_that_breaks_a_second_read(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id\nlock,1\n")
    load(path)
    write(path, "operation\tcustomer_id\nlock\t1\n")
    assert rows(path, fmt="tsv") == [{"row": 1, "operation": "lock", "customer_id": "1"}]
    assert reader.IGNORED_PREFIX == "ignored:"


# --- reading a snapshot, and unknown columns as data -------------------------------------


def test_a_snapshot_is_read_but_messages_name_the_users_file(tmp_path: Path) -> None:
    original = write(tmp_path / "changes.csv", "operation,customer_id\nlock,1\n")
    (tmp_path / "private").mkdir()
    snapshot = write(tmp_path / "private" / "copy.csv", "operation,customer_id\nunlock,2\n")
    table = read_input(original, data_path=snapshot)
    assert table.path == original
    assert table.frame.collect().rows() == [(1, "unlock", "2")]

    broken = write(tmp_path / "private" / "broken.csv", "operation,customer_id\nlock,1,2\n")
    with pytest.raises(InputError) as caught, polars_errors(original):
        read_input(original, data_path=broken).frame.collect()
    assert str(caught.value).startswith(f"{original}: line 2 (row 1) has 3 fields")
    assert "private" not in str(caught.value)


def test_unknown_columns_are_listed_with_their_closest_api_name(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "operation,customer_id,fristname,Notes\nlock,1,,x\n")
    with pytest.raises(UnknownColumnsError) as caught:
        read_input(path)
    assert caught.value.columns == (
        UnknownColumn("fristname", "firstname"),
        UnknownColumn("Notes", None),
    )
    assert str(caught.value).startswith(f"{path}: unknown column 'fristname'")
