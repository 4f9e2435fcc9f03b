"""Progress while a run goes, rendered as text, and the plain-text summary at its end.

``Progress`` counts finished rows and, every ``interval_s``, tells the run's event sink where
sending stands (``events.RunProgress``); ``FanProgress`` does it for a run to several
installations, one ``Progress`` each, in one event. ``TextProgress`` is the sink for people: a
live bar on a terminal (one per installation); anything else (cron, a CI log, a pipe) gets
one plain line every interval, so a log shows the run is alive without drowning in output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from batchtool import model, results
from batchtool.events import Event, EventSink, RunFinished, RunNote, RunProgress, RunStarted

if TYPE_CHECKING:
    from batchtool.report import InstallationReport

#: How often the terminal bar's numbers are pushed: often enough to look live, rarely
#: enough that ``advance`` stays a couple of additions for 100k rows/s.
BAR_INTERVAL_S = 0.1
#: How often a log gets a plain progress line.
LINE_INTERVAL_S = 10.0

#: Longest error text shown in the summary; the results file has the whole message.
_ERROR_WIDTH = 160


class Progress:
    """Counts a run's finished rows and emits a ``RunProgress`` to ``sink`` every ``interval_s``.

    ``set_limit`` records the engine's current limit on requests in flight; its time-weighted
    mean is reported beside it; ``slowed`` the last time it fell, and why. ``clock`` is
    injectable for tests. ``installation``: whose rows these are, in a run to several (see
    :class:`FanProgress`).
    """

    def __init__(
        self,
        total: int,
        *,
        sink: EventSink,
        interval_s: float = LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        installation: str | None = None,
    ) -> None:
        self.installation = installation
        self.total = max(total, 0)
        self._sink = sink
        self._clock = clock
        self._interval_s = interval_s
        self.done = 0
        self.retries = 0
        self.counts: dict[str, int] = {}
        self._slowdown: tuple[model.Slowdown, float] | None = None
        self._start = clock()
        self._next_push = self._start + interval_s
        self._limit: int | None = None
        self._limit_since = self._start
        self._limit_area = 0.0  # integral of the limit over time, for its mean
        self.aborted: str | None = None

    def set_limit(self, limit: int) -> None:
        """The engine's limit on requests in flight changed to ``limit``."""
        now = self._clock()
        if self._limit is not None:
            self._limit_area += self._limit * (now - self._limit_since)
        self._limit = limit
        self._limit_since = now

    def slowed(self, slowdown: model.Slowdown) -> None:
        """The engine lowered its limit on requests in flight: ``slowdown`` says why."""
        self._slowdown = (slowdown, self._clock() - self._start)

    def abort(self, reason: str) -> None:
        """Sending these rows stopped for ``reason``: the sink is told now, not at the next
        interval (in a run to several, the others go on meanwhile)."""
        self.aborted = reason
        self._sink(self.snapshot())

    def advance(self, outcome: model.Outcome) -> None:
        """Count one finished row; tells the sink only when the interval has passed."""
        self.done += 1
        if outcome.attempts > 1:
            self.retries += outcome.attempts - 1
        status = outcome.status
        self.counts[status] = self.counts.get(status, 0) + 1
        now = self._clock()
        if now >= self._next_push:
            self._next_push = now + self._interval_s
            self._sink(self.snapshot(now))

    def snapshot(self, now: float | None = None) -> RunProgress:
        """Where sending stands now."""
        at = self._clock() if now is None else now
        elapsed = at - self._start
        mean: float | None = None
        if self._limit is not None:
            span = at - self._start
            area = self._limit_area + self._limit * (at - self._limit_since)
            mean = area / span if span > 0 else float(self._limit)
        return RunProgress(
            done=self.done,
            total=self.total,
            counts=dict(self.counts),
            elapsed_s=elapsed,
            rate=self.done / elapsed if elapsed > 0 else 0.0,
            concurrency=self._limit,
            mean_concurrency=mean,
            retries=self.retries,
            slowdown=self._slowdown[0] if self._slowdown else None,
            slowdown_at_s=self._slowdown[1] if self._slowdown else None,
            installation=self.installation,
            aborted=self.aborted,
        )


class FanProgress:
    """The progress of a run to several installations: a :class:`Progress` per installation
    (``lanes``, in the run's order) and, every ``interval_s``, one ``RunProgress`` with the
    totals and each installation's own inside (``installations``)."""

    def __init__(
        self,
        totals: Sequence[tuple[str | None, int]],
        *,
        sink: EventSink,
        interval_s: float = LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._interval_s = interval_s
        self._next_push = clock() + interval_s
        # Each lane tells this object when its own interval has passed (so at most once an
        # interval per lane); whichever does first once the run's interval is up pushes.
        self.lanes = [
            Progress(total, sink=self._due, interval_s=interval_s, clock=clock, installation=name)
            for name, total in totals
        ]

    def _due(self, event: Event) -> None:
        now = self._clock()
        # An installation aborted is news: told at once, whatever the interval.
        aborted = isinstance(event, RunProgress) and event.aborted is not None
        if aborted or now >= self._next_push:
            self._next_push = now + self._interval_s
            self._sink(self.snapshot(now))

    def snapshot(self, now: float | None = None) -> RunProgress:
        """Where sending stands now, in total and at each installation."""
        at = self._clock() if now is None else now
        parts = tuple(lane.snapshot(at) for lane in self.lanes)
        counts: dict[str, int] = {}
        for part in parts:
            for status, n in part.counts.items():
                counts[status] = counts.get(status, 0) + n
        done = sum(p.done for p in parts)
        elapsed = max((p.elapsed_s for p in parts), default=0.0)
        limits = [p.concurrency for p in parts if p.concurrency is not None]
        means = [p.mean_concurrency for p in parts if p.mean_concurrency is not None]
        slowed = [p for p in parts if p.slowdown_at_s is not None]
        latest = max(slowed, key=lambda p: p.slowdown_at_s or 0.0) if slowed else None
        return RunProgress(
            done=done,
            total=sum(p.total for p in parts),
            counts=counts,
            elapsed_s=elapsed,
            rate=done / elapsed if elapsed > 0 else 0.0,
            concurrency=sum(limits) if limits else None,
            mean_concurrency=sum(means) if means else None,
            retries=sum(p.retries for p in parts),
            slowdown=latest.slowdown if latest else None,
            slowdown_at_s=latest.slowdown_at_s if latest else None,
            installations=parts,
        )


def progress_line(progress: RunProgress) -> str:
    """The plain progress line, e.g. for logs: done/total, percent, rate, counts, concurrency."""
    percent = progress.done * 100 // progress.total if progress.total else 100
    ok = progress.counts.get(model.OK, 0)
    failed = progress.counts.get(model.FAILED, 0)
    text = (
        f"batchtool: {progress.done}/{progress.total} rows ({percent}%), "
        f"{progress.rate:.0f} rows/s, ok {ok}, failed {failed}"
    )
    # Other statuses (a skipped row after an auth refusal, say) only when they happen.
    for status, count in progress.counts.items():
        if status not in (model.OK, model.FAILED):
            text += f", {status} {count}"
    if progress.concurrency is not None:
        text += f", concurrency {progress.concurrency}"
        if progress.mean_concurrency is not None:
            text += f" (avg {progress.mean_concurrency:.1f})"
    if progress.installations:
        text += " — " + "; ".join(_installation_part(p) for p in progress.installations)
    return text


def _installation_part(progress: RunProgress) -> str:
    """One installation in the progress line, compactly: ``nats 500/1000, failed 2``."""
    text = f"{progress.installation} {progress.done}/{progress.total}"
    for status, count in progress.counts.items():
        if status != model.OK:
            text += f", {status} {count}"
    return text + (" (aborted)" if progress.aborted else "")


class TextProgress:
    """An event sink for people: a live bar on a terminal, plain lines anywhere else.

    ``tty=None`` asks the stream. Pass ``interval_s`` to the run as its progress interval.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        if tty is None:
            isatty = getattr(self._stream, "isatty", None)
            tty = bool(isatty()) if isatty is not None else False
        self._tty = tty
        self._clock = clock
        self._bar: Any = None  # a rich Progress, imported only when a bar is drawn
        self._task: Any = None
        self._tasks: list[Any] = []  # one per installation, in a run to several

    @property
    def interval_s(self) -> float:
        return BAR_INTERVAL_S if self._tty else LINE_INTERVAL_S

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunProgress):
            self._progress(event)
        elif isinstance(event, RunNote):
            self._say(f"batchtool: {event.text}")
        elif isinstance(event, RunStarted):
            if self._tty and event.to_send:
                self._start_bar(event.to_send, event.installations)
        elif isinstance(event, RunFinished):
            self.close()

    def _start_bar(self, total: int, installations: Mapping[str, int]) -> None:
        # Imported here: rich costs ~50 ms to load, and logs and dry runs never draw a bar.
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} rows/s"),
            TextColumn("ok {task.fields[ok]}, failed {task.fields[failed]}"),
            TextColumn("{task.fields[limit]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=self._stream, force_terminal=True),
            transient=True,
            # stdout may be a pipe the user reads: never route it through the bar.
            redirect_stdout=False,
            get_time=self._clock,
        )
        fields = {"rate": "0", "ok": 0, "failed": 0, "limit": ""}
        if installations:
            width = max(len(name) for name in installations)
            self._tasks = [
                self._bar.add_task(f"{name:<{width}}", total=n, **fields)
                for name, n in installations.items()
            ]
        else:
            self._task = self._bar.add_task("batchtool", total=total, **fields)
        self._bar.start()

    def _progress(self, progress: RunProgress) -> None:
        if self._bar is None:
            self._stream.write(progress_line(progress) + "\n")
            self._stream.flush()
            return
        if self._task is not None:
            self._update(self._task, progress)
        for task, part in zip(self._tasks, progress.installations, strict=False):
            self._update(task, part)

    def _update(self, task: Any, progress: RunProgress) -> None:
        limit = "" if progress.concurrency is None else f"concurrency {progress.concurrency}"
        self._bar.update(
            task,
            completed=progress.done,
            rate=f"{progress.rate:,.0f}",
            ok=progress.counts.get(model.OK, 0),
            failed=progress.counts.get(model.FAILED, 0),
            limit=limit,
        )

    def _say(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            self._stream.write(text + "\n")
            self._stream.flush()

    def _stop_bar(self) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.stop()

    def close(self) -> None:
        """Stop the bar if it is drawing (a run that ends in an error never says finished)."""
        self._stop_bar()


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
    installations: Sequence[InstallationReport] = (),
) -> str:
    """The end-of-run report as plain text (no colour or terminal codes), no final newline.

    ``resumed``: rows an earlier run had already finished; they are not in this run's rate.
    ``installations``: in a run to several, each one's counts (``summary`` is their total).
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
    if installations:
        lines.append("by installation:")
        width = max(len(str(i.name)) for i in installations)
        for installation in installations:
            counts = ", ".join(f"{s} {n}" for s, n in installation.summary.counts.items())
            aborted = " (aborted)" if installation.aborted else ""
            lines.append(f"  {installation.name!s:<{width}}  {counts or 'no rows'}{aborted}")
    if summary.top_errors:
        lines.append("most common errors:")
        digits = max(len(str(n)) for _, n in summary.top_errors)
        for error, count in summary.top_errors:
            lines.append(f"  {count:>{digits}}  {_one_line(error)}")
    lines.append(f"results: {results_path}")
    lines.extend(extra)
    return "\n".join(lines)
