"""The processes of a benchmark run: measuring one contestant, and long-lived servers beside it.

``measure`` runs a contestant to completion through benchmarks/measure.py and returns what the
launcher saw. ``Service`` is a process that runs for the length of one contestant run (the
simulator, or a scenario's own server): started, waited for until it announces its URL,
asked how much CPU it has used, and stopped. ``get_json`` reads a server's numbers (e.g.
the simulator's counters under ``/_sim/``) from an ``after_run`` hook.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shlex
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.settings import BENCH, MB, PY, ROOT

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Measured:
    """One finished process: wall s (spawn to reap), user+sys CPU s, peak RSS MB, exit code."""

    wall_s: float
    cpu_s: float
    rss_mb: float
    rc: int


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def measure(cmd: list[str], env: Mapping[str, str], log: Path, timeout_s: float) -> Measured:
    """Run ``cmd`` to completion and measure it from outside.

    The numbers come from benchmarks/measure.py, a small launcher that spawns ``cmd`` and
    reaps it with ``os.wait4`` (see there why not from this process). Output goes to
    ``log``.out/.err: files, not pipes, so nothing throttles the child.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    result = Path(f"{log}.measure.json")
    result.unlink(missing_ok=True)
    launcher = [PY, str(BENCH / "measure.py"), str(result), str(timeout_s), "--", *cmd]
    with open(f"{log}.out", "wb") as out, open(f"{log}.err", "wb") as err:
        proc = subprocess.Popen(
            launcher,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout_s + 30)
        except subprocess.TimeoutExpired:  # the launcher's own timeout failed: kill both
            kill_group(proc.pid)
            proc.wait()
    try:
        m = json.loads(result.read_text())
    except (OSError, ValueError):
        nan = float("nan")
        return Measured(nan, nan, nan, proc.returncode or -1)
    return Measured(m["wall_s"], m["cpu_s"], m["maxrss_kb"] * 1024 / MB, m["rc"])


def proc_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + sys) a live process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Service:
    """A server process for the length of one contestant run; a context manager.

    Ready once ``ready`` returns a URL for one of its stdout lines; ``url`` is that URL.
    Its stdout is copied to ``log``.out (read on, so a chatty server never blocks on a full
    pipe) and its stderr goes to ``log``.err. Leaving the context sends SIGTERM, then kills
    its process group if it has not exited after STOP_TIMEOUT_S.
    """

    def __init__(
        self,
        cmd: list[str],
        log: Path,
        ready: Callable[[str], str | None],
        env: Mapping[str, str],
    ) -> None:
        self.cmd = cmd
        self.log = log
        self.ready = ready
        self.env = dict(env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> Service:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._err = open(f"{self.log}.err", "wb")  # closed in __exit__
        self.proc = subprocess.Popen(
            self.cmd,
            stdout=subprocess.PIPE,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=ROOT,
            start_new_session=True,
        )
        announced: queue.Queue[str | None] = queue.Queue()
        self._drainer = threading.Thread(target=self._drain, args=(announced,), daemon=True)
        self._drainer.start()
        try:
            url = announced.get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            url = None
        if not url:
            self.__exit__(None, None, None)
            err = Path(f"{self.log}.err").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"did not become ready: {shlex.join(self.cmd)}\n{err}")
        self.url = url
        return self

    def _drain(self, announced: queue.Queue[str | None]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        url = None
        with open(f"{self.log}.out", "wb") as out:
            for raw in self.proc.stdout:
                out.write(raw)
                if url is None:
                    url = self.ready(raw.decode(errors="replace").strip())
                    if url:
                        announced.put(url)
        if url is None:
            announced.put(None)

    def cpu_s(self) -> float | None:
        return proc_cpu_s(self.proc.pid) if self.proc else None

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            kill_group(self.proc.pid)
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._drainer.join(timeout=STOP_TIMEOUT_S)
        self._err.close()
        self.proc = None


def get_json(url: str, timeout_s: float = 10.0) -> object:
    """GET ``url`` and parse its JSON answer; raises OSError or ValueError when it cannot."""
    with urllib.request.urlopen(url, timeout=timeout_s) as answer:
        return json.loads(answer.read())
