"""What fixes a problem with the input, as data: the command line words it as an option, the
ops page offers the control that does the same.

An error whose fix is an option of ``batchtool run`` says so in its message, as the command
line does ("pick one with --sheet"); it also carries the fix as one of these values, and its
problem in words that name no option (``BatchtoolError.problem``). The CLI prints the
message; the ops page shows the problem and offers the control that stands for the option
(a sheet picker, an encoding, the reading options, the column mapping), then checks again.

A fix that travels inside text that is data (a row's reason in a results file, the reason an
aborted run gives) cannot carry a value: its command-line words are a constant here, written
into that text by the one place that makes it, and the page says it its own way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Final

#: An invalid row's reason when it has no operation and no default was given: its last words.
NO_OPERATION_FIX: Final = " (or pass --operation OP)"
#: How an abort that a resume finishes ends its reason.
RESUME_FIX: Final = "then --resume"


@dataclass(frozen=True)
class Remedy:
    """A fix, as data; ``kind`` names it in a page's JSON."""

    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class ChooseSheet(Remedy):
    """Read another sheet of the workbook (``--sheet``): these are its sheets, in order."""

    kind: ClassVar[str] = "sheet"
    sheets: tuple[str, ...]


@dataclass(frozen=True)
class ChooseEncoding(Remedy):
    """Decode the text with another encoding (``--encoding``); ``suggested`` is one that
    decodes its bytes cleanly (None: none is known to)."""

    kind: ClassVar[str] = "encoding"
    suggested: str | None = None


@dataclass(frozen=True)
class ChooseDelimiter(Remedy):
    """Say which delimiter the text uses (``--delimiter``): one of ``candidates``, which
    line ``line`` has as many of."""

    kind: ClassVar[str] = "delimiter"
    candidates: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class ChooseHeaderRow(Remedy):
    """Say where the header is (``--header-row``)."""

    kind: ClassVar[str] = "header_row"


@dataclass(frozen=True)
class LeaveOut(Remedy):
    """Leave out a reading option that does not apply to this file (``option``: "sheet",
    "encoding", "delimiter" or "header_row")."""

    kind: ClassVar[str] = "leave_out"
    option: str


@dataclass(frozen=True)
class SaveAs(Remedy):
    """A spreadsheet of a kind batchtool does not read (``what``: an .ods, an .xlsb, a
    password-protected workbook): saved as a workbook or CSV, it is."""

    kind: ClassVar[str] = "save_as"
    what: str


@dataclass(frozen=True)
class Rename(Remedy):
    """The file's name says another format than its bytes (``--format``): ``looks_like``
    says what they are, in words; named for what they are, it is read as that."""

    kind: ClassVar[str] = "rename"
    looks_like: str


@dataclass(frozen=True)
class NotASpreadsheet(Remedy):
    """The file is something else altogether: ``what`` it is, in words ("a PNG image")."""

    kind: ClassVar[str] = "not_a_spreadsheet"
    what: str


@dataclass(frozen=True)
class IgnoreColumn(Remedy):
    """Leave a column out of the run (``--ignore-column``)."""

    kind: ClassVar[str] = "ignore_column"
    header: str


@dataclass(frozen=True)
class ChooseOperation(Remedy):
    """Give the operation of rows that name none (``--operation``)."""

    kind: ClassVar[str] = "operation"


@dataclass(frozen=True)
class MapColumns(Remedy):
    """Map each unknown column to a field, or ignore it (``--map``, ``--ignore-column``)."""

    kind: ClassVar[str] = "columns"


@dataclass(frozen=True)
class Resume(Remedy):
    """Finish the run later where it stopped (``--resume``)."""

    kind: ClassVar[str] = "resume"
