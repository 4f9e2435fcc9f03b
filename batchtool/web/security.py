"""The rules every request goes through, each in one place:

- ``session_middleware``: finds the request's session from its cookie;
- ``signed_in_middleware``: every route but sign-in and static files needs a signed-in user
  whose password has not changed since (checked first, so nobody else gets as far as having
  a body read);
- ``forms.body_limit_middleware``: each route's body limit (413 beyond it);
- ``csrf_middleware``: every POST must carry its CSRF token (form field ``csrf_token``, the
  first part of a multipart form, or header ``X-CSRF-Token``), else 403 and the handler
  never runs — an upload is not read until its token is known to be good;
- ``add_security_headers``: CSP, nosniff, no framing, no caching of pages, on every response.

The sign-in form's token needs no session (opening the sign-in page stores nothing, however
often it is opened): it is a signed double-submit token (``sessions.SignInForms``). The
sign-in page puts a random nonce in a cookie (``HttpOnly``, ``SameSite=Strict``) and in the
form a token made of the time and an HMAC of nonce and time under a key drawn at random when
the server starts. A sign-in must bring a token that is an HMAC of its own cookie's nonce,
less than an hour old: another site can neither read the token nor make one, and a token
cannot be carried over to another browser's cookie. A restart makes open sign-in forms
stale, as it signs everyone out. Every other form carries its session's random token.

HTTPS, and the client's address, are recognised from the connection itself or, from a
reverse proxy on this machine (a loopback peer), from ``X-Forwarded-Proto: https`` and the
last address of ``X-Forwarded-For``; those headers from anyone else are ignored, since
anyone can send them. The session cookie is ``Secure`` exactly when the request is HTTPS.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Final
from urllib.parse import quote

from aiohttp import web

from batchtool.config import is_loopback
from batchtool.web.forms import Handler, csrf_field
from batchtool.web.keys import SESSION, SESSIONS, SIGN_IN_FORMS, USERS
from batchtool.web.sessions import Session

COOKIE: Final = "batchtool_session"
SIGN_IN_COOKIE: Final = "batchtool_sign_in"
CSRF_HEADER: Final = "X-CSRF-Token"

SIGN_IN_PATH: Final = "/login"
#: Paths open without signing in: the sign-in page (and its JSON twin) and static files.
PUBLIC_PATHS: Final = frozenset({SIGN_IN_PATH, "/login.json"})
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


def _from_local_proxy(request: web.Request) -> bool:
    return is_loopback(request.remote or "")


def is_https(request: web.Request) -> bool:
    if request.secure:
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return _from_local_proxy(request) and forwarded == "https"


def client_address(request: web.Request) -> str:
    """Who is asking: the peer, or the address a reverse proxy on this machine forwarded."""
    peer = request.remote or ""
    if _from_local_proxy(request):
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass  # no header, or not an address: the proxy itself is the client
    return peer


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path="/", httponly=True, samesite="Strict", secure=is_https(request)
    )


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, session: Session
) -> None:
    _set_cookie(request, response, COOKIE, session.id)


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/", secure=is_https(request), samesite="Strict")


def sign_in_token(request: web.Request) -> tuple[str, str | None]:
    """The sign-in form's token for this browser, and the new nonce to set with
    ``set_sign_in_cookie`` when the browser has none yet."""
    forms = request.app[SIGN_IN_FORMS]
    nonce = request.cookies.get(SIGN_IN_COOKIE)
    new = None if nonce else forms.new_nonce()
    return forms.token(nonce or new or ""), new


def set_sign_in_cookie(request: web.Request, response: web.StreamResponse, nonce: str) -> None:
    _set_cookie(request, response, SIGN_IN_COOKIE, nonce)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[SESSION] = request.app[SESSIONS].get(request.cookies.get(COOKIE))
    return await handler(request)


class CsrfRefused(web.HTTPForbidden):
    """A POST without its CSRF token."""


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in _SAFE_METHODS:
        return await handler(request)
    if request.path == SIGN_IN_PATH:
        nonce = request.cookies.get(SIGN_IN_COOKIE)
        # Without its cookie no token can count: refused before the body is read.
        token = request.headers.get(CSRF_HEADER) or (await csrf_field(request) if nonce else None)
        if not request.app[SIGN_IN_FORMS].valid(nonce, token):
            raise CsrfRefused()
        return await handler(request)
    session: Session | None = request[SESSION]
    if session is None:
        raise CsrfRefused()  # before reading a body that could not count anyway
    token = request.headers.get(CSRF_HEADER) or await csrf_field(request)
    if token is None or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise CsrfRefused()
    return await handler(request)


@web.middleware
async def signed_in_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith(STATIC_PREFIX):
        return await handler(request)
    session: Session | None = request[SESSION]
    if session is not None and not _still_theirs(request, session):
        request.app[SESSIONS].end(session.id)
        request[SESSION] = session = None
    if session is None:
        if request.method in _SAFE_METHODS and not request.path.endswith(".json"):
            raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}")
        raise web.HTTPUnauthorized()
    return await handler(request)


def _still_theirs(request: web.Request, session: Session) -> bool:
    # Read on every request (cheap: the file is re-read only when it changes), so a new
    # password or `batchtool users remove` signs that user out everywhere at once.
    return request.app[USERS].stamp(session.user) == session.stamp


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: runs for every response, static files and errors included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if not request.path.startswith(STATIC_PREFIX):
        response.headers["Cache-Control"] = "no-store"
