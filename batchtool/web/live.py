"""A sending run's live state, as every page and tab watching it sees it.

Fed from the run's events (``batchtool.events``, on the server's event loop); read by the
run page's JSON twin, which the page polls. The rows/s shown and charted is the pace between
two progress events, not the mean since the start, so a slowdown shows when it happens. The
history is kept small: one point per progress event up to ``HISTORY_POINTS``, then every
other point is dropped, so a long run still fits one chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from batchtool.events import Event, RunNote, RunProgress, RunStarted

HISTORY_POINTS: Final = 240


@dataclass
class LiveRun:
    """``concurrency`` starts as the run's configured limit; the engine's reports replace it."""

    concurrency: int | None = None
    to_send: int = 0
    done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    rate: float = 0.0
    elapsed_s: float = 0.0
    history: list[tuple[float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stopping: bool = False

    def apply(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.to_send = event.to_send
        elif isinstance(event, RunProgress):
            self._progress(event)
        elif isinstance(event, RunNote):
            self.notes.append(event.text)

    def _progress(self, event: RunProgress) -> None:
        span = event.elapsed_s - self.elapsed_s
        self.rate = (event.done - self.done) / span if span > 0 else event.rate
        self.done, self.to_send, self.counts = event.done, event.total, dict(event.counts)
        self.elapsed_s = event.elapsed_s
        if event.concurrency is not None:
            self.concurrency = event.concurrency
        self.history.append((round(event.elapsed_s, 2), round(self.rate, 1)))
        if len(self.history) > HISTORY_POINTS:
            # Every other point, the newest kept: the chart keeps its shape and its end.
            self.history = self.history[-2::-2][::-1] + self.history[-1:]

    def snapshot(self) -> dict[str, Any]:
        return {
            "to_send": self.to_send,
            "done": self.done,
            "counts": self.counts,
            "rate": round(self.rate, 1),
            "concurrency": self.concurrency,
            "elapsed_s": round(self.elapsed_s, 1),
            "history": self.history,
            "notes": self.notes,
            "stopping": self.stopping,
        }
