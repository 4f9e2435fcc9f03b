"""Progress on stderr while a run goes, and the plain-text summary at its end.

A terminal gets a live progress bar; anything else (cron, a CI log, a pipe) gets one plain
line every ``interval_s`` so a log shows the run is alive without drowning in output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from batchtool import model, results

#: How often the terminal bar's numbers are pushed: often enough to look live, rarely
#: enough that ``advance`` stays a couple of additions for 100k rows/s.
_BAR_PUSH_S = 0.1

#: Longest error text shown in the summary; the results file has the whole message.
_ERROR_WIDTH = 160


class Progress:
    """Counts finished rows and shows progress on ``stream`` (stderr by default).

    ``tty=None`` asks the stream; ``quiet`` shows nothing. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        quiet: bool = False,
        tty: bool | None = None,
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(total, 0)
        self._stream = sys.stderr if stream is None else stream
        self._clock = clock
        self._interval_s = interval_s
        self._quiet = quiet
        self.done = 0
        self.counts: dict[str, int] = {}
        self._start = clock()
        self._next_push = self._start
        self._closed = False
        if tty is None:
            isatty = getattr(self._stream, "isatty", None)
            tty = bool(isatty()) if isatty is not None else False
        self._bar: RichProgress | None = None
        self._task = None
        if quiet:
            self._next_push = float("inf")
        elif tty:
            self._next_push = self._start + _BAR_PUSH_S
            self._bar = RichProgress(
                TextColumn("batchtool"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} rows/s"),
                TextColumn("ok {task.fields[ok]}, failed {task.fields[failed]}"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self._stream, force_terminal=True),
                transient=True,
                # stdout may be a pipe the user reads: never route it through the bar.
                redirect_stdout=False,
                get_time=clock,
            )
            self._task = self._bar.add_task("rows", total=self.total, rate="0", ok=0, failed=0)
            self._bar.start()
        else:
            self._next_push = self._start + interval_s

    @property
    def ok(self) -> int:
        return self.counts.get(model.OK, 0)

    @property
    def failed(self) -> int:
        return self.counts.get(model.FAILED, 0)

    def advance(self, outcome: model.Outcome) -> None:
        """Count one finished row; renders only when the throttle interval has passed."""
        self.done += 1
        status = outcome.status
        self.counts[status] = self.counts.get(status, 0) + 1
        if self._closed:
            return
        now = self._clock()
        if now >= self._next_push:
            self._render(now)

    def _rate(self, now: float) -> float:
        elapsed = now - self._start
        return self.done / elapsed if elapsed > 0 else 0.0

    def _render(self, now: float) -> None:
        if self._bar is not None and self._task is not None:
            self._next_push = now + _BAR_PUSH_S
            self._bar.update(
                self._task,
                completed=self.done,
                rate=f"{self._rate(now):,.0f}",
                ok=self.ok,
                failed=self.failed,
            )
        else:
            self._next_push = now + self._interval_s
            self._stream.write(self.line(now) + "\n")
            self._stream.flush()

    def line(self, now: float | None = None) -> str:
        """The plain progress line, e.g. for logs: done/total, percent, rate and counts."""
        at = self._clock() if now is None else now
        percent = self.done * 100 // self.total if self.total else 100
        text = (
            f"batchtool: {self.done}/{self.total} rows ({percent}%), "
            f"{self._rate(at):.0f} rows/s, ok {self.ok}, failed {self.failed}"
        )
        # Other statuses (a skipped row after an auth refusal, say) only when they happen.
        for status, count in self.counts.items():
            if status not in (model.OK, model.FAILED):
                text += f", {status} {count}"
        return text

    def close(self) -> None:
        """Stop the bar (it disappears; the summary follows). Plain mode writes nothing more."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None and self._task is not None:
            now = self._clock()
            self._bar.update(
                self._task,
                completed=self.done,
                rate=f"{self._rate(now):,.0f}",
                ok=self.ok,
                failed=self.failed,
            )
            self._bar.stop()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _one_line(text: str, width: int = _ERROR_WIDTH) -> str:
    # A server's message may hold newlines or a whole HTML page; a log line must stay one line.
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def render_summary(
    summary: results.ResultSummary,
    *,
    elapsed_s: float,
    results_path: Path,
    dry_run: bool,
    resumed: int = 0,
    extra: Sequence[str] = (),
) -> str:
    """The end-of-run report as plain text (no colour or terminal codes), no final newline.

    ``resumed``: rows an earlier run had already finished; they are not in this run's rate.
    """
    # The rate is of rows this run finished: not rows never sent (invalid, skipped), nor an
    # earlier run's.
    if dry_run:
        done_now = summary.total
    else:
        done_now = summary.counts.get(model.OK, 0) + summary.counts.get(model.FAILED, 0) - resumed
    rate = done_now / elapsed_s if elapsed_s > 0 else 0.0
    what = "dry run: checked" if dry_run else "run finished:"
    earlier = f", {resumed} already ok from the earlier run" if resumed else ""
    lines = [
        f"batchtool {what} {summary.total} rows{earlier} in {_duration(elapsed_s)} "
        f"({rate:,.0f} rows/s)" + ("; nothing was sent" if dry_run else "")
    ]
    if summary.counts:
        width = max(len(status) for status in summary.counts)
        digits = max(len(str(n)) for n in summary.counts.values())
        for status, count in summary.counts.items():
            lines.append(f"  {status:<{width}}  {count:>{digits}}")
    if summary.top_errors:
        lines.append("most common errors:")
        digits = max(len(str(n)) for _, n in summary.top_errors)
        for error, count in summary.top_errors:
            lines.append(f"  {count:>{digits}}  {_one_line(error)}")
    lines.append(f"results: {results_path}")
    lines.extend(extra)
    return "\n".join(lines)
