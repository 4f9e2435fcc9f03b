"""``batchtool simulate`` and ``batchtool run --simulate``: what a newcomer runs first."""

from __future__ import annotations

import csv
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import requests
from click.testing import CliRunner

from batchtool.cli import main
from batchtool.simulator import DEFAULT_API_KEY, DEFAULT_API_USERNAME

SAMPLES = Path(__file__).parent.parent / "sample_data"


def start_simulate(*args: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchtool", "simulate", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    assert ready, "simulate printed nothing in 20 s"
    # The four lines are printed together once listening; the text layer buffers them, so
    # only the first wait goes through select.
    lines = [proc.stdout.readline().strip() for _ in range(4)]
    url = lines[0].split()[3]
    return proc, url, lines


def test_simulate_prints_url_and_credentials_and_serves_until_interrupted(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    proc, url, lines = start_simulate("--customers", "10", "--state", str(state))
    try:
        assert url.startswith("http://127.0.0.1:")
        assert f"export BATCHTOOL_BASE_URL={url}" in lines
        assert f"export BATCHTOOL_API_USERNAME={DEFAULT_API_USERNAME}" in lines
        assert f"export BATCHTOOL_API_KEY={DEFAULT_API_KEY}" in lines
        answer = requests.patch(
            f"{url}/api/customer/set_customer_details",
            data={"customer_id": "7", "firstname": "Zoe"},
            headers={"api-key": DEFAULT_API_KEY, "api-username": DEFAULT_API_USERNAME},
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json() is True
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    saved = json.loads(state.read_text())
    assert "Zoe" in json.dumps(saved)


def test_simulate_rejects_a_rate_above_one() -> None:
    result = CliRunner().invoke(main, ["simulate", "--rate-503", "1.5"])
    assert result.exit_code == 2
    assert "--rate-503" in result.output


def test_simulate_port_in_use_is_one_line(tmp_path: Path) -> None:
    proc, url, _ = start_simulate("--customers", "1")
    try:
        port = url.rsplit(":", 1)[1]
        again = subprocess.run(
            [sys.executable, "-m", "batchtool", "simulate", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert again.returncode == 2
        assert "choose another --port" in again.stderr
        assert "Traceback" not in again.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_run_simulate_sends_the_sample_spreadsheet(tmp_path: Path) -> None:
    out = tmp_path / "demo.results.csv"
    result = CliRunner().invoke(
        main, ["run", str(SAMPLES / "ops_changes.xlsx"), "--simulate", "--results", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {r["status"] for r in rows} == {"ok"}
    assert {r["operation"] for r in rows} == {"set_customer_details", "lock", "unlock", "forget"}
