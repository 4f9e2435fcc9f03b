"""The one refusal of a request about a run (``RunError``): what cannot be done now, and why,
in words fit for the page."""

from __future__ import annotations


class RunError(Exception):
    """A request about a run that cannot be done now; ``str`` says why, for the page."""
