"""Pages and their JSON twins from one handler, and readable pages for errors.

A handler builds the data of its page; ``respond`` sends it as HTML through a Jinja template
(autoescaped: any text a user or a file supplied shows as text, never as markup) or, when
the path ends in ``.json``, as JSON. The page and the API cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

import jinja2
from aiohttp import web

from batchtool.web.forms import CSRF_FIELD, Handler, too_large_message
from batchtool.web.keys import ACTOR, SESSION, TEMPLATES
from batchtool.web.permissions import can
from batchtool.web.security import CsrfRefused

log = logging.getLogger("batchtool.web")

JSON_SUFFIX: Final = ".json"


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("batchtool.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship inside the package: asking the disk on every page whether one
        # changed costs a flood of requests CPU for nothing.
        auto_reload=False,
    )
    env.filters["when"] = when
    env.filters["thousands"] = thousands
    return env


def when(iso: str | None) -> str:
    """A stored UTC time as people read it: ``2026-11-28 17:51 UTC``."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def thousands(n: int | None) -> str:
    return f"{n or 0:,}"


def wants_json(request: web.Request) -> bool:
    return request.path.endswith(JSON_SUFFIX)


def html(
    request: web.Request,
    template: str,
    data: Mapping[str, Any],
    *,
    page: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    session = request.get(SESSION)
    actor = request.get(ACTOR)
    context = {
        "page": page,
        "user": session.user if session else None,
        "role": actor.role if actor else None,
        "can": can(actor),
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.csrf_token if session else "",
        **data,
    }
    text = request.app[TEMPLATES].get_template(template).render(context)
    return web.Response(text=text, content_type="text/html", status=status, headers=headers)


def respond(
    request: web.Request,
    template: str,
    data: Mapping[str, Any],
    *,
    page: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """``data`` as the page ``template``, or as JSON for the page's ``.json`` twin."""
    if wants_json(request):
        return web.json_response(dict(data), status=status, headers=headers)
    return html(request, template, data, page=page, status=status, headers=headers)


def after_post(request: web.Request, location: str) -> NoReturn:
    """Where a form goes next (303, so a reload does not post again); scripts that asked
    for JSON follow to the JSON twin."""
    if "application/json" in request.headers.get("Accept", ""):
        location += JSON_SUFFIX
    raise web.HTTPSeeOther(location)


def error_page(
    request: web.Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    if wants_json(request) or "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"error": message}, status=status, headers=headers)
    title = _TITLES.get(status, "Something went wrong")
    return html(
        request,
        "error.html",
        {"title": title, "message": message},
        page="error",
        status=status,
        headers=headers,
    )


_TITLES: Final = {
    400: "That did not work",
    401: "Sign in first",
    403: "Refused",
    404: "Not found",
    405: "Not allowed",
    410: "Deleted",
    413: "File too large",
    429: "Too many tries",
}


def _message(request: web.Request, exc: web.HTTPException) -> str:
    if isinstance(exc, CsrfRefused):
        return (
            "This form has expired or did not come from this site — go back, reload the page "
            "and try again. Nothing was changed."
        )
    if exc.status == 413:
        return too_large_message(request)
    if exc.status == 401:
        return "Sign in first: this needs a signed-in user."
    if exc.status == 404:
        return "There is no such page here."
    if exc.status == 405:
        return "This page cannot be used that way."
    return exc.text or exc.reason


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors as readable pages (or JSON), never as a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Retry-After", "Allow")}
        return error_page(request, exc.status, _message(request, exc), headers)
    except Exception:
        log.exception("error answering %s %s", request.method, request.path)
        return error_page(
            request, 500, "Something went wrong on the server — the server log has the details."
        )
