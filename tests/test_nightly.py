"""Four nights of a sync job against the simulator, as cron would run them: each ``batchtool
run --changed-only`` is its own process, night 3 is killed with SIGKILL half-way and resumed,
and the simulator's request log (``/_sim/log``) tells what was really sent."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import requests

from batchtool.simulator import DEFAULT_API_KEY, DEFAULT_API_USERNAME
from batchtool.sync_state import StateFile

CUSTOMERS = 400
UNLOCKED = range(1, 6)  # customers also unlocked by every night's file
CONCURRENCY = 8


def batchtool(src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "batchtool", "run", str(src), "--results", str(out),
            "--concurrency", str(CONCURRENCY), *extra]  # fmt: skip


def env_for(base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "BATCHTOOL_BASE_URL": base_url,
        "BATCHTOOL_API_USERNAME": DEFAULT_API_USERNAME,
        "BATCHTOOL_API_KEY": DEFAULT_API_KEY,
    }


def sim_log(base_url: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{base_url}/_sim/log", timeout=10)
    answer.raise_for_status()
    entries: list[dict[str, Any]] = answer.json()
    return entries


def wait_for_log(base_url: str, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(sim_log(base_url)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} requests reached the simulator"
        time.sleep(0.02)


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def export(path: Path, names: dict[int, str]) -> Path:
    """The night's export: one set row per customer, then the unlock rows."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["operation", "customer_id", "firstname", "email"])
        for cid, name in sorted(names.items()):
            writer.writerow(["set", str(cid), name, f"c{cid}@example.com"])
        for cid in UNLOCKED:
            writer.writerow(["unlock", str(cid), "", ""])
    return path


def sent_since(base_url: str, start: int) -> list[dict[str, Any]]:
    return sim_log(base_url)[start:]


def night(src: Path, out: Path, base_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        batchtool(src, out, "--quiet", "--changed-only", *extra),
        env=env_for(base_url),
        capture_output=True,
        text=True,
        timeout=120,
    )


def statuses(out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in read_results(out):
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def test_four_nights_send_only_what_changed(simulator_process: Any, tmp_path: Path) -> None:
    base_url = simulator_process("--customers", str(CUSTOMERS), "--latency-ms", "15")
    out = tmp_path / "sync.results.csv"
    state = Path(f"{out}.state.parquet")
    names = {cid: f"Name{cid}" for cid in range(1, 301)}

    # Night 1: no state yet, everything is sent.
    src = export(tmp_path / "night1.csv", names)
    done = night(src, out, base_url)
    assert done.returncode == 0, done.stderr
    assert len(sim_log(base_url)) == 300 + len(UNLOCKED)
    assert state.exists()

    # Night 2: 20 customers changed, 10 new ones: exactly those are sent.
    start = len(sim_log(base_url))
    changed = set(range(10, 30))
    names.update({cid: f"Renamed{cid}" for cid in changed})
    names.update({cid: f"New{cid}" for cid in range(301, 311)})
    src = export(tmp_path / "night2.csv", names)
    done = night(src, out, base_url)
    assert done.returncode == 0, done.stderr
    sent = {int(e["form"]["customer_id"]) for e in sent_since(base_url, start)}
    assert sent == changed | set(range(301, 311))
    assert len(sent_since(base_url, start)) == 30
    assert statuses(out) == {"ok": 30, "unchanged": 310 - 30 + len(UNLOCKED)}
    after_night2 = tmp_path / "state-after-night2.parquet"
    shutil.copy(state, after_night2)

    # Night 3: 200 customers changed; killed half-way, then resumed.
    start = len(sim_log(base_url))
    changed = set(range(50, 250))
    names.update({cid: f"Moved{cid}" for cid in changed})
    src = export(tmp_path / "night3.csv", names)
    proc = subprocess.Popen(batchtool(src, out, "--quiet", "--changed-only"), env=env_for(base_url))
    try:
        wait_for_log(base_url, start + 60)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert len(sent_since(base_url, start)) < len(changed), "the kill came too late"
    done = night(src, out, base_url, "--resume")
    assert done.returncode == 0, done.stderr
    night3 = sent_since(base_url, start)
    assert {int(e["form"]["customer_id"]) for e in night3} == changed
    # At most the requests in flight when the process died were sent twice.
    assert len(night3) <= len(changed) + CONCURRENCY
    assert statuses(out) == {"ok": 200, "unchanged": 310 - 200 + len(UNLOCKED)}

    # The state is what an uninterrupted night 3 would have left.
    uninterrupted_state = tmp_path / "uninterrupted.parquet"
    shutil.copy(after_night2, uninterrupted_state)
    done = night(src, tmp_path / "other.results.csv", base_url, "--state", str(uninterrupted_state))
    assert done.returncode == 0, done.stderr
    layout = ("customer_id",)
    resumed = StateFile(state, layout).read()
    uninterrupted = StateFile(uninterrupted_state, layout).read()
    assert resumed.equals(uninterrupted)

    # A dry run shows what would be unchanged, and changes nothing.
    start = len(sim_log(base_url))
    dry = tmp_path / "dry.results.csv"
    done = night(src, dry, base_url, "--dry-run", "--state", str(state))
    assert done.returncode == 0, done.stderr
    assert statuses(dry) == {"unchanged": 310 + len(UNLOCKED)}

    # Night 4, the same file again: nothing is sent.
    done = night(src, out, base_url)
    assert done.returncode == 0, done.stderr
    assert len(sim_log(base_url)) == start
    assert statuses(out) == {"unchanged": 310 + len(UNLOCKED)}

    # --full sends every row, and rebuilds the state from them.
    done = night(src, out, base_url, "--full")
    assert done.returncode == 0, done.stderr
    assert len(sent_since(base_url, start)) == 310 + len(UNLOCKED)
    assert statuses(out) == {"ok": 310 + len(UNLOCKED)}
    rebuilt = StateFile(state, layout).read()
    assert rebuilt.height == 310
    assert rebuilt.filter(pl.col("locked").is_not_null())["lookup_value"].sort().to_list() == [
        str(cid) for cid in UNLOCKED
    ]
