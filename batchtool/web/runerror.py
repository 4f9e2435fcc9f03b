"""The refusals of a request about a run (``RunError``, and ``ColumnConflict`` for column
choices that clash): what cannot be done now, and why, in words fit for the page."""

from __future__ import annotations


class RunError(Exception):
    """A request about a run that cannot be done now; ``str`` says why, for the page, and
    ``field`` names the form field it is about, if one is (the page says it there)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ColumnConflict(RunError):
    """Column choices that give one field to two columns: ``choices`` as the person made
    them, and for each header in conflict, why (see ``checking.conflicts``)."""

    def __init__(self, choices: dict[str, str], why: dict[str, str]) -> None:
        super().__init__("Each field can hold one column: choose again where it says so.")
        self.choices = choices
        self.why = why
