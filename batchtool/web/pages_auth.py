"""Signing in and out."""

from __future__ import annotations

import math
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from batchtool import audit
from batchtool.web import auditing, forms
from batchtool.web.keys import HASHING, SESSION, SESSIONS, THROTTLE, USERS
from batchtool.web.permissions import Action, needs, public
from batchtool.web.render import error_page, respond
from batchtool.web.security import (
    clear_session_cookie,
    client_address,
    set_session_cookie,
    set_sign_in_cookie,
    sign_in_token,
)
from batchtool.web.signin import Busy, check_password

routes = web.RouteTableDef()

#: A page to go back to after signing in is a path of this site, not a novel.
MAX_NEXT_CHARS: Final = 2000


def next_path(value: object) -> str:
    """Where to go after signing in: ``value`` if it is a path on this site, else "/".

    Browsers forgive a lot in a Location header (they drop tabs and newlines, read ``\\`` as
    ``/``), so anything that could read as another site is refused, not repaired.
    """
    if not isinstance(value, str) or not value.startswith("/") or len(value) > MAX_NEXT_CHARS:
        return "/"
    if "\\" in value or not value.isprintable() or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    return value if not (parts.scheme or parts.netloc) else "/"


def _login_page(
    request: web.Request,
    *,
    error: str | None = None,
    status: int = 200,
    username: str = "",
    next_to: str = "/",
) -> web.Response:
    token, new_nonce = sign_in_token(request)
    data: dict[str, Any] = {
        "error": error,
        "username": username,
        "next": next_to,
        "csrf_token": token,
    }
    response = respond(request, "login.html", data, page="login", status=status)
    if new_nonce is not None:
        set_sign_in_cookie(request, response, new_nonce)
    return response


@routes.get("/login")
@routes.get("/login.json")
@public
async def login_form(request: web.Request) -> web.StreamResponse:
    """The sign-in page; its JSON twin gives a script the CSRF token to sign in with."""
    return _login_page(request, next_to=next_path(request.query.get("next")))


def _too_many(request: web.Request, what: str, wait_s: float) -> web.Response:
    minutes = max(1, math.ceil(wait_s / 60))
    return error_page(
        request,
        429,
        f"Too many failed sign-ins {what} — try again in {minutes} minute"
        f"{'s' if minutes != 1 else ''}.",
        headers={"Retry-After": str(math.ceil(wait_s))},
    )


@routes.post("/login")
@public
@forms.limit(forms.SIGN_IN_BYTES)
async def login(request: web.Request) -> web.StreamResponse:
    form = await forms.fields(request)
    username = form.get("username", "").strip()
    password = form.get("password", "")
    next_to = next_path(form.get("next"))
    address = client_address(request)
    throttle = request.app[THROTTLE]
    if (wait_s := throttle.name_wait_s(username)) > 0:
        return _too_many(request, "for this username", wait_s)
    if (wait_s := throttle.address_wait_s(address)) > 0:
        return _too_many(request, "from your address", wait_s)
    stamp = None
    if username:
        try:
            stamp = await check_password(
                request.app[HASHING],
                request.app[USERS],
                address,
                username,
                password,
                failing=throttle.failing(address),
            )
        except Busy as exc:
            headers = {"Retry-After": str(exc.retry_after_s)}
            return error_page(request, 429, str(exc), headers=headers)
    if stamp is None:
        throttle.failed(username, address)
        # The name as typed, never the password: cut and made printable by the audit log.
        await auditing.record(request, audit.SIGN_IN_FAILED, user=username)
        return _login_page(
            request,
            error="Wrong username or password.",
            status=401,
            username=username,
            next_to=next_to,
        )
    throttle.succeeded(username)
    await auditing.record(request, audit.SIGN_IN, user=username)
    session = request.app[SESSIONS].sign_in(request[SESSION], username, stamp)
    response = web.Response(status=303, headers={"Location": next_to})
    set_session_cookie(request, response, session)
    return response


@routes.post("/logout")
@needs(Action.VIEW)
async def logout(request: web.Request) -> web.StreamResponse:
    session = request[SESSION]
    if session is not None:
        request.app[SESSIONS].end(session.id)
    response = web.Response(status=303, headers={"Location": "/login"})
    clear_session_cookie(request, response)
    return response
