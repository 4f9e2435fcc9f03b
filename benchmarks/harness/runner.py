"""Runs the scenarios: what this machine offers, which runs can happen, and measuring them.

The honesty rules live here, not in the scenarios: every contestant run gets a freshly
started simulator (and fresh services), contestants are interleaved rep by rep (A, B, C, A,
B, C, ...) so a noisy moment hits everyone, and a run counts only if its contestant's check
says every row came back ok.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from harness.model import (
    Contestant,
    Ctx,
    Inputs,
    Run,
    Runs,
    Scenario,
    Setup,
    SimulatorSpec,
    ready_line,
)
from harness.processes import Service, measure
from harness.settings import API_KEY, BATCHTOOL, OUT, PY, ROOT, RUNS

_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_SIMULATOR_NEEDS = ("--port", "--customers", "--latency-ms", "--seed")
_DISPLAY = {"batchtool": "`batchtool run`", "simulator": "the simulator"}


@dataclass
class Tools:
    """What this machine offers, as requirement strings: ``"batchtool"``, ``"simulator"``,
    ``"batchtool run --OPTION"`` and ``"simulator --OPTION"`` for every option in their help."""

    have: set[str] = field(default_factory=set)
    missing: dict[str, str] = field(default_factory=dict)  # "batchtool"/"simulator" -> why
    simulator_cmd: list[str] = field(default_factory=list)
    simulator_flags: list[str] = field(default_factory=list)  # added to every simulator

    def why_not(self, requirement: str) -> str | None:
        """None when ``requirement`` is met, else a reason a reader understands."""
        if requirement in self.have:
            return None
        tool = requirement.split()[0]
        if tool in self.missing:
            return f"{tool} not available ({self.missing[tool]})"
        option = requirement.rsplit(" ", 1)[-1]
        return f"{_DISPLAY.get(tool, tool)} has no {option} option"

    def status(self, tool: str) -> str:
        """ "ok" (with the flags every simulator gets), or why ``tool`` is missing."""
        if tool in self.missing:
            return f"MISSING: {self.missing[tool]}"
        return " ".join(["ok", *self.simulator_flags]) if tool == "simulator" else "ok"

    def simulator(self, spec: SimulatorSpec, rows: int, extra: Iterable[str]) -> list[str]:
        return [
            *self.simulator_cmd,
            "--port",
            "0",
            "--customers",
            str(rows),
            "--latency-ms",
            f"{spec.latency_ms:g}",
            "--seed",
            "1",
            *self.simulator_flags,
            *spec.args,
            *extra,
        ]


def _help(cmd: list[str]) -> tuple[str | None, str]:
    """(help text, "") or (None, why not)."""
    try:
        p = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["--help failed"])[-1]
    return p.stdout + p.stderr, ""


def detect(simulator_cmd: list[str]) -> Tools:
    tools = Tools(simulator_cmd=simulator_cmd)
    text, why = _help(simulator_cmd)
    lacking = [o for o in _SIMULATOR_NEEDS if text is not None and o not in text]
    if text is None or lacking:
        tools.missing["simulator"] = why or f"--help lacks {lacking[0]}"
    else:
        tools.have |= {"simulator", *(f"simulator {o}" for o in _OPTION.findall(text))}
        quiet = [f for f in ("--no-log", "--no-access-log", "--quiet") if f in text]
        tools.simulator_flags = quiet[:1]
    text, why = _help([BATCHTOOL, "run"])
    if text is None:
        tools.missing["batchtool"] = why
    else:
        tools.have |= {"batchtool", *(f"batchtool run {o}" for o in _OPTION.findall(text))}
    return tools


def _simulator_requires(args: Iterable[str]) -> list[str]:
    return [f"simulator {a.split('=', 1)[0]}" for a in args if a.startswith("--")]


@dataclass
class Planned:
    """One scenario in this invocation: its sizes, who runs, and (afterwards) its runs."""

    scenario: Scenario
    rows: int
    title: str
    contestants: list[Contestant] = field(default_factory=list)
    skipped: str = ""  # why it is not run ("" when it is)
    inputs: Inputs | None = None
    runs: Runs = field(init=False)

    def __post_init__(self) -> None:
        self.runs = Runs(self.rows)


def plan(sc: Scenario, quick: bool, tools: Tools) -> Planned:
    """Who can run in ``sc`` on this machine; skipped when nothing can, with the reason."""
    rows = sc.rows.pick(quick)
    p = Planned(sc, rows, sc.title.format(rows=rows))
    needs = list(sc.requires)
    if sc.simulator is not None:
        needs += ["simulator", *_simulator_requires(sc.simulator.args)]
    needs += [r for s in sc.services for r in s.requires]
    reasons = [why for r in needs if (why := tools.why_not(r))]
    if reasons:
        p.skipped = reasons[0]
        return p
    dropped = []
    for c in sc.contestants(Setup(rows, quick)):
        need = [*c.requires, *_simulator_requires(c.server_args)]
        why = next((w for r in need if (w := tools.why_not(r))), None)
        if why:
            dropped.append(f"{c.name} not measured: {why}")
        else:
            p.contestants.append(c)
    if not p.contestants:
        p.skipped = "; ".join(dropped) or "no contestants"
    elif dropped:
        p.title += " — " + "; ".join(dropped)
    return p


def contestant_env() -> dict[str, str]:
    """The same environment for every process: no stray BATCHTOOL_* settings from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHTOOL_")}
    env["BATCHTOOL_API_KEY"] = API_KEY
    # Bytecode is cached as on any user's machine (warm_up fills the cache), but in
    # benchmarks/out/ rather than beside the sources, even if the caller disabled the cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")
    return env


def warm_up(planned: Iterable[Planned], env: Mapping[str, str]) -> None:
    """Unmeasured: byte-compile every module a contestant imports, so rep 1 pays no extra."""
    modules = {"json", "asyncio"}
    for p in planned:
        modules |= {m for c in p.contestants for m in c.imports}
        if p.scenario.simulator is not None:
            modules.add("batchtool.simulator.__main__")
    for mod in sorted(modules):
        subprocess.run([PY, "-c", f"import {mod}"], env=env, cwd=ROOT, timeout=120, check=False)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def run_scenario(p: Planned, reps: int, env: Mapping[str, str], tools: Tools) -> None:
    """Every contestant ``reps`` times, interleaved; raises RuntimeError if a server won't start."""
    for rep in range(1, reps + 1):
        for c in p.contestants:
            run = _run_once(p, c, rep, env, tools)
            p.runs.all.append(run)
            status = "ok" if run.ok else f"FAILED ({run.note})"
            print(
                f"  [{p.scenario.number}] rep {rep} {c.name:<34} wall {run.wall_s:8.2f} s  "
                f"cpu {run.cpu_s:7.2f} s  rss {run.rss_mb:6.0f} MB  {status}",
                file=sys.stderr,
                flush=True,
            )


def _run_once(p: Planned, c: Contestant, rep: int, env: Mapping[str, str], tools: Tools) -> Run:
    sc = p.scenario
    assert p.inputs is not None, "inputs are made before the runs"
    logs = RUNS / f"s{sc.number}-{slug(c.name)}-r{rep}"
    shutil.rmtree(logs, ignore_errors=True)
    work = logs / "work"
    work.mkdir(parents=True)
    ctx = Ctx(p.inputs.csv, p.rows, "", work, logs, p.inputs.files)
    with contextlib.ExitStack() as stack:
        sim = None
        if sc.simulator is not None:
            sim_cmd = tools.simulator(sc.simulator, p.rows, c.server_args)
            sim = stack.enter_context(Service(sim_cmd, logs / "simulator", ready_line, env))
            ctx = dataclasses.replace(ctx, url=sim.url)
        services: dict[str, Service] = {}
        for spec in sc.services:
            service = Service(spec.build(ctx), logs / slug(spec.name), spec.ready, env)
            services[spec.name] = stack.enter_context(service)
            ctx.services[spec.name] = service.url
        cmd = c.build(ctx)
        load = os.getloadavg()[0]
        sim_cpu0 = sim.cpu_s() if sim else None
        service_cpu0 = {name: s.cpu_s() for name, s in services.items()}
        m = measure(cmd, env, logs / "client", sc.timeout_s)
        run = Run(sc.number, c.name, rep, p.rows, m.wall_s, m.cpu_s, m.rss_mb, m.rc)
        run.server_cpu_s = _used(sim_cpu0, sim.cpu_s() if sim else None)
        for name, s in services.items():
            if (used := _used(service_cpu0[name], s.cpu_s())) is not None:
                run.extra[f"{name} CPU s"] = used
        c.check(ctx, run, logs / "client")
        if sc.after_run is not None:
            try:
                sc.after_run(ctx, run)
            except (OSError, ValueError, KeyError) as e:  # e.g. an admin path that is missing
                run.ok = False
                run.note = f"after_run failed: {e!r}"
    run.extra["cmd"] = shlex.join(cmd)
    if sim is not None:
        run.extra["simulator_cmd"] = shlex.join(sim.cmd)
    run.extra["load1_before"] = round(load, 2)
    shutil.rmtree(work, ignore_errors=True)  # keep disk use flat; the logs stay
    return run


def _used(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before
