"""Progress lines for logs, the terminal bar, quiet mode, and the end-of-run summary text."""

from __future__ import annotations

import io
from pathlib import Path

from batchtool import model
from batchtool.progress import Progress, render_summary
from batchtool.results import ResultSummary


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def outcome(status: str = model.OK) -> model.Outcome:
    return model.Outcome(row=1, status=status, http_status=200, attempts=1)


def test_plain_lines_every_interval() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress(5000, stream=out, tty=False, interval_s=10.0, clock=clock)
    for i in range(1190):
        clock.now = 100.0 + i * 0.005
        progress.advance(outcome())
    assert out.getvalue() == ""  # nothing before the first interval
    for _ in range(9):
        progress.advance(outcome(model.FAILED))
    clock.now = 110.0
    progress.advance(outcome(model.FAILED))
    assert out.getvalue() == ("batchtool: 1200/5000 rows (24%), 120 rows/s, ok 1190, failed 10\n")
    clock.now = 115.0
    progress.advance(outcome())
    assert out.getvalue().count("\n") == 1  # throttled until 10 s after the last line
    clock.now = 120.0
    progress.advance(outcome(model.SKIPPED))
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[1] == "batchtool: 1202/5000 rows (24%), 60 rows/s, ok 1191, failed 10, skipped 1"
    assert len(lines) == 2  # close adds nothing: the summary follows


def test_quiet_writes_nothing() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress(3, stream=out, quiet=True, tty=True, interval_s=1.0, clock=clock)
    for i in range(3):
        clock.now += 5 * (i + 1)
        progress.advance(outcome())
    progress.close()
    assert out.getvalue() == ""
    assert progress.done == 3
    assert progress.ok == 3


def test_not_a_terminal_is_detected_from_the_stream() -> None:
    clock, out = FakeClock(), io.StringIO()  # StringIO.isatty() is False
    progress = Progress(2, stream=out, interval_s=1.0, clock=clock)
    clock.now += 2
    progress.advance(outcome())
    progress.close()
    assert out.getvalue() == "batchtool: 1/2 rows (50%), 0 rows/s, ok 1, failed 0\n"


def test_terminal_bar_renders_and_closes() -> None:
    clock, out = FakeClock(), io.StringIO()
    with Progress(10, stream=out, tty=True, clock=clock) as progress:
        for _ in range(10):
            clock.now += 0.2
            progress.advance(outcome())
    text = out.getvalue()
    assert "10/10" in text
    assert "ok 10, failed 0" in text
    assert "\x1b[" in text  # terminal control codes, i.e. a live bar


def test_render_summary_live() -> None:
    summary = ResultSummary(
        counts={"ok": 4990, "failed": 7, "invalid": 3},
        top_errors=[("customer not found", 7), ("email: 'x' is not an address\nline 2", 3)],
        total=5000,
    )
    text = render_summary(
        summary,
        elapsed_s=12.5,
        results_path=Path("out/changes.results.csv"),
        dry_run=False,
        extra=["journal kept: out/changes.results.csv.journal (use --resume)"],
    )
    assert text == (
        "batchtool run finished: 5000 rows in 12.5 s (400 rows/s)\n"
        "  ok       4990\n"
        "  failed      7\n"
        "  invalid     3\n"
        "most common errors:\n"
        "  7  customer not found\n"
        "  3  email: 'x' is not an address line 2\n"
        "results: out/changes.results.csv\n"
        "journal kept: out/changes.results.csv.journal (use --resume)"
    )
    assert text.isascii()


def test_render_summary_rate_counts_only_this_runs_rows_on_resume() -> None:
    summary = ResultSummary(counts={"ok": 1000}, top_errors=[], total=1000)
    text = render_summary(
        summary, elapsed_s=2.0, results_path=Path("r.csv"), dry_run=False, resumed=600
    )
    assert text.splitlines()[0] == (
        "batchtool run finished: 1000 rows, 600 already ok from the earlier run in 2.0 s "
        "(200 rows/s)"
    )


def test_render_summary_rate_leaves_out_rows_never_sent() -> None:
    summary = ResultSummary(counts={"failed": 64, "skipped": 149936}, top_errors=[], total=150000)
    text = render_summary(summary, elapsed_s=0.5, results_path=Path("r.csv"), dry_run=False)
    assert "(128 rows/s)" in text.splitlines()[0]


def test_render_summary_dry_run_and_long_errors() -> None:
    summary = ResultSummary(counts={"valid": 2, "invalid": 1}, top_errors=[("x" * 500, 1)], total=3)
    text = render_summary(summary, elapsed_s=90, results_path=Path("r.csv"), dry_run=True)
    first, *_ = text.splitlines()
    assert first == "batchtool dry run: checked 3 rows in 1m30s (0 rows/s); nothing was sent"
    assert max(len(line) for line in text.splitlines()) < 200
    assert "..." in text
