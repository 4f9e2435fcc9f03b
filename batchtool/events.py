"""What a run tells whoever watches it, as it goes: started, progress, notes, finished.

The run emits these to one ``EventSink`` (any callable). The terminal bar, plain log lines,
JSON log lines and the ops page are all sinks: each renders the same events its own way, so
none of them needs to know how the run works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from batchtool.model import Slowdown

if TYPE_CHECKING:
    from batchtool.report import RunReport


@dataclass(frozen=True)
class RunStarted:
    """The input is read and checked; sending (if any) starts now.

    ``to_send``: rows this run will try to send (0 in a dry run or when nothing may be sent).
    ``already_ok``: rows an earlier run of the same journal finished ok (a resume): with
    ``to_send``, the whole account.
    ``options``: how the run was asked for, for logs; never holds a secret.
    ``installations``: in a run to several, the rows to send to each, in the run's order
    (``to_send`` is their sum); empty for a run to one. ``installations_ok``: likewise, the
    rows an earlier run finished ok at each (``already_ok`` is their sum).
    """

    input_path: Path
    results_path: Path
    dry_run: bool
    rows: int
    to_send: int
    options: Mapping[str, object] = field(default_factory=dict)
    already_ok: int = 0
    installations: Mapping[str, int] = field(default_factory=dict)
    installations_ok: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RunProgress:
    """Where sending stands: rows finished of ``total``, counts per status, the pace.

    ``concurrency`` is the current limit on requests in flight and ``mean_concurrency`` its
    time-weighted mean so far; both None when the engine does not report them. ``retries``:
    requests sent beyond the first of each finished row. ``slowdown``: the last time the
    adaptive limit fell, and why; ``slowdown_at_s`` when (seconds into the run).

    In a run to several installations the numbers are totals (the limits and retries summed,
    the latest slowdown of any), and ``installations`` holds each installation's own
    progress, in the run's order, each naming its ``installation``; one that was aborted
    (its key refused, or no answer at all) says why in ``aborted``, told as soon as it is,
    while the others go on.
    """

    done: int
    total: int
    counts: Mapping[str, int]
    elapsed_s: float
    rate: float
    concurrency: int | None = None
    mean_concurrency: float | None = None
    retries: int = 0
    slowdown: Slowdown | None = None
    slowdown_at_s: float | None = None
    installation: str | None = None
    installations: tuple[RunProgress, ...] = ()
    aborted: str | None = None


@dataclass(frozen=True)
class RunNote:
    """Something a person watching should know now (an interrupt, a warning about the input)."""

    text: str
    level: Literal["info", "warning"] = "info"


@dataclass(frozen=True)
class RunFinished:
    """The run is over and its results file written; ``report`` says what happened."""

    report: RunReport


Event = RunStarted | RunProgress | RunNote | RunFinished
EventSink = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The sink of a run nobody watches."""


__all__ = ["Event", "EventSink", "RunFinished", "RunNote", "RunProgress", "RunStarted", "ignore"]
