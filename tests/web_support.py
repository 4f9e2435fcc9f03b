"""Helpers for the ops page's tests: a fake clock, signing in, uploading, reading forms."""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, make_mocked_request

if TYPE_CHECKING:
    from batchtool.simulator import Simulator

PASSWORD = "correct horse battery"
PROFILE = "staging"
KEY_ENV = "BATCHTOOL_TEST_STAGING_KEY"

WebClient = TestClient[web.Request, web.Application]


class WebServerLike(Protocol):
    """What the helpers need of conftest's ``WebServer``."""

    client: WebClient
    simulator: Simulator

#: How often the wait helpers look before giving up (each look sleeps a little): generous, so
#: a busy machine never fails a test that would pass on a quiet one.
WAIT_POLLS = 1500

#: Seconds a `batchtool serve` process may take to start listening, and to stop on SIGTERM.
SERVE_READY_S = 30.0
SERVE_STOP_S = 40.0

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class FakeClock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def page_token(client: WebClient, path: str = "/") -> str:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return csrf_of(await response.text())


async def sign_in(client: WebClient, user: str = "alice", password: str = PASSWORD) -> int:
    """Sign in through the page's own form; returns the status of the final answer."""
    token = csrf_of(await (await client.get("/login")).text())
    response = await client.post(
        "/login", data={"csrf_token": token, "username": user, "password": password}
    )
    return response.status


async def upload(
    client: WebClient,
    content: bytes,
    file_name: str,
    *,
    installation: str | Sequence[str] = PROFILE,
    sheet: str = "",
    operation: str = "",
) -> tuple[int, str, str]:
    """Upload a spreadsheet through New batch, to ``installation`` (or each of several, as
    boxes ticked); (status, final URL path, page text)."""
    form = FormData(quote_fields=False)  # the file name as browsers send it, not %-encoded
    form.add_field("csrf_token", await page_token(client))
    for name in [installation] if isinstance(installation, str) else installation:
        form.add_field("installation", name)
    form.add_field("sheet", sheet)
    form.add_field("operation", operation)
    form.add_field("spreadsheet", content, filename=file_name)
    response = await client.post("/check", data=form)
    return response.status, response.url.path, await response.text()


async def post_form(
    client: WebClient, path: str, fields: dict[str, str] | None = None, *, token_from: str
) -> tuple[int, str]:
    """POST ``fields`` with the CSRF token of the page at ``token_from``; (status, page text)."""
    data = {"csrf_token": await page_token(client, token_from), **(fields or {})}
    response = await client.post(path, data=data)
    return response.status, await response.text()


async def sending_slowly(
    web: WebServerLike, file_name: str, *, rows: int, latency_ms: float
) -> str:
    """Upload ``rows`` lock rows and send them to a simulator answering in ``latency_ms``:
    the run's path, once 20 requests went out (a run still going when the test acts)."""
    from batchtool.simulator import FaultConfig

    web.simulator.faults = FaultConfig(latency_ms=latency_ms)
    lines = [f"lock,{i}" for i in range(1, rows + 1)]
    _, path, _ = await upload(web.client, csv_bytes("operation,customer_id", *lines), file_name)
    await post_form(web.client, path + "/send", token_from=path)
    await wait_until(lambda: len(web.simulator.log) >= 20)
    return path


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def run_folder(data_dir: Path, run_path: str) -> Path:
    return data_dir / "runs" / run_path.rsplit("/", 1)[-1]


async def run_json(client: WebClient, run_path: str) -> dict[str, Any]:
    response = await client.get(run_path + ".json")
    assert response.status == 200, await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def wait_for_status(
    client: WebClient, run_path: str, *, leaving: tuple[str, ...] = ("checking", "sending")
) -> dict[str, Any]:
    """The run's JSON once its status is none of ``leaving`` (a bound, not a timing check)."""
    for _ in range(WAIT_POLLS):
        data = await run_json(client, run_path)
        if data["run"]["status"] not in leaving:
            return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"{run_path} still {data['run']['status']} after waiting")


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(WAIT_POLLS):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never came true")


async def wait_for_live(client: WebClient, run_path: str) -> dict[str, Any]:
    """The live state of a sending run once it has counted a row."""
    for _ in range(WAIT_POLLS):
        live = (await run_json(client, run_path))["live"]
        if live and live["done"]:
            return dict(live)
        await asyncio.sleep(0.02)
    raise AssertionError(f"{run_path} never showed progress")


class ServeProcess:
    """A real ``batchtool serve`` process on a free port, started and stopped by a test."""

    def __init__(self, data_dir: Path, config_path: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.config_path = config_path
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def command(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "batchtool",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            "--config",
            str(self.config_path),
            *args,
        ]

    def refused(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a server that is expected to refuse to start: how it ended."""
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, env=self.env, timeout=SERVE_READY_S
        )

    def start(self, *args: str) -> str:
        """Start it; returns its URL once it listens."""
        self.proc = subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        assert self.proc.stdout is not None
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], SERVE_READY_S)
            line = self.proc.stdout.readline() if ready else ""
            if not line:
                self.stop()
                raise RuntimeError(f"batchtool serve did not start: {self.output}")
            self.output.append(line)
            if found := re.search(r"listening on (http://\S+)", line):
                self.url = found.group(1)
                return self.url

    def kill(self) -> None:
        """SIGKILL: what a crash or an OOM kill does; nothing gets to clean up."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self._close()

    def stop(self) -> int:
        """SIGTERM and wait, as systemd stops it; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(SERVE_STOP_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()
        return self.proc.returncode

    def _close(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        self.output.extend(self.proc.stdout.readlines())
        self.proc.stdout.close()


def request_from(peer: str, method: str, path: str, headers: dict[str, str]) -> web.Request:
    """A request as if it came from ``peer`` (a test of who the client is)."""

    class Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return (peer, 40000) if name == "peername" else default

    return make_mocked_request(method, path, headers=headers, transport=Transport())


def write_profile(path: Path, base_url: str, username: str) -> Path:
    path.write_text(
        f'[profiles.{PROFILE}]\nbase_url = "{base_url}"\n'
        f'api_username = "{username}"\napi_key_env = "{KEY_ENV}"\n'
    )
    return path


def add_user(data_dir: Path, name: str = "alice", role: str | None = None) -> None:
    from batchtool.web import Users, WebConfig

    Users(WebConfig(data_dir=data_dir).users_path).add(name, PASSWORD, role)


async def sign_in_as(client: WebClient, user: str) -> None:
    """Sign out whoever is signed in on ``client``, then sign in as ``user``."""
    client.session.cookie_jar.clear()
    assert await sign_in(client, user) == 200


def add_profile(config_path: Path, name: str, base_url: str, username: str, extra: str) -> None:
    """Another profile in the config file, to the same installation, with ``extra`` lines."""
    with config_path.open("a") as config:
        config.write(
            f'\n[profiles.{name}]\nbase_url = "{base_url}"\n'
            f'api_username = "{username}"\napi_key_env = "{KEY_ENV}"\n{extra}\n'
        )


def seed_runs(runs_dir: Path, base_url: str, runs: list[tuple[str, str, str]]) -> None:
    """Write runs as the server does, oldest first: (file name, user, status) each; those
    that sent have one send by that user, ended with that status, and 10 rows ok."""
    from batchtool.web.runstore import ENDED, RunStore, Send, Target, now_iso

    store = RunStore(runs_dir)
    for name, user, status in runs:
        meta = store.create(
            run_id=store.new_folder(),
            file_name=name,
            extension=".csv",
            installations=[Target(PROFILE, base_url)],
            user=user,
            options={},
        )
        meta.status = status
        if status in ENDED:
            meta.sends.append(Send(by=user, at=now_iso(), resume=False, ended=status))
            meta.counts = {"ok": 10}
        store.save(meta)
