"""The report: the Targets table, a table per scenario, the machine; RESULTS.md's text."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.model import Run, Scenario, Setup, fmt, median
from harness.runner import Planned
from harness.settings import BENCH, CONCURRENCY, PY, ROOT

MARK = {True: "PASS", False: "**FAIL**", None: "n/a"}


@dataclass(frozen=True)
class Verdict:
    scenario: int
    target: str
    value: float | None
    measured: str
    passed: bool | None  # None: nothing to judge (no good run)


def verdicts(planned: Sequence[Planned]) -> list[Verdict]:
    out = []
    for p in planned:
        if p.skipped:
            continue
        for t in p.scenario.targets:
            value = t.value(p.runs)
            out.append(
                Verdict(
                    p.scenario.number,
                    f"({p.scenario.number}) {t.label.format(rows=p.rows)}",
                    value,
                    fmt(value, t.spec, t.unit),
                    None if value is None else t.passes(value),
                )
            )
    return out


def scenario_table(p: Planned) -> list[str]:
    columns = p.scenario.columns
    lines = [
        "| contestant | rows | wall s | rows/s | CPU s / 1k rows | peak RSS MB | server CPU s "
        + "".join(f"| {c.header} " for c in columns)
        + "| runs ok |",
        "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(columns) + "---:|",
    ]
    for c in p.contestants:
        runs = p.runs.of(c.name)
        good = [r for r in runs if r.ok]
        srv = [r.server_cpu_s for r in good if r.server_cpu_s is not None]
        rows = good[0].rows if good else p.rows
        extra = "".join(f"| {_extra(good, col.key, col.spec)} " for col in columns)
        lines.append(
            f"| {c.name} | {rows:,} | {fmt(median([r.wall_s for r in good]))} "
            f"| {fmt(median([r.rows_per_s for r in good]), ',.0f')} "
            f"| {fmt(median([r.cpu_per_1k for r in good]), '.3f')} "
            f"| {fmt(median([r.rss_mb for r in good]), '.0f')} "
            f"| {fmt(median(srv)) if srv else '–'} {extra}| {len(good)}/{len(runs)} |"
        )
    notes = sorted({f"{r.contestant}: {r.note}" for r in p.runs.all if r.note})
    loads = [v for r in p.runs.all if (v := r.number("load1_before")) is not None]
    if loads:
        notes.append(
            f"1-minute load average before each run: {min(loads):.2f}–{max(loads):.2f} "
            f"on {os.cpu_count()} CPUs"
        )
    lines += [""] + [f"- {n}" for n in notes] if notes else []
    return lines


def _extra(good: list[Run], key: str, spec: str) -> str:
    values = [v for r in good if (v := r.number(key)) is not None]
    return fmt(median(values), spec) if values else "–"


def scenario_list(scenarios: Sequence[Scenario]) -> list[str]:
    """The scenarios at full size as a Markdown table, as in benchmarks/README.md."""
    lines = [
        "| # | name | question | measured | contestants | targets |",
        "|---|---|---|---|---|---|",
    ]
    for sc in scenarios:
        rows = sc.rows.full
        cells = [
            str(sc.number),
            f"`{sc.name}`",
            sc.question,
            sc.title.format(rows=rows),
            " · ".join(c.name for c in sc.contestants(Setup(rows, quick=False))),
            "; ".join(t.label.format(rows=rows) for t in sc.targets),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def machine() -> dict[str, str]:
    info = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    info["cpus"] = f"{os.cpu_count()} (usable: {len(os.sched_getaffinity(0))})"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    info["os"] = f"{platform.system()} {platform.release()}"
    info["python"] = platform.python_version()
    for mod in ("polars", "aiohttp", "requests"):
        with contextlib.suppress(Exception):
            info[mod] = __import__(mod).__version__
    with contextlib.suppress(OSError):
        info["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "batchtool")
        info["tree"] = f"{head}{' + uncommitted changes in batchtool/' if dirty else ''}"
    return info


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
    ).stdout.strip()


def simulator_bench(timeout_s: float) -> list[str]:
    """The simulator's own requests/s (benchmarks/bench_simulator.py), for the report."""
    script = BENCH / "bench_simulator.py"
    if not script.exists():
        return []
    try:
        p = subprocess.run(
            [PY, str(script)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
        text = (p.stdout.strip() or p.stderr.strip()).splitlines()[-20:]
    except subprocess.TimeoutExpired:
        text = [f"(timed out after {timeout_s:g} s)"]
    return ["## Simulator capacity (benchmarks/bench_simulator.py)", "", "```", *text, "```"]


def render(
    planned: Sequence[Planned],
    *,
    command: str,
    reps: int,
    quick: bool,
    info: dict[str, str],
    extras: Sequence[str],
) -> str:
    out = ["# batchtool benchmarks — results", ""]
    if quick:
        out += ["> `--quick` smoke run: small sizes, one rep. Not a result to quote.", ""]
    out += [
        f"Measured {info['date']} by `{command}`, "
        f"{reps} rep(s) per contestant, medians; ratios pair by pair.",
        "",
        "## Targets",
        "",
        "| target | measured (median) | verdict |",
        "|---|---:|---|",
    ]
    out += [f"| {v.target} | {v.measured} | {MARK[v.passed]} |" for v in verdicts(planned)]
    for p in planned:
        out += ["", f"## {p.scenario.number}. {p.title}", "", f"*{p.scenario.question}*", ""]
        if p.skipped:
            out += [f"Not run: {p.skipped}"]
            continue
        out += scenario_table(p)
        notes = p.scenario.notes(p.runs) if p.scenario.notes else []
        out += ["", *notes] if notes else []
    out += ["", *extras] if extras else []
    methods = dict.fromkeys(c.method for p in planned for c in p.contestants if c.method)
    out += [
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "## How to rerun",
        "",
        "```",
        "make bench                                             # everything (this file)",
        ".venv/bin/python benchmarks/run_all.py --list          # the scenarios",
        ".venv/bin/python benchmarks/run_all.py --only 1 dry-run # some, by number or name",
        ".venv/bin/python benchmarks/run_all.py --reps 5        # more reps",
        ".venv/bin/python benchmarks/run_all.py --quick         # smoke run (to benchmarks/out/)",
        "```",
        "",
        "## How it is measured",
        "",
        "- Every contestant is its own process; wall time is spawn to reap (interpreter start "
        "and imports included), CPU is user + sys of that process from `os.wait4`, peak RSS is "
        "its `ru_maxrss`. MB = 10^6 bytes.",
        f"- Same CSV, same simulator arguments, concurrency {CONCURRENCY} for every concurrent "
        "contestant; a fresh simulator process per contestant run. `server CPU s` is the "
        "simulator's CPU during the run (from /proc): near the run's wall time means the "
        "server, not the client, set the pace.",
        *[f"- {m}" for m in methods],
        "- A run counts only when every row came back ok (batchtool: every row `ok`/`valid` in "
        "its results file). Raw per-run numbers: `benchmarks/out/results.json`.",
    ]
    return "\n".join(out) + "\n"
