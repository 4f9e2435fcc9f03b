"""batchtool's exceptions, in one place; only the CLI maps them to exit codes.

    BatchtoolError            any problem that stops a run before or while it starts
     ├── InputError           the input file or its columns (exit 2, nothing sent)
     │    └── UnknownColumnsError   columns that are no API name: which, and the closest name
     ├── UsageError           options that contradict each other or are malformed (exit 2)
     ├── JournalError         an existing journal or lock forbids this run (exit 2)
     ├── SyncStateError       the sync state of --changed-only cannot be used (exit 2)
     └── RunAborted           the run cannot go on midway, e.g. the journal cannot be written
                              (exit 3; what was journaled is safe, finish with --resume)

A row that fails is never an exception: it is a status in the results.
Every message is one line that names the problem and what to do about it. When what to do is
an option of the command line, the error also carries it as data (``remedy``, see
``batchtool.remedies``) and its problem in words that name no option (``problem``): the ops
page offers the control that does what the option would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from batchtool.remedies import MapColumns, Remedy


class BatchtoolError(Exception):
    """Base class; ``str(exc)`` is a complete one-line message for a person.

    ``problem``: the message without the command-line option that fixes it (the message
    itself when it names none); ``remedy``: that fix, as data.
    """

    exit_code = 2

    def __init__(
        self, message: str, *, problem: str | None = None, remedy: Remedy | None = None
    ) -> None:
        super().__init__(message)
        self.problem = message if problem is None else problem
        self.remedy = remedy


class InputError(BatchtoolError):
    """The input file cannot be read or its columns are wrong; nothing was sent."""


@dataclass(frozen=True)
class UnknownColumn:
    """A header that is no API name, and the API name it most likely means (None: none close)."""

    header: str
    suggestion: str | None


class UnknownColumnsError(InputError):
    """Columns that are neither API names, nor mapped, nor ignored.

    ``columns`` lists them in file order, so a caller (the ops page) can offer to map or
    ignore each one instead of only showing the message; ``named`` maps each header the file
    names a column with to its API name (a field the unknown ones cannot also be mapped to);
    ``header_unsure``: none of the header's cells names a column batchtool knows, so the
    header may be further down.
    """

    def __init__(
        self,
        message: str,
        columns: Sequence[UnknownColumn],
        named: Mapping[str, str] | None = None,
        *,
        header_unsure: bool = False,
    ) -> None:
        n = len(columns)
        problem = f"{n:,} column{'s need' if n != 1 else ' needs'} a decision"
        super().__init__(message, problem=problem, remedy=MapColumns())
        self.columns = tuple(columns)
        self.named = dict(named or {})
        self.header_unsure = header_unsure


class UsageError(BatchtoolError):
    """Options are missing, malformed or contradict each other; nothing was sent."""


class JournalError(BatchtoolError):
    """A journal or lock for this results path forbids the run (changed input, run in progress)."""


class SyncStateError(BatchtoolError):
    """The sync state cannot be read or belongs to another input layout; nothing was sent."""


class RunAborted(BatchtoolError):
    """The run had to stop after sending began; the journal holds what finished."""

    exit_code = 3
