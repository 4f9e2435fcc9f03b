"""Crash safety as a user meets it: kill -9 then --resume, Ctrl-C, changed input, two runs at once.

batchtool and the simulator each run as their own process here, the way a cron job and an
installation would; the simulator's request log (``/_sim/log``) tells what was really sent.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from batchtool.simulator import DEFAULT_API_KEY, DEFAULT_API_USERNAME

ROWS = 400
WAIT_S = 60.0


def write_input(path: Path, rows: int = ROWS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["operation", "customer_id", "firstname", "password"])
        for i in range(1, rows + 1):
            writer.writerow(["set", str(i), f"name{i}", f"pw-{i}-secret"])
    return path


def env_for(base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "BATCHTOOL_BASE_URL": base_url,
        "BATCHTOOL_API_USERNAME": DEFAULT_API_USERNAME,
        "BATCHTOOL_API_KEY": DEFAULT_API_KEY,
        "PYTHONUNBUFFERED": "1",
    }


def batchtool(src: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "batchtool",
        "run",
        str(src),
        "--results",
        str(out),
        "--concurrency",
        "8",
        *extra,
    ]


def sim_log(base_url: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{base_url}/_sim/log", timeout=10)
    answer.raise_for_status()
    entries: list[dict[str, Any]] = answer.json()
    return entries


def wait_for_log(base_url: str, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while len(sim_log(base_url)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} requests reached the simulator"
        time.sleep(0.02)


def journal_ok_rows(journal: Path) -> set[int]:
    ok: set[int] = set()
    for line in journal.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn last line
        if "row" in record and record["status"] == "ok":
            ok.add(record["row"])
    return ok


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def assert_complete(out: Path, rows: int = ROWS) -> None:
    results = read_results(out)
    assert [r["row"] for r in results] == [str(i) for i in range(1, rows + 1)]
    assert {r["status"] for r in results} == {"ok"}


@pytest.mark.parametrize(
    "kill_after",
    [pytest.param(1, id="at-start"), pytest.param(150, id="early"), pytest.param(330, id="late")],
)
def test_kill_9_then_resume_sends_no_ok_row_twice(
    simulator_process: Any, tmp_path: Path, kill_after: int
) -> None:
    base_url = simulator_process("--customers", str(ROWS), "--latency-ms", "4", "--seed", "1")
    src = write_input(tmp_path / "in.csv")
    out = tmp_path / "in.results.csv"
    proc = subprocess.Popen(batchtool(src, out, "--quiet"), env=env_for(base_url))
    try:
        wait_for_log(base_url, kill_after)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    journal = Path(f"{out}.journal")
    assert journal.exists()
    recorded_ok = journal_ok_rows(journal)
    sent_before = len(sim_log(base_url))

    done = subprocess.run(
        batchtool(src, out, "--quiet", "--resume"), env=env_for(base_url), timeout=120
    )
    assert done.returncode == 0
    assert_complete(out)
    resent = {int(e["form"]["customer_id"]) for e in sim_log(base_url)[sent_before:]}
    assert not resent & recorded_ok, "rows the journal had as ok were sent again"
    all_sent = {int(e["form"]["customer_id"]) for e in sim_log(base_url) if e["form"]}
    assert all_sent == set(range(1, ROWS + 1))
    # Resuming a run that ended all ok sends nothing at all.
    sent = len(sim_log(base_url))
    again = subprocess.run(
        batchtool(src, out, "--quiet", "--resume"), env=env_for(base_url), timeout=120
    )
    assert again.returncode == 0
    assert len(sim_log(base_url)) == sent
    assert_complete(out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_finishes_in_flight_writes_results_and_resumes(
    simulator_process: Any, tmp_path: Path, sig: signal.Signals
) -> None:
    base_url = simulator_process("--customers", str(ROWS), "--latency-ms", "10", "--seed", "2")
    src = write_input(tmp_path / "in.csv")
    out = tmp_path / "in.results.csv"
    proc = subprocess.Popen(
        batchtool(src, out),
        env=env_for(base_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_log(base_url, 60)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr
    assert "Traceback" not in stderr
    results = read_results(out)
    assert len(results) == ROWS
    statuses = {r["status"] for r in results}
    assert statuses <= {"ok", "skipped"}
    skipped = [r for r in results if r["status"] == "skipped"]
    assert skipped and all(r["error"] == "interrupted" for r in skipped)
    # Every request that reached the server got its answer recorded: no row in limbo.
    answered = {int(e["form"]["customer_id"]) for e in sim_log(base_url) if e["status"] == 200}
    assert answered == {int(r["customer_id"]) for r in results if r["status"] == "ok"}

    done = subprocess.run(
        batchtool(src, out, "--quiet", "--resume"), env=env_for(base_url), timeout=120
    )
    assert done.returncode == 0
    assert_complete(out)


def test_secrets_appear_in_no_output(simulator_process: Any, tmp_path: Path) -> None:
    key = "k-7f3a9c-very-secret"
    base_url = simulator_process(
        "--customers", "50", "--api-key", key, "--rate-500", "0.3", "--seed", "5"
    )
    src = write_input(tmp_path / "in.csv", rows=50)
    out = tmp_path / "in.results.csv"
    env = {**env_for(base_url), "BATCHTOOL_API_KEY": key}
    done = subprocess.run(
        batchtool(src, out, "--max-attempts", "1"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # some rows failed: the journal stays
    texts = [done.stdout, done.stderr, out.read_text(), Path(f"{out}.journal").read_text()]
    for text in texts:
        assert key not in text
        assert "-secret" not in text


def test_changed_input_is_refused_on_resume(simulator_process: Any, tmp_path: Path) -> None:
    base_url = simulator_process("--customers", "50", "--rate-500", "0.5", "--seed", "9")
    src = write_input(tmp_path / "in.csv", rows=50)
    out = tmp_path / "in.results.csv"
    first = subprocess.run(
        batchtool(src, out, "--quiet", "--max-attempts", "1"), env=env_for(base_url), timeout=120
    )
    assert first.returncode == 1
    with src.open("a", encoding="utf-8") as fh:
        fh.write("set,51,late,\n")
    sent = len(sim_log(base_url))
    again = subprocess.run(
        batchtool(src, out, "--resume"),
        env=env_for(base_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2
    assert "changed" in again.stderr and "--restart" in again.stderr
    assert len(sim_log(base_url)) == sent, "nothing may be sent"
    # Without --resume, the earlier journal is not silently overwritten either.
    plain = subprocess.run(
        batchtool(src, out), env=env_for(base_url), capture_output=True, text=True, timeout=60
    )
    assert plain.returncode == 2
    assert "--resume" in plain.stderr and "--restart" in plain.stderr


def test_second_run_on_the_same_results_is_refused(simulator_process: Any, tmp_path: Path) -> None:
    base_url = simulator_process("--customers", str(ROWS), "--latency-ms", "20", "--seed", "4")
    src = write_input(tmp_path / "in.csv")
    out = tmp_path / "in.results.csv"
    # One request at a time (about 8 s in all): still running however slowly the second starts.
    first = subprocess.Popen(
        batchtool(src, out, "--quiet", "--concurrency", "1"), env=env_for(base_url)
    )
    try:
        wait_for_log(base_url, 10)
        second = subprocess.run(
            batchtool(src, out), env=env_for(base_url), capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert "another batchtool run" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)


def test_torn_journal_line_is_tolerated(simulator_process: Any, tmp_path: Path) -> None:
    base_url = simulator_process("--customers", str(ROWS), "--latency-ms", "4", "--seed", "6")
    src = write_input(tmp_path / "in.csv")
    out = tmp_path / "in.results.csv"
    proc = subprocess.Popen(batchtool(src, out, "--quiet"), env=env_for(base_url))
    try:
        wait_for_log(base_url, 100)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    journal = Path(f"{out}.journal")
    with journal.open("ab") as fh:
        fh.write(b'{"row":3,"status":"o')  # a crash in the middle of a write
    done = subprocess.run(
        batchtool(src, out, "--quiet", "--resume"), env=env_for(base_url), timeout=120
    )
    assert done.returncode == 0
    assert_complete(out)


def test_second_interrupt_quits_at_once_and_resume_still_finishes(
    simulator_process: Any, tmp_path: Path
) -> None:
    # Answers take a second: the first Ctrl-C would wait for the requests in flight.
    base_url = simulator_process("--customers", "100", "--latency-ms", "1000", "--seed", "8")
    src = write_input(tmp_path / "in.csv", rows=100)
    out = tmp_path / "in.results.csv"
    proc = subprocess.Popen(
        batchtool(src, out), env=env_for(base_url), stderr=subprocess.PIPE, text=True
    )
    wait_for_log(base_url, 8)
    time.sleep(1.2)  # let the first answers come back and be journaled
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - started < 0.9, "the second interrupt must not wait for answers"
    assert proc.returncode == 130
    assert "quitting now" in stderr and "--resume" in stderr
    journal = Path(f"{out}.journal")
    recorded_ok = journal_ok_rows(journal)
    assert recorded_ok, "answers that came back before the interrupts are journaled"
    sent_before = len(sim_log(base_url))

    done = subprocess.run(
        batchtool(src, out, "--quiet", "--resume", "--concurrency", "64"),
        env=env_for(base_url),
        timeout=120,
    )
    assert done.returncode == 0
    assert_complete(out, rows=100)
    resent = {int(e["form"]["customer_id"]) for e in sim_log(base_url)[sent_before:]}
    assert not resent & recorded_ok
