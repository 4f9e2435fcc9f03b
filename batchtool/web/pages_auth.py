"""Signing in and out."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from aiohttp import web

from batchtool import audit
from batchtool.web import auditing
from batchtool.web.keys import SESSION, SESSIONS, THROTTLE, USERS
from batchtool.web.permissions import Action, needs, public
from batchtool.web.render import error_page, respond
from batchtool.web.security import clear_session_cookie, set_session_cookie

routes = web.RouteTableDef()


def _next_path(request: web.Request, value: object) -> str:
    """Where to go after signing in: a path on this site only, never another site."""
    path = value if isinstance(value, str) else ""
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/"


def _login_page(
    request: web.Request,
    *,
    error: str | None = None,
    status: int = 200,
    username: str = "",
    next_path: str = "/",
) -> web.Response:
    session = request[SESSION]
    fresh = session is None
    if session is None:
        session = request.app[SESSIONS].new()
        request[SESSION] = session
    data: dict[str, Any] = {
        "error": error,
        "username": username,
        "next": next_path,
        "csrf_token": session.csrf_token,
    }
    response = respond(request, "login.html", data, page="login", status=status)
    if fresh:
        set_session_cookie(request, response, session)
    return response


@routes.get("/login")
@routes.get("/login.json")
@public
async def login_form(request: web.Request) -> web.StreamResponse:
    """The sign-in page; its JSON twin gives a script the CSRF token to sign in with."""
    return _login_page(request, next_path=_next_path(request, request.query.get("next")))


@routes.post("/login")
@public
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_path = _next_path(request, form.get("next"))
    throttle = request.app[THROTTLE]
    wait_s = throttle.wait_s(username)
    if wait_s > 0:
        minutes = max(1, math.ceil(wait_s / 60))
        return error_page(
            request,
            429,
            f"Too many failed sign-ins for this username — try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
            headers={"Retry-After": str(math.ceil(wait_s))},
        )
    # scrypt takes tens of milliseconds on purpose: not on the loop that serves every page.
    known = bool(username) and await asyncio.to_thread(
        request.app[USERS].verify, username, password
    )
    if not known:
        throttle.failed(username)
        # The name as typed, never the password: cut and made printable by the audit log.
        await auditing.record(request, audit.SIGN_IN_FAILED, user=username)
        return _login_page(
            request,
            error="Wrong username or password.",
            status=401,
            username=username,
            next_path=next_path,
        )
    throttle.succeeded(username)
    await auditing.record(request, audit.SIGN_IN, user=username)
    session = request.app[SESSIONS].sign_in(request[SESSION], username)
    response = web.Response(status=303, headers={"Location": next_path})
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
