"""What a scenario declares, and what the harness hands its functions (runs, statistics).

A module in benchmarks/scenarios/ defines ``SCENARIO = Scenario(...)``. The harness calls:

- ``contestants(setup)`` to list who is measured, for the sizes of this invocation;
- ``inputs(rows)`` once, before any run, to make the input files (unmeasured);
- per contestant run, with a fresh simulator (and ``services``) up: ``build(ctx)`` for the
  command line, then ``check(ctx, run, log)`` on its output, then ``after_run(ctx, run)``;
- after all runs, each ``Target.value(runs)`` and ``notes(runs)`` for the report.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gen_data

from harness.settings import RUN_TIMEOUT_S


@dataclass(frozen=True)
class Size:
    """A number that is smaller in a ``--quick`` smoke run: rows, or any count a scenario uses."""

    full: int
    quick: int

    def pick(self, quick: bool) -> int:
        return self.quick if quick else self.full


@dataclass(frozen=True)
class Inputs:
    """The files a scenario's runs read: the main CSV, and any others by name."""

    csv: Path
    files: Mapping[str, Path] = field(default_factory=dict)


def csv_input(rows: int) -> Inputs:
    """The standard input: ``rows`` rows of set_customer_details (benchmarks/gen_data.py)."""
    return Inputs(gen_data.ensure(rows))


@dataclass(frozen=True)
class Setup:
    """This invocation's choices, for ``Scenario.contestants``: the main input's row count
    and whether it is a ``--quick`` smoke run."""

    rows: int
    quick: bool

    def size(self, size: Size) -> int:
        return size.pick(self.quick)


@dataclass(frozen=True)
class Ctx:
    """One contestant run, for building its command line and judging its output."""

    csv: Path
    rows: int
    url: str  # the simulator's base URL; "" when the scenario has no simulator
    workdir: Path  # empty at the start of the run, deleted after it: put big outputs here
    logs: Path  # this run's log folder: client.out/.err, <service>.out/.err (kept)
    files: Mapping[str, Path] = field(default_factory=dict)  # Inputs.files
    services: dict[str, str] = field(default_factory=dict)  # service name -> its URL


@dataclass
class Run:
    """One contestant process, measured from outside. ``rows`` is what wall/cpu refer to."""

    scenario: int
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

    def number(self, key: str) -> float | None:
        """``extra[key]`` as a number, None when absent or not a number."""
        value = self.extra.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)


@dataclass(frozen=True)
class Contestant:
    """One program measured in a scenario.

    ``check`` sets ``run.ok`` (only when every row came back ok) and ``run.note``; it may
    rescale ``run`` (see contestants.sequential). ``log`` is the path prefix of the
    contestant's ``.out``/``.err``. ``requires`` names what must exist for it to run, e.g.
    ``"batchtool run --no-journal"``; ``server_args`` are added to the simulator's command
    line for this contestant's runs; ``imports`` are modules byte-compiled before measuring;
    ``method`` is a line for the report's "How it is measured" (how its numbers were made).
    """

    name: str
    build: Callable[[Ctx], list[str]]
    check: Callable[[Ctx, Run, Path], None]
    requires: tuple[str, ...] = ()
    server_args: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    method: str = ""


@dataclass(frozen=True)
class SimulatorSpec:
    """A fresh ``python -m batchtool.simulator`` per contestant run, seeded with one customer
    per row; ``args`` are added to its command line, e.g. ``("--workers", "6")``."""

    latency_ms: float = 0.0
    args: tuple[str, ...] = ()


def ready_line(line: str) -> str | None:
    """The URL of a ``READY <url>`` line (what the simulator prints), else None."""
    parts = line.split()
    return parts[1] if len(parts) >= 2 and parts[0] == "READY" else None


@dataclass(frozen=True)
class ServiceSpec:
    """A server started for each contestant run, after the simulator, before the contestant.

    ``build(ctx)`` gives its command (``ctx.url`` is the simulator's; earlier services'
    URLs are in ``ctx.services``). It is ready when ``ready`` finds a URL in a line of its
    stdout; that URL is ``ctx.services[name]`` for the contestant. Its CPU during the
    measured run is recorded as ``run.extra["<name> CPU s"]``.
    """

    name: str
    build: Callable[[Ctx], list[str]]
    ready: Callable[[str], str | None] = ready_line
    requires: tuple[str, ...] = ()


class Runs:
    """All runs of one scenario, with the statistics targets and notes are made of."""

    def __init__(self, rows: int, runs: Sequence[Run] = ()) -> None:
        self.rows = rows
        self.all = list(runs)

    def of(self, contestant: str) -> list[Run]:
        return [r for r in self.all if r.contestant == contestant]

    def ok(self, contestant: str) -> list[Run]:
        return [r for r in self.all if r.contestant == contestant and r.ok]

    def median(self, contestant: str, f: Callable[[Run], float | None]) -> float | None:
        """Median of ``f`` over the contestant's good runs (values that are None left out)."""
        return median([v for r in self.ok(contestant) if (v := f(r)) is not None])

    def pair(self, a: str, b: str, f: Callable[[Run, Run], float]) -> float | None:
        """Median over reps of f(rep i of a, rep i of b), using only pairs where both ran ok."""
        by_rep = {r.rep: r for r in self.ok(b)}
        return median([f(x, by_rep[x.rep]) for x in self.ok(a) if x.rep in by_rep])


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(v: float | None, spec: str = ".2f", suffix: str = "") -> str:
    """``v`` formatted with ``spec`` and ``suffix``; "n/a" when there is no value."""
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


@dataclass(frozen=True)
class Target:
    """A goal judged on the median: PASS when ``passes(value(runs))``, n/a when no value.

    ``label`` may use ``{rows:,}``; the report prefixes it with the scenario number.
    ``spec``/``unit`` format the measured value, e.g. ``".2f"``/``"x"`` → ``0.94x``.
    """

    label: str
    value: Callable[[Runs], float | None]
    passes: Callable[[float], bool]
    spec: str = ".2f"
    unit: str = "x"


@dataclass(frozen=True)
class Column:
    """An extra column of the scenario's table: the median of ``run.extra[key]``."""

    header: str
    key: str
    spec: str = ".2f"


@dataclass(frozen=True)
class Scenario:
    """One question the benchmarks answer; a scenario module's ``SCENARIO``.

    ``number`` orders the report and, with ``name``, selects it for ``--only``. ``title``
    may use ``{rows:,}``. ``rows`` is the main input's row count. ``simulator`` None: no
    simulator (e.g. a dry run). ``requires`` skips the whole scenario when something is
    missing (contestants have their own). ``timeout_s`` bounds one contestant run.
    """

    number: int
    name: str
    title: str
    question: str
    rows: Size
    contestants: Callable[[Setup], list[Contestant]]
    targets: Sequence[Target]
    simulator: SimulatorSpec | None = None
    services: Sequence[ServiceSpec] = ()
    requires: tuple[str, ...] = ()
    inputs: Callable[[int], Inputs] = csv_input
    after_run: Callable[[Ctx, Run], None] | None = None
    notes: Callable[[Runs], list[str]] | None = None
    columns: Sequence[Column] = ()
    timeout_s: float = RUN_TIMEOUT_S
