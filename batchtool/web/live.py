"""A sending run's live state, as every page and tab watching it sees it.

Fed from the run's events (``batchtool.events``, on the server's event loop); read by the
run page, its JSON twin (which the page polls) and the runs list. Each installation a run
sends to has its own ``LiveSend`` (its own counts, pace, concurrency, slow-downs and abort:
the events of a run to several carry each one's part); the run adds them up.

Counts are the run's whole account: a resumed run starts from the rows its earlier sends
already finished ok, so it reads "1,808 of 20,000", not "968 of 19,160". The pace shown
(rows/s, the chart, the time left) is the recent one, not the mean since the start, so a
slowdown shows when it happens and the estimate follows it. The history is kept small: one
point per progress event up to ``HISTORY_POINTS``, then every other point is dropped, so a
long run still fits one chart.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from batchtool import model
from batchtool.events import Event, RunNote, RunProgress, RunStarted
from batchtool.web import words

HISTORY_POINTS: Final = 240
#: The time left is estimated from the rows finished over about this many recent seconds.
PACE_WINDOW_S: Final = 30.0


@dataclass
class LiveSend:
    """One installation's part of a sending run.

    ``concurrency`` starts as the run's configured limit; the engine's reports replace it.
    ``already_ok``: rows earlier sends of this run finished ok; ``to_send``: rows this send
    tries; ``done`` and ``counts``: rows this send finished. ``aborted``: why sending to this
    installation stopped while the others go on.
    """

    installation: str
    concurrency: int | None = None
    already_ok: int = 0
    to_send: int = 0
    done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    rate: float = 0.0
    elapsed_s: float = 0.0
    history: list[tuple[float, float]] = field(default_factory=list)
    slowdown: model.Slowdown | None = None
    slowdown_at_s: float | None = None
    aborted: str | None = None
    # (seconds into the send, rows done) of the progress events within PACE_WINDOW_S.
    _recent: deque[tuple[float, int]] = field(default_factory=lambda: deque([(0.0, 0)]))

    def started(self, already_ok: int, to_send: int) -> None:
        self.already_ok, self.to_send = already_ok, to_send

    def progress(self, event: RunProgress) -> None:
        """This installation's progress (the event of a run to one, or its part of one to
        several)."""
        if event.aborted is not None:
            self.aborted = event.aborted
        span = event.elapsed_s - self.elapsed_s
        self.rate = (event.done - self.done) / span if span > 0 else event.rate
        self.done, self.to_send, self.counts = event.done, event.total, dict(event.counts)
        self.elapsed_s = event.elapsed_s
        self.retries = event.retries
        if event.concurrency is not None:
            self.concurrency = event.concurrency
        if event.slowdown is not None:
            self.slowdown, self.slowdown_at_s = event.slowdown, event.slowdown_at_s
        recent = self._recent
        recent.append((event.elapsed_s, event.done))
        while len(recent) > 2 and recent[1][0] <= event.elapsed_s - PACE_WINDOW_S:
            recent.popleft()
        self.history.append((round(event.elapsed_s, 2), round(self.rate, 1)))
        if len(self.history) > HISTORY_POINTS:
            # Every other point, the newest kept: the chart keeps its shape and its end.
            self.history = self.history[-2::-2][::-1] + self.history[-1:]

    @property
    def total(self) -> int:
        return self.already_ok + self.to_send

    @property
    def finished(self) -> int:
        return self.already_ok + self.done

    def totals(self) -> dict[str, int]:
        """Rows by status, earlier sends' ok rows included."""
        if not self.already_ok:
            return dict(self.counts)
        ok = self.counts.get(model.OK, 0) + self.already_ok
        return {model.OK: ok, **{s: n for s, n in self.counts.items() if s != model.OK}}

    def pace(self) -> float | None:
        """Rows a second over the recent window; None until some row has finished in it."""
        (start, done_then), (now, done_now) = self._recent[0], self._recent[-1]
        if now <= start or done_now <= done_then:
            return None
        return (done_now - done_then) / (now - start)

    def seconds_left(self) -> float | None:
        pace = self.pace()
        return None if pace is None else (self.to_send - self.done) / pace

    def snapshot(self) -> dict[str, Any]:
        slowdown = self.slowdown
        return {
            "installation": self.installation,
            "aborted": self.aborted,
            "to_send": self.total,
            "done": self.finished,
            "counts": self.totals(),
            "retries": self.retries,
            "rate": round(self.rate, 1),
            "concurrency": self.concurrency,
            "elapsed_s": round(self.elapsed_s, 1),
            "elapsed_text": words.duration(self.elapsed_s),
            "time_left_text": words.time_left(self.seconds_left()),
            "slowdown_text": words.slowdown(slowdown) if slowdown else None,
            "slowdown_at_s": (
                round(self.slowdown_at_s, 1) if self.slowdown_at_s is not None else None
            ),
            "history": self.history,
        }


@dataclass
class LiveRun:
    """A sending run: its installations' parts, and whether someone asked it to stop."""

    sends: dict[str, LiveSend]
    notes: list[str] = field(default_factory=list)
    stopping: bool = False

    @classmethod
    def to(cls, installations: Sequence[str], concurrency: int | None = None) -> LiveRun:
        return cls({name: LiveSend(name, concurrency) for name in installations})

    def apply(self, event: Event) -> None:
        if isinstance(event, RunNote):
            self.notes.append(event.text)
        elif isinstance(event, RunStarted):
            if not event.installations:  # a run to one: its numbers are that one's
                for send in self.sends.values():
                    send.started(event.already_ok, event.to_send)
            for name, to_send in event.installations.items():
                if (found := self.sends.get(name)) is not None:
                    found.started(event.installations_ok.get(name, 0), to_send)
        elif isinstance(event, RunProgress):
            if not event.installations:
                for send in self.sends.values():
                    send.progress(event)
            for part in event.installations:
                if (found := self.sends.get(str(part.installation))) is not None:
                    found.progress(part)

    def totals(self) -> dict[str, int]:
        """Rows by status over every installation, earlier sends' ok rows included."""
        counts: dict[str, int] = {}
        for send in self.sends.values():
            for status, n in send.totals().items():
                counts[status] = counts.get(status, 0) + n
        return counts

    def snapshot(self) -> dict[str, Any]:
        sends = list(self.sends.values())
        return {
            "to_send": sum(s.total for s in sends),
            "done": sum(s.finished for s in sends),
            "counts": self.totals(),
            "installations": [s.snapshot() for s in sends],
            "notes": self.notes,
            "stopping": self.stopping,
        }
