"""The results file is the next input: fix the bad rows, send it again with --only-failed
(issue 10, part 3)."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from batchtool import Credentials, run_batch_async
from batchtool.cli import main
from batchtool.simulator import Simulator

OK_EARLIER = "ok in the earlier run"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def edit_csv(path: Path, row: str, **changes: str) -> None:
    """What ops do in Excel: change cells of one data row, keep everything else."""
    rows = read_csv(path)
    for record in rows:
        if record["row"] == row:
            record.update(changes)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def creds(sim: Simulator) -> Credentials:
    return Credentials(sim.base_url, sim.api_username, sim.api_key)


HEADER = ["operation", "customer_id", "firstname", "email", "password"]
ROWS = [
    ["set", "1", "Ann", "", ""],
    ["set", "2", "", "not-an-address", ""],  # invalid until fixed
    ["lock", "999999", "", "", ""],  # no such customer: failed until fixed
    ["unlock", "3", "", "", ""],
    ["set", "4", "", "", "s3cret!"],  # ok; shown as *** in the results
]


async def test_a_fixed_results_csv_sends_only_the_rows_that_were_not_ok(
    simulator: Simulator, tmp_path: Path
) -> None:
    first = tmp_path / "in.results.csv"
    src = write_csv(tmp_path / "in.csv", HEADER, ROWS)
    report = await run_batch_async(src, credentials=creds(simulator), results_path=first)
    assert report.exit_code == 1
    assert [r["status"] for r in read_csv(first)] == ["ok", "invalid", "failed", "ok", "ok"]

    edit_csv(first, "2", email="ann@example.com")
    edit_csv(first, "3", customer_id="5")
    simulator.clear_log()
    second = tmp_path / "fixed.results.csv"
    report = await run_batch_async(
        first, credentials=creds(simulator), results_path=second, only_failed=True
    )
    assert report.exit_code == 0
    assert sorted((e.operation, e.form.get("customer_id")) for e in simulator.log) == [
        ("lock", "5"),
        ("set_customer_details", "2"),
    ]
    results = read_csv(second)
    assert [(r["status"], r["error"]) for r in results] == [
        ("skipped", OK_EARLIER),
        ("ok", ""),
        ("ok", ""),
        ("skipped", OK_EARLIER),
        ("skipped", OK_EARLIER),
    ]
    # This run's bookkeeping replaces the earlier run's; the data columns are as edited.
    assert list(results[0]) == [
        "row", "status", "operation", "http_status", "attempts", "error", "elapsed_ms",
        "finished_at", "customer_id", "firstname", "email", "password",
    ]  # fmt: skip
    assert results[1]["email"] == "ann@example.com"

    simulator.clear_log()
    third = tmp_path / "again.results.csv"
    report = await run_batch_async(
        second, credentials=creds(simulator), results_path=third, only_failed=True
    )
    assert report.exit_code == 0
    assert simulator.log == []  # nothing it already did is sent again
    assert {(r["status"], r["error"]) for r in read_csv(third)} == {("skipped", OK_EARLIER)}


async def test_a_results_file_without_only_failed_is_sent_whole(
    simulator: Simulator, tmp_path: Path
) -> None:
    first = tmp_path / "in.results.csv"
    src = write_csv(tmp_path / "in.csv", HEADER, ROWS)
    await run_batch_async(src, credentials=creds(simulator), results_path=first)
    simulator.clear_log()
    report = await run_batch_async(
        first, credentials=creds(simulator), results_path=tmp_path / "whole.results.csv"
    )
    statuses = [r["status"] for r in read_csv(tmp_path / "whole.results.csv")]
    # The masked password is never sent: that row is invalid until the password is retyped.
    assert statuses == ["ok", "invalid", "failed", "ok", "invalid"]
    assert report.plan.invalid_examples[-1] == (
        5,
        "password is masked (***) in this results file — retype it or clear the cell",
    )
    assert len(simulator.log) == 3


async def test_a_failed_row_with_a_masked_password_is_sent_once_it_is_retyped(
    simulator: Simulator, tmp_path: Path
) -> None:
    rows = [["set", "999999", "", "", "first-try"], ["set", "6", "Bea", "", ""]]
    first = tmp_path / "in.results.csv"
    src = write_csv(tmp_path / "in.csv", HEADER, rows)
    await run_batch_async(src, credentials=creds(simulator), results_path=first)
    edit_csv(first, "1", customer_id="7")  # the id fixed, the password still ***
    second = tmp_path / "second.results.csv"
    await run_batch_async(
        first, credentials=creds(simulator), results_path=second, only_failed=True
    )
    assert [r["status"] for r in read_csv(second)] == ["invalid", "skipped"]
    edit_csv(first, "1", password="second-try")
    simulator.clear_log()
    await run_batch_async(
        first, credentials=creds(simulator), results_path=second, only_failed=True, restart=True
    )
    assert [r["status"] for r in read_csv(second)] == ["ok", "skipped"]
    assert [e.form.get("customer_id") for e in simulator.log] == ["7"]


def test_a_results_workbook_edited_in_excel_is_sent_again(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", HEADER, ROWS[:3])
    first = tmp_path / "in.results.xlsx"
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(src), "--simulate", "--results", str(first)])
    assert result.exit_code == 1, result.output

    workbook = openpyxl.load_workbook(first)
    sheet = workbook.active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    sheet.cell(row=3, column=header.index("email") + 1, value="bea@example.com")
    sheet.cell(row=4, column=header.index("customer_id") + 1, value="8")
    workbook.save(first)

    second = tmp_path / "fixed.results.xlsx"
    result = runner.invoke(
        main, ["run", str(first), "--simulate", "--results", str(second), "--only-failed"]
    )
    assert result.exit_code == 0, result.output
    fixed = openpyxl.load_workbook(second).active
    assert fixed is not None
    rows = list(fixed.iter_rows(values_only=True))
    status = rows[0].index("status")
    assert [r[status] for r in rows[1:]] == ["skipped", "ok", "ok"]
    assert "skipped  1" in result.output and "ok       2" in result.output


def test_only_failed_needs_a_results_file(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", HEADER, ROWS[:1])
    result = CliRunner().invoke(main, ["run", str(src), "--simulate", "--only-failed"])
    assert result.exit_code == 2
    assert result.output == (
        f"batchtool: error: {src}: --only-failed needs a batchtool results file, with its "
        "status column — this file has none; to send every row, run it without --only-failed\n"
    )


async def test_a_runs_failed_rows_go_again_from_its_own_input_passwords_and_all(
    simulator: Simulator, tmp_path: Path
) -> None:
    locked = simulator.store.get("4")
    assert locked is not None
    locked.locked = True  # row 5 (a new password for customer 4) fails: 409
    src = write_csv(tmp_path / "in.csv", HEADER, ROWS)
    first = tmp_path / "in.results.csv"
    await run_batch_async(src, credentials=creds(simulator), results_path=first)
    assert [r["status"] for r in read_csv(first)] == ["ok", "invalid", "failed", "ok", "failed"]
    assert read_csv(first)[4]["password"] == "***"  # so the results file cannot send it

    locked.locked = False
    simulator.clear_log()
    second = tmp_path / "again.results.csv"
    report = await run_batch_async(
        src,
        credentials=creds(simulator),
        results_path=second,
        only_failed=True,
        earlier_results=first,
    )
    assert sorted((e.operation, e.form.get("customer_id")) for e in simulator.log) == [
        ("lock", "999999"),
        ("set_customer_details", "4"),
    ]
    assert locked.password_matches("s3cret!")  # as typed in the input, not the mask
    assert [(r["status"], r["error"]) for r in read_csv(second)] == [
        ("skipped", OK_EARLIER),
        ("invalid", "email 'not-an-address' is not an email address"),
        ("failed", "HTTP 404: customer not found (customer_id=999999)"),
        ("skipped", OK_EARLIER),
        ("ok", ""),
    ]
    assert report.plan.valid == 2  # exactly the rows that failed
