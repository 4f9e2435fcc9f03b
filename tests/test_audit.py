"""The audit log: one chained line per action, from the page and from the CLI; what it never
holds; ``batchtool audit`` printing and verifying it; the admins' audit page."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import WebServer
from web_support import (
    PASSWORD,
    add_user,
    csv_bytes,
    post_form,
    sending_slowly,
    sign_in,
    sign_in_as,
    upload,
    wait_for_status,
)

from batchtool import audit
from batchtool.audit import GENESIS, AuditLog, entry_hash
from batchtool.cli import main
from batchtool.errors import UsageError
from batchtool.simulator import FaultConfig
from batchtool.web.auditwriter import AuditWriter

pytestmark = pytest.mark.usefixtures("cheap_hashes")


def written(path: Path, count: int, start: datetime | None = None) -> AuditLog:
    """An audit log at ``path`` with ``count`` lines, a minute apart from ``start``."""
    moments = iter(
        (start or datetime(2026, 11, 28, 12, tzinfo=UTC)) + timedelta(minutes=i)
        for i in range(count)
    )
    log = AuditLog(path, clock=lambda: next(moments))
    for i in range(1, count + 1):
        log.append(
            audit.CHECK,
            user="alice" if i % 2 else "bob",
            via=audit.PAGE,
            run=f"20261128-12000{i % 3}-abcdef",
            file=f"file-{i}.csv",
            installation="staging",
            rows={"read": i},
        )
    return log


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def edited(lines: list[str]) -> list[str]:
    entry = json.loads(lines[2])
    entry["user"] = "mallory"  # its hash left as it was
    return [*lines[:2], json.dumps(entry), *lines[3:]]


def edited_and_hashed_again(lines: list[str]) -> list[str]:
    entry = json.loads(lines[2])
    entry["user"] = "mallory"
    entry["hash"] = entry_hash(entry)
    return [*lines[:2], json.dumps(entry), *lines[3:]]


def first_replaced(lines: list[str]) -> list[str]:
    entry = json.loads(lines[0])
    entry["prev"] = "f" * 64
    entry["hash"] = entry_hash(entry)
    return [json.dumps(entry), *lines[1:]]


def inserted(lines: list[str]) -> list[str]:
    forged = json.loads(lines[2])
    forged["user"] = "mallory"
    forged["hash"] = entry_hash(forged)  # a perfect copy of entry #3's place in the chain
    return [*lines[:3], json.dumps(forged), *lines[3:]]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        pytest.param(
            edited,
            "line 3 (entry #3) was edited: it no longer matches its own hash",
            id="edited",
        ),
        pytest.param(
            edited_and_hashed_again,
            "line 4 (entry #4) does not follow line 3: line 3 was changed and hashed again, "
            "or put in another's place",
            id="edited-and-hashed-again",
        ),
        pytest.param(
            lambda lines: [*lines[:2], *lines[3:]],
            "entry #3 was removed before line 3",
            id="one-removed",
        ),
        pytest.param(
            lambda lines: [*lines[:1], *lines[4:]],
            "entries #2 to #4 were removed before line 2",
            id="three-removed",
        ),
        pytest.param(
            lambda lines: [lines[0], lines[2], lines[1], *lines[3:]],
            "line 2 is out of order: entry #2 comes later, at line 3",
            id="reordered",
        ),
        pytest.param(
            lambda lines: [*lines[:3], lines[2], *lines[3:]],
            "line 4 repeats entry #3 of line 3: a line was inserted or copied",
            id="copied",
        ),
        pytest.param(
            inserted,
            "line 4 repeats entry #3 of line 3: a line was inserted or copied",
            id="inserted",
        ),
        pytest.param(
            lambda lines: [*lines[:1], '{"note": "hello"}', *lines[1:]],
            "line 2 is not an audit entry: edited or cut off",
            id="not-an-entry",
        ),
        pytest.param(
            first_replaced,
            "line 1 does not start the chain: the log's first lines were replaced",
            id="beginning-replaced",
        ),
    ],
)
def test_verify_names_the_first_line_that_does_not_fit(
    tmp_path: Path, tamper: Callable[[list[str]], list[str]], message: str
) -> None:
    log = written(tmp_path / "audit.jsonl", 6)
    assert log.verify() == audit.Verdict(6, json.loads(lines_of(log.path)[-1])["hash"])
    rewrite(log.path, tamper(lines_of(log.path)))
    assert log.verify().broken == message


def test_every_line_chains_to_the_one_before_from_a_fixed_start(tmp_path: Path) -> None:
    log = written(tmp_path / "audit.jsonl", 3)
    entries = [json.loads(line) for line in lines_of(log.path)]
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert [e["prev"] for e in entries] == [GENESIS, entries[0]["hash"], entries[1]["hash"]]
    assert all(e["hash"] == entry_hash(e) for e in entries)
    assert entries[0] == {
        "seq": 1,
        "at": "2026-11-28T12:00:00.000+00:00",
        "user": "alice",
        "via": "page",
        "action": "check",
        "run": "20261128-120001-abcdef",
        "file": "file-1.csv",
        "installation": "staging",
        "rows": {"read": 1},
        "prev": GENESIS,
        "hash": entries[0]["hash"],
    }
    assert (log.path.stat().st_mode & 0o777) == 0o600


def test_a_line_cut_off_by_a_crash_is_dropped_by_the_next_append(tmp_path: Path) -> None:
    log = written(tmp_path / "audit.jsonl", 2)
    with log.path.open("ab") as handle:
        handle.write(b'{"seq": 3, "at": "2026-11-')  # the crash came mid-write
    assert log.verify().broken == "line 3 is not an audit entry: edited or cut off"
    AuditLog(log.path).append(audit.SIGN_IN, user="carol", via=audit.PAGE)
    assert log.verify() == audit.Verdict(3, json.loads(lines_of(log.path)[-1])["hash"])


def _append_many(path: Path, who: str, count: int) -> None:
    log = AuditLog(path)
    for _ in range(count):
        log.append(audit.SIGN_IN, user=who, via=audit.CLI)


def test_the_server_and_cli_commands_may_append_at_once(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    script = (
        "import sys; from pathlib import Path; from batchtool.audit import AuditLog\n"
        "log = AuditLog(Path(sys.argv[1]))\n"
        "for _ in range(40): log.append('sign-in', user=sys.argv[2], via='cli')\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(path), f"p{i}"]) for i in range(3)
    ]
    threads = [threading.Thread(target=_append_many, args=(path, f"t{i}", 40)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [p.wait() for p in processes] == [0, 0, 0]
    verdict = AuditLog(path).verify()
    assert verdict.broken is None and verdict.lines == 200
    assert [e["seq"] for e in AuditLog(path).entries()] == list(range(1, 201))


def _counting_audit_syncs(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[int]:
    syncs: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") == str(path):
            syncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return syncs


async def test_lines_of_requests_at_once_share_one_sync_and_keep_the_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A flood of failed sign-ins is a line each: one sync per line queued everybody's
    # lines (the real user's sign-in included) behind the disk.
    path = tmp_path / "audit.jsonl"
    syncs = _counting_audit_syncs(monkeypatch, path)
    writer = AuditWriter(AuditLog(path))
    names = [f"guess{i}" for i in range(300)]
    written = await asyncio.gather(
        *(writer.write(audit.Action(audit.SIGN_IN_FAILED, name, audit.PAGE)) for name in names)
    )
    assert [entry["user"] for entry in written] == names
    assert [entry["seq"] for entry in written] == list(range(1, 301))
    assert len(syncs) == 1
    verdict = AuditLog(path).verify()
    assert (verdict.broken, verdict.lines) == (None, 300)


async def test_a_request_that_goes_away_still_gets_its_line_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writer = AuditWriter(AuditLog(path))
    waiting = asyncio.ensure_future(writer.write(audit.Action(audit.SEND, "alice", audit.PAGE)))
    await asyncio.sleep(0)
    waiting.cancel()
    await writer.close()
    assert [(e["user"], e["action"]) for e in AuditLog(path).entries()] == [("alice", "send")]


async def test_every_request_waiting_learns_the_audit_log_cannot_be_written(
    tmp_path: Path,
) -> None:
    writer = AuditWriter(AuditLog(tmp_path / "missing folder" / "audit.jsonl"))
    outcomes = await asyncio.gather(
        *(writer.write(audit.Action(audit.SEND, f"u{i}", audit.PAGE)) for i in range(3)),
        return_exceptions=True,
    )
    assert [type(o) for o in outcomes] == [UsageError] * 3
    assert str(outcomes[0]).startswith("cannot write the audit log ")


# --- batchtool audit ---------------------------------------------------------------------------


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["audit", *args])


def test_audit_prints_the_log_filtered_as_json_lines(tmp_path: Path) -> None:
    log = written(tmp_path / "audit.jsonl", 6)
    result = cli("--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == lines_of(log.path)
    result = cli("--data-dir", str(tmp_path), "--user", "BOB", "--since", "2026-11-28T12:02")
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [4, 6]
    result = cli("--data-dir", str(tmp_path), "--run", "20261128-120000-abcdef")
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [3, 6]
    result = cli("--data-dir", str(tmp_path), "--since", "2026-11-29")
    assert result.exit_code == 0 and result.output == ""


def test_audit_as_csv_is_formula_guarded(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(
        audit.DOWNLOAD,
        user="alice",
        via=audit.PAGE,
        run="20261128-120000-abcdef",
        file='=HYPERLINK("http://x").csv',
        installation="staging",
        detail={"download": "x.results.csv"},
    )
    result = cli("--data-dir", str(tmp_path), "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 1
    assert rows[0]["file"] == '\'=HYPERLINK("http://x").csv'
    assert rows[0]["action"] == "download" and rows[0]["seq"] == "1"
    assert json.loads(rows[0]["detail"]) == {"detail": {"download": "x.results.csv"}}
    assert "prev" not in rows[0] and "hash" not in rows[0]


def test_audit_verify_exits_0_when_intact_and_1_at_the_first_misfit(tmp_path: Path) -> None:
    log = written(tmp_path / "audit.jsonl", 4)
    last = json.loads(lines_of(log.path)[-1])["hash"]
    result = cli("--data-dir", str(tmp_path), "--verify")
    assert result.exit_code == 0
    assert result.output == (
        f"audit log {log.path}: intact, 4 lines; the last one's hash is {last}\n"
    )
    rewrite(log.path, [*lines_of(log.path)[:1], *lines_of(log.path)[2:]])
    result = cli("--data-dir", str(tmp_path), "--verify")
    assert result.exit_code == 1
    assert result.output == (
        f"audit log {log.path}: the chain is broken: entry #2 was removed before line 2\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--verify", "--user", "bob"],
            "--verify checks the whole log: leave out --since, --user, --run and --format",
            id="verify-and-a-filter",
        ),
        pytest.param(
            ["--since", "yesterday"],
            "--since 'yesterday' is not a date — use an ISO date or date and time, "
            "e.g. 2026-11-28 or 2026-11-28T14:00",
            id="since-not-a-date",
        ),
    ],
)
def test_audit_refuses_what_it_cannot_do_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli("--data-dir", str(tmp_path), *args)
    assert result.exit_code == 2
    assert result.output == f"batchtool: error: {message}\n"


# --- what the page and the users commands write ---------------------------------------------


def actions(data_dir: Path) -> list[tuple[Any, ...]]:
    return [
        (e["user"], e["via"], e["action"], e.get("detail"))
        for e in AuditLog(data_dir / "audit.jsonl").entries()
    ]


async def test_the_page_and_the_users_commands_record_each_action(web_server: WebServer) -> None:
    web = web_server
    data = ["--data-dir", str(web.data_dir)]
    runner = CliRunner()
    for args in (
        ["users", "add", "bob", "--role", "approver", "--password-stdin"],
        ["users", "add", "bob", "--password-stdin"],
        ["users", "set-role", "bob", "admin"],
    ):
        assert runner.invoke(main, [*args, *data], input=PASSWORD + "\n").exit_code == 0
    long_name = "x" * 500
    assert await sign_in(web.client, long_name, "not the password") == 401
    assert await sign_in(web.client, "alice") == 200
    content = csv_bytes("operation,customer_id", "forget,5", "lock,6")
    _, path, _ = await upload(web.client, content, "team.csv")
    await post_form(web.client, path + "/send", {"confirm_forget": "yes"}, token_from=path)
    await wait_for_status(web.client, path)
    assert (await web.client.get(path + "/results.csv")).status == 200
    await sign_in_as(web.client, "bob")
    assert runner.invoke(main, ["users", "remove", "bob", *data]).exit_code == 0

    run = path.rsplit("/", 1)[1]
    me = audit.local_user()
    assert actions(web.data_dir) == [
        (me, "cli", "user added", {"name": "bob", "role": "approver"}),
        (me, "cli", "password changed", {"name": "bob"}),
        (me, "cli", "role changed", {"name": "bob", "role": "admin", "was": "approver"}),
        ("x" * audit.MAX_NAME, "page", "sign-in failed", None),
        ("alice", "page", "sign-in", None),
        ("alice", "page", "check", None),
        ("alice", "page", "send", None),
        ("alice", "page", "download", {"download": "team.results.csv"}),
        ("bob", "page", "sign-in", None),
        (me, "cli", "user removed", {"name": "bob"}),
    ]
    check, send, download = AuditLog(web.data_dir / "audit.jsonl").entries()[5:8]
    for entry in (check, send, download):
        assert (entry["run"], entry["file"], entry["installation"]) == (run, "team.csv", "staging")
    assert check["rows"] == {"read": 2, "valid": 2, "invalid": 0, "forget": 1, "lock": 1}
    assert send["rows"] == {"to_send": 2}
    assert AuditLog(web.data_dir / "audit.jsonl").verify().broken is None


async def test_stop_and_resume_are_recorded(web: WebServer) -> None:
    path = await sending_slowly(web, "slow.csv", rows=200, latency_ms=50)
    await post_form(web.client, path + "/stop", token_from=path)
    await wait_for_status(web.client, path)
    web.simulator.faults = FaultConfig()
    await post_form(web.client, path + "/resume", token_from=path)
    await wait_for_status(web.client, path)
    run = path.rsplit("/", 1)[1]
    found = [
        (e["user"], e["action"])
        for e in AuditLog(web.config.audit_path).entries()
        if e.get("run") == run
    ]
    assert found == [("alice", "check"), ("alice", "send"), ("alice", "stop"), ("alice", "resume")]


async def test_no_cell_value_and_no_secret_reaches_the_audit_log(web: WebServer) -> None:
    value, password = "zq-distinctive@example.com", "Pw-in-the-file-123"
    content = csv_bytes(
        "operation,customer_id,email,password", f"set,1,{value},{password}", "set,x,,"
    )
    _, path, _ = await upload(web.client, content, "secret.csv")
    await post_form(web.client, path + "/send", token_from=path)
    await wait_for_status(web.client, path)
    for name in ("/plan.csv", "/results.csv", "/results.xlsx", "/failed.xlsx"):
        assert (await web.client.get(path + name)).status == 200
    text = (web.data_dir / "audit.jsonl").read_text()
    assert text.count('"action":"download"') == 4
    for secret in (value, "zq-distinctive", password, PASSWORD, web.simulator.api_key):
        assert secret not in text


# --- the audit page ---------------------------------------------------------------------------


async def test_the_audit_page_shows_the_log_newest_first_paged_and_filtered(
    web_server: WebServer,
) -> None:
    web = web_server
    add_user(web.data_dir, "ada", "admin")
    written(web.data_dir / "audit.jsonl", 60)
    assert await sign_in(web.client, "ada") == 200  # line 61
    data = await (await web.client.get("/audit.json")).json()
    assert [e["seq"] for e in data["entries"]] == list(range(61, 11, -1))
    assert (data["total"], data["pages"], data["next_url"]) == (61, 2, "/audit?page=2")
    assert data["chain"]["intact"] is True and data["chain"]["lines"] == 61
    older = await (await web.client.get("/audit.json?page=2")).json()
    assert [e["seq"] for e in older["entries"]] == list(range(11, 0, -1))
    page = await (await web.client.get("/audit")).text()
    assert "<caption>Lines 1 to 50 of 61, newest first</caption>" in page
    assert '<a href="/audit">Audit</a>' in page
    filtered = await (
        await web.client.get(
            "/audit.json?user=bob&since=2026-11-28T12:50&run=20261128-120000-abcdef"
        )
    ).json()
    assert [e["seq"] for e in filtered["entries"]] == [60, 54]
    bad = await web.client.get("/audit.json?since=soon")
    assert bad.status == 400
    assert (await bad.json())["error"].startswith("Since: 'soon' is not a date")

    lines = lines_of(web.data_dir / "audit.jsonl")
    rewrite(web.data_dir / "audit.jsonl", [*lines[:9], *lines[10:]])
    page = await (await web.client.get("/audit")).text()
    assert "The chain is broken: entry #10 was removed before line 10." in page


def test_an_audit_log_that_cannot_be_written_is_said_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").mkdir()
    result = CliRunner().invoke(
        main,
        ["users", "add", "ann", "--password-stdin", "--data-dir", str(tmp_path)],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 2
    assert result.output == (
        f"batchtool: error: cannot write the audit log {tmp_path / 'audit.jsonl'}: Is a "
        "directory — make it writable (and its folder) for this user\n"
    )
