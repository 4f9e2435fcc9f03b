"""Run folders on disk: ``<data-dir>/runs/<id>/`` with the upload, plan, results, journal and
``meta.json`` (who checked and sent it, when, to which installation, with which options).

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

from batchtool.reader.formats import EXTENSIONS
from batchtool.web.files import make_private_dir, read_json, write_json

# Statuses, in the order a run goes through them.
CHECKING: Final = "checking"
COLUMNS: Final = "columns"  # unknown columns wait for a person to map or ignore them
REJECTED: Final = "rejected"  # the file cannot be sent as it is: ``message`` says why
PLANNED: Final = "planned"
SENDING: Final = "sending"
FINISHED: Final = "finished"
STOPPED: Final = "stopped"
ABORTED: Final = "aborted"
INTERRUPTED: Final = "interrupted"  # the server stopped while sending (crash, kill, reboot)

ENDED: Final = frozenset({FINISHED, STOPPED, ABORTED, INTERRUPTED})

#: How pages name each status (an aborted run adds its reason).
STATUS_TEXT: Final = {
    CHECKING: "Checking",
    COLUMNS: "Unknown columns",
    REJECTED: "Cannot be sent",
    PLANNED: "Checked, not sent",
    SENDING: "Sending",
    FINISHED: "Finished",
    STOPPED: "Stopped",
    ABORTED: "Aborted",
    INTERRUPTED: "Interrupted",
}

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
    by: str
    at: str
    resume: bool


@dataclass
class RunMeta:
    """What ``meta.json`` holds; every field is plain JSON."""

    id: str
    file_name: str
    input_name: str
    installation: str
    base_url: str
    checked_by: str
    created: str
    options: dict[str, Any]
    status: str = CHECKING
    message: str | None = None
    unknown_columns: list[dict[str, Any]] = field(default_factory=list)
    unknown_total: int = 0  # unknown columns in the file; the page offers the first few
    plan: dict[str, Any] | None = None
    samples: list[str] = field(default_factory=list)
    sends: list[Send] = field(default_factory=list)
    finished_at: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[tuple[str, int]] = field(default_factory=list)
    resumable: bool = False

    @property
    def status_text(self) -> str:
        if self.status == ABORTED:
            return f"Aborted: {self.message}"
        return STATUS_TEXT.get(self.status, self.status)

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
        values["sends"] = [Send(**s) for s in values.get("sends", [])]
        values["errors"] = [(str(e), int(n)) for e, n in values.get("errors", [])]
        return cls(**values)


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

    def results_path(self, meta: RunMeta) -> Path:
        return self.folder(meta.id) / "results.csv"

    def excel_path(self, meta: RunMeta) -> Path:
        return self.folder(meta.id) / "results.xlsx"

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
        installation: str,
        base_url: str,
        user: str,
        options: dict[str, Any],
    ) -> RunMeta:
        """The run of the upload received in ``new_folder(run_id)``, saved."""
        meta = RunMeta(
            id=run_id,
            file_name=file_name,
            input_name="input" + extension,
            installation=installation,
            base_url=base_url,
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
