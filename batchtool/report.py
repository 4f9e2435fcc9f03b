"""What a run did, as a value: the report a caller gets back, and the exit code it implies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from batchtool import model
from batchtool.plan import PlanSummary
from batchtool.results import ResultSummary

EXIT_OK: Final = 0
EXIT_NOT_ALL_OK: Final = 1
EXIT_USAGE: Final = 2
EXIT_ABORTED: Final = 3
EXIT_INTERRUPTED: Final = 130


@dataclass(frozen=True)
class RunReport:
    """What a run did; ``exit_code`` follows DESIGN §5.

    ``resumed_ok``: rows an earlier run of this journal had already finished ok.
    ``requests_sent``: HTTP requests this run started, retries included.
    ``mean_concurrency``: the time-weighted mean limit on requests in flight, when reported.
    """

    input_path: Path
    results_path: Path
    dry_run: bool
    plan: PlanSummary
    summary: ResultSummary
    elapsed_s: float
    exit_code: int
    aborted: str | None = None
    interrupted: bool = False
    sample_requests: tuple[str, ...] = ()
    resumed_ok: int = 0
    notes: tuple[str, ...] = ()
    requests_sent: int = 0
    mean_concurrency: float | None = None
    #: Where the input's header is when not on its first line or row, e.g. "line 3".
    header_place: str | None = None


def exit_code(summary: ResultSummary, *, aborted: bool, interrupted: bool) -> int:
    """0 when no row failed or is invalid; rows deliberately left unsent (unchanged, ok in an
    earlier run, after a canary) do not count against a run."""
    if interrupted:
        return EXIT_INTERRUPTED
    if aborted:
        return EXIT_ABORTED
    bad = summary.counts.get(model.FAILED, 0) + summary.counts.get(model.INVALID, 0)
    return EXIT_OK if bad == 0 else EXIT_NOT_ALL_OK
