"""Run folders on disk: ``<data-dir>/runs/<id>/`` with the upload, plan, results, journal and
``meta.json`` (who checked and sent it, when, to which installations, with which options).

A run sends to one installation or several, in the order New batch lists them; each is a
``Target`` in ``meta.json``. Runs recorded before there could be several (``installation``
and ``base_url``, one of each) are read as runs to one.

The upload is kept under a name the server chooses (``input`` + a known extension): the name
the browser sent is shown on pages, never used as a path. It is written into its folder as
it arrives; ``meta.json`` comes last, so a folder without one is an upload cut off (a crash,
a lost connection), removed at the next start.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import polars as pl

from batchtool.journal import journal_path, lock_path
from batchtool.reader import Places
from batchtool.reader.formats import EXTENSIONS
from batchtool.web import words
from batchtool.web.files import make_private_dir, read_json, write_json

# Statuses, in the order a run goes through them.
CHECKING: Final = "checking"
COLUMNS: Final = "columns"  # unknown columns wait for a person to map or ignore them
REJECTED: Final = "rejected"  # the file cannot be sent as it is: ``message`` says why
PLANNED: Final = "planned"
WAITING: Final = "waiting"  # for a second person's approval (see ``approval``)
DECLINED: Final = "declined"  # an approver rejected it: it is never sent
SENDING: Final = "sending"
FINISHED: Final = "finished"
STOPPED: Final = "stopped"
ABORTED: Final = "aborted"
INTERRUPTED: Final = "interrupted"  # the server stopped while sending (crash, kill, reboot)

ENDED: Final = frozenset({FINISHED, STOPPED, ABORTED, INTERRUPTED})
#: Runs that sent something (or are sending); the others never got past Check.
SENT: Final = frozenset({SENDING, *ENDED})

#: How pages name each status (an aborted run adds its reason).
STATUS_TEXT: Final = {
    CHECKING: "Checking",
    COLUMNS: "Unknown columns",
    REJECTED: "Cannot be sent",
    PLANNED: "Checked, not sent",
    WAITING: "Waiting for approval",
    DECLINED: "Rejected",
    SENDING: "Sending",
    FINISHED: "Finished",
    STOPPED: "Stopped",
    ABORTED: "Aborted",
    INTERRUPTED: "Interrupted",
}

#: The downloads made from a run's results when first asked for (``RunStore.copy_path``).
RESULTS_XLSX: Final = "results.xlsx"
FAILED_XLSX: Final = "failed.xlsx"
RESULTS_CSV: Final = "results.csv"
COPIES: Final = (RESULTS_XLSX, FAILED_XLSX, RESULTS_CSV)

_ID_PATTERN: Final = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}")
#: The same as a route pattern (aiohttp's ``{name:regex}``).
ID_ROUTE: Final = "{run_id:[0-9]{8}-[0-9]{6}-[0-9a-f]{6}}"

MAX_FILE_NAME: Final = 200


def now_iso() -> str:
    # Microseconds: runs created within one second still sort in the order they came.
    return datetime.now(UTC).isoformat(timespec="microseconds")


def display_name(uploaded: str | None) -> str:
    """The uploaded file's own name without any folder, control characters or excess length."""
    name = (uploaded or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:MAX_FILE_NAME] or "upload"


def input_extension(file_name: str) -> str | None:
    """The extension to store an upload under, if batchtool reads files of that kind."""
    suffix = Path(file_name).suffix.lower()
    return suffix if suffix in EXTENSIONS else None


def known_extensions() -> str:
    return ", ".join(EXTENSIONS)


@dataclass
class Send:
    """One send of a run (the first, or a Resume): who started it and when, who stopped it
    and when, when it ended with which status, and the installations it was aborted for
    (in a run to several, the others went on)."""

    by: str
    at: str
    resume: bool
    stopped_by: str | None = None
    stopped_at: str | None = None
    ended_at: str | None = None
    ended: str | None = None
    aborted: list[str] = field(default_factory=list)


@dataclass
class Approval:
    """A run's request for approval, and what became of it.

    ``fingerprint`` and ``options`` are the stored upload's and the reading options as they
    were when it was asked for: what is sent must still be exactly that.
    """

    requested_by: str
    requested_at: str
    reason: str
    fingerprint: str
    options: dict[str, Any]
    decision: str | None = None  # DECIDED_APPROVED or DECIDED_REJECTED
    decided_by: str | None = None
    decided_at: str | None = None
    rejection: str | None = None  # why, in the approver's words


DECIDED_APPROVED: Final = "approved"
DECIDED_REJECTED: Final = "rejected"


@dataclass
class Target:
    """One installation of a run: its profile's name, the name the page gave it and its base
    URL (masked) as they were when the run was checked; its share of the plan (counted as
    the run's ``plan`` is); and what the run's sends left there: rows by status, rows not
    sent yet, and why sending to it was aborted."""

    name: str
    base_url: str
    label: str = ""
    plan: dict[str, Any] | None = None
    counts: dict[str, int] = field(default_factory=dict)
    unsent: int = 0
    aborted: str | None = None

    @property
    def shown(self) -> str:
        return self.label or self.name

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class RunMeta:
    """What ``meta.json`` holds; every field is plain JSON."""

    id: str
    file_name: str
    input_name: str
    #: Where it sends, in order: one installation, or several (a fan-out).
    installations: list[Target]
    checked_by: str
    created: str
    options: dict[str, Any]
    status: str = CHECKING
    message: str | None = None
    #: What fixes the problem ``message`` tells (``remedies.Remedy.to_json``), if a control
    #: of the page does.
    remedy: dict[str, Any] | None = None
    unknown_columns: list[dict[str, Any]] = field(default_factory=list)
    unknown_total: int = 0  # unknown columns in the file; the page offers the first few
    #: The headers the file names API columns with (header -> API name), beside the unknown.
    named_columns: dict[str, str] = field(default_factory=dict)
    #: No header cell names a column batchtool knows: the header may be further down.
    header_unsure: bool = False
    #: The workbook's sheets, in order (empty: not a workbook).
    sheets: list[str] = field(default_factory=list)
    #: How the last check read the file (``reader.ReadAs`` as JSON), and where its data rows
    #: are: ``{"word": "line", "first": 2, "shifted": bool}`` (shifts in ``places.parquet``).
    read_as: dict[str, Any] | None = None
    places: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    samples: list[str] = field(default_factory=list)
    sends: list[Send] = field(default_factory=list)
    finished_at: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    #: The errors grouped by reason, most rows first (see ``tables.error_groups``), and how
    #: many groups there are in all.
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_groups: int = 0
    #: Rows not sent yet (the run stopped or aborted before them): what Resume sends.
    unsent: int = 0
    resumable: bool = False
    #: The run whose failed rows this one sends again, and the runs that send this one's.
    retry_of: str | None = None
    retried_in: list[str] = field(default_factory=list)
    approval: Approval | None = None
    #: When its customer data was deleted (``retention``), and by whom.
    purged_at: str | None = None
    purged_by: str | None = None

    @property
    def status_text(self) -> str:
        if self.status == DECLINED and self.approval is not None:
            return f"Rejected by {self.approval.decided_by}: {self.approval.rejection}"
        if self.purged_at and self.status not in SENT:
            return f"Not sent; customer data deleted on {words.day(self.purged_at)}"
        if self.status == ABORTED:
            return f"Aborted: {self.message}"
        if self.status == STOPPED and self.sends and self.sends[-1].stopped_by:
            last = self.sends[-1]
            return f"Stopped by {last.stopped_by} at {words.clock(last.stopped_at)}"
        return STATUS_TEXT.get(self.status, self.status)

    @property
    def names(self) -> list[str]:
        return [target.name for target in self.installations]

    @property
    def fanout(self) -> bool:
        """Whether it sends to several installations."""
        return len(self.installations) > 1

    @property
    def installation_text(self) -> str:
        """Its installations as a line names them: ``offerit, nats``."""
        return ", ".join(self.names)

    def target(self, name: str) -> Target | None:
        return next((t for t in self.installations if t.name == name), None)

    @property
    def sent_by(self) -> str | None:
        return self.sends[0].by if self.sends else None

    @property
    def sent_at(self) -> str | None:
        return self.sends[0].at if self.sends else None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunMeta:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["installations"] = [Target.from_json(t) for t in _targets(data)]
        values["sends"] = [Send(**s) for s in values.get("sends", [])]
        values["errors"] = [_error_group(e) for e in values.get("errors", [])]
        if values.get("approval") is not None:
            values["approval"] = Approval(**values["approval"])
        return cls(**values)


def _targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The installations a ``meta.json`` records; one written before a run could send to
    several names one (``installation``, ``base_url``), and its plan and counts are its."""
    if "installations" in data:
        return list(data["installations"])
    return [
        {
            "name": data.get("installation", ""),
            "base_url": data.get("base_url", ""),
            "plan": data.get("plan"),
            "counts": data.get("counts", {}),
            "unsent": data.get("unsent", 0),
            "aborted": data.get("message") if data.get("status") == ABORTED else None,
        }
    ]


def _error_group(stored: Any) -> dict[str, Any]:
    if isinstance(stored, dict):
        return stored
    # Written before errors were grouped by status and reason: [error, count].
    reason, count = stored
    return {
        "status": None,
        "http_status": None,
        "reason": str(reason),
        "count": int(count),
        "rows": [],
    }


class RunStore:
    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    def folder(self, run_id: str) -> Path:
        if not _ID_PATTERN.fullmatch(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.runs_dir / run_id

    def input_path(self, meta: RunMeta) -> Path:
        return self.folder(meta.id) / meta.input_name

    def plan_path(self, meta: RunMeta) -> Path:
        return self.folder(meta.id) / "plan.csv"

    def invalid_rows_path(self, meta: RunMeta) -> Path:
        return self.folder(meta.id) / "invalid-rows.json"

    def places_path(self, meta: RunMeta) -> Path:
        return self.folder(meta.id) / "places.parquet"

    def save_places(self, meta: RunMeta, places: Places | None) -> None:
        """Where a check found the data rows: in ``meta.places``, and the shifts of rows
        below records of several lines in their own file (they may be many)."""
        path = self.places_path(meta)
        path.unlink(missing_ok=True)
        meta.places = None
        if places is None:
            return
        shifted = places.shifts is not None and places.shifts.height > 0
        if places.shifts is not None and shifted:
            places.shifts.write_parquet(path)
        meta.places = {"word": places.word, "first": places.first, "shifted": shifted}

    def load_places(self, meta: RunMeta) -> Places | None:
        """The places ``save_places`` kept; None when there are none, or they cannot be
        read (a place that may be wrong is never shown)."""
        if meta.places is None:
            return None
        shifts = None
        if meta.places.get("shifted"):
            try:
                shifts = pl.read_parquet(self.places_path(meta))
            except (OSError, pl.exceptions.PolarsError):
                return None
        return Places(str(meta.places["word"]), int(meta.places["first"]), shifts)

    def results_path(self, meta: RunMeta) -> Path:
        return self.folder(meta.id) / "results.csv"

    def copy_path(self, meta: RunMeta, kind: str, installation: str | None = None) -> Path:
        """Where a download made from the results is kept until the next send ends: ``kind``
        is ``results.xlsx``, ``failed.xlsx`` or ``results.csv`` (of one installation's rows);
        ``installation``: of that installation's rows only (named by its place in the run:
        a profile's name is not a file name)."""
        if installation is None:
            return self.folder(meta.id) / kind
        stem, suffix = kind.split(".")
        return self.folder(meta.id) / f"{stem}.{meta.names.index(installation)}.{suffix}"

    def copies(self, meta: RunMeta) -> list[Path]:
        """Every download copy a run may have."""
        return [
            self.copy_path(meta, kind, name)
            for kind in COPIES
            for name in [None, *meta.names]
            if (kind, name) != (RESULTS_CSV, None)  # that one is the results file itself
        ]

    def named_files(self, meta: RunMeta) -> dict[Path, str]:
        """A run's own files, as its messages name them (``shown.Telling``)."""
        results = self.results_path(meta)
        return {
            self.input_path(meta): meta.file_name,
            self.plan_path(meta): "the plan",
            results: "the results",
            journal_path(results): "the run's journal",
            lock_path(results): "the run's lock",
            self.folder(meta.id): "the run's folder",
        }

    def earlier_path(self, meta: RunMeta) -> Path | None:
        """The statuses of the run whose failed rows this one sends again, as they were."""
        return self.folder(meta.id) / "earlier.parquet" if meta.retry_of else None

    def new_folder(self) -> str:
        """A new, empty run folder (mode 0700) for an upload on its way in; its run id."""
        make_private_dir(self.runs_dir)
        while True:
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            run_id = f"{stamp}-{secrets.token_hex(3)}"
            try:
                self.folder(run_id).mkdir(mode=0o700)
                return run_id
            except FileExistsError:
                continue

    def remove_folder(self, run_id: str) -> None:
        shutil.rmtree(self.folder(run_id), ignore_errors=True)

    def create(
        self,
        *,
        run_id: str,
        file_name: str,
        extension: str,
        installations: list[Target],
        user: str,
        options: dict[str, Any],
    ) -> RunMeta:
        """The run of the upload received in ``new_folder(run_id)``, saved."""
        meta = RunMeta(
            id=run_id,
            file_name=file_name,
            input_name="input" + extension,
            installations=installations,
            checked_by=user,
            created=now_iso(),
            options=options,
        )
        self.save(meta)
        return meta

    def save(self, meta: RunMeta) -> None:
        write_json(self.folder(meta.id) / "meta.json", meta.to_json())

    def load_all(self) -> list[RunMeta]:
        """Every run with a readable ``meta.json``, oldest first; folders of uploads that
        never arrived whole are removed."""
        if not self.runs_dir.is_dir():
            return []
        found = []
        for folder in sorted(self.runs_dir.iterdir()):
            if not _ID_PATTERN.fullmatch(folder.name):
                continue
            try:
                data = read_json(folder / "meta.json")
            except ValueError:
                continue  # a meta.json cut off mid-write by a crash is never renamed in place
            if data is None:
                self.remove_folder(folder.name)
            elif isinstance(data, dict):
                found.append(RunMeta.from_json(data))
        return found
