"""A run's options: how to read the input (``ReadOptions``) and the whole run, settled (``Job``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from batchtool.dispatch import DispatchConfig
from batchtool.events import RunStarted
from batchtool.installation import Installation
from batchtool.journal import INSTALLATIONS_OPTION
from batchtool.plan import PlanSummary
from batchtool.sync_state import Sync


@dataclass(frozen=True)
class ReadOptions:
    """How to read and plan the input file; recorded in the journal so a resume reads it alike.

    ``max_rows``: refuse a file of more data rows than that, whatever its format. Excel files
    are held to Excel's 1,048,576 rows anyway; CSV, TSV, Parquet and JSON Lines may hold any
    number (a nightly export, a migration) unless this says otherwise. The ops page passes
    ``batchtool.reader.MAX_ROWS``. Not journalled: it decides whether a file is read, not how.
    """

    fmt: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int | None = None
    column_map: Mapping[str, str] = field(default_factory=dict)
    ignore_columns: Sequence[str] = ()
    operation: str | None = None
    max_rows: int | None = None
    #: Columns that are no API name, and neither mapped nor named in ``ignore_columns``, are
    #: ignored too instead of refused (the ops page, for columns it did not offer to map).
    ignore_unknown: bool = False

    def journal_options(self) -> dict[str, object]:
        # Recorded only when set, so journals written before the option still resume.
        unknown = {"ignore_unknown": True} if self.ignore_unknown else {}
        return {
            "format": self.fmt,
            "sheet": self.sheet,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header_row": self.header_row,
            "map": dict(sorted(self.column_map.items())),
            "ignore_columns": sorted(self.ignore_columns),
            "operation": self.operation,
            **unknown,
        }


@dataclass(frozen=True)
class Job:
    """One run's settled options: what to read, where to write, what to send, how, and to
    which installations (one, or several: a fan-out)."""

    path: Path
    results: Path
    read: ReadOptions
    dispatch: DispatchConfig
    timeout_s: float
    dry_run: bool
    strict: bool
    resume: bool
    restart: bool
    journal: bool
    canary: int | None
    sync: Sync
    only_failed: bool = False
    #: With ``only_failed``: the earlier run's results file, when ``path`` is its input.
    earlier_results: Path | None = None
    installations: tuple[Installation, ...] = (Installation(None),)

    @property
    def fanout(self) -> bool:
        """Whether the run sends to several installations."""
        return len(self.installations) > 1

    @property
    def names(self) -> tuple[str | None, ...]:
        return tuple(i.name for i in self.installations)

    def journal_options(self) -> dict[str, object]:
        """Everything that decides which rows are sent: a resume must be asked for alike."""
        # Recorded only when asked for, so journals written before the option still resume.
        only_failed: dict[str, object] = {"only_failed": True} if self.only_failed else {}
        if self.earlier_results is not None:
            only_failed["earlier_results"] = str(self.earlier_results)
        # The same for the installations: a run to one resumes journals written before them.
        fanout = {INSTALLATIONS_OPTION: list(self.names)} if self.fanout else {}
        return {**self.read.journal_options(), **only_failed, **fanout}

    def started(
        self,
        plan: PlanSummary,
        *,
        to_send: int,
        already_ok: int = 0,
        by_installation: Mapping[str, int] | None = None,
        ok_by_installation: Mapping[str, int] | None = None,
    ) -> RunStarted:
        """The event that opens the run's account, with its options (never a secret).

        ``already_ok``: rows an earlier run of the journal finished ok (a resume).
        ``by_installation``, ``ok_by_installation``: in a run to several, the rows to send
        to each, and those already ok at each.
        """
        options: dict[str, object] = {
            **self.journal_options(),
            "dry_run": self.dry_run,
            "strict": self.strict,
            "resume": self.resume,
            "canary": self.canary,
            **self.sync.options.log_options(),
        }
        return RunStarted(
            input_path=self.path,
            results_path=self.results,
            dry_run=self.dry_run,
            rows=plan.total,
            to_send=to_send,
            options=options,
            already_ok=already_ok,
            installations=dict(by_installation or {}),
            installations_ok=dict(ok_by_installation or {}),
        )
