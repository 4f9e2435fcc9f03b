"""The command line: exit codes, one-line errors, dry-run output, and secrets kept out of output."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from batchtool.cli import main

CSV = (
    "operation,customer_id,firstname,email,password\n"
    "set_customer_details,191,Test,test@testmail.com,\n"
    "unlock,192,,,\n"
    "set,193,,,s3cret-pass\n"
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_command_has_help_and_is_in_the_readme(runner: CliRunner) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name, command in main.commands.items():
        assert command.help, name
        assert f"batchtool {name}" in readme, name
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output


def test_dry_run_all_valid_exits_0_and_writes_results(runner: CliRunner, tmp_path: Path) -> None:
    src = write(tmp_path, "changes.csv", CSV)
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["run", str(src), "--dry-run", "--results", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_results(out)
    assert [r["status"] for r in rows] == ["valid"] * 3
    assert [r["row"] for r in rows] == ["1", "2", "3"]
    assert rows[2]["password"] == "***"
    # the plan: rows per operation and the first requests as they would be sent
    assert "set_customer_details" in result.output and "unlock" in result.output
    assert (
        "PATCH {base}/api/customer/set_customer_details  customer_id=191&firstname=Test"
        in result.output
    )
    assert "s3cret-pass" not in result.output


def test_dry_run_with_invalid_rows_exits_1_and_lists_them(
    runner: CliRunner, tmp_path: Path
) -> None:
    src = write(tmp_path, "bad.csv", "operation,customer_id,password\nset,1,REMOVE\nlock,,\n")
    out = tmp_path / "bad.results.csv"
    result = runner.invoke(main, ["run", str(src), "--dry-run", "--results", str(out)])
    assert result.exit_code == 1, result.output
    assert "row 1 (line 2): password cannot be REMOVE" in result.output
    assert "row 2 (line 3): no lookup key" in result.output
    assert [r["status"] for r in read_results(out)] == ["invalid", "invalid"]


def test_default_results_path_is_input_stem_in_current_directory(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "in").mkdir()
    src = write(tmp_path, "in/changes.csv", CSV)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = runner.invoke(main, ["run", str(src), "--dry-run", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (work / "changes.results.csv").exists()
    assert result.output == ""


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        pytest.param(
            "operation,customer_id,fristname\nset,1,A\n",
            [],
            "unknown column 'fristname' — did you mean 'firstname'?",
            id="typo-header",
        ),
        pytest.param("customer_id\n1\n", [], "no 'operation' column", id="no-operation-column"),
        pytest.param("operation,firstname\nset,A\n", [], "lookup", id="no-lookup-column"),
        pytest.param("", [], "empty", id="empty-file"),
    ],
)
def test_file_errors_exit_2_with_one_line(
    runner: CliRunner, tmp_path: Path, content: str, args: list[str], message: str
) -> None:
    src = write(tmp_path, "f.csv", content)
    result = runner.invoke(main, ["run", str(src), "--dry-run", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "f.results.csv").exists()


def test_missing_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["run", str(tmp_path / "nope.csv"), "--dry-run"])
    assert result.exit_code == 2
    assert "nope.csv" in result.output
    assert "Traceback" not in result.output


def test_run_without_a_file_says_so(runner: CliRunner) -> None:
    result = runner.invoke(main, ["run"])
    assert result.exit_code == 2, result.output
    assert "Error: Missing argument 'FILE'." in result.output
    assert "Traceback" not in result.output


def test_operation_option_fills_files_without_the_column(runner: CliRunner, tmp_path: Path) -> None:
    src = write(tmp_path, "ids.csv", "Customer ID\n191\n192\n")
    out = tmp_path / "ids.results.csv"
    result = runner.invoke(
        main, ["run", str(src), "--dry-run", "--operation", "unlock", "--results", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert {r["operation"] for r in read_results(out)} == {"unlock"}


def test_map_and_ignore_column(runner: CliRunner, tmp_path: Path) -> None:
    src = write(tmp_path, "m.csv", "operation,customer_id,E-mail address,Notes\nset,1,a@b.co,hi\n")
    out = tmp_path / "m.results.csv"
    result = runner.invoke(
        main,
        [
            "run",
            str(src),
            "--dry-run",
            "--map",
            "E-mail address=email",
            "--ignore-column",
            "Notes",
            "--results",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "email=a@b.co" in result.output
    rows = read_results(out)
    assert rows[0]["Notes"] == "hi"


def test_bad_map_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    src = write(tmp_path, "c.csv", CSV)
    result = runner.invoke(main, ["run", str(src), "--dry-run", "--map", "nonsense"])
    assert result.exit_code == 2
    assert "HEADER=FIELD" in result.output


def test_live_run_without_credentials_is_a_usage_error(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("BATCHTOOL_BASE_URL", "BATCHTOOL_API_KEY", "BATCHTOOL_API_USERNAME"):
        monkeypatch.delenv(var, raising=False)
    src = write(tmp_path, "c.csv", CSV)
    result = runner.invoke(main, ["run", str(src)])
    assert result.exit_code == 2
    assert "missing --base-url" in result.output


def test_plain_http_to_remote_host_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    src = write(tmp_path, "c.csv", CSV)
    result = runner.invoke(
        main,
        [
            "run",
            str(src),
            "--base-url",
            "http://affiliates.example.com",
            "--api-username",
            "u",
            "--api-key",
            "k",
        ],
    )
    assert result.exit_code == 2
    assert "--allow-insecure-http" in result.output


def test_unknown_results_extension_is_refused_before_reading(
    runner: CliRunner, tmp_path: Path
) -> None:
    src = write(tmp_path, "c.csv", CSV)
    result = runner.invoke(
        main, ["run", str(src), "--dry-run", "--results", str(tmp_path / "r.txt")]
    )
    assert result.exit_code == 2
    assert "r.txt" in result.output


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl", "xlsx"])
def test_dry_run_results_in_each_format(runner: CliRunner, tmp_path: Path, ext: str) -> None:
    src = write(tmp_path, "c.csv", CSV)
    out = tmp_path / f"r.{ext}"
    result = runner.invoke(main, ["run", str(src), "--dry-run", "--quiet", "--results", str(out)])
    assert result.exit_code == 0, result.output
    readers: dict[str, Callable[[Path], Any]] = {
        "csv": pl.read_csv,
        "parquet": pl.read_parquet,
        "jsonl": pl.read_ndjson,
        "xlsx": pl.read_excel,
    }
    frame = readers[ext](out)
    assert frame.columns[:7] == [
        "row",
        "status",
        "operation",
        "http_status",
        "attempts",
        "error",
        "elapsed_ms",
    ]
    assert frame.height == 3


def test_results_folder_that_does_not_exist_is_named_not_the_input(
    runner: CliRunner, tmp_path: Path
) -> None:
    src = write(tmp_path, "c.csv", CSV)
    result = runner.invoke(
        main, ["run", str(src), "--dry-run", "--results", str(tmp_path / "nope" / "r.csv")]
    )
    assert result.exit_code == 2
    assert f"folder '{tmp_path / 'nope'}' does not exist" in result.output
    assert "c.csv" not in result.output


def test_refused_credentials_exit_3_and_the_key_is_not_shown(
    runner: CliRunner, tmp_path: Path, simulator_process: Any
) -> None:
    base_url = simulator_process("--customers", "10")
    src = write(tmp_path, "c.csv", "operation,customer_id\nunlock,1\nunlock,2\nunlock,3\n")
    out = tmp_path / "c.results.csv"
    result = runner.invoke(
        main,
        [
            "run",
            str(src),
            "--base-url",
            base_url,
            "--api-username",
            "sim_admin",
            "--api-key",
            "wrong-key-123",
            "--results",
            str(out),
            "--concurrency",
            "1",
        ],
    )
    assert result.exit_code == 3, result.output
    assert "aborted: authentication refused (HTTP 401)" in result.output
    assert "wrong-key-123" not in result.output
    statuses = [r["status"] for r in read_results(out)]
    assert statuses[0] == "failed" and set(statuses[1:]) == {"skipped"}
