"""What the ops page writes to the audit log (``batchtool.audit``): the signed-in user did an
action, about a run (its id, the file's name as uploaded, the installation) with its row
counts where they apply. Handlers call ``record`` once the action is done.

Each line is synced to disk before the handler goes on, written off the event loop by the
app's ``AuditWriter`` together with the other requests' lines of the moment.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from batchtool import audit
from batchtool.web.keys import AUDIT_WRITER, SESSION
from batchtool.web.runstore import RunMeta


def about(meta: RunMeta) -> dict[str, Any]:
    """What every line about a run says of it: its installations, in one field, by name
    (``offerit, nats`` for a run to several)."""
    return {"run": meta.id, "file": meta.file_name, "installation": meta.installation_text}


def plan_rows(meta: RunMeta) -> dict[str, int] | None:
    """A checked run's counts: rows read, valid, invalid, and valid rows by operation (but
    for the rows read, counted once per installation a row goes to)."""
    plan = meta.plan
    if plan is None:
        return None
    return {
        "read": int(plan["total"]),
        "valid": int(plan["valid"]),
        "invalid": int(plan["invalid"]),
        **{str(op): int(n) for op, n in plan.get("by_operation", {}).items()},
    }


def to_send(meta: RunMeta) -> dict[str, int]:
    return {"to_send": int((meta.plan or {}).get("valid", 0))}


async def record(
    request: web.Request,
    action: str,
    meta: RunMeta | None = None,
    *,
    user: str | None = None,
    rows: dict[str, int] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One line: ``user`` (default: the signed-in user) did ``action`` (to ``meta``)."""
    if user is None:
        session = request[SESSION]
        user = session.user if session is not None else None
    what = {**(about(meta) if meta is not None else {}), "rows": rows, "detail": detail}
    await request.app[AUDIT_WRITER].write(audit.Action(action, user, audit.PAGE, what))
