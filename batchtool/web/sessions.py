"""Who is signed in: server-side sessions behind a random cookie, and the sign-in throttle.

Sessions live in memory only: a restart signs everyone out, and there is no session secret
to keep. A browser gets an anonymous session (just a CSRF token) when it opens the sign-in
page; signing in replaces it with a new one, so a session id seen before sign-in is worthless
after it.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

#: An anonymous session only has to last from opening the sign-in page to submitting it.
ANONYMOUS_TTL_S: Final = 3600
#: Anonymous sessions are created by anyone who opens the sign-in page: past this many the
#: expired ones are swept before another is made.
_SWEEP_ABOVE: Final = 10_000

#: Failed sign-ins per user name within the window after which sign-in answers 429.
MAX_FAILURES: Final = 5
FAILURE_WINDOW_S: Final = 300.0


@dataclass
class Session:
    id: str
    csrf_token: str
    user: str | None
    expires: float


class Sessions:
    def __init__(self, *, ttl_s: float, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._by_id: dict[str, Session] = {}

    def new(self, user: str | None = None) -> Session:
        if len(self._by_id) > _SWEEP_ABOVE:
            self._sweep()
        ttl = self._ttl_s if user is not None else ANONYMOUS_TTL_S
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            user=user,
            expires=self._clock() + ttl,
        )
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id; None if unknown or expired."""
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None:
            return None
        if self._clock() >= session.expires:
            del self._by_id[session_id]
            return None
        return session

    def sign_in(self, previous: Session | None, user: str) -> Session:
        if previous is not None:
            self.end(previous.id)
        return self.new(user)

    def end(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)

    def _sweep(self) -> None:
        now = self._clock()
        for session_id in [i for i, s in self._by_id.items() if now >= s.expires]:
            del self._by_id[session_id]


class SignInThrottle:
    """Counts failed sign-ins per user name (case-insensitively) in a sliding window."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, name: str) -> deque[float]:
        key = name.casefold()
        failures = self._failures.setdefault(key, deque())
        cutoff = self._clock() - FAILURE_WINDOW_S
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def wait_s(self, name: str) -> float:
        """Seconds until ``name`` may try again; 0 when it may now."""
        failures = self._recent(name)
        if len(failures) < MAX_FAILURES:
            return 0.0
        return failures[-MAX_FAILURES] + FAILURE_WINDOW_S - self._clock()

    def failed(self, name: str) -> None:
        if len(self._failures) > _SWEEP_ABOVE:
            for key in list(self._failures):
                self._recent(key)
        self._recent(name)
        self._failures.setdefault(name.casefold(), deque()).append(self._clock())

    def succeeded(self, name: str) -> None:
        self._failures.pop(name.casefold(), None)
