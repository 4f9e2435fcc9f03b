"""``make bench``: batchtool side by side with the honest alternatives, on this machine.

Runs the scenarios of benchmarks/scenarios/ (one module each: see benchmarks/README.md for
what each answers and how to add one) through the harness in benchmarks/harness/, and writes
the report: benchmarks/RESULTS.md for a full run, benchmarks/out/RESULTS-quick.md or
RESULTS-partial.md for a --quick or --only run; every raw number to benchmarks/out/results.json.

    .venv/bin/python benchmarks/run_all.py                # everything, 3 reps
    .venv/bin/python benchmarks/run_all.py --list         # the scenarios' numbers and names
    .venv/bin/python benchmarks/run_all.py --only 3 journal-cost
    .venv/bin/python benchmarks/run_all.py --quick        # smoke run: small sizes, 1 rep
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))  # harness/, scenarios/ and gen_data.py; benchmarks/ is no package

from harness import report, runner  # noqa: E402
from harness.model import Scenario  # noqa: E402
from harness.settings import OUT, PY  # noqa: E402
from scenarios import discover  # noqa: E402


def select(scenarios: Sequence[Scenario], only: Sequence[str] | None) -> list[Scenario]:
    """The scenarios ``only`` names by number or name (all without it), in number order."""
    if not only:
        return list(scenarios)
    known = {str(sc.number): sc for sc in scenarios} | {sc.name: sc for sc in scenarios}
    unknown = [o for o in only if o not in known]
    if unknown:
        choices = ", ".join(f"{sc.number} {sc.name}" for sc in scenarios)
        raise ValueError(f"no scenario {', '.join(unknown)}; there are: {choices}")
    picked = {known[o].number for o in only}
    return [sc for sc in scenarios if sc.number in picked]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 rep, smoke test")
    parser.add_argument("--only", nargs="+", metavar="N|NAME", help="scenarios to run")
    parser.add_argument(
        "--list", action="store_true", help="print the scenarios as a Markdown table and exit"
    )
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    scenarios = discover()
    if args.list:
        print("\n".join(report.scenario_list(scenarios)))
        return 0
    try:
        chosen = select(scenarios, args.only)
    except ValueError as e:
        parser.error(str(e))
    reps = args.reps or (1 if args.quick else 3)
    OUT.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    tools = runner.detect(shlex.split(args.simulator_cmd))
    for tool in ("simulator", "batchtool"):
        print(f"{tool}: {tools.status(tool)}", file=sys.stderr)
    planned = [runner.plan(sc, args.quick, tools) for sc in chosen]
    _make_inputs(planned)
    env = runner.contestant_env()
    runner.warm_up([p for p in planned if not p.skipped], env)
    info = report.machine()
    _run(planned, reps, env, tools)

    extras = [] if args.no_simulator_bench or args.quick else report.simulator_bench(300)
    command = shlex.join(["benchmarks/run_all.py", *(sys.argv[1:] if argv is None else argv)])
    text = report.render(
        planned, command=command, reps=reps, quick=args.quick, info=info, extras=extras
    )
    out_md = _report_path(args)
    out_md.write_text(text)
    verdicts = report.verdicts(planned)
    raw = {
        "machine": info,
        "reps": reps,
        "quick": args.quick,
        "targets": [asdict(v) for v in verdicts],
        "runs": [asdict(r) for p in planned for r in p.runs.all],
    }
    (OUT / "results.json").write_text(json.dumps(raw, indent=1, default=str))
    print(text)
    print(f"wrote {out_md} in {time.perf_counter() - t_start:.0f} s", file=sys.stderr)
    return 1 if args.strict and any(v.passed is False for v in verdicts) else 0


def _report_path(args: argparse.Namespace) -> Path:
    """Only a full, default run replaces benchmarks/RESULTS.md; others go to out/."""
    if args.results_md:
        return Path(args.results_md)
    if args.quick:
        return OUT / "RESULTS-quick.md"
    if args.only:
        return OUT / "RESULTS-partial.md"
    return BENCH / "RESULTS.md"


def _make_inputs(planned: Sequence[runner.Planned]) -> None:
    """Every input exists before the first measurement, so making one disturbs no run."""
    made: set[Path] = set()
    for p in planned:
        if p.skipped:
            continue
        p.inputs = p.scenario.inputs(p.rows)
        for path in [p.inputs.csv, *p.inputs.files.values()]:
            if path not in made:
                print(f"input: {path}", file=sys.stderr)
                made.add(path)


def _run(
    planned: Sequence[runner.Planned], reps: int, env: dict[str, str], tools: runner.Tools
) -> None:
    for p in planned:
        if p.skipped:
            print(f"scenario {p.scenario.number}: skipped: {p.skipped}", file=sys.stderr)
            continue
        print(f"scenario {p.scenario.number}: {p.title}", file=sys.stderr, flush=True)
        try:
            runner.run_scenario(p, reps, env, tools)
        except RuntimeError as e:  # a server would not start
            p.skipped = str(e).splitlines()[0]
            print(f"  aborted: {e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
