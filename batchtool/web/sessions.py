"""Who is signed in: server-side sessions behind a random cookie; and the sign-in form's token,
which needs no session at all.

Sessions live in memory only: a restart signs everyone out, and there is no session secret to
keep. Only signing in makes one (opening the sign-in page stores nothing: see
``SignInForms``), so their number is the number of sign-ins within a session's lifetime.
Every session lives exactly ``ttl_s`` from sign-in, so the order they were made in is the
order they expire in: expired ones are dropped from the front of an ordered dict on each
request, however many there are, and beyond ``MAX_SESSIONS`` the oldest is dropped too (that
person is signed out, and their next page asks them to sign in again).

A session remembers its user's password stamp (``Users.stamp``) from sign-in; the security
middleware compares it on every request, so a new password or a removed user ends every
session of that user at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

#: Sessions kept at most; beyond, the oldest ends. Far more than a team signs in a day.
MAX_SESSIONS: Final = 10_000

#: How long a sign-in form stays good: from opening the sign-in page to submitting it.
SIGN_IN_FORM_TTL_S: Final = 3600


@dataclass
class Session:
    id: str
    csrf_token: str
    user: str
    stamp: str
    expires: float


class Sessions:
    def __init__(
        self, *, ttl_s: float, clock: Callable[[], float], max_sessions: int = MAX_SESSIONS
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._max = max_sessions
        self._by_id: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_id)

    def _expire(self) -> None:
        # Oldest first is soonest to expire: stop at the first one still alive.
        now = self._clock()
        while self._by_id:
            oldest = next(iter(self._by_id.values()))
            if now < oldest.expires:
                return
            self._by_id.popitem(last=False)

    def sign_in(self, previous: Session | None, user: str, stamp: str) -> Session:
        """A new session for ``user`` (whose password stamp is ``stamp``); ``previous``, the
        session the browser had, ends: a session id seen before sign-in is worthless after."""
        if previous is not None:
            self.end(previous.id)
        self._expire()
        while len(self._by_id) >= self._max:
            self._by_id.popitem(last=False)
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            user=user,
            stamp=stamp,
            expires=self._clock() + self._ttl_s,
        )
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id; None if unknown or expired."""
        self._expire()
        return self._by_id.get(session_id) if session_id else None

    def end(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)


class SignInForms:
    """The sign-in form's CSRF token, checked without storing anything (see ``security``).

    The browser gets a random nonce in a cookie; the form's token is the time it was issued
    and an HMAC of nonce and time under a key this process drew at random. A token is good
    with its own cookie only, for ``SIGN_IN_FORM_TTL_S``, and only until the server restarts.
    """

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._key = secrets.token_bytes(32)

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def _mac(self, nonce: str, issued: int) -> str:
        digest = hmac.new(self._key, f"{nonce}:{issued}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def token(self, nonce: str) -> str:
        issued = int(self._clock())
        return f"{issued}.{self._mac(nonce, issued)}"

    def valid(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        issued_text, _, mac = token.partition(".")
        if not issued_text.isdigit() or len(issued_text) > 12:
            return False
        issued = int(issued_text)
        if not 0 <= self._clock() - issued < SIGN_IN_FORM_TTL_S:
            return False
        return hmac.compare_digest(mac.encode(), self._mac(nonce, issued).encode())
