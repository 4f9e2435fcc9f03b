"""How the page says times and reasons in words: "3 min 4 s", "about 3 min left", "14:02",
"2026-11-28",
"the installation answered 503 (busy): slowing down to 3 at a time"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from batchtool import model

#: What each overload answer means, in a few words.
_OVERLOAD: Final = {
    429: "too many requests",
    502: "gateway error",
    503: "busy",
    504: "gateway timeout",
}
#: How the client words an attempt that got no answer in time (``client.Client``).
_TIMED_OUT: Final = "timed out"


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 4 s``, ``1 h 2 min``."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def time_left(seconds: float | None) -> str | None:
    """``about 3 min left``; None while there is no pace to estimate from."""
    if seconds is None:
        return None
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min left" if minutes else f"about {hours} h left"


def clock(iso: str | None) -> str:
    """A stored UTC time as the hour and minute: ``14:02``."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%H:%M")


def day(iso: str | None) -> str:
    """A stored UTC time as its date: ``2026-11-28``."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d")


def slowdown(cut: model.Slowdown) -> str:
    """Why the run now sends fewer requests at a time."""
    to = f"slowing down to {cut.limit} at a time"
    if cut.status is not None:
        meaning = _OVERLOAD.get(cut.status)
        answered = f"{cut.status} ({meaning})" if meaning else str(cut.status)
        return f"the installation answered {answered}: {to}"
    if cut.error is not None:
        if cut.error.startswith(_TIMED_OUT):
            return f"the installation did not answer in time: {to}"
        return f"the installation refused or dropped the connection: {to}"
    return f"answers are getting slower: {to}"
