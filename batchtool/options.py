"""A run's options: how to read the input (``ReadOptions``) and the whole run, settled (``Job``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from batchtool.dispatch import DispatchConfig
from batchtool.events import RunStarted
from batchtool.plan import PlanSummary
from batchtool.sync_state import Sync


@dataclass(frozen=True)
class ReadOptions:
    """How to read and plan the input file; recorded in the journal so a resume reads it alike."""

    fmt: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int | None = None
    column_map: Mapping[str, str] = field(default_factory=dict)
    ignore_columns: Sequence[str] = ()
    operation: str | None = None
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
    """One run's settled options: what to read, where to write, what to send and how."""

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

    def journal_options(self) -> dict[str, object]:
        """Everything that decides which rows are sent: a resume must be asked for alike."""
        # Recorded only when asked for, so journals written before the option still resume.
        only_failed = {"only_failed": True} if self.only_failed else {}
        return {**self.read.journal_options(), **only_failed}

    def started(self, plan: PlanSummary, *, to_send: int) -> RunStarted:
        """The event that opens the run's account, with its options (never a secret)."""
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
        )
