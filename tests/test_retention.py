"""Retention: ``batchtool purge`` and ``serve --retention-days`` delete the customer data of
runs that ended long enough ago, keep who did what and the counts, never touch a run that
may still move, and never purge behind a running server's back."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from conftest import WebServer
from web_support import (
    KEY_ENV,
    ServeProcess,
    csv_bytes,
    post_form,
    run_folder,
    run_json,
    sending_slowly,
    sign_in,
    upload,
    wait_for_status,
    wait_until,
)

from batchtool import audit
from batchtool.cli import main
from batchtool.simulator import FaultConfig
from batchtool.web import make_app, retention
from batchtool.web.datadir import holding

MIXED = csv_bytes(
    "operation,customer_id,email,Notes",
    "set,1,kept-out@example.com,call back",
    "set,2,not-an-email,",
    "lock,99999,,",
)


def meta_of(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "meta.json").read_text())
    return data


def age(folder: Path, days: float) -> None:
    """Move every time in the run's meta.json ``days`` into the past."""
    meta = meta_of(folder)

    def back(iso: str | None) -> str | None:
        return (datetime.fromisoformat(iso) - timedelta(days=days)).isoformat() if iso else iso

    for key in ("created", "finished_at"):
        meta[key] = back(meta.get(key))
    for send in meta["sends"]:
        for key in ("at", "ended_at", "stopped_at"):
            send[key] = back(send.get(key))
    if meta.get("approval"):
        for key in ("requested_at", "decided_at"):
            meta["approval"][key] = back(meta["approval"].get(key))
    (folder / "meta.json").write_text(json.dumps(meta))


async def finished(web: WebServer, name: str = "old.csv") -> str:
    _, path, _ = await upload(web.client, MIXED, name)
    await post_form(web.client, path + "/columns", {"column-0": ""}, token_from=path)
    await post_form(web.client, path + "/send", token_from=path)
    await wait_for_status(web.client, path)
    for download in ("/results.xlsx", "/failed.xlsx"):  # their copies are kept in the folder
        assert (await web.client.get(path + download)).status == 200
    return path


def purge(data_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["purge", "--data-dir", str(data_dir), *args])


async def test_purge_deletes_old_runs_customer_data_and_keeps_who_when_and_counts(
    web: WebServer,
) -> None:
    old, recent = await finished(web, "old.csv"), await finished(web, "recent.csv")
    _, never_sent, _ = await upload(web.client, MIXED, "never-sent.csv")
    stopped = await sending_slowly(web, "stopped.csv", rows=300, latency_ms=50)
    await post_form(web.client, stopped + "/stop", token_from=stopped)
    await wait_for_status(web.client, stopped)
    web.simulator.faults = FaultConfig()
    folders = {p: run_folder(web.data_dir, p) for p in (old, recent, never_sent, stopped)}
    for path in (old, never_sent, stopped):
        age(folders[path], 31)
    before = {p: sorted(f.name for f in folder.iterdir()) for p, folder in folders.items()}
    assert {"input.csv", "plan.csv", "results.csv", "results.xlsx", "failed.xlsx"} <= set(
        before[old]
    )

    result = purge(web.data_dir, "--older-than", "30d", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith(
        "would delete the customer data of 2 runs that ended before "
    )
    assert {p: sorted(f.name for f in folder.iterdir()) for p, folder in folders.items()} == before

    result = purge(web.data_dir, "--older-than", "30d")
    assert result.exit_code == 0, result.output
    purged_ids = [line.split("\t")[0] for line in result.output.splitlines()[:-1]]
    assert sorted(purged_ids) == sorted(p.rsplit("/", 1)[1] for p in (old, never_sent))
    for path in (old, never_sent):
        assert [f.name for f in folders[path].iterdir()] == ["meta.json"]
    assert sorted(f.name for f in folders[recent].iterdir()) == before[recent]
    assert sorted(f.name for f in folders[stopped].iterdir()) == before[stopped]  # resumable

    meta = meta_of(folders[old])
    assert meta["samples"] == [] and meta["unknown_columns"] == [] and meta["errors"] == []
    assert meta["options"] == {"operation": None}
    assert meta["counts"] == {"ok": 1, "failed": 1, "invalid": 1}
    assert meta["plan"]["total"] == 3 and meta["error_groups"] == 2
    assert (meta["checked_by"], meta["sends"][0]["by"], meta["file_name"]) == (
        "alice",
        "alice",
        "old.csv",
    )
    assert meta["purged_by"] == audit.local_user() and meta["purged_at"]
    text = json.dumps(meta)
    for value in ("kept-out@example.com", "not-an-email", "Notes", "99999"):
        assert value not in text

    lines = [
        e for e in audit.AuditLog(web.data_dir / "audit.jsonl").entries() if e["action"] == "purge"
    ]
    assert sorted(e["run"] for e in lines) == sorted(purged_ids)
    assert {(e["via"], e["detail"]["older_than"]) for e in lines} == {("cli", "30d")}
    assert purge(web.data_dir, "--older-than", "30d").output.startswith(
        "deleted the customer data of 0 runs"
    )


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        pytest.param("30x", "'30x'", id="unit"),
        pytest.param("d30", "'d30'", id="order"),
        pytest.param("-1d", "'-1d'", id="negative"),
    ],
)
def test_purge_says_what_an_age_looks_like(tmp_path: Path, given: str, shown: str) -> None:
    result = purge(tmp_path, "--older-than", given)
    assert result.exit_code == 2
    assert (
        f"Invalid value for '--older-than': {shown} is not an age — give days or hours, "
        "e.g. 30d or 12h" in result.output
    )


def test_purge_refuses_while_a_server_holds_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServeProcess(data_dir, tmp_path / "none.toml", {KEY_ENV: "unused"})
    server.start()
    try:
        assert server.proc is not None
        result = purge(data_dir, "--older-than", "1h")
        assert result.exit_code == 2
        assert result.output == (
            f"batchtool: error: batchtool serve (pid {server.proc.pid}) is using the data dir "
            f"{data_dir} and purges it itself daily (--retention-days) — stop it first to "
            "purge now\n"
        )
        second = ServeProcess(data_dir, tmp_path / "none.toml", {})
        with pytest.raises(RuntimeError, match="is using the data dir"):
            second.start()
    finally:
        assert server.stop() == 0
    assert purge(data_dir, "--older-than", "1h").exit_code == 0


def test_a_server_does_not_start_during_a_purge(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    with holding(data_dir):
        result = CliRunner().invoke(main, ["serve", "--port", "0", "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert result.output == (
        f"batchtool: error: another batchtool process (pid {os.getpid()}) is using the data dir "
        f"{data_dir} — stop it first, or choose another --data-dir\n"
    )


async def test_the_server_purges_at_start_and_says_so_on_the_run(web: WebServer) -> None:
    path = await finished(web)
    _, kept, _ = await upload(web.client, MIXED, "fresh.csv")
    age(run_folder(web.data_dir, path), 91)
    config = web.config
    async with TestClient(TestServer(make_app(config))) as client:
        assert await sign_in(client) == 200
        await wait_until(lambda: bool(meta_of(run_folder(web.data_dir, path))["purged_at"]))
        data = await run_json(client, path)
        day = data["run"]["purged_at"][:10]
        gone = f"Customer data deleted on {day} (retention)."
        assert data["purged"] == gone and data["run"]["purged_by"] == "retention"
        assert data["story"][-1]["what"] == "Customer data deleted (retention)"
        assert data["downloads"] == dict.fromkeys(
            ("plan_csv", "results_csv", "results_xlsx", "failed_xlsx")
        )
        page = await (await client.get(path)).text()
        assert f'<p class="note purged" role="status">{gone}</p>' in page
        assert "Download" not in page and "failed rows again" not in page
        for download in ("/plan.csv", "/results.csv", "/results.xlsx", "/failed.xlsx"):
            response = await client.get(path + download)
            assert response.status == 410
            assert gone in await response.text()
        status, page = await post_form(client, path + "/retry-failed", token_from=path)
        assert status == 409 and gone in page
        assert (await run_json(client, kept))["run"]["purged_at"] is None
    lines = [e for e in audit.AuditLog(config.audit_path).entries() if e["action"] == "purge"]
    assert [(e["run"], e["user"], e["via"], e["detail"]) for e in lines] == [
        (path.rsplit("/", 1)[1], None, "server", {"older_than": "90d"})
    ]


async def test_retention_days_0_keeps_everything(web: WebServer) -> None:
    path = await finished(web)
    age(run_folder(web.data_dir, path), 10_000)
    config = type(web.config)(**{**vars(web.config), "retention_days": 0})
    async with TestClient(TestServer(make_app(config))) as client:
        assert await sign_in(client) == 200
        assert (await client.get(path + "/results.csv")).status == 200
    assert meta_of(run_folder(web.data_dir, path))["purged_at"] is None


async def test_the_timer_purges_daily_and_survives_a_failed_purge(
    caplog: pytest.LogCaptureFixture,
) -> None:
    purges: list[int] = []
    slept: list[float] = []

    async def purge_once() -> None:
        purges.append(len(purges))
        if len(purges) == 2:
            raise OSError("disk gone")

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await retention.every_day(purge_once, sleep)
    assert purges == [0, 1, 2] and slept == [24 * 3600] * 3
    assert "retention: the purge failed; it is tried again tomorrow" in caplog.text
