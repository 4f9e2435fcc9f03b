"""A file that is no spreadsheet is named as what it is, by its first bytes (``magic``), on
the command line as on the ops page; and a dry run names each row it shows by its place in
the file: "sheet row 5", "line 7" (``places``)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from click.testing import CliRunner, Result

from batchtool.cli import main
from batchtool.errors import InputError
from batchtool.reader import read_input
from batchtool.remedies import NotASpreadsheet, SaveAs

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buffer.getvalue()


def ole(stream: str) -> bytes:
    """An old Office file whose directory names ``stream`` (all ``magic`` looks at)."""
    return OLE + bytes(512 - len(OLE)) + (stream + "\0").encode("utf-16-le") + bytes(64)


def dry_run(path: Path, *args: str) -> Result:
    out = path.with_name(f"{path.stem}.results.csv")
    return CliRunner().invoke(main, ["run", str(path), "--dry-run", "--results", str(out), *args])


NOT_SPREADSHEETS = [
    pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(32), "scan.csv", "a PNG image", id="png"),
    pytest.param(b"\xff\xd8\xff\xe0" + bytes(32), "photo.xlsx", "a JPEG image", id="jpeg"),
    pytest.param(b"GIF89a" + bytes(32), "anim.csv", "a GIF image", id="gif"),
    pytest.param(b"%PDF-1.7\n" + bytes(32), "report.csv", "a PDF document", id="pdf"),
    pytest.param(
        zipped({"word/document.xml": b"<w:document/>"}), "letter.xlsx", "a Word document",
        id="word-docx",
    ),
    pytest.param(ole("WordDocument"), "letter.xls", "a Word document", id="word-doc"),
    pytest.param(
        zipped({"notes.txt": b"hello"}), "bundle.xlsx", "a zip archive", id="zip-not-a-workbook"
    ),
]


@pytest.mark.parametrize(("content", "name", "what"), NOT_SPREADSHEETS)
def test_the_reader_names_what_a_file_is(
    tmp_path: Path, content: bytes, name: str, what: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as refused:
        read_input(path)
    assert str(refused.value) == (
        f"{path}: this is {what}, not a spreadsheet — is it the right file?"
    )
    assert refused.value.remedy == NotASpreadsheet(what)


@pytest.mark.parametrize(("content", "name", "what"), NOT_SPREADSHEETS)
def test_the_command_line_names_what_a_file_is(
    tmp_path: Path, content: bytes, name: str, what: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = dry_run(path)
    assert result.exit_code == 2
    assert result.output == (
        f"batchtool: error: {path}: this is {what}, not a spreadsheet — is it the right file?\n"
    )


def test_a_spreadsheet_batchtool_cannot_read_is_said_how_to_save(tmp_path: Path) -> None:
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(
        zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b""})
    )
    with pytest.raises(InputError) as refused:
        read_input(path)
    assert str(refused.value) == (
        f"{path}: this is an OpenDocument spreadsheet (.ods), which batchtool does not read — "
        "open it and save it as an Excel workbook (.xlsx) without a password, or as CSV"
    )
    assert refused.value.remedy == SaveAs("an OpenDocument spreadsheet (.ods)")


def test_a_real_workbook_and_text_are_still_read(tmp_path: Path) -> None:
    book = tmp_path / "ok.xlsx"
    workbook = xlsxwriter.Workbook(book)
    workbook.add_worksheet("Changes").write_row(0, 0, ["operation", "customer_id"])
    workbook.worksheets()[0].write_row(1, 0, ["lock", "1"])
    workbook.close()
    assert read_input(book).frame.collect().height == 1
    text = tmp_path / "ok.csv"
    text.write_text("operation,customer_id\nlock,1\n")
    assert read_input(text).frame.collect().height == 1


# -- rows named by their place in the file ---------------------------------------------------


def test_a_dry_run_names_each_invalid_row_by_its_sheet_row(tmp_path: Path) -> None:
    path = tmp_path / "ops.xlsx"
    workbook = xlsxwriter.Workbook(path)
    notes = workbook.add_worksheet("Notes")
    notes.write(0, 0, "see the next sheet")
    sheet = workbook.add_worksheet("Changes")
    sheet.write(0, 0, "Customer changes, week 12")
    sheet.write_row(2, 0, ["operation", "customer_id", "email"])
    sheet.write_row(3, 0, ["set", "1", "one@example.com"])
    sheet.write_row(5, 0, ["set", "2", "not-an-email"])  # a blank sheet row above it
    workbook.close()
    result = dry_run(path, "--sheet", "Changes")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[:6] == [
        f"2 row(s) read from {path}",
        "  sheet 'Changes' (2 of 2)",
        "  header on row 3; the rows above it were skipped",
        "  set_customer_details   1 valid",
        "  invalid                1",
        "    row 3 (sheet row 6): email 'not-an-email' is not an email address",
    ]


def test_a_dry_run_names_each_invalid_row_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ops.csv"
    path.write_text(
        "operation,customer_id,address1,email\n"
        'set,1,"Main Street 1\nBuilding B",not-an-email\n'
        "\n"
        "set,3,,also-not\n"
    )
    result = dry_run(path)
    assert result.exit_code == 1, result.output
    assert (
        "    row 1 (line 2): email 'not-an-email' is not an email address\n"
        "    row 3 (line 5): email 'also-not' is not an email address\n"
    ) in result.output


def test_rows_of_a_file_without_lines_are_named_by_number_only(tmp_path: Path) -> None:
    path = tmp_path / "ops.jsonl"
    path.write_text('{"operation": "set", "customer_id": "1", "email": "nope"}\n')
    result = dry_run(path)
    assert "    row 1: email 'nope' is not an email address\n" in result.output
