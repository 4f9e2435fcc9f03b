"""Excel's limits hold for every input (issue 19): 16,384 columns, 32,767 characters a cell,
1,048,576 rows in a workbook (and in any file when the caller asks), refused in one line that
says where, before the file is loaded — a zip bomb or a 1 GB line costs no more than a page.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import fastexcel
import polars as pl
import pytest
import xlsxwriter
from click.testing import CliRunner

from batchtool.cli import main
from batchtool.errors import InputError, UnknownColumnsError
from batchtool.reader import read_input

#: Excel's limits, as Microsoft publishes them.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
MAX_CELL_CHARS = 32_767

NOT_SAVED = "this is not a spreadsheet anyone saved; check that it is the right file"


def cell_refused(name: Path, where: str) -> str:
    return (
        f"{name}: {where} holds more than 32,767 characters, the most a spreadsheet cell "
        f"holds — {NOT_SAVED}"
    )


def refusal(path: Path, **options: object) -> str:
    with pytest.raises(InputError) as caught:
        read_input(path, **options).frame.collect()  # type: ignore[arg-type]
    return str(caught.value)


# --- CSV, TSV and text: cells and the header, in one streaming pass --------------------------

LONG = MAX_CELL_CHARS + 1


@pytest.mark.parametrize(
    ("content", "where"),
    [
        pytest.param(
            b"customer_id,firstname\n1,a\n2,b\n3," + b"x" * LONG + b"\n",
            "line 4, column 2",
            id="plain",
        ),
        pytest.param(
            b"customer_id,firstname\n1," + "é".encode() * LONG + b"\n", "line 2, column 2",
            id="two-byte-characters",
        ),
        pytest.param(
            b'customer_id,firstname\n1,"' + b"a," * (LONG // 2 + 1) + b'"\n', "line 2, column 2",
            id="quoted-with-delimiters",
        ),
        pytest.param(
            b'customer_id,firstname\n1,"' + b'a,""' * (LONG // 3 + 1) + b'"\n', "line 2, column 2",
            id="quoted-with-delimiters-and-many-quotes",
        ),
        pytest.param(b"x" * (4 << 20), "line 1, column 1", id="one-line-no-newline"),
    ],
)
def test_a_cell_longer_than_excel_holds_is_refused_naming_where(
    tmp_path: Path, content: bytes, where: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    assert refusal(path) == cell_refused(path, where)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"x" * MAX_CELL_CHARS, id="ascii"),
        pytest.param("é".encode() * MAX_CELL_CHARS, id="two-byte-characters"),
        pytest.param(b'"' + b'a,""' * (MAX_CELL_CHARS // 3) + b'"', id="quoted"),
    ],
)
def test_a_cell_of_exactly_excels_limit_reads(tmp_path: Path, value: bytes) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"customer_id,firstname\n1," + value + b"\n2,b\n")
    frame = read_input(path).frame.collect()
    assert frame["firstname"].str.len_chars().to_list()[0] <= MAX_CELL_CHARS
    assert frame["customer_id"].to_list() == ["1", "2"]


def test_a_quote_that_never_closes_in_a_big_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b'customer_id,firstname\n1,"Ann\n' + b"2,Bob\n" * 10_000)
    assert refusal(path) == (
        f"{path}: line 2 opens a quoted value that runs on for more than 32,767 characters — "
        'close its quote, and write a " inside a quoted value as ""'
    )


def test_a_header_wider_than_excel_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"  # 100,000 columns in a 1 MB file
    path.write_bytes(b",".join(b"c%d" % i for i in range(100_000)) + b"\n" + b"1" * 10 + b"\n")
    assert refusal(path) == (
        f"{path}: the header on line 1 has more than the 16,384 columns a spreadsheet holds — "
        f"{NOT_SAVED}"
    )


def test_a_header_of_exactly_excels_width_reads(tmp_path: Path) -> None:
    path = tmp_path / "in.tsv"
    names = ["customer_id", "operation", *(f"x{i}" for i in range(MAX_COLUMNS - 2))]
    path.write_text("\t".join(names) + "\n" + "\t".join(["1", "lock", *[""] * 16382]) + "\n")
    table = read_input(path, ignore_columns=names[2:])
    assert table.frame.collect()["customer_id"].to_list() == ["1"]


def test_a_long_line_in_utf16_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(("customer_id\tfirstname\r\n1\t" + "x" * LONG + "\r\n").encode("utf-16"))
    assert refusal(path) == cell_refused(path, "line 2, column 2")


# --- JSON Lines and Parquet ------------------------------------------------------------------


def test_a_json_value_longer_than_a_cell_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    escaped = json.dumps({"customer_id": "2", "firstname": '"' * LONG}).encode()
    path.write_bytes(b'{"customer_id": "1"}\n' + escaped + b"\n")
    assert refusal(path) == cell_refused(path, "line 2")


def test_a_json_value_of_exactly_a_cell_reads_escapes_and_all(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    value = "é\"" * (MAX_CELL_CHARS // 2)
    path.write_text(json.dumps({"customer_id": "1", "firstname": value}) + "\n")
    assert read_input(path).frame.collect()["firstname"].to_list() == [value]


@pytest.mark.parametrize(
    ("values", "where"),
    [
        pytest.param(["1", "2", "é" * LONG], "row 3 of column 'firstname'", id="text"),
        pytest.param([["a"], ["b"], ["x" * LONG]], "row 3 of column 'firstname'", id="nested"),
    ],
)
def test_a_parquet_text_longer_than_a_cell_is_refused_naming_where(
    tmp_path: Path, values: list[object], where: str
) -> None:
    path = tmp_path / "in.parquet"
    pl.DataFrame({"customer_id": ["1", "2", "3"], "firstname": values}).write_parquet(path)
    assert refusal(path) == cell_refused(path, where)


def test_a_parquet_text_of_exactly_a_cell_reads(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    value = "é" * MAX_CELL_CHARS  # twice as many bytes: characters are what count
    pl.DataFrame({"customer_id": ["1"], "firstname": [value]}).write_parquet(path)
    assert read_input(path).frame.collect()["firstname"].to_list() == [value]


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_more_columns_than_excel_are_refused(tmp_path: Path, ext: str) -> None:
    frame = pl.DataFrame({f"c{i}": ["1"] for i in range(MAX_COLUMNS + 1)})
    path = tmp_path / f"in.{ext}"
    if ext == "jsonl":
        frame.write_ndjson(path)
    else:
        frame.write_parquet(path)
    assert refusal(path) == (
        f"{path}: the file has 16,385 columns, more than the 16,384 a spreadsheet holds — "
        f"{NOT_SAVED}"
    )


# --- Rows: any number in text and Parquet, unless the caller says --------------------------


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet"])
def test_rows_beyond_max_rows_are_refused_only_when_asked(tmp_path: Path, ext: str) -> None:
    frame = pl.DataFrame({"customer_id": [str(i) for i in range(1, 12)], "operation": "lock"})
    path = tmp_path / f"in.{ext}"
    if ext == "csv":
        frame.write_csv(path)
    elif ext == "jsonl":
        frame.write_ndjson(path)
    else:
        frame.write_parquet(path)
    assert read_input(path).frame.collect().height == 11  # an export of any size reads
    assert read_input(path, max_rows=11).frame.collect().height == 11
    assert refusal(path, max_rows=10) == (
        f"{path}: the file has more than 10 rows, the most read here — split it"
    )


def test_max_rows_is_a_read_option_the_run_applies(tmp_path: Path) -> None:
    from batchtool import ReadOptions, run_batch

    path = tmp_path / "in.csv"
    path.write_text("customer_id,operation\n1,lock\n2,lock\n3,lock\n")
    with pytest.raises(InputError, match="more than 2 rows"):
        run_batch(
            path, dry_run=True, results_path=tmp_path / "out.csv", read=ReadOptions(max_rows=2)
        )


# --- .xlsx: refused while still packed ------------------------------------------------------


def _workbook(
    path: Path,
    sheet_xml: Iterator[bytes],
    parts: dict[str, bytes] | None = None,
    head: bytes = b"",
) -> Path:
    """A minimal workbook whose first sheet's XML is written piece by piece (streamed)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
            f'Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        for name, data in (parts or {}).items():
            z.writestr(name, data)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{main}">'.encode() + head + b"<sheetData>")
            sheet.write(b'<row r="1"><c r="A1" t="inlineStr"><is><t>customer_id</t></is></c></row>')
            for piece in sheet_xml:
                sheet.write(piece)
            sheet.write(b"</sheetData></worksheet>")
    return path


def _rows(count: int, row: bytes) -> Iterator[bytes]:
    block = row * 10_000
    for _ in range(count // 10_000):
        yield block
    yield row * (count % 10_000)


@pytest.fixture
def never_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """calamine must not be asked to open the workbook: the refusal comes first."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the workbook was handed to calamine")

    monkeypatch.setattr(fastexcel, "read_excel", refuse)


def test_a_zip_bomb_of_rows_is_refused_before_calamine_loads_it(
    tmp_path: Path, never_loaded: None
) -> None:
    # One cell a row, the cheapest rows calamine keeps: 27 MB of XML packed into ~70 KB.
    path = _workbook(tmp_path / "bomb.xlsx", _rows(MAX_ROWS, b"<row><c><v>1</v></c></row>"))
    assert path.stat().st_size < 200_000
    assert refusal(path) == (
        f"{path}: sheet 'Sheet1' has more than 1,048,576 rows, the most a spreadsheet holds — "
        f"{NOT_SAVED}"
    )


@pytest.mark.parametrize(
    ("sheet_xml", "message"),
    [
        pytest.param(
            b'<row r="1048577"><c r="A1048577"><v>1</v></c></row>',
            "sheet 'Sheet1' has more than 1,048,576 rows, the most a spreadsheet holds",
            id="a-row-beyond-the-last",
        ),
        pytest.param(
            b'<row r="2"><c r="B3000000"><v>1</v></c></row>',
            "sheet 'Sheet1' has more than 1,048,576 rows, the most a spreadsheet holds",
            id="a-cell-beyond-the-last-row",
        ),
        pytest.param(
            b'<row r="2"><c r="XFE2"><v>1</v></c></row>',
            "sheet 'Sheet1' has a cell beyond column XFD, the last of the 16,384 Excel has",
            id="a-cell-beyond-xfd",
        ),
        pytest.param(
            b"<row>" + b"<c><v>1</v></c>" * (MAX_COLUMNS + 1) + b"</row>",
            "sheet 'Sheet1' has a row of more than 16,384 cells, the most Excel has",
            id="a-row-of-unnumbered-cells",
        ),
        pytest.param(
            b'<row r="2"><c r="B2" t="inlineStr"><is><t>' + b"x" * LONG + b"</t></is></c></row>",
            "cell B2 on sheet 'Sheet1' holds more than 32,767 characters, the most a "
            "spreadsheet cell holds",
            id="an-inline-string",
        ),
    ],
)
def test_a_sheet_beyond_excels_limits_is_refused_before_loading(
    tmp_path: Path, never_loaded: None, sheet_xml: bytes, message: str
) -> None:
    path = _workbook(tmp_path / "in.xlsx", iter([sheet_xml]))
    assert refusal(path) == f"{path}: {message} — {NOT_SAVED}"


def test_two_cells_far_apart_are_refused_before_calamine_builds_their_grid(
    tmp_path: Path, never_loaded: None
) -> None:
    # 2 cells, but calamine would build all 200,000 x 702 of the grid between them (5 GB).
    far = b'<row r="200000"><c r="ZZ200000"><v>1</v></c></row>'
    path = _workbook(tmp_path / "in.xlsx", iter([far]))
    assert refusal(path) == (
        f"{path}: sheet 'Sheet1' spans 200,000 rows × 702 columns, more cells than batchtool "
        "loads at once (67,108,864) — delete stray cells far from the table (Ctrl+End in "
        "Excel goes to the last one), or save the sheet as CSV"
    )


def test_a_shared_string_longer_than_a_cell_is_refused_naming_the_cell(
    tmp_path: Path, never_loaded: None
) -> None:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    strings = f'<sst xmlns="{main}"><si><t>ok</t></si><si><t>'.encode() + b"y" * LONG
    path = _workbook(
        tmp_path / "in.xlsx",
        iter([b'<row r="2"><c r="A2" t="s"><v>0</v></c><c r="C2" t="s"><v>1</v></c></row>']),
        {"xl/sharedStrings.xml": strings + b"</t></si></sst>"},
    )
    assert refusal(path) == cell_refused(path, "cell C2 on sheet 'Sheet1'")


def test_a_part_packed_tighter_than_any_spreadsheet_is_a_zip_bomb(
    tmp_path: Path, never_loaded: None
) -> None:
    path = _workbook(tmp_path / "in.xlsx", iter([]), {"docProps/app.xml": b" " * (48 << 20)})
    message = refusal(path)
    assert message.startswith(f"{path}: 'docProps/app.xml' inside the workbook unpacks to 50 MB")
    assert message.endswith(f"times its size, which no spreadsheet does — {NOT_SAVED}")


def test_an_ordinary_workbook_and_one_with_a_lying_dimension_read(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["customer_id", "operation", "firstname"])
    sheet.write_row(1, 0, ["1", "lock"])
    sheet.write_row(2, 0, ["2", "set", "z" * MAX_CELL_CHARS])
    workbook.close()
    assert read_input(path).frame.collect()["customer_id"].to_list() == ["1", "2"]
    # <dimension> is optional and may say anything: neither trusted nor refused.
    lying = _workbook(
        tmp_path / "lying.xlsx",
        iter([b'<row r="2"><c r="A2"><v>7</v></c></row>']),
        head=b'<dimension ref="A1:XFD1048576"/>',
    )
    assert read_input(lying).frame.collect()["customer_id"].to_list() == ["7"]


# --- The CLI: bounded memory ----------------------------------------------------------------


#: Runs a command and prints its peak RSS (KB): measured from a small process, because a child
#: forked from pytest counts pytest's own memory in its peak until it execs.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def _peak_rss_mb(args: list[str], cwd: Path) -> tuple[int, str, float]:
    """Exit code, stderr and peak RSS (MB) of ``batchtool ARGS`` in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "batchtool", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stderr, int(done.stdout) / 1024


def test_a_huge_single_line_is_refused_by_the_cli_at_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    size_mb = 192
    with path.open("wb") as f:
        for _ in range(size_mb):
            f.write(b"x" * (1 << 20))
    code, err, peak = _peak_rss_mb(["run", str(path), "--dry-run"], tmp_path)
    assert code == 2, err
    assert err == f"batchtool: error: {cell_refused(path, 'line 1, column 1')}\n"
    assert peak < size_mb * 2 / 3, f"peak RSS {peak:.0f} MB for a {size_mb} MB line"


# --- Nothing a file holds is quoted unbounded ----------------------------------------------

CUT = "h" * 79 + "…"


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_a_long_unknown_header_is_cut_in_the_message(tmp_path: Path, ext: str) -> None:
    header = "h" * (100_000 if ext == "parquet" else 30_000)
    frame = pl.DataFrame({"customer_id": ["1"], header: ["x"]})
    path = tmp_path / f"in.{ext}"
    if ext == "csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    with pytest.raises(UnknownColumnsError) as caught:
        read_input(path)
    assert str(caught.value) == (
        f"{path}: unknown column '{CUT}' — rename it to an API name, map it with "
        f'--map "{CUT}=NAME", or skip it with --ignore-column "{CUT}"'
    )
    assert caught.value.columns[0].header == header  # the page maps it by its whole name


def test_many_unknown_headers_are_counted_not_all_listed(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(",".join(["customer_id", *(f"x{i}" for i in range(20))]) + "\n1" + "," * 20)
    message = refusal(path)
    assert message.endswith("(also unknown: 'x1', 'x2', 'x3', 'x4', 'x5' and 14 more)")


def test_long_values_are_cut_where_plan_reasons_and_samples_quote_them(tmp_path: Path) -> None:
    long = "v" * MAX_CELL_CHARS
    path = tmp_path / "in.parquet"
    pl.DataFrame(
        {
            "operation": ["set", long, "forget", "set"],
            "customer_id": ["1", "2", "3", "4"],
            "email": [long, None, None, None],
            "keep": [None, None, long, None],
            "firstname": [None, None, None, long],
        }
    ).write_parquet(path)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["run", str(path), "--dry-run", "--results", str(out)])
    assert result.exit_code == 1, result.output
    shown = "v" * 79 + "…"
    errors = pl.read_csv(out, infer_schema=False)["error"].to_list()
    assert errors[:3] == [
        f"email '{shown}' is not an email address",
        f"unknown operation '{shown}' — use set_customer_details, lock, unlock or forget",
        f"keep: '{shown}' is not a field forget can keep",
    ]
    assert f"customer_id=4&firstname={shown}\n" in result.output  # the first request shown
    assert max(len(line) for line in result.output.splitlines()) < 300
