"""What schedulers and log pipelines read: JSON log lines on stderr, the Prometheus metrics file
(parsed with prometheus_client's own parser) and the summary JSON, for runs that finish and for
runs that never start."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from batchtool import Credentials, SyncOptions, run_batch_async
from batchtool.jsonlog import JsonLog
from batchtool.report_files import write_metrics
from batchtool.simulator import Simulator


def write_input(path: Path, rows: int = 20, *, bad: int = 0) -> Path:
    lines = ["operation,customer_id,firstname,email"]
    lines += [f"set,{i},Name{i},c{i}@example.com" for i in range(1, rows + 1)]
    lines += [f"set,{i},Bad{i},not-an-email" for i in range(1, bad + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batchtool", "run", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "BATCHTOOL_API_KEY": "k-secret-key-7", "PYTHONUNBUFFERED": "1"},
    )


def json_lines(stderr: str) -> list[dict[str, Any]]:
    lines = stderr.splitlines()
    assert lines, "nothing on stderr"
    events = [json.loads(line) for line in lines]  # every line must be JSON
    assert all(isinstance(e, dict) and "event" in e and "time" in e for e in events)
    return events


def metrics(path: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name -> {sorted labels: value}, through Prometheus' own text-format parser."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


def test_json_log_run_writes_only_json_lines_and_the_files(tmp_path: Path) -> None:
    src = write_input(tmp_path / "nightly.csv", bad=1)
    out = tmp_path / "nightly.results.csv"
    prom = tmp_path / "batchtool.prom"
    summary = tmp_path / "summary.json"
    done = cli(
        str(src), "--simulate", "--changed-only", "--results", str(out), "--log-format", "json",
        "--metrics-file", str(prom), "--summary-json", str(summary), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # one invalid row
    assert done.stdout == ""
    events = json_lines(done.stderr)
    assert [e["event"] for e in events] == ["start", "note", "note", "summary"]
    start, first_night, resume, last = events
    assert start["rows"] == 21 and start["to_send"] == 20
    assert start["options"]["changed_only"] is True
    assert first_night["level"] == "info" and "no sync state" in first_night["message"]
    assert "add --resume" in resume["message"]
    assert last["exit_code"] == 1
    assert last["counts"] == {"ok": 20, "invalid": 1}
    assert last["results"] == str(out)
    assert last["requests_sent"] == 20 and last["retries"] == 0
    assert {"rate", "elapsed_s"} <= set(last)
    assert "k-secret-key-7" not in done.stderr
    assert json.loads(summary.read_text(encoding="utf-8")) == {
        k: v for k, v in last.items() if k not in ("event", "time")
    }

    found = metrics(prom)
    base = (("input", "nightly.csv"),)
    assert found["batchtool_rows"][(*base, ("status", "ok"))] == 20
    assert found["batchtool_rows"][(*base, ("status", "invalid"))] == 1
    assert found["batchtool_rows"][(*base, ("status", "unchanged"))] == 0
    assert found["batchtool_requests"][base] == 20
    assert found["batchtool_retries"][base] == 0
    assert found["batchtool_exit_code"][base] == 1
    assert found["batchtool_duration_seconds"][base] > 0
    assert found["batchtool_last_run_timestamp_seconds"][base] > 1.7e9
    assert "batchtool_last_success_timestamp_seconds" not in found


def test_second_night_counts_unchanged_rows(tmp_path: Path) -> None:
    src = write_input(tmp_path / "nightly.csv")
    out = tmp_path / "nightly.results.csv"
    args = (str(src), "--simulate", "--changed-only", "--results", str(out))
    assert cli(*args, cwd=tmp_path).returncode == 0
    done = cli(*args, "--log-format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json_lines(done.stderr)[-1]["counts"] == {"unchanged": 20}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("--concurrency", "0"),
            "Invalid value for '--concurrency': 0 is not auto or a number from 1 to 1024",
            id="click-usage",
        ),
        pytest.param(
            ("--state", "s.parquet"),
            "--state is the sync state of --changed-only or --full — add one of them",
            id="batchtool-usage",
        ),
        pytest.param(
            ("--map", "oops"),
            "Invalid value for --map: 'oops' is not HEADER=FIELD, e.g. --map \"E-mail "
            'address=email"',
            id="bad-parameter",
        ),
    ],
)
def test_errors_are_one_json_line_too(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    src = write_input(tmp_path / "in.csv")
    done = cli(str(src), "--dry-run", "--log-format=json", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    [event] = json_lines(done.stderr)
    assert event["event"] == "error"
    assert event["exit_code"] == 2
    assert event["message"] == message


def test_a_run_that_never_started_still_writes_its_metrics(tmp_path: Path) -> None:
    prom = tmp_path / "batchtool.prom"
    summary = tmp_path / "summary.json"
    done = cli(
        str(tmp_path / "missing.csv"), "--dry-run", "--metrics-file", str(prom),
        "--summary-json", str(summary), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "batchtool: error:" in done.stderr
    found = metrics(prom)
    base = (("input", "missing.csv"),)
    assert found["batchtool_exit_code"][base] == 2
    assert found["batchtool_rows"][(*base, ("status", "ok"))] == 0
    record = json.loads(summary.read_text(encoding="utf-8"))
    assert record["exit_code"] == 2 and "missing.csv" in record["message"]


def test_last_success_is_kept_across_failed_runs(tmp_path: Path) -> None:
    prom = tmp_path / "batchtool.prom"
    src = Path("customers.csv")
    write_metrics(prom, input_path=src, exit_code=0, duration_s=3, ended_at=1000, profile="nats")
    write_metrics(prom, input_path=src, exit_code=1, duration_s=4, ended_at=2000, profile="nats")
    found = metrics(prom)
    labels = (("input", "customers.csv"), ("profile", "nats"))
    assert found["batchtool_last_success_timestamp_seconds"][labels] == 1000
    assert found["batchtool_last_run_timestamp_seconds"][labels] == 2000
    assert found["batchtool_exit_code"][labels] == 1
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


async def test_json_log_reports_progress_as_it_goes(simulator: Simulator, tmp_path: Path) -> None:
    stream = io.StringIO()
    src = write_input(tmp_path / "in.csv", rows=50)
    report = await run_batch_async(
        src,
        credentials=Credentials(simulator.base_url, simulator.api_username, simulator.api_key),
        results_path=tmp_path / "out.csv",
        sync=SyncOptions(full=True),
        on_event=JsonLog(stream),
        progress_interval_s=1e-9,
    )
    assert report.exit_code == 0
    events = json_lines(stream.getvalue())
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and progress[-1]["done"] <= 50
    assert all(e["total"] == 50 and "rate" in e for e in progress)
    assert events[-1]["event"] == "summary" and events[-1]["counts"] == {"ok": 50}
