"""batchtool's exceptions, in one place; only the CLI maps them to exit codes.

    BatchtoolError            any problem that stops a run before or while it starts
     ├── InputError           the input file or its columns (exit 2, nothing sent)
     ├── UsageError           options that contradict each other or are malformed (exit 2)
     ├── JournalError         an existing journal or lock forbids this run (exit 2)
     └── RunAborted           the run cannot go on midway, e.g. the journal cannot be written
                              (exit 3; what was journaled is safe, finish with --resume)

A row that fails is never an exception: it is a status in the results.
Every message is one line that names the problem and what to do about it.
"""

from __future__ import annotations


class BatchtoolError(Exception):
    """Base class; ``str(exc)`` is a complete one-line message for a person."""

    exit_code = 2


class InputError(BatchtoolError):
    """The input file cannot be read or its columns are wrong; nothing was sent."""


class UsageError(BatchtoolError):
    """Options are missing, malformed or contradict each other; nothing was sent."""


class JournalError(BatchtoolError):
    """A journal or lock for this results path forbids the run (changed input, run in progress)."""


class RunAborted(BatchtoolError):
    """The run had to stop after sending began; the journal holds what finished."""

    exit_code = 3
