"""What a run did, as a value: the report a caller gets back (with what it did at each
installation), and the exit code it implies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from batchtool import model
from batchtool.plan import PlanSummary
from batchtool.reader import Places, ReadAs
from batchtool.results import ResultSummary

EXIT_OK: Final = 0
EXIT_NOT_ALL_OK: Final = 1
EXIT_USAGE: Final = 2
EXIT_ABORTED: Final = 3
EXIT_INTERRUPTED: Final = 130


def retries(requests_sent: int, summary: ResultSummary, resumed_ok: int) -> int:
    """Requests beyond the first of each row this run sent (requests cut off count too)."""
    counts = summary.counts
    answered = counts.get(model.OK, 0) + counts.get(model.FAILED, 0) - resumed_ok
    return max(requests_sent - max(answered, 0), 0)


@dataclass(frozen=True)
class InstallationReport:
    """What a run did at one installation: its rows' counts (``summary``), why sending to it
    stopped (``aborted``), and the numbers of :class:`RunReport`, for it alone; ``plan``: its
    share of the run as planned (a selection step may plan it apart from the others').

    ``name`` is None for a run to one installation whose credentials came without a profile.
    """

    name: str | None
    summary: ResultSummary
    aborted: str | None = None
    resumed_ok: int = 0
    requests_sent: int = 0
    mean_concurrency: float | None = None
    plan: PlanSummary | None = None

    @property
    def retries(self) -> int:
        return retries(self.requests_sent, self.summary, self.resumed_ok)

    def exit_code(self, *, interrupted: bool = False) -> int:
        """The exit code of a run to this installation alone."""
        return exit_code(self.summary, aborted=bool(self.aborted), interrupted=interrupted)


@dataclass(frozen=True)
class RunReport:
    """What a run did; ``exit_code`` follows DESIGN §5.

    ``resumed_ok``: rows an earlier run of this journal had already finished ok.
    ``requests_sent``: HTTP requests this run started, retries included.
    ``mean_concurrency``: the time-weighted mean limit on requests in flight, when reported.
    ``installations``: what the run did at each installation, in the run's order (one entry
    for a run to one). The other numbers are totals over them: with several, ``plan`` and
    ``summary`` count each row once per installation (as the results file holds it),
    ``aborted`` names each installation aborted and why, ``mean_concurrency`` is the sum.
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
    #: How the input was read: its sheet, header row, delimiter, encoding.
    read_as: ReadAs | None = None
    #: A dry run's: where each data row is in the input ("line 3", "sheet row 3"), when its
    #: format has such places.
    places: Places | None = None
    installations: tuple[InstallationReport, ...] = ()

    @property
    def fanout(self) -> bool:
        """Whether the run sent (or would send) to several installations."""
        return len(self.installations) > 1

    @property
    def retries(self) -> int:
        return retries(self.requests_sent, self.summary, self.resumed_ok)


def exit_code(summary: ResultSummary, *, aborted: bool, interrupted: bool) -> int:
    """0 when no row failed or is invalid; rows deliberately left unsent (unchanged, ok in an
    earlier run, after a canary) do not count against a run."""
    if interrupted:
        return EXIT_INTERRUPTED
    if aborted:
        return EXIT_ABORTED
    bad = summary.counts.get(model.FAILED, 0) + summary.counts.get(model.INVALID, 0)
    return EXIT_OK if bad == 0 else EXIT_NOT_ALL_OK
