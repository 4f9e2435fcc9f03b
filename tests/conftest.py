"""Shared fixtures: the simulator in the test's event loop, the simulator as its own process,
an event loop in a thread for servers that a CLI run must reach, no proxy from the machine,
and the ops page in process.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Coroutine, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from web_support import KEY_ENV, PASSWORD, FakeClock, WebClient, sign_in, write_profile

from batchtool.simulator import Simulator
from batchtool.web import Users, WebConfig, make_app

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0

T = TypeVar("T")

#: Read by batchtool (as by curl): a proxy set up on the machine running the tests must not
#: come between them and 127.0.0.1. Tests of proxies set their own.
MACHINE_SETTINGS = (
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "no_proxy",
    "NO_PROXY",
    "CREDENTIALS_DIRECTORY",
    "BATCHTOOL_API_KEY_FILE",
)


@pytest.fixture(autouse=True)
def _no_settings_from_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MACHINE_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest_asyncio.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """A Simulator on a free 127.0.0.1 port with 1000 seeded customers, no faults.

    Use ``.base_url``, ``.store``, ``.log``; set ``simulator.faults = FaultConfig(...)`` to
    inject faults. Credentials: ``simulator.api_username`` / ``simulator.api_key``.
    """
    async with Simulator(customers=1000) as sim:
        yield sim


class SimulatorProcesses:
    """Starts ``python -m batchtool.simulator`` processes and stops them all at teardown.

    ``start(*args)`` (or calling the object) returns the base URL once the process printed
    its READY line; ``process(base_url)`` gives its ``Popen`` (e.g. to ``kill -9`` it);
    ``stop(base_url)`` sends SIGTERM and waits, so a ``--state`` file is saved.
    """

    def __init__(self) -> None:
        self._procs: dict[str, subprocess.Popen[str]] = {}

    def __call__(self, *args: str) -> str:
        return self.start(*args)

    def start(self, *args: str) -> str:
        # stderr goes to a file: a pipe nobody reads could fill up and block the server.
        # The child keeps its own copy of the descriptor once ours is closed.
        with tempfile.TemporaryFile(mode="w+") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "batchtool.simulator", "--port", "0", *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
            line = proc.stdout.readline() if ready else ""
            if not line.startswith("READY "):
                _terminate(proc)
                stderr.seek(0)
                raise RuntimeError(
                    f"simulator process did not get ready (stdout {line!r}); "
                    f"stderr:\n{stderr.read()}"
                )
        base_url = line.split(" ", 1)[1].strip()
        self._procs[base_url] = proc
        return base_url

    def process(self, base_url: str) -> subprocess.Popen[str]:
        return self._procs[base_url]

    def stop(self, base_url: str) -> int:
        """SIGTERM the process and wait; returns its exit code."""
        return _terminate(self._procs.pop(base_url))

    def stop_all(self) -> None:
        for base_url in list(self._procs):
            self.stop(base_url)


def _terminate(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    return proc.returncode


@pytest.fixture
def simulator_process() -> Iterator[SimulatorProcesses]:
    """Factory: ``base_url = simulator_process("--customers", "50", "--seed", "1")``."""
    processes = SimulatorProcesses()
    try:
        yield processes
    finally:
        processes.stop_all()


class LoopThread:
    """An event loop running in a thread of its own: servers started here keep answering
    while the test's thread is busy in a blocking call (the CLI's own ``asyncio.run``)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the thread's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(READY_TIMEOUT_S)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_TIMEOUT_S)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    """Start servers with ``loop_thread.run(server.start())``; stop them before this closes."""
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.close()


# --- the ops page (batchtool serve), driven in process -------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test, so a fixture can tell that its test failed
    (the browser tests save a screenshot then)."""
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@dataclass
class WebServer:
    """The ops page's app in process, with user alice, a profile sending to ``simulator``."""

    config: WebConfig
    client: WebClient
    simulator: Simulator
    clock: FakeClock

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir


@pytest.fixture
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Password hashes that take a millisecond, for tests that add and sign in many users.
    Each hash records its own cost, so they verify like any other."""
    monkeypatch.setattr("batchtool.web.users.SCRYPT_N", 2**10)


@pytest_asyncio.fixture
async def web_server(
    tmp_path: Path, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[WebServer]:
    monkeypatch.setenv(KEY_ENV, simulator.api_key)
    clock = FakeClock()
    config = WebConfig(
        data_dir=tmp_path / "data",
        config_path=write_profile(
            tmp_path / "config.toml", simulator.base_url, simulator.api_username
        ),
        max_upload_mb=1,
        clock=clock,
    )
    Users(config.users_path).add("alice", PASSWORD)
    async with TestClient(TestServer(make_app(config))) as client:
        yield WebServer(config, client, simulator, clock)


@pytest_asyncio.fixture
async def web(web_server: WebServer) -> WebServer:
    """``web_server`` with alice signed in."""
    assert await sign_in(web_server.client) == 200
    return web_server
