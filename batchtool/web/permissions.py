"""Who may do what on the ops page: the roles, the actions, one table of which role may do
which, and the one question every request asks: ``allowed(actor, action, run)``.

Every route declares its action with ``@needs(ACTION)``, or that it is open to anyone with
``@public`` (signing in). ``guard`` asks ``allowed`` before any handler runs, so no handler
checks a role itself, and a route that declares nothing is refused: it fails closed. Pages
hide what ``can`` says a user cannot do, but a hidden button is a courtesy; the guard is
the rule.

Where each thing falls:

- ``view``: the runs, a run's page (counts, status, story, errors grouped with the rows'
  own values taken out), New batch, signing out;
- ``download``: anything that shows the rows' own values: every download (plan, results,
  Excel copies, failed rows), and a plan's example requests and invalid rows on its page;
- ``check``: uploading, mapping unknown columns, "Send the N failed rows again" (a new run,
  checked like an upload);
- ``send``: sending, requesting approval, stopping, resuming;
- ``approve``: approving (and sending) or rejecting another person's run;
- ``audit``: the audit log.

Approval binds everyone: a run that needs it is sent by an approver or admin other than
the one who asked (``approval``), whatever the asker's own role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

from aiohttp import web

from batchtool.errors import UsageError
from batchtool.web.runstore import RunMeta

VIEWER: Final = "viewer"
OPERATOR: Final = "operator"
APPROVER: Final = "approver"
ADMIN: Final = "admin"
#: From the least a role may do to the most.
ROLES: Final = (VIEWER, OPERATOR, APPROVER, ADMIN)


class Action(StrEnum):
    VIEW = "view"
    DOWNLOAD = "download"
    CHECK = "check"
    SEND = "send"
    APPROVE = "approve"
    AUDIT = "audit"


_OPERATOR: Final = frozenset({Action.VIEW, Action.DOWNLOAD, Action.CHECK, Action.SEND})

#: What each role may do: the README's table, as data.
TABLE: Final[Mapping[str, frozenset[Action]]] = {
    VIEWER: frozenset({Action.VIEW}),
    OPERATOR: _OPERATOR,
    APPROVER: _OPERATOR | {Action.APPROVE},
    ADMIN: _OPERATOR | {Action.APPROVE, Action.AUDIT},
}

#: How a refusal names each action: "Your role (viewer) cannot <words> — ask an admin."
_WORDS: Final = {
    Action.VIEW: "see runs",
    Action.DOWNLOAD: "download customer data",
    Action.CHECK: "check files",
    Action.SEND: "send runs",
    Action.APPROVE: "approve runs",
    Action.AUDIT: "see the audit log",
}


def check_role(role: str) -> str:
    if role not in TABLE:
        raise UsageError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


@dataclass(frozen=True)
class Actor:
    """Who is asking: a signed-in user and their role as the users file says it now."""

    name: str
    role: str


def _own_request(actor: Actor, run: RunMeta | None) -> bool:
    return run is not None and run.approval is not None and run.approval.requested_by == actor.name


def allowed(actor: Actor, action: Action, run: RunMeta | None = None) -> bool:
    """Whether ``actor`` may do ``action`` (to ``run``, when it is about one)."""
    if action not in TABLE.get(actor.role, frozenset()):
        return False
    # Four eyes: whoever asked for a run's approval never gives it, whatever their role.
    return not (action is Action.APPROVE and _own_request(actor, run))


def refusal(actor: Actor, action: Action, run: RunMeta | None = None) -> str:
    """Why ``allowed`` said no, as the 403 page says it."""
    if action in TABLE.get(actor.role, frozenset()):
        return (
            "You asked for this run's approval: another approver or admin must approve or "
            "reject it."
        )
    return f"Your role ({actor.role}) cannot {_WORDS[action]} — ask an admin."


def can(actor: Actor | None, run: RunMeta | None = None) -> dict[str, bool]:
    """Every action's answer for ``actor``, for pages to show only what may be used."""
    return {a.value: actor is not None and allowed(actor, a, run) for a in Action}


# --- what each route declares -----------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)


class _Public:
    """The mark of a route open to anyone (signing in)."""


PUBLIC: Final = _Public()

_DECLARED: dict[object, Action | _Public] = {}


def needs(action: Action) -> Callable[[H], H]:
    """Declare the action a route's handler does; the guard checks it before the handler."""

    def declare(handler: H) -> H:
        _DECLARED[handler] = action
        return handler

    return declare


def public(handler: H) -> H:
    """Declare a route open without signing in."""
    _DECLARED[handler] = PUBLIC
    return handler


def declared(handler: object) -> Action | _Public | None:
    """What ``handler`` declared; None if it declared nothing (and is refused)."""
    return _DECLARED.get(handler)
