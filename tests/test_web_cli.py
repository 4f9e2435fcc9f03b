"""``batchtool users`` and ``batchtool serve`` as an admin uses them, and a real server killed
mid-run and started again."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from conftest import SimulatorProcesses
from web_support import (
    KEY_ENV,
    PASSWORD,
    ServeProcess,
    add_user,
    csrf_of,
    csv_bytes,
    write_profile,
)

from batchtool.cli import main
from batchtool.simulator import DEFAULT_API_KEY, DEFAULT_API_USERNAME
from batchtool.web import Users


def test_users_add_asks_twice_then_list_and_remove(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    result = runner.invoke(main, ["users", "add", "alice", *data], input=f"{PASSWORD}\n" * 2)
    assert result.exit_code == 0, result.output
    assert f"added alice, operator ({tmp_path / 'users.json'})" in result.output
    result = runner.invoke(
        main, ["users", "add", "bob", "--password-stdin", *data], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert Users(tmp_path / "users.json").verify("bob", PASSWORD)

    result = runner.invoke(main, ["users", "list", *data])
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.output.splitlines()] == ["alice", "bob"]

    result = runner.invoke(main, ["users", "remove", "alice", *data])
    assert result.exit_code == 0, result.output
    assert result.output == "removed alice\n"
    result = runner.invoke(main, ["users", "remove", "alice", *data])
    assert result.exit_code == 2, result.output
    assert result.output == (
        "batchtool: error: no user 'alice' — 'batchtool users list' shows who exists\n"
    )


def test_users_add_refuses_a_short_password(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["users", "add", "alice", "--password-stdin", "--data-dir", str(tmp_path)],
        input="short\n",
    )
    assert result.exit_code == 2, result.output
    assert result.output == (
        "batchtool: error: the password is too short — use at least 10 characters\n"
    )
    assert not (tmp_path / "users.json").exists()


def test_users_data_dir_defaults_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHTOOL_DATA_DIR", str(tmp_path / "from-env"))
    result = CliRunner().invoke(
        main, ["users", "add", "carol", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-env" / "users.json").exists()


def test_a_readable_users_file_is_refused_by_every_command(tmp_path: Path) -> None:
    add_user(tmp_path)
    users = tmp_path / "users.json"
    os.chmod(users, 0o640)
    message = (
        f"batchtool: error: users file {users} holds a secret but other users can "
        f"open it (mode 0640) — run: chmod 600 {users}\n"
    )
    for args in (["users", "list"], ["serve", "--host", "0.0.0.0"]):
        result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path)])
        assert result.exit_code == 2, result.output
        assert result.output == message


def test_serve_refuses_a_public_address_without_users(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert result.output == (
        "batchtool: error: refusing to listen on 0.0.0.0 while no user exists — add one "
        "first with 'batchtool users add NAME', or listen on 127.0.0.1\n"
    )


def test_serve_says_where_it_listens_and_how_to_add_a_user(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "data", tmp_path / "none.toml", {})
    url = server.start("--simulate")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert requests.get(url + "/login", timeout=10).status_code == 200
    finally:
        assert server.stop() == 0
    assert server.output[1] == (
        "batchtool serve: nobody can sign in yet — add a user with: "
        f"batchtool users add NAME --data-dir {tmp_path / 'data'}\n"
    )


class Browserless:
    """The page's forms, filled in by a script (requests) instead of a person."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def sign_in(self) -> None:
        token = csrf_of(self.http.get(self.url + "/login", timeout=10).text)
        answer = self.http.post(
            self.url + "/login",
            data={"csrf_token": token, "username": "alice", "password": PASSWORD},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def upload(self, content: bytes, name: str) -> str:
        token = csrf_of(self.http.get(self.url + "/", timeout=10).text)
        answer = self.http.post(
            self.url + "/check",
            data={"csrf_token": token, "installation": "staging"},
            files={"spreadsheet": (name, content)},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.url).removeprefix(self.url)

    def post(self, path: str) -> None:
        page = self.http.get(self.url + path.rsplit("/", 1)[0], timeout=10).text
        answer = self.http.post(self.url + path, data={"csrf_token": csrf_of(page)}, timeout=10)
        assert answer.status_code == 200, answer.text

    def run(self, path: str) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get(self.url + path + ".json", timeout=10).json()
        return data


def _serve_for(tmp_path: Path, sim_url: str) -> tuple[ServeProcess, Path]:
    """A server (not started) whose profile "staging" sends to ``sim_url``, user alice."""
    config = write_profile(tmp_path / "config.toml", sim_url, DEFAULT_API_USERNAME)
    data_dir = tmp_path / "data"
    add_user(data_dir)
    return ServeProcess(data_dir, config, {KEY_ENV: DEFAULT_API_KEY}), data_dir


def _wait(check: Any, what: str) -> Any:
    for _ in range(600):
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def test_a_server_killed_mid_run_resumes_after_a_restart_without_resending(
    tmp_path: Path, simulator_process: SimulatorProcesses
) -> None:
    sim_url = simulator_process("--latency-ms", "30", "--customers", "2000")
    server, data_dir = _serve_for(tmp_path, sim_url)
    page = Browserless(server.start())
    try:
        page.sign_in()
        rows = [f"lock,{i}" for i in range(1, 1501)]
        run = page.upload(csv_bytes("operation,customer_id", *rows), "big.csv")
        page.post(run + "/send")
        _wait(lambda: (page.run(run)["live"] or {}).get("done", 0) >= 100, "100 rows sent")
    finally:
        server.kill()
    journal = data_dir / "runs" / run.rsplit("/", 1)[1] / "results.csv.journal"
    ok_before_kill = {
        str(record["row"])
        for line in journal.read_text().splitlines()
        if line.strip() and "row" in (record := json.loads(line)) and record["status"] == "ok"
    }
    assert 100 <= len(ok_before_kill) < 1500

    page = Browserless(server.start())
    try:
        page.sign_in()
        assert page.run(run)["run"]["status_text"] == "Interrupted"
        page.post(run + "/resume")
        done = _wait(lambda: page.run(run)["run"]["status"] == "finished", "finished")
        assert done
        assert page.run(run)["run"]["counts"] == {"ok": 1500}
    finally:
        assert server.stop() == 0
    log = requests.get(sim_url + "/_sim/log", timeout=10).json()
    sent = [entry["lookup"][1] for entry in log]
    for customer in ok_before_kill:  # row N is customer N
        assert sent.count(customer) == 1, customer
    assert set(sent) == {str(i) for i in range(1, 1501)}


def test_sigterm_stops_a_sending_run_gracefully(
    tmp_path: Path, simulator_process: SimulatorProcesses
) -> None:
    sim_url = simulator_process("--latency-ms", "30", "--customers", "2000")
    server, data_dir = _serve_for(tmp_path, sim_url)
    page = Browserless(server.start())
    try:
        page.sign_in()
        rows = [f"lock,{i}" for i in range(1, 1501)]
        run = page.upload(csv_bytes("operation,customer_id", *rows), "big.csv")
        page.post(run + "/send")
        _wait(lambda: (page.run(run)["live"] or {}).get("done", 0) >= 50, "50 rows sent")
    finally:
        assert server.stop() == 0
    meta = json.loads((data_dir / "runs" / run.rsplit("/", 1)[1] / "meta.json").read_text())
    assert meta["status"] == "stopped" and meta["resumable"] is True
    assert 50 <= meta["counts"]["ok"] < 1500
    assert (data_dir / "runs" / run.rsplit("/", 1)[1] / "results.csv").exists()


def test_serve_names_a_data_dir_it_cannot_create(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    data_dir = tmp_path / "a-file" / "data"
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(data_dir)])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"batchtool: error: cannot create the data dir {data_dir}: Not a directory — "
        "choose another --data-dir\n"
    )


def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = ServeProcess(data_dir, tmp_path / "none.toml", {})
    first.start()
    try:
        second = first.refused()
        assert first.proc is not None and first.proc.poll() is None  # still serving
        assert requests.get(first.url + "/login", timeout=10).status_code == 200
    finally:
        assert first.stop() == 0
    assert second.returncode == 2, second.stderr
    assert second.stdout == ""
    assert second.stderr == (
        f"batchtool: error: another batchtool process (pid {first.proc.pid}) is using the data "
        f"dir {data_dir} — stop it first, or choose another --data-dir\n"
    )
    # Once the first has stopped, the data dir is free again.
    again = ServeProcess(data_dir, tmp_path / "none.toml", {})
    again.start()
    assert again.stop() == 0


def test_a_data_dir_open_to_others_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    result = ServeProcess(data_dir, tmp_path / "none.toml", {}).refused()
    assert result.returncode == 2, result.stdout
    assert result.stderr == (
        f"batchtool: error: data dir {data_dir} holds secrets but other users can open it "
        f"(mode 0755) — run: chmod 700 {data_dir}\n"
    )


def test_every_file_of_a_run_is_private(
    tmp_path: Path, simulator_process: SimulatorProcesses
) -> None:
    sim_url = simulator_process("--customers", "50")
    server, data_dir = _serve_for(tmp_path, sim_url)
    page = Browserless(server.start())
    try:
        page.sign_in()
        run = page.upload(csv_bytes("operation,customer_id,Notes", "lock,1,x", "lock,2,y"), "f.csv")
        page.post(run + "/columns")  # ignore Notes: the column choices are remembered
        page.post(run + "/send")
        _wait(lambda: page.run(run)["run"]["status"] == "finished", "finished")
        for download in ("/plan.csv", "/results.csv", "/results.xlsx"):
            assert page.http.get(page.url + run + download, timeout=30).status_code == 200
    finally:
        assert server.stop() == 0
    folder = data_dir / "runs" / run.rsplit("/", 1)[1]
    assert {p.name for p in folder.iterdir()} >= {
        "input.csv",
        "meta.json",
        "plan.csv",
        "results.csv",
        "results.csv.journal",
        "results.xlsx",
    }
    modes = {
        str(p.relative_to(data_dir)): stat.S_IMODE(p.stat().st_mode)
        for p in [data_dir, *data_dir.rglob("*")]
    }
    assert modes == {name: 0o700 if (data_dir / name).is_dir() else 0o600 for name in modes}, modes
