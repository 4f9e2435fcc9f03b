"""A sending run's live state, as every page and tab watching it sees it.

Fed from the run's events (on the server's event loop); read by the run page's JSON twin,
which the page polls. The rows/s history is kept small: one point per progress event up to
``HISTORY_POINTS``, then every other point is dropped, so a long run still fits one chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

HISTORY_POINTS: Final = 240


@dataclass
class LiveRun:
    to_send: int = 0
    done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    rate: float = 0.0
    concurrency: int | None = None
    elapsed_s: float = 0.0
    history: list[tuple[float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stopping: bool = False

    def started(self, to_send: int) -> None:
        self.to_send = to_send

    def progress(
        self,
        *,
        done: int,
        total: int,
        counts: Mapping[str, int],
        elapsed_s: float,
        rate: float,
        concurrency: int | None,
    ) -> None:
        self.done, self.to_send, self.counts = done, total, dict(counts)
        self.elapsed_s, self.rate, self.concurrency = elapsed_s, rate, concurrency
        self.history.append((round(elapsed_s, 2), round(rate, 1)))
        if len(self.history) > HISTORY_POINTS:
            # Every other point, the newest kept: the chart keeps its shape and its end.
            self.history = self.history[-2::-2][::-1] + self.history[-1:]

    def note(self, text: str) -> None:
        self.notes.append(text)

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
