"""Shared fixtures: the simulator in the test's event loop, and the simulator as its own process."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from batchtool.simulator import Simulator

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


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
