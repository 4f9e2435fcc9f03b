"""The audit page, for admins: the audit log newest first, ``PAGE_SIZE`` a page, filtered as
``batchtool audit`` filters it (``since``, ``user``, ``run``), with whether its chain is
intact. Its JSON twin takes the same query parameters."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from batchtool import audit
from batchtool.errors import UsageError
from batchtool.web.keys import AUDIT
from batchtool.web.permissions import Action, needs
from batchtool.web.render import respond
from batchtool.web.runlist import paged

routes = web.RouteTableDef()

PAGE_SIZE: Final = 50
_FILTERS: Final = ("since", "user", "run")


def _url(filters: Mapping[str, str], page: int) -> str:
    query = {k: v for k, v in filters.items() if v}
    if page > 1:
        query["page"] = str(page)
    return "/audit" + (f"?{urlencode(query)}" if query else "")


@routes.get("/audit")
@routes.get("/audit.json")
@needs(Action.AUDIT)
async def audit_page(request: web.Request) -> web.StreamResponse:
    filters = {name: request.query.get(name, "").strip() for name in _FILTERS}
    error = None
    since = None
    if filters["since"]:
        try:
            since = audit.parse_since(filters["since"])
        except UsageError as exc:
            error = str(exc).replace("--since", "Since:", 1)
    entries, verdict = await asyncio.to_thread(request.app[AUDIT].read)
    found = list(
        audit.select(reversed(entries), since=since, user=filters["user"], run=filters["run"])
    )
    shown, page, pages = paged(found, request.query.get("page"), PAGE_SIZE)
    data: dict[str, Any] = {
        "entries": list(shown),
        "total": len(found),
        "first_shown": (page - 1) * PAGE_SIZE + 1 if shown else 0,
        "last_shown": (page - 1) * PAGE_SIZE + len(shown),
        "page": page,
        "pages": pages,
        "previous_url": _url(filters, page - 1) if page > 1 else None,
        "next_url": _url(filters, page + 1) if page < pages else None,
        "filters": filters,
        "filtered": any(filters.values()),
        "error": error,
        "chain": {
            "lines": verdict.lines,
            "intact": verdict.broken is None,
            "broken": verdict.broken,
            "last_hash": verdict.last_hash,
        },
    }
    return respond(request, "audit.html", data, page="audit", status=400 if error else 200)
