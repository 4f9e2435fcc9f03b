"""The one refusal of a request about a run (``RunError``): what cannot be done now, and why,
in words fit for the page."""

from __future__ import annotations


class RunError(Exception):
    """A request about a run that cannot be done now; ``str`` says why, for the page, and
    ``field`` names the form field it is about, if one is (the page says it there)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
