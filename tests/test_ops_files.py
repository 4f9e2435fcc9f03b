"""Files as ops save them (issue 9): `;` CSVs, UTF-16 "Unicode Text", title rows above the
header, numbers Excel rounded, an unclosed quote, old Mac line endings — through the CLI as a
user types it, with the exact messages, and at the reader's level."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter
from click.testing import CliRunner, Result

from batchtool.cli import main
from batchtool.errors import UsageError
from batchtool.reader import polars_errors, read_input
from batchtool.runner import ReadOptions


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def write_xlsx(path: Path, cells: dict[str, Any], sheet: str = "Sheet1") -> Path:
    """Cells by reference ("A3"): str -> text cell, int/float -> number cell."""
    workbook = xlsxwriter.Workbook(path)
    ws = workbook.add_worksheet(sheet)
    for ref, value in cells.items():
        if isinstance(value, str):
            ws.write_string(ref, value)
        else:
            ws.write_number(ref, value)
    workbook.close()
    return path


def dry_run(path: Path, *args: str) -> Result:
    out = path.with_name(f"{path.stem}.results.csv")
    return CliRunner().invoke(main, ["run", str(path), "--dry-run", "--results", str(out), *args])


def results_of(path: Path) -> list[dict[str, str]]:
    with path.with_name(f"{path.stem}.results.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def error_line(result: Result) -> str:
    """The one line a failed run prints, without its prefix."""
    assert result.output.startswith("batchtool: error: "), result.output
    assert result.output.count("\n") == 1, result.output
    return result.output.removeprefix("batchtool: error: ").rstrip("\n")


def rows(path: Path, **kwargs: Any) -> list[tuple[Any, ...]]:
    table = read_input(path, **kwargs)
    with polars_errors(path):
        return table.frame.collect().rows()


# --- the delimiter -----------------------------------------------------------------------

SEMICOLON_CSV = "operation;customer_id;firstname;city\nset;191;Zoë;Köln, Innenstadt\nlock;192;;\n"


def test_semicolon_csv_from_european_excel_runs_without_flags(tmp_path: Path) -> None:
    src = write(tmp_path / "changes.csv", SEMICOLON_CSV)
    result = dry_run(src)
    assert result.exit_code == 0, result.output
    assert (
        "PATCH {base}/api/customer/set_customer_details  "
        "customer_id=191&firstname=Zoë&city=Köln, Innenstadt"
    ) in result.output
    assert [r["customer_id"] for r in results_of(src)] == ["191", "192"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("operation,customer_id\nlock,1\n", id="comma"),
        pytest.param("operation;customer_id\nlock;1\n", id="semicolon"),
        pytest.param("operation\tcustomer_id\nlock\t1\n", id="tab"),
        pytest.param("operation|customer_id\nlock|1\n", id="pipe"),
        pytest.param('"operation;x",customer_id\nlock,1\n', id="only-outside-quotes"),
        pytest.param("operation;customer_id;Notes, misc\nlock;1;a,b\n", id="the-most-counted"),
    ],
)
def test_delimiter_is_detected_from_the_header_line(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "in.csv", text)
    table = read_input(path, ignore_columns=["operation;x", "Notes, misc"])
    assert table.frame.select("row", "customer_id").collect().rows() == [(1, "1")]


def test_a_delimiter_that_names_known_columns_wins_a_count(tmp_path: Path) -> None:
    # Two commas inside one column's name, one semicolon between two known columns.
    path = write(tmp_path / "in.csv", "customer_id;a, b, c\n1;x\n")
    assert rows(path, column_map={"a, b, c": "city"}) == [(1, "1", "x")]


def test_a_tab_file_named_csv_and_a_comma_file_named_tsv(tmp_path: Path) -> None:
    assert rows(write(tmp_path / "in.csv", "operation\tcustomer_id\nlock\t1\n")) == [
        (1, "lock", "1")
    ]
    assert rows(write(tmp_path / "in.tsv", "operation,customer_id\nlock,1\n")) == [(1, "lock", "1")]


def test_a_delimiter_tie_names_the_option(tmp_path: Path) -> None:
    src = write(tmp_path / "tie.csv", "operation;customer_id|zip\nlock;1|2\n")
    result = dry_run(src)
    assert result.exit_code == 2, result.output
    assert error_line(result) == (
        f"{src}: cannot tell the delimiter: line 1 has 1 each of ';' and '|' outside quotes — "
        "pass --delimiter ';' or --delimiter '|'"
    )


@pytest.mark.parametrize(
    ("option", "text", "second"),
    [
        pytest.param(";", "operation;customer_id|zip\nlock;1|2\n", "customer_id|zip", id="char"),
        pytest.param(
            "semicolon", "operation;customer_id|zip\nlock;1|2\n", "customer_id|zip", id="word"
        ),
        pytest.param("tab", "operation\tcustomer_id,zip\nlock\t1,2\n", "customer_id,zip", id="tab"),
        pytest.param(
            "\\t", "operation\tcustomer_id,zip\nlock\t1,2\n", "customer_id,zip", id="tab-escape"
        ),
    ],
)
def test_delimiter_option_forces_one(tmp_path: Path, option: str, text: str, second: str) -> None:
    src = write(tmp_path / "in.csv", text)
    result = dry_run(src, "--delimiter", option, "--map", f"{second}=customer_id")
    assert result.exit_code == 0, result.output
    assert results_of(src)[0][second] == text.split("\n")[1][5:]


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        pytest.param(
            "in.csv",
            ["--delimiter", ";;"],
            "--delimiter ';;' is not one character — use e.g. --delimiter ';' or --delimiter tab",
            id="two-characters",
        ),
        pytest.param(
            "in.parquet",
            ["--delimiter", ";"],
            "{src}: --delimiter applies to CSV and TSV files only; this is Parquet",
            id="delimiter-on-parquet",
        ),
        pytest.param(
            "in.jsonl",
            ["--header-row", "2"],
            "{src}: --header-row applies to CSV, TSV and Excel files only; this is JSON Lines",
            id="header-row-on-jsonl",
        ),
    ],
)
def test_options_that_cannot_apply(
    tmp_path: Path, name: str, args: list[str], message: str
) -> None:
    src = tmp_path / name
    if name.endswith(".parquet"):
        pl.DataFrame({"operation": ["lock"], "customer_id": ["1"]}).write_parquet(src)
    else:
        write(src, '{"operation": "lock", "customer_id": 1}\n')
    result = dry_run(src, *args)
    assert result.exit_code == 2, result.output
    assert error_line(result) == message.format(src=src)


# --- UTF-16 and other byte order marks ---------------------------------------------------


def test_excel_unicode_text_runs_without_flags(tmp_path: Path) -> None:
    # Excel's "Unicode Text": UTF-16 LE with a byte order mark, tab-separated, CRLF, .txt.
    text = "Operation\tCustomer ID\tFirst Name\r\nset\t191\tŁukasz\r\nunlock\t192\t\r\n"
    src = write(tmp_path / "export.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    result = dry_run(src)
    assert result.exit_code == 0, result.output
    assert "customer_id=191&firstname=Łukasz" in result.output
    assert [r["First Name"] for r in results_of(src)] == ["Łukasz", ""]


def test_utf16_is_copied_as_utf8_in_the_scratch_folder_not_in_memory(tmp_path: Path) -> None:
    src = write(
        tmp_path / "in.csv",
        "operation,customer_id\nlock,1\n".encode("utf-16"),
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    table = read_input(src, scratch_dir=scratch)
    [copy] = scratch.iterdir()
    assert copy.read_bytes() == b"operation,customer_id\nlock,1\n"
    assert table.frame.collect().rows() == [(1, "lock", "1")]


def test_utf16_that_does_not_decode_names_offset_and_line(tmp_path: Path) -> None:
    body = "operation,customer_id\nlock,1\n".encode("utf-16-le") + b"\x00\xdc" + b"\n\x00"
    src = write(tmp_path / "in.csv", codecs.BOM_UTF16_LE + body)
    result = dry_run(src)
    assert result.exit_code == 2, result.output
    assert error_line(result) == (
        f"{src}: not valid utf-16-le (byte 0x00 at offset 60, line 3) — pass the file's real "
        "encoding with --encoding"
    )


def test_json_lines_with_a_byte_order_mark(tmp_path: Path) -> None:
    text = '{"operation": "set", "customer_id": 1, "city": "Łódź"}\n'
    src = write(tmp_path / "in.jsonl", codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    assert rows(src) == [(1, "set", "1", "Łódź")]


def test_latin1_is_streamed_too(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", "operation;customer_id;city\nset;1;Zürich\n".encode("latin-1"))
    assert rows(src, encoding="latin-1") == [(1, "set", "1", "Zürich")]


# --- title rows above the header ---------------------------------------------------------

TITLED_CSV = "Unlock requests, week 48\n\nOperation,Customer ID\nunlock,191\n\nunlock,192\n"


def test_title_rows_above_the_header_are_skipped(tmp_path: Path) -> None:
    src = write(tmp_path / "week48.csv", TITLED_CSV)
    result = dry_run(src)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "2 row(s) read from " + str(src),
        "  header on line 3; the rows above it were skipped",
        "  unlock                 2 valid",
    ]
    # Data rows keep their numbers: the first row under the header is row 1.
    assert [r["row"] for r in results_of(src)] == ["1", "3"]


def test_header_row_option_says_where_the_header_is(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", "Exported 2024-12-01\nOperation,Customer ID\nlock,7\n")
    assert rows(src, header_row=2) == [(1, "lock", "7")]
    table = read_input(src, header_row=2)
    assert (table.header_row, table.header_place) == (2, "line 2")


def test_a_title_with_a_stray_quote_does_not_swallow_the_header(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", 'Orders over 12" screens\n\noperation;customer_id\nlock;1\n')
    assert rows(src) == [(1, "lock", "1")]


def test_a_header_below_a_title_may_be_mapped_and_have_ignored_columns(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", "Week 48\nAction,Customer ID,Notes\nlock,1,x\n")
    table = read_input(src, column_map={"Action": "operation"}, ignore_columns=["Notes"])
    assert table.header_row == 2
    assert table.frame.collect().rows() == [(1, "lock", "1", "x")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "Week 48\n\noperation,customer_id,fristname\nlock,1,\n",
            "{src}: unknown column 'fristname' (header on line 3) — did you mean 'firstname'? "
            'Rename it, map it with --map "fristname=firstname", or skip it with '
            "--ignore-column fristname",
            id="typo-in-a-header-below-a-title",
        ),
        pytest.param(
            "Unlock requests\n\nid\n1\n",
            "{src}: unknown column 'Unlock requests' — rename it to an API name, map it with "
            '--map "Unlock requests=NAME", or skip it with --ignore-column "Unlock requests"'
            " — if the header is on a later line, pass --header-row N",
            id="no-header-found",
        ),
    ],
)
def test_a_header_that_cannot_be_found_safely(tmp_path: Path, text: str, message: str) -> None:
    src = write(tmp_path / "in.csv", text)
    result = dry_run(src)
    assert result.exit_code == 2, result.output
    assert error_line(result) == message.format(src=src)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param(
            "2",
            "{src}: line 2 is empty — pass the line the header is on with --header-row",
            id="empty-line",
        ),
        pytest.param(
            "9", "{src}: --header-row 9, but the file has only 6 lines", id="past-the-end"
        ),
    ],
)
def test_header_row_option_that_points_nowhere(tmp_path: Path, row: str, message: str) -> None:
    src = write(tmp_path / "in.csv", TITLED_CSV)
    result = dry_run(src, "--header-row", row)
    assert result.exit_code == 2, result.output
    assert error_line(result) == message.format(src=src)


def test_header_row_zero_is_refused_by_the_cli(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", TITLED_CSV)
    result = dry_run(src, "--header-row", "0")
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--header-row': 0 is not in the range x>=1." in result.output


def test_title_rows_above_an_excel_header(tmp_path: Path) -> None:
    src = write_xlsx(
        tmp_path / "week48.xlsx",
        {
            "A1": "Unlock requests, week 48",
            "A3": "Operation", "B3": "Customer ID",
            "A4": "unlock", "B4": 191,
            "A6": "unlock", "B6": 192,
        },
    )  # fmt: skip
    result = dry_run(src)
    assert result.exit_code == 0, result.output
    assert "  header on row 3; the rows above it were skipped" in result.output
    assert [(r["row"], r["Customer ID"]) for r in results_of(src)] == [("1", "191"), ("3", "192")]
    assert rows(src, header_row=3) == [(1, "unlock", "191"), (3, "unlock", "192")]


def test_excel_header_row_option_on_an_empty_row(tmp_path: Path) -> None:
    src = write_xlsx(tmp_path / "in.xlsx", {"A1": "Title", "A3": "customer_id", "A4": 1})
    result = dry_run(src, "--header-row", "2", "--operation", "lock")
    assert result.exit_code == 2, result.output
    assert error_line(result) == (
        f"{src}: row 2 of sheet 'Sheet1' is empty — pass the row the header is in with --header-row"
    )


def test_an_error_cell_in_a_title_row_is_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    workbook = xlsxwriter.Workbook(path)
    ws = workbook.add_worksheet()
    ws.write_formula("A1", "=1/0", None, "#DIV/0!")
    ws.write_row("A3", ["operation", "customer_id"])
    ws.write_row("A4", ["lock", "1"])
    workbook.close()
    assert rows(path) == [(1, "lock", "1")]


# --- numbers Excel rounded ---------------------------------------------------------------

ROUNDED = "was rounded by Excel, which keeps only 15 digits of a number"


def test_excel_rounded_ids_are_invalid_and_other_fields_warned(tmp_path: Path) -> None:
    src = write_xlsx(
        tmp_path / "ids.xlsx",
        {
            "A1": "operation", "B1": "customer_id", "C1": "subscription_id", "D1": "zip",
            "A2": "lock", "B2": 12345678901234567,
            "A3": "lock", "B3": 191.5,
            "A4": "set", "B4": 7, "D4": 12345678901234567,
            "A5": "set", "B5": "12345678901234567", "D5": "x",
            "A6": "lock", "C6": 98765432109876543210,
            "A7": "lock", "B7": 999999999999999,
        },
    )  # fmt: skip
    result = dry_run(src)
    assert result.exit_code == 1, result.output
    assert (
        "  invalid                3\n"
        f"    row 1 (sheet row 2): customer_id '12345678901234570' {ROUNDED} — format the "
        "column as text "
        "and retype it\n"
        "    row 2 (sheet row 3): customer_id '191.5' is not a whole number — retype the id\n"
        f"    row 5 (sheet row 6): subscription_id '98765432109876543488' {ROUNDED} — format "
        "the column as text and retype it\n"
        "  warnings               1 valid row(s) to check\n"
        f"    row 3 (sheet row 4): zip '12345678901234570' {ROUNDED} — sent as it is; check it\n"
    ) in result.output
    # A long id typed as text is exactly what was typed; 15 digits are held exactly.
    statuses = {r["row"]: r["status"] for r in results_of(src)}
    assert (statuses["4"], statuses["6"]) == ("valid", "valid")


def test_scientific_notation_in_a_csv_lookup_is_invalid(tmp_path: Path) -> None:
    # What Excel writes to a CSV for a number too wide for its column.
    src = write(tmp_path / "in.csv", "operation,customer_id\nlock,1.23457E+16\nlock,1E5\n")
    result = dry_run(src)
    assert result.exit_code == 1, result.output
    assert (
        "    row 1 (line 2): customer_id '1.23457E+16' is a number Excel wrote in scientific "
        "notation, "
        "without all its digits — format the column as text in Excel and retype it\n"
    ) in result.output
    assert [r["status"] for r in results_of(src)] == ["invalid", "valid"]


def test_parquet_float_ids_past_2_53_are_invalid(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pl.DataFrame(
        {"operation": ["lock", "lock"], "customer_id": [191.0, 2.0**53 + 2]}
    ).write_parquet(src)
    result = dry_run(src)
    assert result.exit_code == 1, result.output
    assert (
        "    row 2: customer_id '9007199254740994' went through a floating-point number, which "
        "cannot hold all its digits — store the column as text and write it again\n"
    ) in result.output


# --- an unclosed quote, old Mac line endings ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(
            'operation,customer_id,firstname\nset,107,"Ann\nlock,1,\nlock,2,\n',
            2,
            id="first-row-swallows-the-rest",
        ),
        pytest.param('operation,customer_id\nlock,1\nlock,"2\nlock,3\n', 3, id="a-later-row"),
        pytest.param('operation,customer_id,firstname\nset,107,"Ann', 2, id="at-the-end"),
    ],
)
def test_an_unclosed_quote_names_its_line(tmp_path: Path, text: str, line: int) -> None:
    src = write(tmp_path / "in.csv", text)
    result = dry_run(src)
    assert result.exit_code == 2, result.output
    assert error_line(result) == (
        f'{src}: line {line} opens a quoted value that never closes — close it, and write a " '
        'inside a quoted value as ""'
    )


def test_old_mac_line_endings_read_as_lines(tmp_path: Path) -> None:
    src = write(tmp_path / "mac.csv", 'operation,customer_id,address1\rset,1,"a\rb"\r\rlock,2,\r')
    result = dry_run(src)
    assert result.exit_code == 0, result.output
    assert [r["row"] for r in results_of(src)] == ["1", "3"]
    assert rows(src)[0] == (1, "set", "1", "a\rb")


def test_old_mac_ragged_row_names_its_line(tmp_path: Path) -> None:
    src = write(tmp_path / "mac.csv", "operation,customer_id\rlock,1\rlock,2,3\r")
    result = dry_run(src)
    assert result.exit_code == 2, result.output
    assert error_line(result).startswith(f"{src}: line 3 (row 2) has 3 fields")


# --- the samples ---------------------------------------------------------------------------

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        pytest.param(
            "european_excel.csv",
            ["  lock                   1 valid", "  set_customer_details   3 valid"],
            id="european-excel-csv",
        ),
        pytest.param(
            "unlock_requests.xlsx",
            [
                "  header on row 3; the rows above it were skipped",
                "  unlock                 4 valid",
            ],
            id="title-row-xlsx",
        ),
    ],
)
def test_ops_samples_run_without_flags(tmp_path: Path, name: str, lines: list[str]) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main, ["run", str(SAMPLES / name), "--dry-run", "--results", str(out)]
    )
    assert result.exit_code == 0, result.output
    for line in lines:
        assert line in result.output.splitlines()


# --- a resume reads the file alike -------------------------------------------------------


def test_delimiter_and_header_row_are_journaled() -> None:
    options = ReadOptions(delimiter=";", header_row=3).journal_options()
    assert (options["delimiter"], options["header_row"]) == (";", 3)


def test_reader_refuses_header_row_zero_from_the_api(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", TITLED_CSV)
    with pytest.raises(UsageError, match="--header-row must be 1 or more"):
        read_input(src, header_row=0)


def test_unknown_delimiter_name_is_a_usage_error(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", SEMICOLON_CSV)
    with pytest.raises(UsageError, match="is not one character"):
        read_input(src, delimiter="semi")
