"""``make bench``: batchtool side by side with the honest alternatives, on this machine.

Scenarios (see benchmarks/README.md for what each one answers):

  1  throughput at 20 ms simulated latency, 10,000 rows, concurrency 64:
     batchtool vs bare aiohttp + semaphore (the ceiling) vs the vendor's sequential loop
  2  the same at zero latency (CPU per row is what counts)
  3  1,000,000-row dry run to Parquet vs polars reading the same CSV alone (the floor)
  4  150,000-row live run: peak RSS
  5  journal cost: zero-latency throughput with and without the journal

Every contestant is its own process, measured from the outside: whole-process wall time
(spawn to reap), CPU seconds (user + sys from ``os.wait4``) and peak RSS (``ru_maxrss``).
Each contestant run gets a freshly started simulator process with the same arguments, so no
state or warm cache on the server is shared between contestants. Contestants are interleaved
(A, B, C, A, B, C, ...), each is measured ``--reps`` times, medians are quoted and ratios are
taken pair by pair (rep i of one against rep i of the other, then the median of the ratios).
A run counts only if every row came back ok (batchtool: its results file says so; the scripts:
their own count), otherwise it is reported as failed and kept out of the medians.

    .venv/bin/python benchmarks/run_all.py              # what `make bench` runs
    .venv/bin/python benchmarks/run_all.py --only 3     # one scenario
    .venv/bin/python benchmarks/run_all.py --quick      # smoke run, small sizes, 1 rep

A full run writes benchmarks/RESULTS.md (a --quick or --only run writes to benchmarks/out/
instead) and every raw number to benchmarks/out/results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import queue
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
PY = sys.executable
BATCHTOOL = str(Path(PY).parent / "batchtool")

sys.path.insert(0, str(BENCH))
import gen_data  # noqa: E402  (benchmarks/ is not a package)

API_USERNAME = "sim_admin"
API_KEY = "sim-not-a-secret-key"  # the simulator's published demo key, not a secret
CONCURRENCY = 64
RUN_TIMEOUT_S = 180.0  # no single contestant run may take longer
MB = 1_000_000  # targets are judged in MB of 10^6 bytes (stricter than MiB)

# Targets from the issue.
T1_VS_BARE = 0.9
T1_VS_SEQ = 40.0
T2_CPU_VS_BARE = 1.3
T3_RSS_MB = 300.0
T3_ROWS_PER_S = 250_000.0
T4_RSS_MB = 250.0
T5_JOURNAL_MIN_THROUGHPUT = 0.9  # issue 5: the journal costs under 10% of throughput


@dataclass(frozen=True)
class Sizes:
    throughput_rows: int = 10_000
    seq_rows_20ms: int = 300
    seq_rows_0ms: int = 2_000
    dry_rows: int = 1_000_000
    live_rows: int = 150_000


FULL = Sizes()
QUICK = Sizes(
    throughput_rows=2_000,
    seq_rows_20ms=100,
    seq_rows_0ms=300,
    dry_rows=100_000,
    live_rows=20_000,
)


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """One contestant process, measured from outside. ``rows`` is what wall/cpu refer to."""

    scenario: str
    contestant: str
    rep: int
    rows: int
    wall_s: float
    cpu_s: float
    rss_mb: float
    rc: int
    ok: bool = False
    note: str = ""
    server_cpu_s: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s

    @property
    def cpu_per_1k(self) -> float:
        return self.cpu_s / self.rows * 1000


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def measure(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, float, int]:
    """Run ``cmd`` to completion; (wall s, user+sys CPU s, peak RSS MB, exit code).

    The numbers come from benchmarks/measure.py, a small launcher that spawns ``cmd`` and
    reaps it with ``os.wait4`` (see there why not from this process). Output goes to
    ``log``.out/.err: files, not pipes, so nothing throttles the child.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    result = Path(f"{log}.measure.json")
    result.unlink(missing_ok=True)
    launcher = [PY, str(BENCH / "measure.py"), str(result), str(RUN_TIMEOUT_S), "--", *cmd]
    with open(f"{log}.out", "wb") as out, open(f"{log}.err", "wb") as err:
        proc = subprocess.Popen(
            launcher,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=RUN_TIMEOUT_S + 30)
        except subprocess.TimeoutExpired:  # the launcher's own timeout failed: kill both
            _kill_group(proc.pid)
            proc.wait()
    try:
        m = json.loads(result.read_text())
    except (OSError, ValueError):
        return float("nan"), float("nan"), float("nan"), proc.returncode or -1
    return m["wall_s"], m["cpu_s"], m["maxrss_kb"] * 1024 / MB, m["rc"]


def _proc_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + sys) a live process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Simulator:
    """``python -m batchtool.simulator`` in its own process, for one contestant run."""

    def __init__(
        self,
        cmd_prefix: list[str],
        extra_flags: list[str],
        customers: int,
        latency_ms: float,
        log: Path,
    ) -> None:
        self.cmd = [
            *cmd_prefix,
            "--port",
            "0",
            "--customers",
            str(customers),
            "--latency-ms",
            f"{latency_ms:g}",
            "--seed",
            "1",
            *extra_flags,
        ]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> Simulator:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._err = open(f"{self.log}.err", "wb")  # closed in __exit__
        self.proc = subprocess.Popen(
            self.cmd,
            stdout=subprocess.PIPE,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,
        )
        ready: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, args=(ready,), daemon=True).start()
        try:
            line = ready.get(timeout=120)
        except queue.Empty:
            line = None
        if not line:
            self.__exit__(None, None, None)
            err = Path(f"{self.log}.err").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"simulator did not become ready: {shlex.join(self.cmd)}\n{err}")
        self.url = line.split()[1]
        return self

    def _drain(self, ready: queue.Queue[str | None]) -> None:
        # Read the READY line, then keep reading so a chatty server never blocks on a full pipe.
        assert self.proc is not None and self.proc.stdout is not None
        announced = False
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if not announced and line.startswith("READY "):
                ready.put(line)
                announced = True
        if not announced:
            ready.put(None)

    def cpu_s(self) -> float | None:
        return _proc_cpu_s(self.proc.pid) if self.proc else None

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc.pid)
            self.proc.wait(timeout=15)
        self._err.close()


# --------------------------------------------------------------------------- contestants


@dataclass
class Ctx:
    """What a contestant needs to build its command line for one run."""

    csv: Path
    rows: int
    url: str
    workdir: Path


@dataclass
class Contestant:
    name: str
    build: Callable[[Ctx], list[str]]
    check: Callable[[Ctx, Run, Path], None]  # sets run.ok / run.note, may extrapolate


def _last_json(log: Path) -> dict[str, object] | None:
    try:
        lines = Path(f"{log}.out").read_text().strip().splitlines()
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def _tail(log: Path) -> str:
    try:
        text = Path(f"{log}.err").read_text(errors="replace").strip()
    except OSError:
        return ""
    return text.splitlines()[-1][:200] if text else ""


def batchtool_live(flags: dict[str, bool], journal: bool = True) -> Contestant:
    def build(ctx: Ctx) -> list[str]:
        cmd = [
            BATCHTOOL,
            "run",
            str(ctx.csv),
            "--base-url",
            ctx.url,
            "--api-username",
            API_USERNAME,
            "--concurrency",
            str(CONCURRENCY),
            "--results",
            str(ctx.workdir / "results.parquet"),
        ]
        if flags.get("--quiet"):
            cmd.append("--quiet")
        if flags.get("--restart"):
            cmd.append("--restart")
        if not journal:
            cmd.append("--no-journal")
        return cmd

    name = "batchtool" if journal else "batchtool --no-journal"
    return Contestant(name, build, lambda ctx, run, log: _check_results(ctx, run, log, "ok"))


def batchtool_dry(flags: dict[str, bool]) -> Contestant:
    def build(ctx: Ctx) -> list[str]:
        cmd = [
            BATCHTOOL,
            "run",
            str(ctx.csv),
            "--dry-run",
            "--results",
            str(ctx.workdir / "results.parquet"),
        ]
        if flags.get("--quiet"):
            cmd.append("--quiet")
        return cmd

    return Contestant(
        "batchtool --dry-run",
        build,
        lambda ctx, run, log: _check_results(ctx, run, log, "valid"),
    )


def _check_results(ctx: Ctx, run: Run, log: Path, want: str) -> None:
    """batchtool's run counts only if its results file has every row, all ``want``."""
    import polars as pl

    path = ctx.workdir / "results.parquet"
    if run.rc != 0:
        run.note = f"exit {run.rc}: {_tail(log)}"
        return
    if not path.exists():
        run.note = "exit 0 but no results file"
        return
    status = pl.read_parquet(path, columns=["status"])["status"]
    good = int((status == want).sum())
    run.extra["results_rows"] = status.len()
    run.ok = status.len() == ctx.rows and good == ctx.rows
    if not run.ok:
        run.note = f"results: {status.len()} rows, {good} {want}"


def bare() -> Contestant:
    def build(ctx: Ctx) -> list[str]:
        return [
            PY,
            str(BENCH / "bare_aiohttp.py"),
            str(ctx.csv),
            "--base-url",
            ctx.url,
            "--api-username",
            API_USERNAME,
            "--concurrency",
            str(CONCURRENCY),
        ]

    def check(ctx: Ctx, run: Run, log: Path) -> None:
        got = _last_json(log)
        run.extra.update(got or {})
        run.ok = got is not None and got["rows"] == ctx.rows and got["ok"] == ctx.rows
        if not run.ok:
            run.note = f"exit {run.rc}: {got or _tail(log)}"

    return Contestant("bare aiohttp", build, check)


def sequential(limit: int) -> Contestant:
    def build(ctx: Ctx) -> list[str]:
        return [
            PY,
            str(BENCH / "requests_loop.py"),
            str(ctx.csv),
            "--base-url",
            ctx.url,
            "--api-username",
            API_USERNAME,
            "--limit",
            str(limit),
        ]

    def check(ctx: Ctx, run: Run, log: Path) -> None:
        got = _last_json(log)
        if not got:
            run.note = f"exit {run.rc}: {_tail(log)}"
            return
        run.extra.update(got)
        k = int(got["rows"])  # type: ignore[call-overload]
        run.ok = k == limit and got["ok"] == k
        if not run.ok:
            run.note = f"exit {run.rc}: {got}"
            return
        # Extrapolate the loop (flat cost per row) to the whole file; startup stays as measured.
        loop_s, loop_cpu = float(got["loop_s"]), float(got["loop_cpu_s"])  # type: ignore[arg-type]
        scale = ctx.rows / k
        run.extra.update(measured_wall_s=run.wall_s, measured_cpu_s=run.cpu_s)
        run.wall_s = run.wall_s - loop_s + loop_s * scale
        run.cpu_s = run.cpu_s - loop_cpu + loop_cpu * scale
        run.rows = ctx.rows
        run.note = f"{k} rows sent, extrapolated to {ctx.rows:,}"

    return Contestant("requests loop (vendor)", build, check)


def polars_floor() -> Contestant:
    def build(ctx: Ctx) -> list[str]:
        code = (
            "import sys, polars as pl; "
            "pl.scan_csv(sys.argv[1], infer_schema=False).sink_parquet(sys.argv[2])"
        )
        return [PY, "-c", code, str(ctx.csv), str(ctx.workdir / "floor.parquet")]

    def check(ctx: Ctx, run: Run, log: Path) -> None:
        import polars as pl

        path = ctx.workdir / "floor.parquet"
        n = pl.scan_parquet(path).select(pl.len()).collect().item() if path.exists() else 0
        run.ok = run.rc == 0 and n == ctx.rows
        if not run.ok:
            run.note = f"exit {run.rc}, {n} rows: {_tail(log)}"

    return Contestant("polars scan_csv→parquet (floor)", build, check)


# --------------------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    key: str
    title: str
    csv_rows: int
    latency_ms: float | None  # None: no simulator
    contestants: list[Contestant]
    runs: list[Run] = field(default_factory=list)
    skipped: str = ""

    def of(self, name: str) -> list[Run]:
        return [r for r in self.runs if r.contestant == name]


def run_scenario(sc: Scenario, reps: int, env: dict[str, str], sim: SimSpec | None) -> None:
    csv = gen_data.ensure(sc.csv_rows)
    for rep in range(1, reps + 1):
        for c in sc.contestants:
            slug = c.name.split()[0].lower() + ("-nojournal" if "no-journal" in c.name else "")
            workdir = OUT / "runs" / f"s{sc.key}-{slug}-r{rep}"
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            log = workdir / "client"
            with contextlib.ExitStack() as stack:
                url, server = "", None
                if sc.latency_ms is not None:
                    assert sim is not None
                    server = stack.enter_context(
                        Simulator(
                            sim.cmd, sim.flags, sc.csv_rows, sc.latency_ms, workdir / "server"
                        )
                    )
                    url = server.url
                ctx = Ctx(csv=csv, rows=sc.csv_rows, url=url, workdir=workdir)
                cmd = c.build(ctx)
                load = os.getloadavg()[0]
                cpu0 = server.cpu_s() if server else None
                wall, cpu, rss, rc = measure(cmd, env, log)
                cpu1 = server.cpu_s() if server else None
            run = Run(sc.key, c.name, rep, sc.csv_rows, wall, cpu, rss, rc)
            if cpu0 is not None and cpu1 is not None:
                run.server_cpu_s = cpu1 - cpu0
            c.check(ctx, run, log)
            run.extra["cmd"] = shlex.join(cmd)
            run.extra["load1_before"] = round(load, 2)
            sc.runs.append(run)
            status = "ok" if run.ok else f"FAILED ({run.note})"
            print(
                f"  [{sc.key}] rep {rep} {c.name:<34} wall {run.wall_s:8.2f} s  "
                f"cpu {run.cpu_s:7.2f} s  rss {run.rss_mb:6.0f} MB  {status}",
                file=sys.stderr,
                flush=True,
            )
            for name in ("results.parquet", "floor.parquet"):  # keep disk use flat
                (workdir / name).unlink(missing_ok=True)


@dataclass
class SimSpec:
    cmd: list[str]
    flags: list[str]


def detect_simulator(cmd: list[str]) -> tuple[SimSpec | None, str]:
    try:
        p = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["--help failed"])[-1]
    text = p.stdout + p.stderr
    for needed in ("--port", "--customers", "--latency-ms", "--seed"):
        if needed not in text:
            return None, f"simulator --help lacks {needed}"
    flags = []
    for quiet in ("--no-log", "--no-access-log", "--quiet"):
        if quiet in text:
            flags.append(quiet)
            break
    return SimSpec(cmd, flags), ""


def detect_batchtool() -> tuple[dict[str, bool] | None, str]:
    try:
        p = subprocess.run(
            [BATCHTOOL, "run", "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    text = p.stdout + p.stderr
    if p.returncode != 0 or "--dry-run" not in text:
        return None, "`batchtool run --help` does not offer --dry-run yet"
    flags = {f: f in text for f in ("--quiet", "--restart", "--no-journal", "--results")}
    return flags, ""


# --------------------------------------------------------------------------- reporting


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def pair_median(a: list[Run], b: list[Run], f: Callable[[Run, Run], float]) -> float | None:
    """Median over reps of f(rep i of a, rep i of b), using only pairs where both ran ok."""
    by_rep = {r.rep: r for r in b if r.ok}
    return med([f(x, by_rep[x.rep]) for x in a if x.ok and x.rep in by_rep])


def fmt(v: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


def scenario_table(sc: Scenario) -> list[str]:
    lines = [
        "| contestant | rows | wall s | rows/s | CPU s / 1k rows | peak RSS MB "
        "| server CPU s | runs ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in sc.contestants:
        runs = sc.of(c.name)
        good = [r for r in runs if r.ok]
        srv = [r.server_cpu_s for r in good if r.server_cpu_s is not None]
        rows = good[0].rows if good else sc.csv_rows
        lines.append(
            f"| {c.name} | {rows:,} | {fmt(med([r.wall_s for r in good]))} "
            f"| {fmt(med([r.rows_per_s for r in good]), ',.0f')} "
            f"| {fmt(med([r.cpu_per_1k for r in good]), '.3f')} "
            f"| {fmt(med([r.rss_mb for r in good]), '.0f')} "
            f"| {fmt(med(srv)) if srv else '–'} | {len(good)}/{len(runs)} |"
        )
    notes = sorted({f"{r.contestant}: {r.note}" for r in sc.runs if r.note})
    loads = [float(r.extra["load1_before"]) for r in sc.runs if "load1_before" in r.extra]  # type: ignore[arg-type]
    if loads:
        notes.append(
            f"1-minute load average before each run: {min(loads):.2f}–{max(loads):.2f} "
            f"on {os.cpu_count()} CPUs"
        )
    lines += [""] + [f"- {n}" for n in notes] if notes else []
    return lines


@dataclass
class Verdict:
    target: str
    measured: str
    passed: bool | None


def judge(value: float | None, ok: Callable[[float], bool]) -> bool | None:
    return None if value is None else ok(value)


def analyse(scs: dict[str, Scenario]) -> tuple[dict[str, list[str]], list[Verdict]]:
    """Ratio lines per scenario, and the verdicts on the issue's targets."""
    ratios: dict[str, list[str]] = {}
    verdicts: list[Verdict] = []
    bt, br, sq = "batchtool", "bare aiohttp", "requests loop (vendor)"

    def throughput_ratios(key: str) -> tuple[float | None, float | None, float | None]:
        sc = scs[key]
        vs_bare = pair_median(sc.of(bt), sc.of(br), lambda a, b: b.wall_s / a.wall_s)
        vs_seq = pair_median(sc.of(bt), sc.of(sq), lambda a, b: b.wall_s / a.wall_s)
        cpu = pair_median(sc.of(bt), sc.of(br), lambda a, b: a.cpu_per_1k / b.cpu_per_1k)
        ceiling = pair_median(sc.of(br), sc.of(sq), lambda a, b: b.wall_s / a.wall_s)
        ratios[key] = [
            f"- batchtool throughput ÷ bare aiohttp: **{fmt(vs_bare, '.2f', 'x')}**",
            f"- batchtool throughput ÷ sequential requests loop: **{fmt(vs_seq, '.1f', 'x')}**",
            f"- batchtool CPU per row ÷ bare aiohttp: **{fmt(cpu, '.2f', 'x')}**",
            f"- for reference, the ceiling: bare aiohttp ÷ sequential loop: "
            f"{fmt(ceiling, '.1f', 'x')}",
        ]
        return vs_bare, vs_seq, cpu

    if "1" in scs and not scs["1"].skipped:
        vs_bare, vs_seq, _ = throughput_ratios("1")
        verdicts.append(
            Verdict(
                f"(1) 20 ms: ≥ {T1_VS_BARE}x bare aiohttp throughput",
                fmt(vs_bare, ".2f", "x"),
                judge(vs_bare, lambda v: v >= T1_VS_BARE),
            )
        )
        verdicts.append(
            Verdict(
                f"(1) 20 ms: ≥ {T1_VS_SEQ:g}x sequential loop",
                fmt(vs_seq, ".1f", "x"),
                judge(vs_seq, lambda v: v >= T1_VS_SEQ),
            )
        )
    if "2" in scs and not scs["2"].skipped:
        _, _, cpu = throughput_ratios("2")
        verdicts.append(
            Verdict(
                f"(2) 0 ms: CPU per row ≤ {T2_CPU_VS_BARE}x bare aiohttp",
                fmt(cpu, ".2f", "x"),
                judge(cpu, lambda v: v <= T2_CPU_VS_BARE),
            )
        )
    if "3" in scs and not scs["3"].skipped:
        sc = scs["3"]
        runs = [r for r in sc.of("batchtool --dry-run") if r.ok]
        rss, rps = med([r.rss_mb for r in runs]), med([r.rows_per_s for r in runs])
        floor = "polars scan_csv→parquet (floor)"
        slow = pair_median(
            sc.of("batchtool --dry-run"), sc.of(floor), lambda a, b: a.wall_s / b.wall_s
        )
        mem = pair_median(
            sc.of("batchtool --dry-run"), sc.of(floor), lambda a, b: a.rss_mb / b.rss_mb
        )
        ratios["3"] = [
            f"- batchtool dry-run wall time ÷ polars floor: **{fmt(slow, '.2f', 'x')}**",
            f"- batchtool dry-run peak RSS ÷ polars floor: **{fmt(mem, '.2f', 'x')}**",
        ]
        verdicts.append(
            Verdict(
                f"(3) 1M dry run: peak RSS ≤ {T3_RSS_MB:g} MB",
                fmt(rss, ".0f", " MB"),
                judge(rss, lambda v: v <= T3_RSS_MB),
            )
        )
        verdicts.append(
            Verdict(
                f"(3) 1M dry run: ≥ {T3_ROWS_PER_S:,.0f} rows/s",
                fmt(rps, ",.0f", " rows/s"),
                judge(rps, lambda v: v >= T3_ROWS_PER_S),
            )
        )
    if "4" in scs and not scs["4"].skipped:
        runs = [r for r in scs["4"].of(bt) if r.ok]
        rss = med([r.rss_mb for r in runs])
        worst = max((r.rss_mb for r in runs), default=None)
        ratios["4"] = [f"- worst rep: {fmt(worst, '.0f', ' MB')}"]
        verdicts.append(
            Verdict(
                f"(4) {scs['4'].csv_rows:,}-row live run: peak RSS ≤ {T4_RSS_MB:g} MB",
                fmt(rss, ".0f", " MB"),
                judge(rss, lambda v: v <= T4_RSS_MB),
            )
        )
    if "5" in scs and not scs["5"].skipped:
        sc = scs["5"]
        nj = "batchtool --no-journal"
        keep = pair_median(sc.of(bt), sc.of(nj), lambda a, b: b.wall_s / a.wall_s)
        extra = pair_median(sc.of(bt), sc.of(nj), lambda a, b: a.cpu_per_1k - b.cpu_per_1k)
        ratios["5"] = [
            f"- throughput with journal ÷ without: **{fmt(keep, '.2f', 'x')}**",
            f"- journal's CPU cost: **{fmt(extra, '+.3f', ' CPU s per 1k rows')}**",
        ]
        verdicts.append(
            Verdict(
                f"(5) 0 ms: with journal ≥ {T5_JOURNAL_MIN_THROUGHPUT:g}x the throughput",
                fmt(keep, ".2f", "x"),
                judge(keep, lambda v: v >= T5_JOURNAL_MIN_THROUGHPUT),
            )
        )
    return ratios, verdicts


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
    with contextlib.suppress(Exception):
        info["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with contextlib.suppress(Exception):
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "batchtool"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        info["tree"] = f"{head}{' + uncommitted changes in batchtool/' if dirty else ''}"
    return info


def render(
    scs: dict[str, Scenario], reps: int, quick: bool, info: dict[str, str], extras: list[str]
) -> str:
    ratios, verdicts = analyse(scs)
    mark = {True: "PASS", False: "**FAIL**", None: "n/a"}
    out = ["# batchtool benchmarks — results", ""]
    if quick:
        out += ["> `--quick` smoke run: small sizes, one rep. Not a result to quote.", ""]
    out += [
        f"Measured {info['date']} by `make bench` (benchmarks/run_all.py), "
        f"{reps} rep(s) per contestant, medians; ratios pair by pair.",
        "",
        "## Targets",
        "",
        "| target | measured (median) | verdict |",
        "|---|---:|---|",
    ]
    out += [f"| {v.target} | {v.measured} | {mark[v.passed]} |" for v in verdicts]
    for sc in scs.values():
        out += ["", f"## {sc.key}. {sc.title}", ""]
        if sc.skipped:
            out += [f"Not run: {sc.skipped}"]
            continue
        out += scenario_table(sc)
        if ratios.get(sc.key):
            out += ["", *ratios[sc.key]]
    out += ["", *extras] if extras else []
    out += [
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "## How to rerun",
        "",
        "```",
        "make bench                                        # everything, 3 reps (this file)",
        ".venv/bin/python benchmarks/run_all.py --only 1 2 # some (to out/)",
        ".venv/bin/python benchmarks/run_all.py --reps 5   # more reps",
        ".venv/bin/python benchmarks/run_all.py --quick    # smoke run (to benchmarks/out/)",
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
        "- The sequential loop sends the first rows only; its loop time and loop CPU are scaled "
        "to the full row count, its startup is kept as measured.",
        "- A run counts only when every row came back ok (batchtool: every row `ok`/`valid` in "
        "its results file). Raw per-run numbers: `benchmarks/out/results.json`.",
    ]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main


def simulator_bench(timeout_s: float) -> list[str]:
    """The simulator's own requests/s (benchmarks/bench_simulator.py, someone else's), if any."""
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


def build_scenarios(
    sizes: Sizes, bt: dict[str, bool] | None, bt_why: str, sim: SimSpec | None, sim_why: str
) -> dict[str, Scenario]:
    live = [batchtool_live(bt)] if bt else []
    n = sizes.throughput_rows
    scs = {
        "1": Scenario(
            "1",
            f"Throughput at 20 ms latency — {n:,} rows, concurrency {CONCURRENCY}",
            n,
            20,
            [*live, bare(), sequential(sizes.seq_rows_20ms)],
        ),
        "2": Scenario(
            "2",
            f"Throughput and CPU at 0 ms latency — {n:,} rows, concurrency {CONCURRENCY}",
            n,
            0,
            [*live, bare(), sequential(sizes.seq_rows_0ms)],
        ),
        "3": Scenario(
            "3",
            f"{sizes.dry_rows:,}-row dry run to Parquet",
            sizes.dry_rows,
            None,
            [*([batchtool_dry(bt)] if bt else []), polars_floor()],
        ),
        "4": Scenario(
            "4", f"{sizes.live_rows:,}-row live run at 0 ms: peak RSS", sizes.live_rows, 0, live
        ),
        "5": Scenario(
            "5",
            f"Journal cost at 0 ms — {n:,} rows",
            n,
            0,
            [*live, *([batchtool_live(bt, journal=False)] if bt else [])],
        ),
    }
    for key, sc in scs.items():
        if sc.latency_ms is not None and sim is None:
            sc.skipped = f"simulator not available ({sim_why})"
        elif not bt and key in ("4", "5"):
            sc.skipped = f"batchtool CLI not available ({bt_why})"
        elif not bt:
            sc.title += f" — batchtool not measured: {bt_why}"
    if bt and not bt.get("--no-journal"):
        scs["5"].skipped = "`batchtool run` has no --no-journal option"
    return scs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 rep, smoke test")
    parser.add_argument("--only", nargs="+", choices=list("12345"), help="scenarios to run")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a target is missed (default: report only)",
    )
    parser.add_argument(
        "--no-simulator-bench", action="store_true", help="skip benchmarks/bench_simulator.py"
    )
    parser.add_argument(
        "--simulator-cmd",
        default=f"{shlex.quote(PY)} -m batchtool.simulator",
        help="command that starts the simulator (for testing the harness)",
    )
    parser.add_argument(
        "--results-md",
        type=Path,
        default=None,
        help="where to write the report (default benchmarks/RESULTS.md)",
    )
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 3)
    sizes = QUICK if args.quick else FULL
    # Only a full, default run replaces benchmarks/RESULTS.md; partial or quick runs go to out/.
    if args.results_md:
        report = args.results_md
    elif args.quick:
        report = OUT / "RESULTS-quick.md"
    elif args.only:
        report = OUT / "RESULTS-partial.md"
    else:
        report = BENCH / "RESULTS.md"
    OUT.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    sim, sim_why = detect_simulator(shlex.split(args.simulator_cmd))
    bt, bt_why = detect_batchtool()
    print(
        f"simulator: {'ok ' + ' '.join(sim.flags) if sim else 'MISSING: ' + sim_why}",
        file=sys.stderr,
    )
    print(f"batchtool: {'ok' if bt else 'MISSING: ' + bt_why}", file=sys.stderr)

    scs = build_scenarios(sizes, bt, bt_why, sim, sim_why)
    if args.only:
        scs = {k: v for k, v in scs.items() if k in args.only}
    for n in sorted({sc.csv_rows for sc in scs.values() if not sc.skipped}):
        print(f"input: {gen_data.ensure(n)}", file=sys.stderr)

    # Same environment for every contestant; no stray BATCHTOOL_* settings from the caller.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHTOOL_")}
    env["BATCHTOOL_API_KEY"] = API_KEY
    # Bytecode is cached as on any user's machine (the warm-up below fills the cache), but in
    # benchmarks/out/ rather than beside the sources, even if the caller disabled the cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")
    # Warm-up, unmeasured: compile every contestant's bytecode once so rep 1 pays no extra.
    warm = ["polars", "aiohttp", "requests", "json", "csv", "asyncio"]
    warm += ["batchtool.cli", "batchtool.simulator.__main__"] if bt else []
    for mod in warm:
        subprocess.run([PY, "-c", f"import {mod}"], env=env, cwd=ROOT, timeout=120, check=False)

    info = machine()
    for sc in scs.values():
        if sc.skipped:
            print(f"scenario {sc.key}: skipped: {sc.skipped}", file=sys.stderr)
            continue
        print(f"scenario {sc.key}: {sc.title}", file=sys.stderr, flush=True)
        try:
            run_scenario(sc, reps, env, sim)
        except RuntimeError as e:  # the simulator would not start
            sc.skipped = str(e).splitlines()[0]
            print(f"  aborted: {e}", file=sys.stderr)

    extras = [] if args.no_simulator_bench or args.quick else simulator_bench(300)
    text = render(scs, reps, args.quick, info, extras)
    report.write_text(text)
    raw = {
        "machine": info,
        "reps": reps,
        "quick": args.quick,
        "runs": [asdict(r) for sc in scs.values() for r in sc.runs],
    }
    (OUT / "results.json").write_text(json.dumps(raw, indent=1, default=str))
    print(text)
    print(
        f"wrote {report} in {time.perf_counter() - t_start:.0f} s",
        file=sys.stderr,
    )
    _, verdicts = analyse(scs)
    return 1 if args.strict and any(v.passed is False for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
