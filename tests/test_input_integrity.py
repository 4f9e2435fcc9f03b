"""The input is never harmed and a run reads one version of it (issue 9, part 1).

- An output of the run (results, journal, lock, metrics and summary files) that is the input
  file is refused before anything is read or sent: by name, through a symlink, through a
  hard link.
- An input rewritten while a run goes (an export job overlapping) changes nothing the run
  does: the server gets the version the run started with, and the results say so.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from batchtool import Credentials, events, plan, run_batch_async, snapshot
from batchtool.cli import main
from batchtool.journal import journal_path
from batchtool.simulator import Simulator

ORIGINAL = "operation,customer_id,firstname\nset,1,Ann\nset,2,Bob\n"
REWRITTEN = "operation,customer_id,firstname\nset,1,Zed\nset,2,Yan\n"


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


#: A run that only checks, and one that sends: neither may write over its input.
DRY_OR_LIVE = pytest.mark.parametrize(
    "dry_run", [pytest.param(True, id="dry-run"), pytest.param(False, id="live")]
)
#: The input itself, by name or through a link to it.
LINKS = pytest.mark.parametrize(
    "link",
    [
        pytest.param(None, id="same-name"),
        pytest.param("symlink", id="symlink"),
        pytest.param("hardlink", id="hard-link"),
    ],
)


def the_input(src: Path, link: str | None, name: str) -> Path:
    """``src`` itself, or a symlink or a hard link to it called ``name`` beside it."""
    if link is None:
        return src
    linked = src.with_name(name)
    if link == "symlink":
        linked.symlink_to(src)
    else:
        os.link(src, linked)
    return linked


@DRY_OR_LIVE
@LINKS
def test_results_over_the_input_are_refused_and_the_input_is_untouched(
    tmp_path: Path, dry_run: bool, link: str | None
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(ORIGINAL, encoding="utf-8")
    out = the_input(src, link, "out.csv")
    args = ["run", str(src), "--results", str(out), "--dry-run" if dry_run else "--simulate"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"batchtool: error: the results file {out} is the input file {src} — writing it "
        "would destroy the input; choose another --results path\n"
    )
    assert src.read_text(encoding="utf-8") == ORIGINAL


@DRY_OR_LIVE
@LINKS
@pytest.mark.parametrize(
    ("option", "what"),
    [
        pytest.param("--metrics-file", "metrics file", id="metrics-file"),
        pytest.param("--summary-json", "summary file", id="summary-json"),
    ],
)
def test_a_side_file_over_the_input_is_refused_and_the_input_is_untouched(
    tmp_path: Path, dry_run: bool, link: str | None, option: str, what: str
) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(ORIGINAL.encode())
    side = the_input(src, link, "side.txt")
    args = ["run", str(src), option, str(side), "--results", str(tmp_path / "out.csv")]
    result = CliRunner().invoke(main, [*args, "--dry-run" if dry_run else "--simulate"])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"batchtool: error: the {what} {side} is the input file {src} — writing it "
        f"would destroy the input; choose another {option} path\n"
    )
    assert src.read_bytes() == ORIGINAL.encode()
    assert not (tmp_path / "out.csv").exists()


def test_a_refused_metrics_file_is_not_written_and_the_summary_file_says_why(
    tmp_path: Path,
) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(ORIGINAL.encode())
    summary = tmp_path / "summary.json"
    args = ["run", str(src), "--dry-run", "--metrics-file", str(src)]
    result = CliRunner().invoke(main, [*args, "--summary-json", str(summary)])
    assert result.exit_code == 2, result.output
    assert src.read_bytes() == ORIGINAL.encode()
    message = f"the metrics file {src} is the input file {src}"
    assert json.loads(summary.read_text(encoding="utf-8"))["message"].startswith(message)


def test_a_journal_that_would_be_the_input_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    src = journal_path(out)  # an input file unluckily named like the journal of --results
    src.write_text(ORIGINAL, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["run", str(src), "--format", "csv", "--results", str(out), "--simulate"]
    )
    assert result.exit_code == 2, result.output
    assert "the journal" in result.output and "is the input file" in result.output
    assert src.read_text(encoding="utf-8") == ORIGINAL


async def test_an_input_rewritten_mid_run_changes_nothing_the_run_does(
    simulator: Simulator, tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(ORIGINAL, encoding="utf-8")
    out = tmp_path / "in.results.csv"

    def rewrite_when_sending_starts(event: events.Event) -> None:
        # The cron overlap: the export job rewrites the file after the run has read it.
        if isinstance(event, events.RunStarted):
            src.write_text(REWRITTEN, encoding="utf-8")

    report = await run_batch_async(
        src,
        credentials=Credentials(simulator.base_url, simulator.api_username, simulator.api_key),
        results_path=out,
        on_event=rewrite_when_sending_starts,
    )
    assert report.exit_code == 0
    sent = sorted(entry.form["firstname"] for entry in simulator.log)
    assert sent == ["Ann", "Bob"]
    assert [r["firstname"] for r in read_results(out)] == ["Ann", "Bob"]
    # The journal's fingerprint is the sent version's, so a resume compares against it.
    sent_version = tmp_path / "sent.csv"
    sent_version.write_text(ORIGINAL, encoding="utf-8")
    header = json.loads(journal_path(out).read_text(encoding="utf-8").splitlines()[0])
    assert header["fingerprint"] == snapshot.fingerprint(sent_version)
    assert header["fingerprint"] != snapshot.fingerprint(src)


async def test_a_dry_run_reports_the_version_it_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(ORIGINAL, encoding="utf-8")
    out = tmp_path / "in.results.csv"

    def plan_then_rewrite(frame: pl.LazyFrame, **options: Any) -> pl.LazyFrame:
        # Planning is lazy: the rows are read later, while the results are written. The
        # export job rewrites the file in between.
        planned = plan.plan_frame(frame, **options)
        src.write_text("operation,customer_id,firstname\nset,,Zed\n", encoding="utf-8")
        return planned

    monkeypatch.setattr("batchtool.runner.plan_frame", plan_then_rewrite)
    report = await run_batch_async(src, dry_run=True, results_path=out)
    assert report.exit_code == 0
    assert [(r["status"], r["firstname"]) for r in read_results(out)] == [
        ("valid", "Ann"),
        ("valid", "Bob"),
    ]


def test_no_private_copy_is_left_behind(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(ORIGINAL, encoding="utf-8")
    out = tmp_path / "in.results.csv"
    result = CliRunner().invoke(main, ["run", str(src), "--simulate", "--results", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.csv",
        "in.results.csv",
        "in.results.csv.journal",
    ]
