"""--canary N: send the first N rows, stop, and let --resume send the rest (issue 10, part 2)."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from batchtool import Credentials, DispatchConfig, run_batch_async
from batchtool.cli import main
from batchtool.simulator import Simulator

CANARY_REASON = "not sent: canary — run again with --resume to send the rest"


def write_rows(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["operation", "customer_id", "firstname"])
        writer.writerows(rows)
    return path


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def creds(sim: Simulator) -> Credentials:
    return Credentials(sim.base_url, sim.api_username, sim.api_key)


ROWS = [
    ("set", "1", "a1"),
    ("set", "", "no lookup"),  # invalid: never sent, never counted as a canary row
    ("set", "2", "b1"),
    ("set", "3", "c1"),
    ("set", "1", "a2"),  # customer 1 again: after the canary, in the resumed run
    ("set", "4", "d1"),
    ("set", "1", "a3"),
]


async def test_canary_then_resume_sends_each_row_once_in_customer_order(
    simulator: Simulator, tmp_path: Path
) -> None:
    src = write_rows(tmp_path / "in.csv", ROWS)
    out = tmp_path / "in.results.csv"
    # One request at a time: the simulator's log then shows the order rows were sent in.
    config = DispatchConfig(concurrency=1)
    report = await run_batch_async(
        src, credentials=creds(simulator), results_path=out, canary=3, dispatch_config=config
    )
    assert [e.form["firstname"] for e in simulator.log] == ["a1", "b1", "c1"]
    assert report.exit_code == 1  # the invalid row: canary rows themselves were all ok
    results = read_results(out)
    assert [(r["status"], r["error"]) for r in results] == [
        ("ok", ""),
        ("invalid", "no lookup key — fill customer_id, subscription_id or orderid"),
        ("ok", ""),
        ("ok", ""),
        ("skipped", CANARY_REASON),
        ("skipped", CANARY_REASON),
        ("skipped", CANARY_REASON),
    ]
    assert any("--resume (without --canary)" in note for note in report.notes)

    report = await run_batch_async(
        src, credentials=creds(simulator), results_path=out, resume=True, dispatch_config=config
    )
    sent = [e.form["firstname"] for e in simulator.log]
    assert sorted(sent) == ["a1", "a2", "a3", "b1", "c1", "d1"]  # each row exactly once
    assert [name for name in sent if name.startswith("a")] == ["a1", "a2", "a3"]
    assert report.resumed_ok == 3
    assert [r["status"] for r in read_results(out)] == ["ok", "invalid"] + ["ok"] * 5
    customer = simulator.store.get("1")
    assert customer is not None and customer.fields["firstname"] == "a3"


async def test_a_canary_that_all_went_well_exits_0(simulator: Simulator, tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.csv", [("lock", str(i), "") for i in range(1, 11)])
    out = tmp_path / "in.results.csv"
    report = await run_batch_async(src, credentials=creds(simulator), results_path=out, canary=4)
    assert report.exit_code == 0
    assert report.summary.counts == {"ok": 4, "skipped": 6}
    assert len(simulator.log) == 4


async def test_a_canary_row_that_fails_exits_1_and_is_sent_again_on_resume(
    simulator: Simulator, tmp_path: Path
) -> None:
    # Customer 999999 does not exist: the simulator answers 404.
    rows = [("lock", "1", ""), ("lock", "999999", ""), ("lock", "2", ""), ("lock", "3", "")]
    src = write_rows(tmp_path / "in.csv", rows)
    out = tmp_path / "in.results.csv"
    report = await run_batch_async(src, credentials=creds(simulator), results_path=out, canary=2)
    assert report.exit_code == 1
    assert report.summary.counts == {"ok": 1, "failed": 1, "skipped": 2}
    await run_batch_async(src, credentials=creds(simulator), results_path=out, resume=True)
    sent = [e.form["customer_id"] for e in simulator.log]
    assert sorted(sent) == ["1", "2", "3", "999999", "999999"]  # row 1, ok, never again


def test_canary_through_the_cli(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.csv", [("unlock", str(i), "") for i in range(1, 6)])
    out = tmp_path / "in.results.csv"
    runner = CliRunner()
    result = runner.invoke(
        main, ["run", str(src), "--simulate", "--results", str(out), "--canary", "2"]
    )
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in read_results(out)] == ["ok", "ok"] + ["skipped"] * 3
    assert (
        "batchtool: canary: 3 row(s) not sent yet — run the same command with --resume "
        "(without --canary) to send them"
    ) in result.output
    # The journal is open: a plain run is refused rather than sending the canary rows again.
    result = runner.invoke(main, ["run", str(src), "--simulate", "--results", str(out)])
    assert result.exit_code == 2, result.output
    assert "add --resume to continue it" in result.output


def test_canary_option_errors(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.csv", [("unlock", "1", "")])
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(src), "--simulate", "--canary", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--canary': 0 is not in the range x>=1." in result.output
    result = runner.invoke(main, ["run", str(src), "--simulate", "--canary", "1", "--no-journal"])
    assert result.exit_code == 2
    assert result.output == (
        "batchtool: error: --canary needs the journal, which lets --resume send the rest — "
        "drop --no-journal\n"
    )
