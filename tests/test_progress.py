"""Progress lines for logs, the terminal bar, quiet mode, and the end-of-run summary text."""

from __future__ import annotations

import io
from pathlib import Path

from batchtool import model
from batchtool.events import Event, RunNote, RunProgress, RunStarted, ignore
from batchtool.progress import Progress, TextProgress, progress_line, render_summary
from batchtool.results import ResultSummary


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def outcome(status: str = model.OK) -> model.Outcome:
    return model.Outcome(row=1, status=status, http_status=200, attempts=1)


def started(to_send: int) -> RunStarted:
    return RunStarted(Path("in.csv"), Path("in.results.csv"), False, to_send, to_send)


def test_plain_lines_every_interval() -> None:
    clock, out = FakeClock(), io.StringIO()
    text = TextProgress(out, tty=False, clock=clock)
    progress = Progress(5000, sink=text, interval_s=10.0, clock=clock)
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
    text.close()
    lines = out.getvalue().splitlines()
    assert lines[1] == "batchtool: 1202/5000 rows (24%), 60 rows/s, ok 1191, failed 10, skipped 1"
    assert len(lines) == 2  # close adds nothing: the summary follows


def test_progress_reaches_any_sink_with_the_counts_and_the_limit() -> None:
    clock, seen = FakeClock(), list[Event]()
    progress = Progress(3, sink=seen.append, interval_s=1.0, clock=clock)
    progress.set_limit(4)
    clock.now += 1
    progress.set_limit(8)  # 4 for 1 s, then 8 for 1 s: a mean of 6
    clock.now += 1
    progress.advance(outcome())
    assert seen == [
        RunProgress(
            done=1,
            total=3,
            counts={"ok": 1},
            elapsed_s=2.0,
            rate=0.5,
            concurrency=8,
            mean_concurrency=6.0,
        )
    ]
    assert progress_line(progress.snapshot()) == (
        "batchtool: 1/3 rows (33%), 0 rows/s, ok 1, failed 0, concurrency 8 (avg 6.0)"
    )


def test_nothing_watching_still_counts() -> None:
    clock = FakeClock()
    progress = Progress(3, sink=ignore, interval_s=1.0, clock=clock)
    for i in range(3):
        clock.now += 5 * (i + 1)
        progress.advance(outcome())
    assert progress.done == 3
    assert progress.counts == {"ok": 3}


def test_not_a_terminal_is_detected_from_the_stream() -> None:
    clock, out = FakeClock(), io.StringIO()  # StringIO.isatty() is False
    text = TextProgress(out, clock=clock)
    assert text.interval_s == 10.0
    progress = Progress(2, sink=text, interval_s=1.0, clock=clock)
    clock.now += 2
    progress.advance(outcome())
    text(RunNote("SIGINT — finishing requests in flight", level="warning"))
    assert out.getvalue() == (
        "batchtool: 1/2 rows (50%), 0 rows/s, ok 1, failed 0\n"
        "batchtool: SIGINT — finishing requests in flight\n"
    )


def test_terminal_bar_renders_and_closes() -> None:
    clock, out = FakeClock(), io.StringIO()
    text = TextProgress(out, tty=True, clock=clock)
    assert text.interval_s == 0.1
    text(started(10))
    progress = Progress(10, sink=text, interval_s=text.interval_s, clock=clock)
    for _ in range(10):
        clock.now += 0.2
        progress.advance(outcome())
    text.close()
    rendered = out.getvalue()
    assert "10/10" in rendered
    assert "ok 10, failed 0" in rendered
    assert "\x1b[" in rendered  # terminal control codes, i.e. a live bar


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


def test_progress_counts_retries_and_tells_the_last_slowdown() -> None:
    clock, seen = FakeClock(), list[Event]()
    progress = Progress(3, sink=seen.append, interval_s=1.0, clock=clock)
    progress.advance(model.Outcome(row=1, status=model.OK, http_status=200, attempts=3))
    clock.now += 4
    progress.slowed(model.Slowdown(5, status=503))
    clock.now += 1
    progress.advance(model.Outcome(row=2, status=model.FAILED, http_status=404, attempts=1))
    progress.advance(model.Outcome(row=3, status=model.OK, http_status=200, attempts=2))
    last = progress.snapshot()
    assert (last.retries, last.slowdown, last.slowdown_at_s) == (3, model.Slowdown(5, 503), 4.0)
    assert isinstance(seen[-1], RunProgress) and seen[-1].retries == 2  # as of row 2
