"""The one place the ops page enforces who may do what: a middleware that asks
``permissions.allowed`` for every request, with the action its route declared, before the
handler runs.

It comes after ``signed_in_middleware`` (so there is a user to ask about) and before anything
reads a request's body: a viewer's upload is refused unread. A route about a run (a
``run_id`` in its path) is asked about that run, so "not one's own approval" is enforced
here too. A route that declared nothing is refused with 403: a forgotten declaration fails
closed, never open. Static files are open, as ``security`` has them.
"""

from __future__ import annotations

import logging

from aiohttp import web

from batchtool.web.forms import Handler
from batchtool.web.keys import ACTOR, RUNS, SESSION, USERS
from batchtool.web.permissions import PUBLIC, Action, Actor, allowed, declared, refusal

log = logging.getLogger("batchtool.web")


class Refused(web.HTTPForbidden):
    """An action the signed-in user's role (or four-eyes) does not allow; ``text`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(text=message)


@web.middleware
async def permission_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    match = request.match_info
    if match.http_exception is not None or isinstance(match.route.resource, web.StaticResource):
        return await handler(request)  # no such page (404, 405), or a static file
    rule = declared(match.handler)
    if rule is PUBLIC:
        return await handler(request)
    if not isinstance(rule, Action):
        log.error("refused %s %s: its route declares no permission", request.method, request.path)
        raise Refused("This page declares no permission, so nobody may use it.")
    actor = actor_of(request)
    request[ACTOR] = actor  # a refusal's page knows who it refuses too
    run = None
    if "run_id" in match:
        run = request.app[RUNS].get(match["run_id"])
        if run is None:
            raise web.HTTPNotFound()
    if not allowed(actor, rule, run):
        raise Refused(refusal(actor, rule, run))
    return await handler(request)


def actor_of(request: web.Request) -> Actor:
    """The signed-in user and their role as the users file says it now (re-read when it
    changes, so a new role applies at the next request)."""
    session = request[SESSION]
    if session is None or session.user is None:
        raise web.HTTPUnauthorized()  # signed_in_middleware sees to it first
    role = request.app[USERS].role(session.user)
    if role is None:
        raise web.HTTPUnauthorized()
    return Actor(session.user, role)
