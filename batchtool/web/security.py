"""The rules every request goes through, each in one place:

- ``session_middleware``: finds the request's session from its cookie;
- ``signed_in_middleware``: every route but sign-in and static files needs a signed-in user
  (checked first, so nobody else gets as far as having an upload read);
- ``csrf_middleware``: every POST must carry its session's CSRF token (form field
  ``csrf_token`` or header ``X-CSRF-Token``), else 403 and the handler never runs;
- ``add_security_headers``: CSP, nosniff, no framing, no caching of pages, on every response.

HTTPS is recognised from the connection itself or, from a reverse proxy on this machine (a
loopback peer), from ``X-Forwarded-Proto: https``; a header from anyone else is ignored,
since anyone can send it. The session cookie is ``Secure`` exactly when the request is HTTPS.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import quote

from aiohttp import web

from batchtool.config import is_loopback
from batchtool.web.keys import SESSION, SESSIONS, USERS
from batchtool.web.sessions import Session

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COOKIE: Final = "batchtool_session"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"

#: Paths open without signing in: the sign-in page (and its JSON twin) and static files.
PUBLIC_PATHS: Final = frozenset({"/login", "/login.json"})
STATIC_PREFIX: Final = "/static/"

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def is_https(request: web.Request) -> bool:
    if request.secure:
        return True
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return is_loopback(peer) and forwarded == "https"


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, session: Session
) -> None:
    response.set_cookie(
        COOKIE,
        session.id,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
    )


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/", secure=is_https(request), samesite="Strict")


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[SESSION] = request.app[SESSIONS].get(request.cookies.get(COOKIE))
    return await handler(request)


class CsrfRefused(web.HTTPForbidden):
    """A POST without its session's CSRF token."""


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in _SAFE_METHODS:
        session: Session | None = request[SESSION]
        if session is None:
            raise CsrfRefused()  # before reading a body that could not count anyway
        token = request.headers.get(CSRF_HEADER)
        if token is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            value = (await request.post()).get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
        if token is None or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
            raise CsrfRefused()
    return await handler(request)


@web.middleware
async def signed_in_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith(STATIC_PREFIX):
        return await handler(request)
    session: Session | None = request[SESSION]
    if session is None or session.user is None or not _still_a_user(request, session.user):
        if request.method in _SAFE_METHODS and not request.path.endswith(".json"):
            raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}")
        raise web.HTTPUnauthorized()
    return await handler(request)


def _still_a_user(request: web.Request, name: str) -> bool:
    # Read on every request (cheap: the file is re-read only when it changes), so removing
    # a user with `batchtool users remove` signs them out at once.
    return request.app[USERS].exists(name)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: runs for every response, static files and errors included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if not request.path.startswith(STATIC_PREFIX):
        response.headers["Cache-Control"] = "no-store"
