"""Live runs end to end against the simulator on 127.0.0.1: every row accounted for, per-customer
order, stop on refused credentials, and answers that are not ``true`` counted as failures."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from batchtool import Credentials, DispatchConfig, run_batch_async
from batchtool.simulator import FaultConfig, Simulator


def fast_retries(**options: Any) -> DispatchConfig:
    """Retries as the tool does them, on a millisecond scale so the suite stays fast."""
    return DispatchConfig(
        backoff_base_s=0.005, backoff_max_s=0.02, retry_after_max_s=0.05, **options
    )


def creds(sim: Simulator, *, key: str | None = None) -> Credentials:
    return Credentials(sim.base_url, sim.api_username, key or sim.api_key)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


async def test_every_row_ends_final_exactly_once_under_faults(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.faults = FaultConfig(
        rate_429=0.05,
        retry_after_s=0.01,
        rate_500=0.04,
        rate_502=0.04,
        rate_503=0.04,
        drop_before=0.03,
        drop_after=0.03,
        seed=7,
    )
    rows = [["set", str(1 + i % 100), f"name{i}"] for i in range(300)]
    src = write_csv(tmp_path / "in.csv", ["operation", "customer_id", "firstname"], rows)
    out = tmp_path / "in.results.csv"
    report = await run_batch_async(
        src,
        credentials=creds(simulator),
        results_path=out,
        dispatch_config=fast_retries(concurrency=32, max_attempts=8),
    )
    results = read_results(out)
    assert [r["row"] for r in results] == [str(i) for i in range(1, 301)]
    assert {r["status"] for r in results} <= {"ok", "failed"}
    assert report.summary.counts.get("ok", 0) >= 290, report.summary
    retried = [r for r in results if int(r["attempts"]) > 1]
    assert retried, "faults were injected, some rows must have needed retries"
    # Per-customer order: each customer's final name is its last ok row's value.
    last_ok: dict[str, str] = {}
    for r in results:
        if r["status"] == "ok":
            last_ok[r["customer_id"]] = r["firstname"]
    final_row = {r["customer_id"]: r for r in results}
    for cid, row in final_row.items():
        if row["status"] == "ok":
            assert simulator.store.get(cid).fields["firstname"] == last_ok[cid]  # type: ignore[union-attr]


async def test_per_customer_order_holds_at_high_concurrency(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.faults = FaultConfig(latency_ms=1, jitter_ms=3, seed=3)
    customers, per_customer = 20, 15
    rows = [["set", str(c), f"v{n}"] for n in range(per_customer) for c in range(1, customers + 1)]
    src = write_csv(tmp_path / "order.csv", ["operation", "customer_id", "firstname"], rows)
    report = await run_batch_async(
        src,
        credentials=creds(simulator),
        results_path=tmp_path / "order.results.csv",
        dispatch_config=DispatchConfig(concurrency=64),
    )
    assert report.exit_code == 0, report.summary
    seen: dict[str, list[str]] = defaultdict(list)
    for entry in simulator.log:
        seen[entry.form["customer_id"]].append(entry.form["firstname"])
    assert len(seen) == customers
    for cid, values in seen.items():
        assert values == [f"v{n}" for n in range(per_customer)], cid


async def test_locked_customer_refuses_details_until_unlocked(
    simulator: Simulator, tmp_path: Path
) -> None:
    rows = [
        ["lock", "5", ""],
        ["set", "5", "Early"],
        ["unlock", "5", ""],
        ["set", "5", "Late"],
    ]
    src = write_csv(tmp_path / "lock.csv", ["operation", "customer_id", "firstname"], rows)
    out = tmp_path / "lock.results.csv"
    report = await run_batch_async(src, credentials=creds(simulator), results_path=out)
    results = read_results(out)
    assert [r["status"] for r in results] == ["ok", "failed", "ok", "ok"]
    assert results[1]["http_status"] == "409"
    assert "lock" in results[1]["error"].lower()
    assert report.exit_code == 1
    assert simulator.store.get("5").fields["firstname"] == "Late"  # type: ignore[union-attr]


async def test_refused_credentials_stop_the_run_after_a_handful(
    simulator: Simulator, tmp_path: Path
) -> None:
    rows = [["unlock", str(i)] for i in range(1, 501)]
    src = write_csv(tmp_path / "auth.csv", ["operation", "customer_id"], rows)
    out = tmp_path / "auth.results.csv"
    report = await run_batch_async(
        src,
        credentials=creds(simulator, key="wrong-key"),
        results_path=out,
        dispatch_config=DispatchConfig(concurrency=8),
    )
    assert report.exit_code == 3
    assert report.aborted and "401" in report.aborted
    assert len(simulator.log) <= 16
    results = read_results(out)
    assert len(results) == 500
    failed = [r for r in results if r["status"] == "failed"]
    skipped = [r for r in results if r["status"] == "skipped"]
    assert 1 <= len(failed) <= 16
    assert all(r["http_status"] == "401" for r in failed)
    assert len(failed) + len(skipped) == 500
    assert all("authentication refused" in r["error"] for r in skipped)


@pytest_asyncio.fixture
async def odd_server() -> AsyncIterator[str]:
    """An installation behind a misbehaving proxy: 200 with false, 200 with an HTML page."""

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        cid = form.get("customer_id")
        if cid == "1":
            return web.json_response(False)
        if cid == "2":
            return web.Response(
                text="<html><head><title>Maintenance</title></head><body>"
                + "x" * 3000
                + "</body></html>",
                content_type="text/html",
            )
        if cid == "3":
            return web.json_response(
                {"status": "error", "message": "customer not found"}, status=404
            )
        return web.json_response(True)

    app = web.Application()
    app.router.add_route("PATCH", "/api/customer/{op}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_false_html_and_error_answers_are_failures(odd_server: str, tmp_path: Path) -> None:
    rows = [["unlock", str(i)] for i in range(1, 5)]
    src = write_csv(tmp_path / "odd.csv", ["operation", "customer_id"], rows)
    out = tmp_path / "odd.results.csv"
    report = await run_batch_async(
        src, credentials=Credentials(odd_server, "u", "k"), results_path=out
    )
    results = read_results(out)
    assert [r["status"] for r in results] == ["failed", "failed", "failed", "ok"]
    assert "false" in results[0]["error"]
    assert "Maintenance" in results[1]["error"]
    assert len(results[1]["error"]) < 300
    assert results[2]["error"].endswith("customer not found")
    assert results[2]["http_status"] == "404"
    assert report.exit_code == 1


async def test_base_url_with_trailing_api_works(simulator: Simulator, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "api.csv", ["operation", "customer_id"], [["lock", "9"]])
    report = await run_batch_async(
        src,
        credentials=Credentials(
            simulator.base_url + "/api/", simulator.api_username, simulator.api_key
        ),
        results_path=tmp_path / "api.results.csv",
    )
    assert report.exit_code == 0
    assert simulator.store.get("9").locked  # type: ignore[union-attr]


async def test_invalid_rows_are_never_sent_and_strict_sends_nothing(
    simulator: Simulator, tmp_path: Path
) -> None:
    rows = [["unlock", "1", ""], ["lock", "2", "Bob"], ["unlock", "", ""]]
    src = write_csv(tmp_path / "mixed.csv", ["operation", "customer_id", "firstname"], rows)
    out = tmp_path / "mixed.results.csv"
    report = await run_batch_async(src, credentials=creds(simulator), results_path=out, strict=True)
    assert report.exit_code == 1
    assert simulator.log == []
    assert [r["status"] for r in read_results(out)] == ["skipped", "invalid", "invalid"]

    report = await run_batch_async(
        src, credentials=creds(simulator), results_path=out, restart=True
    )
    assert [r["status"] for r in read_results(out)] == ["ok", "invalid", "invalid"]
    assert [e.form for e in simulator.log] == [{"customer_id": "1"}]


async def test_unreachable_server_aborts_instead_of_grinding_through_every_row(
    tmp_path: Path,
) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rows = [["unlock", str(i)] for i in range(1, 201)]
    src = write_csv(tmp_path / "down.csv", ["operation", "customer_id"], rows)
    out = tmp_path / "down.results.csv"
    report = await run_batch_async(
        src,
        credentials=Credentials(f"http://127.0.0.1:{port}", "u", "k"),
        results_path=out,
        dispatch_config=fast_retries(concurrency=4, max_attempts=2),
    )
    assert report.exit_code == 3
    assert report.aborted and "no answer from the server" in report.aborted
    results = read_results(out)
    assert len(results) == 200
    # The third unanswered row stops it; rows already in their last attempt (up to
    # concurrency - 1 of them) still report.
    assert 3 <= sum(r["status"] == "failed" for r in results) <= 3 + 4 - 1
    assert all(
        "no answer from the server" in r["error"] for r in results if r["status"] == "skipped"
    )


async def test_journal_write_failure_stops_sending_and_keeps_what_was_recorded(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchtool import journal
    from batchtool.errors import RunAborted

    real_write = journal._write_all
    writes = {"n": 0}

    def fill_up(fd: int, data: bytes) -> None:
        writes["n"] += 1
        if writes["n"] > 21:  # the header, then 20 rows
            raise OSError(28, "No space left on device")
        real_write(fd, data)

    monkeypatch.setattr(journal, "_write_all", fill_up)
    rows = [["unlock", str(i)] for i in range(1, 201)]
    src = write_csv(tmp_path / "full.csv", ["operation", "customer_id"], rows)
    out = tmp_path / "full.results.csv"
    with pytest.raises(RunAborted, match="--resume"):
        await run_batch_async(
            src,
            credentials=creds(simulator),
            results_path=out,
            dispatch_config=DispatchConfig(concurrency=4),
        )
    assert len(simulator.log) < 40, "sending stops at the first row that cannot be recorded"
    monkeypatch.setattr(journal, "_write_all", real_write)
    report = await run_batch_async(src, credentials=creds(simulator), results_path=out, resume=True)
    assert report.exit_code == 0
    assert report.resumed_ok == 20
