"""A results file is the next input (issue 10): its own columns are bookkeeping, its formula
guard is undone (once, whatever the format, the ops page's Excel download included: issue 19),
a masked password is never sent, a damaged id is never laundered."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter
from click.testing import CliRunner, Result

from batchtool import results
from batchtool.cli import main
from batchtool.plan import plan_frame, requests_from
from batchtool.reader import BOOKKEEPING_PREFIX, read_input
from batchtool.web.tables import write_copy

#: Values the results writer guards, and their neighbours that it leaves alone.
TYPED = ["=1+1", "+44 20 7946 0000", "-193", "@handle", "'quoted", "'=already", "plain"]


def run(src: Path, out: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["run", str(src), "--dry-run", "--results", str(out), *args])


def first_results(tmp_path: Path, ext: str) -> Path:
    """The results of a dry run of a CSV holding TYPED in firstname and in an ignored column."""
    src = tmp_path / "in.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["operation", "customer_id", "firstname", "=Notes", "Password"])
        for i, value in enumerate(TYPED, start=1):
            writer.writerow(["set", str(i), value, value, "s3cret" if i == 1 else ""])
    out = tmp_path / f"in.results.{ext}"
    result = run(src, out, "--ignore-column", "=Notes")
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet", "jsonl"])
def test_results_read_back_give_the_values_first_typed(tmp_path: Path, ext: str) -> None:
    table = read_input(first_results(tmp_path, ext), ignore_columns=["=Notes"])
    frame = table.frame.collect()
    assert frame["firstname"].to_list() == TYPED
    assert frame["ignored:=Notes"].to_list() == TYPED
    assert table.headers["ignored:=Notes"] == "=Notes"
    assert frame["password"].to_list() == ["***", *[None] * (len(TYPED) - 1)]


@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet", "jsonl"])
def test_result_columns_are_bookkeeping(tmp_path: Path, ext: str) -> None:
    table = read_input(first_results(tmp_path, ext), ignore_columns=["=Notes"])
    assert list(table.headers) == [
        "result:row", "result:status", "operation", "result:http_status", "result:attempts",
        "result:error", "result:elapsed_ms", "result:finished_at", "customer_id", "firstname",
        "ignored:=Notes", "password",
    ]  # fmt: skip
    frame = table.frame.collect()
    assert frame["result:status"].to_list() == ["valid"] * len(TYPED)
    assert frame["operation"].to_list() == ["set_customer_details"] * len(TYPED)
    assert BOOKKEEPING_PREFIX == "result:"


def test_a_results_file_runs_again_and_its_bookkeeping_is_replaced(tmp_path: Path) -> None:
    first = first_results(tmp_path, "csv")
    again = tmp_path / "again.results.csv"
    result = run(first, again, "--ignore-column", "=Notes")
    assert result.exit_code == 1, result.output
    assert (
        "row 1 (line 2): password is masked (***) in this results file — retype it or clear "
        "the cell"
    ) in result.output
    # Values as first typed are what would be sent ...
    assert "customer_id=3&firstname=-193" in result.output
    # ... and the new results have one set of result columns, guarded again like the first.
    assert again.read_text(encoding="utf-8") == first.read_text(encoding="utf-8").replace(
        "1,valid,set_customer_details,,0,,",
        "1,invalid,set_customer_details,,0,password is masked (***) in this results file — "
        "retype it or clear the cell,",
    )


def test_ops_fix_a_results_xlsx_in_excel_and_send_it_again(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("operation,customer_id,email\nset,1,ann@example\nset,2,bob@example.com\n")
    first = tmp_path / "in.results.xlsx"
    assert run(src, first).exit_code == 1
    # Ops open it, fix the email and save (openpyxl stands in for Excel here).
    workbook = openpyxl.load_workbook(first)
    sheet = workbook.active
    assert sheet["J2"].value == "ann@example"
    sheet["J2"] = "ann@example.com"
    workbook.save(first)
    result = run(first, tmp_path / "again.results.csv")
    assert result.exit_code == 0, result.output
    assert "customer_id=1&email=ann@example.com" in result.output


def test_only_the_writers_own_guard_is_undone(tmp_path: Path) -> None:
    # Not a results file: a leading ' is the user's own and is sent.
    src = tmp_path / "in.csv"
    src.write_text("operation,customer_id,firstname\nset,1,'=x\n")
    assert read_input(src).frame.collect()["firstname"].to_list() == ["'=x"]
    # A results file: "'=x" was written for "=x", "''=x" for "'=x", "'x" for "'x".
    src.write_text(
        "row,status,operation,customer_id,firstname\n"
        "1,ok,set,1,'=x\n2,ok,set,2,''=x\n3,ok,set,3,'x\n"
    )
    assert read_input(src).frame.collect()["firstname"].to_list() == ["=x", "'=x", "'x"]


def test_a_password_retyped_in_a_results_file_is_sent(tmp_path: Path) -> None:
    src = tmp_path / "in.results.csv"
    src.write_text(
        "row,status,operation,http_status,attempts,error,elapsed_ms,customer_id,password\n"
        "1,failed,set_customer_details,500,5,busy,40,1,new-pass\n"
        "2,failed,set_customer_details,500,5,busy,40,2,***\n"
        "3,ok,set_customer_details,200,1,,12,3,\n"
    )
    result = run(src, tmp_path / "next.csv")
    assert result.exit_code == 1, result.output
    assert (
        "row 2 (line 3): password is masked (***) in this results file — retype it or clear "
        "the cell"
    ) in result.output
    assert "row 3 (line 4): set_customer_details needs at least one field to change" in (
        result.output
    )
    assert "PATCH {base}/api/customer/set_customer_details  customer_id=1&password=***" in (
        result.output
    )


def test_an_id_excel_rounded_stays_invalid_in_the_results_file(tmp_path: Path) -> None:
    src = tmp_path / "ids.xlsx"
    workbook = xlsxwriter.Workbook(src)
    ws = workbook.add_worksheet()
    ws.write_row(0, 0, ["operation", "customer_id"])
    ws.write_row(1, 0, ["lock", 12345678901234567])
    ws.write_row(2, 0, ["lock", 191.5])
    ws.write_row(3, 0, ["lock", 7])
    workbook.close()
    first = tmp_path / "ids.results.xlsx"
    assert run(src, first).exit_code == 1
    # In the results the ids are text: reading them back must not make them valid.
    again = run(first, tmp_path / "again.results.csv")
    assert again.exit_code == 1, again.output
    assert (
        "    row 1 (sheet row 2): customer_id '12345678901234570' was rounded by Excel, which "
        "keeps only 15 digits of a number — format the column as text and retype it\n"
        "    row 2 (sheet row 3): customer_id '191.5' is not a whole number — retype the id\n"
    ) in again.output
    # Retyped, the row is valid again.
    workbook2 = openpyxl.load_workbook(first)
    workbook2.active["I2"] = "12345678901234567"
    workbook2.save(first)
    fixed = run(first, tmp_path / "fixed.results.csv")
    assert "row 1:" not in fixed.output
    assert "PATCH {base}/api/customer/lock  customer_id=12345678901234567" in fixed.output


def test_result_columns_alone_do_not_make_a_results_file(tmp_path: Path) -> None:
    # "error" without row and status is an unknown column as ever: a typo is never dropped.
    src = tmp_path / "in.csv"
    src.write_text("operation,customer_id,error\nlock,1,x\n")
    result = run(src, tmp_path / "out.csv")
    assert result.exit_code == 2, result.output
    assert "unknown column 'error'" in result.output


def test_results_never_echo_bookkeeping() -> None:
    planned = pl.LazyFrame(
        {
            "row": [1],
            "result:status": ["failed"],
            "result:error": ["busy"],
            "operation": ["lock"],
            "customer_id": ["1"],
            "_valid": [True],
            "_error": [None],
            "_preset_status": [None],
            "_preset_error": [None],
        },
        schema_overrides={
            "row": pl.Int64,
            "_error": pl.String,
            "_preset_status": pl.String,
            "_preset_error": pl.String,
        },
    )
    headers = {
        "result:status": "status",
        "result:error": "error",
        "operation": "operation",
        "customer_id": "customer_id",
    }
    frame = results.build_results(planned, headers, outcomes=None).collect()
    assert frame.columns == [*results.RESULT_COLUMNS, "customer_id"]
    assert frame.row(0, named=True)["status"] == "valid"


def test_jsonl_results_keep_a_users_quote(tmp_path: Path) -> None:
    # Parquet and JSON Lines results are not guarded, so nothing is undone in them.
    src = tmp_path / "in.results.jsonl"
    record = {"row": 1, "status": "ok", "operation": "set", "customer_id": "1", "city": "'=x"}
    src.write_text(json.dumps(record) + "\n")
    assert read_input(src).frame.collect()["city"].to_list() == ["'=x"]


# --- Every value round-trips through every results format (issue 19) ----------------------

ROUND_TRIP = [
    pytest.param("-193", id="minus"),
    pytest.param("=1+1", id="equals"),
    pytest.param("@x", id="at"),
    pytest.param("+1", id="plus"),
    pytest.param("\t-5", id="tab-led"),
    pytest.param("'abc", id="quote-led"),
    pytest.param("'=x", id="quote-then-formula"),
    pytest.param("''=x", id="two-quotes-then-formula"),
    pytest.param("plain", id="plain"),
]
RESULTS_KINDS = ["csv", "xlsx", "parquet", "jsonl", "xlsx-from-the-ops-page"]


def sent_custom1(path: Path) -> list[str | None]:
    """What the plan of ``path`` would send as custom1, row by row."""
    planned = plan_frame(read_input(path).frame).collect()
    return [dict(request.form).get("custom1") for request in requests_from(planned)]


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The input, and its results in each format, written by a real (dry) run."""
    folder = tmp_path_factory.mktemp("round-trip")
    src = folder / "in.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["operation", "customer_id", "custom1"])
        for i, param in enumerate(ROUND_TRIP, start=1):
            writer.writerow(["set", str(i), param.values[0]])
    files = {"input": src}
    for kind in RESULTS_KINDS[:4]:
        files[kind] = folder / f"in.results.{kind}"
        result = run(src, files[kind])
        assert result.exit_code == 0, result.output
    # The ops page keeps results as CSV and offers them again as Excel.
    files["xlsx-from-the-ops-page"] = folder / "page.results.xlsx"
    write_copy(files["csv"], files["xlsx-from-the-ops-page"])
    return files


@pytest.mark.parametrize("kind", RESULTS_KINDS)
@pytest.mark.parametrize("value", ROUND_TRIP)
def test_a_results_file_sends_every_value_exactly_as_the_input_did(
    round_trip: dict[str, Path], kind: str, value: str
) -> None:
    index = [param.values[0] for param in ROUND_TRIP].index(value)
    first = sent_custom1(round_trip["input"])[index]
    assert first == value.strip()  # the reader trims: a tab-led value is sent without its tab
    assert sent_custom1(round_trip[kind])[index] == first


@pytest.mark.parametrize("kind", ["xlsx", "xlsx-from-the-ops-page"])
def test_an_excel_results_file_shows_at_most_one_guard_quote(
    round_trip: dict[str, Path], kind: str
) -> None:
    sheet = openpyxl.load_workbook(round_trip[kind], read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    column = rows[0].index("custom1")
    shown = [row[column] for row in rows[1:]]
    for param, text in zip(ROUND_TRIP, shown, strict=True):
        value = str(param.values[0]).strip()
        assert text in (value, "'" + value), (param.id, text)
