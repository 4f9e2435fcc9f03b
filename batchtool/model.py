"""Values that flow between the modules: a planned request, an attempt's answer, a row's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Row statuses as they appear in the results file.
OK: Final = "ok"
FAILED: Final = "failed"
INVALID: Final = "invalid"
SKIPPED: Final = "skipped"
VALID: Final = "valid"  # dry run only
UNCHANGED: Final = "unchanged"  # --changed-only: the row would change nothing, so not sent

#: The results file's own columns, in order. Written by results.py; a results file read back
#: as input has them as bookkeeping (reader.BOOKKEEPING_PREFIX), never sent.
RESULT_COLUMNS: Final[tuple[str, ...]] = (
    "row",
    "status",
    "operation",
    "http_status",
    "attempts",
    "error",
    "elapsed_ms",
    "finished_at",
)
#: The first column of a results file of a run to several installations: whose row it is.
INSTALLATION: Final = "installation"
#: Every column a results file may have of its own: a fan-out run's ``installation``, then
#: RESULT_COLUMNS.
RESULTS_FILE_COLUMNS: Final[tuple[str, ...]] = (INSTALLATION, *RESULT_COLUMNS)
#: Characters that make a spreadsheet treat a cell as a formula (or that hide one).
FORMULA_CHARACTERS: Final = "=+-@\t\r"
#: What the results writer puts before such a cell in CSV and Excel; the reader strips it
#: again from a results file read back as input.
FORMULA_GUARD: Final = "'"


def guard_formula(text: str) -> str:
    """``text`` as a CSV or Excel cell holds it: with a guard if a spreadsheet would run it."""
    first = text.lstrip(FORMULA_GUARD)[:1]
    return FORMULA_GUARD + text if first and first in FORMULA_CHARACTERS else text


@dataclass(frozen=True, slots=True)
class Request:
    """One valid input row, ready to send.

    ``form`` is the whole form body in order: the single lookup parameter first, then the
    row's non-empty parameters, values exactly as planned (text).
    ``lookup`` is ``(key, value)`` of the lookup parameter: rows sharing it run in file order.
    """

    row: int
    operation: str
    lookup: tuple[str, str]
    form: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Attempt:
    """The answer to one HTTP request, classified. Never an exception.

    ``retryable``: worth sending again (connection error, timeout, 408/429/5xx listed in DESIGN §4).
    ``auth_refused``: 401/403, the credentials are wrong for every row: stop the run.
    ``retry_after``: seconds the server asked us to wait, if it said so.
    """

    ok: bool
    http_status: int | None
    error: str | None
    retryable: bool = False
    auth_refused: bool = False
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What finally happened to one row: one line of the results file (without input columns)."""

    row: int
    status: str
    http_status: int | None = None
    attempts: int = 0
    error: str | None = None
    elapsed_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Slowdown:
    """The adaptive concurrency was lowered to ``limit``, and why.

    ``status``: the HTTP status of the answer that said "overloaded" (429, 502, 503, 504),
    or None; ``error``: that answer's error when it had no status (a timeout, a refused or
    reset connection). Neither: the answers were getting slower (the server is queueing).
    """

    limit: int
    status: int | None = None
    error: str | None = None
