"""benchmarks/: every scenario module is complete, and the harness judges and skips correctly.

Nothing here measures anything: no process is started and no input is generated.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import run_all
from harness import Contestant, Run, Runs, Scenario, SimulatorSpec, Size, Target
from harness.report import render, verdicts
from harness.runner import Planned, Tools, plan
from scenarios import RegistryError, discover

SCENARIOS = discover()
BY_NAME = {sc.name: sc for sc in SCENARIOS}
BATCHTOOL_RUN = {
    "batchtool",
    *(f"batchtool run {o}" for o in ("--dry-run", "--results", "--quiet", "--restart")),
    *(f"batchtool run {o}" for o in ("--base-url", "--api-username", "--concurrency")),
    "batchtool run --no-journal",
}


class Everything(Tools):
    """A machine with every option any scenario asks for."""

    def why_not(self, requirement: str) -> str | None:
        return None


EVERYTHING = Everything()


def each_scenario() -> list[object]:
    return [pytest.param(sc, id=sc.name) for sc in SCENARIOS]


@pytest.mark.parametrize("sc", each_scenario())
def test_scenario_declares_question_targets_and_a_smaller_quick_size(sc: Scenario) -> None:
    assert sc.question.strip()
    assert sc.targets, f"{sc.name} judges nothing"
    assert 0 < sc.rows.quick <= sc.rows.full
    assert "{" not in sc.title.format(rows=sc.rows.quick)


@pytest.mark.parametrize("sc", each_scenario())
@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
def test_scenario_has_distinct_contestants(sc: Scenario, quick: bool) -> None:
    names = [c.name for c in plan(sc, quick, EVERYTHING).contestants]
    assert names
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("sc", each_scenario())
def test_without_a_good_run_every_target_is_na_not_a_crash(sc: Scenario) -> None:
    p = plan(sc, True, EVERYTHING)
    p.runs.all = [failed_run(sc.number, c.name, rep=1) for c in p.contestants]

    assert [(v.measured, v.passed) for v in verdicts([p])] == [("n/a", None)] * len(sc.targets)
    if sc.notes is not None:
        assert sc.notes(p.runs)


def failed_run(number: int, contestant: str, rep: int) -> Run:
    nan = float("nan")
    return Run(number, contestant, rep, 10, nan, nan, nan, rc=1, note="exit 1")


def test_the_current_scenarios_are_found_in_number_order() -> None:
    assert [(sc.number, sc.name) for sc in SCENARIOS][:5] == [
        (1, "throughput-20ms"),
        (2, "throughput-0ms"),
        (3, "dry-run"),
        (4, "live-memory"),
        (5, "journal-cost"),
    ]


MODULE = """
from harness import Scenario, Size, Target
SCENARIO = Scenario(
    number={number}, name={name!r}, title="t", question="q?", rows=Size(10, 5),
    contestants=lambda setup: [], targets=[Target("x", lambda runs: None, lambda v: True)],
)
"""


FakePackage = Callable[[dict[str, str]], str]


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePackage]:
    """Writes a scenarios package ``fakebench`` of the given modules; forgets it afterwards."""

    def make(modules: dict[str, str]) -> str:
        package = tmp_path / "fakebench"
        package.mkdir()
        (package / "__init__.py").write_text("")
        for name, text in modules.items():
            (package / f"{name}.py").write_text(text)
        return "fakebench"

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for name in [m for m in sys.modules if m.split(".")[0] == "fakebench"]:
        del sys.modules[name]


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        pytest.param(
            {"a": MODULE.format(number=6, name="six"), "b": "X = 1\n"},
            "fakebench.b defines no SCENARIO = Scenario(...)",
            id="no-scenario",
        ),
        pytest.param(
            {"a": MODULE.format(number=6, name="six"), "b": MODULE.format(number=6, name="b")},
            "fakebench.b and fakebench.a both use number 6",
            id="same-number",
        ),
        pytest.param(
            {"a": MODULE.format(number=6, name="six"), "b": MODULE.format(number=7, name="six")},
            "fakebench.b and fakebench.a both use name 'six'",
            id="same-name",
        ),
        pytest.param(
            {"a": MODULE.format(number=6, name="Six 6")},
            "fakebench.a: name 'Six 6' must be lowercase letters, digits and dashes",
            id="name-not-typable",
        ),
    ],
)
def test_discover_names_the_module_at_fault(
    fake_package: FakePackage, modules: dict[str, str], message: str
) -> None:
    package = fake_package(modules)

    with pytest.raises(RegistryError, match="^" + re.escape(message)):
        discover(package)


def test_discover_skips_helper_modules_and_orders_by_number(fake_package: FakePackage) -> None:
    package = fake_package(
        {
            "_shared": "X = 1\n",
            "another": MODULE.format(number=7, name="seven"),
            "zeta": MODULE.format(number=6, name="six"),
        }
    )

    assert [sc.name for sc in discover(package)] == ["six", "seven"]


def test_only_selects_by_number_and_by_name_in_number_order() -> None:
    chosen = run_all.select(SCENARIOS, ["journal-cost", "3", "1"])

    assert [sc.number for sc in chosen] == [1, 3, 5]


def test_only_with_an_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"^no scenario 99, nope; there are: 1 throughput-20ms, "):
        run_all.select(SCENARIOS, ["1", "99", "nope"])


def test_a_scenario_needing_a_missing_option_is_skipped_with_the_reason() -> None:
    tools = Tools(have={"simulator", *BATCHTOOL_RUN} - {"batchtool run --no-journal"})

    p = plan(BY_NAME["journal-cost"], True, tools)

    assert p.skipped == "`batchtool run` has no --no-journal option"


def test_without_batchtool_its_contestant_is_dropped_and_the_title_says_why() -> None:
    tools = Tools(have={"simulator"}, missing={"batchtool": "no such file"})

    p = plan(BY_NAME["dry-run"], True, tools)

    assert not p.skipped
    assert [c.name for c in p.contestants] == ["polars scan_csv→parquet (floor)"]
    assert p.title == (
        "100,000-row dry run to Parquet — "
        "batchtool --dry-run not measured: batchtool not available (no such file)"
    )
    assert plan(BY_NAME["live-memory"], True, tools).skipped == (
        "batchtool not measured: batchtool not available (no such file)"
    )


def noop(name: str, server_args: tuple[str, ...] = ()) -> Contestant:
    return Contestant(
        name, lambda ctx: ["true"], lambda ctx, run, log: None, server_args=server_args
    )


def scenario(**overrides: object) -> Scenario:
    fields: dict[str, object] = dict(
        number=7,
        name="seven",
        title="Seven — {rows:,} rows",
        question="q?",
        rows=Size(full=2_000, quick=200),
        contestants=lambda setup: [noop("a"), noop("b")],
        targets=[],
    )
    return Scenario(**{**fields, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sc", "skipped", "kept"),
    [
        pytest.param(
            scenario(simulator=SimulatorSpec(args=("--workers", "6", "--queue=2"))),
            "the simulator has no --queue option",
            [],
            id="scenario-simulator-args",
        ),
        pytest.param(
            scenario(
                simulator=SimulatorSpec(),
                contestants=lambda setup: [noop("a"), noop("b", ("--queue", "2"))],
            ),
            "",
            ["a"],
            id="contestant-simulator-args",
        ),
    ],
)
def test_simulator_options_a_scenario_passes_must_exist(
    sc: Scenario, skipped: str, kept: list[str]
) -> None:
    tools = Tools(have={"simulator", "simulator --workers"})

    p = plan(sc, False, tools)

    assert p.skipped == skipped
    assert [c.name for c in p.contestants] == kept


def good_run(contestant: str, rep: int, wall_s: float, rss_mb: float = 100.0) -> Run:
    return Run(7, contestant, rep, 2_000, wall_s, 1.0, rss_mb, rc=0, ok=True)


def test_report_judges_targets_on_pairs_where_both_runs_counted() -> None:
    faster = Target(
        "a ≥ 1.5x b",
        lambda r: r.pair("a", "b", lambda x, y: y.wall_s / x.wall_s),
        lambda v: v >= 1.5,
    )
    leaner = Target(
        "{rows:,} rows: a ≤ 50 MB",
        lambda r: r.median("a", lambda x: x.rss_mb),
        lambda v: v <= 50,
        spec=".0f",
        unit=" MB",
    )
    p = Planned(scenario(targets=[faster, leaner]), 2_000, "Seven — 2,000 rows")
    p.contestants = [noop("a"), noop("b")]
    p.runs = Runs(2_000, [
        good_run("a", 1, 1.0), good_run("b", 1, 2.0),
        good_run("a", 2, 1.0), failed_run(7, "b", 2),  # rep 2 has no pair
        good_run("a", 3, 1.0), good_run("b", 3, 3.0),
    ])  # fmt: skip

    text = render([p], command="run_all.py", reps=3, quick=False, info={"date": "t"}, extras=[])

    assert "| (7) a ≥ 1.5x b | 2.50x | PASS |" in text
    assert "| (7) 2,000 rows: a ≤ 50 MB | 100 MB | **FAIL** |" in text
    assert "| a | 2,000 | 1.00 | 2,000 | 0.500 | 100 | – | 3/3 |" in text
    assert "| b | 2,000 | 2.50 | 833 | 0.500 | 100 | – | 2/3 |" in text
    assert "- b: exit 1" in text


def test_the_fanout_scenarios_are_found() -> None:
    assert [(sc.number, sc.name) for sc in SCENARIOS if sc.name.startswith("fanout")] == [
        (18, "fanout-speed"),
        (19, "fanout-dry-memory"),
        (20, "fanout-live-memory"),
    ]


def test_a_fanout_run_sends_to_each_profile_of_a_private_config(tmp_path: Path) -> None:
    from harness import Ctx

    urls = {"nats": "http://127.0.0.1:2", "trackfinity": "http://127.0.0.1:3"}
    ctx = Ctx(tmp_path / "in.csv", 10, "http://127.0.0.1:1", tmp_path, tmp_path, services=urls)
    three, one = plan(BY_NAME["fanout-speed"], True, EVERYTHING).contestants[::-1]

    cmd = three.build(ctx)

    assert cmd[cmd.index("--config") + 1] == str(tmp_path / "config.toml")
    assert [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--profile"] == [
        "offerit",
        "nats",
        "trackfinity",
    ]
    assert (tmp_path / "config.toml").stat().st_mode & 0o077 == 0
    assert 'base_url = "http://127.0.0.1:3"' in (tmp_path / "config.toml").read_text()
    assert one.build(ctx).count("--profile") == 1
