"""A run's page (plan, sending, done), its actions (send, stop, resume, send the failed rows
again), and the list of every run. Approving is in ``pages_approval``, the downloads the
page offers in ``pages_downloads``.

A run to several installations shows each one beside the total: its share of the plan, its
progress bar, its counts and abort, its failed rows to send again, its own downloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from batchtool import api, audit, model
from batchtool.reader.formats import EXTENSIONS
from batchtool.web import auditing, downloads, forms, reading, retention, runlist, runstore, story
from batchtool.web.keys import ACTOR, RUNS, SESSION
from batchtool.web.permissions import Action, allowed, can, needs
from batchtool.web.render import after_post, respond, when
from batchtool.web.runerror import RunError
from batchtool.web.runs import CONFIRM_FORGET
from batchtool.web.runstore import ID_ROUTE, RunMeta

routes = web.RouteTableDef()


def find_run(request: web.Request) -> RunMeta:
    meta = request.app[RUNS].get(request.match_info["run_id"])
    if meta is None:
        raise web.HTTPNotFound()
    return meta


def signed_in_user(request: web.Request) -> str:
    session = request[SESSION]
    assert session is not None and session.user is not None  # signed_in_middleware saw to it
    return session.user


def _summary(request: web.Request, meta: RunMeta) -> dict[str, Any]:
    """What the runs list shows of a run (and the start of its page's JSON): while it sends,
    its counts are the live ones."""
    live = request.app[RUNS].live(meta.id)
    shown = meta.to_json()
    if not allowed(request[ACTOR], Action.DOWNLOAD):
        shown["samples"] = []  # the rows' values as they would be sent: customer data
    one = meta.installations[0] if not meta.fanout else None
    return {
        **shown,
        # As before there could be several: a run to one names it here too.
        "installation": one.name if one else None,
        "base_url": one.base_url if one else None,
        "installation_text": meta.installation_text,
        "fanout": meta.fanout,
        "counts": live.totals() if live else meta.counts,
        "status_text": meta.status_text,
        "sent_by": meta.sent_by,
        "sent_at": meta.sent_at,
        "url": f"/runs/{meta.id}",
    }


def _link(request: web.Request, run_id: str | None) -> dict[str, str] | None:
    """Another run, as a link names it."""
    other = request.app[RUNS].get(run_id) if run_id else None
    if other is None:
        return None
    return {"url": f"/runs/{other.id}", "text": f"{other.file_name}, checked {when(other.created)}"}


def _installations(
    request: web.Request, meta: RunMeta, retry: dict[str, int], live: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Each installation of the run as its page shows it: its plan, its live progress while
    it sends, what the last send left there, its failed rows to send again (``retry``: the
    number, when it is offered on its own) and its downloads."""
    sending = {send["installation"]: send for send in (live or {}).get("installations", [])}
    return [
        {
            "name": target.name,
            "shown": target.shown,
            "base_url": target.base_url,
            "plan": target.plan,
            "counts": target.counts,
            "unsent": target.unsent,
            "aborted": target.aborted,
            "live": sending.get(target.name),
            "retry": retry.get(target.name) if len(retry) > 1 else None,
            "downloads": downloads.offered(request.app[RUNS].store, meta, target.name),
        }
        for target in meta.installations
    ]


def _approval(request: web.Request, meta: RunMeta, may: dict[str, bool]) -> dict[str, Any]:
    """The page's approval part: whether the run needs approval by the rule of now and why
    (or why nothing can be sent to its installation), and what this user may do about it."""
    needed = problem = None
    sendable = (
        meta.status in (runstore.PLANNED, runstore.WAITING)
        and bool((meta.plan or {}).get("valid"))
        and not meta.purged_at
    )
    if sendable:
        try:
            needed = request.app[RUNS].approval_needed(meta)
        except RunError as exc:
            problem = str(exc)
    asked = meta.approval
    waiting = meta.status == runstore.WAITING and asked is not None and sendable
    return {
        "needed": needed,
        "problem": problem,
        "can_send": sendable and needed is None and problem is None and may[Action.SEND],
        "can_request": (
            sendable and meta.status == runstore.PLANNED and bool(needed) and may[Action.SEND]
        ),
        "can_decide": waiting and problem is None and may[Action.APPROVE],
        "own_request": (
            waiting and asked is not None and asked.requested_by == request[ACTOR].name
        ),
    }


@dataclass(frozen=True)
class Columns:
    """The mapping step as a refused form left it: each header's choice as the person made
    it, and why a header's choice cannot be (shown next to its field)."""

    choices: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _mapping(meta: RunMeta, columns: Columns | None) -> list[dict[str, Any]]:
    """The mapping step's columns, with the choices and errors of a refused form."""
    columns = columns or Columns()
    return [
        {
            **column,
            "choice": columns.choices.get(column["header"], column["choice"]),
            "error": columns.errors.get(column["header"]),
        }
        for column in meta.unknown_columns
    ]


def _reading(meta: RunMeta) -> dict[str, Any]:
    return reading.controls(
        meta.options,
        fmt=EXTENSIONS.get(Path(meta.input_name).suffix.lower()),
        sheets=meta.sheets,
        read_as=meta.read_as,
        remedy=meta.remedy,
        header_unsure=meta.header_unsure,
    )


async def run_page(
    request: web.Request,
    meta: RunMeta,
    *,
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
    confirm_stop: bool = False,
    columns: Columns | None = None,
) -> web.Response:
    manager = request.app[RUNS]
    actor = request[ACTOR]
    may = can(actor, meta)
    live = manager.live(meta.id)
    plan = meta.plan or {}
    shows_rows = meta.plan is not None and may[Action.DOWNLOAD]
    invalid = await manager.rows.invalid_rows(meta) if shows_rows else []
    places = await manager.rows.places(meta, [row for row, _ in invalid])
    ended = meta.status in runstore.ENDED
    failed = meta.counts.get(model.FAILED, 0) if ended and not meta.purged_at else 0
    retry = manager.failed_to_retry(meta) if may[Action.CHECK] else {}
    can_stop = live is not None and not live.stopping and may[Action.SEND]
    on_approval = _approval(request, meta, may)
    shown_live = live.snapshot() if live else None
    data = {
        "run": _summary(request, meta),
        "error": error,
        # The field ``error`` is about: the page says it there and puts the focus on it.
        "error_field": error_field if error else None,
        "can": may,
        "purged": retention.gone(meta) if meta.purged_at else None,
        "invalid_rows": invalid,
        "row_places": places,
        "read_as": reading.read_as_facts(meta.read_as) if meta.plan else [],
        "can_read_again": (
            meta.status in (runstore.PLANNED, runstore.COLUMNS, runstore.REJECTED)
            and not meta.purged_at
            and may[Action.CHECK]
            and reading.offers_controls(meta.remedy)
        ),
        "reading": _reading(meta),
        "mapping": _mapping(meta, columns),
        "recognised": [
            {"header": header, "field": target}
            for header, target in meta.named_columns.items()
            if api.normalise_column_name(header) != api.normalise_column_name(target)
        ],
        "invalid_rows_more": max(0, int(plan.get("invalid", 0)) - len(invalid)) * shows_rows,
        "needs_forget_confirmation": bool(plan.get("by_operation", {}).get(api.FORGET)),
        "approval": on_approval,
        "can_send": on_approval["can_send"],
        "can_stop": can_stop,
        "confirm_stop": confirm_stop and can_stop,
        "can_resume": ended and meta.resumable and may[Action.SEND],
        "failed": failed,
        # "Send the N failed rows again": every installation's not sent again yet.
        "retry_failed": sum(retry.values()),
        "retry_of": _link(request, meta.retry_of),
        "retried_in": [link for i in meta.retried_in if (link := _link(request, i))],
        "story": story.events(meta),
        "sending_time": story.sending_time(meta),
        "live": shown_live,
        "downloads": downloads.offered(manager.store, meta),
        "installations": _installations(request, meta, retry, shown_live),
        "send_to": _send_to(meta),
        "plan_each": _each(meta),
        "api_names": list(api.KNOWN_COLUMNS),
    }
    return respond(request, "run.html", data, page=f"run run-{meta.status}", status=status)


def _each(meta: RunMeta) -> int | None:
    """The rows each installation is sent, when it is the same number for every one."""
    valid = {int(t.plan.get("valid", 0)) for t in meta.installations if t.plan is not None}
    return valid.pop() if len(valid) == 1 else None


def _send_to(meta: RunMeta) -> str:
    """Where the send button says the rows go: the installation, or how many."""
    if meta.fanout:
        return f"{len(meta.installations)} installations"
    return meta.installations[0].shown


@routes.get(f"/runs/{ID_ROUTE}")
@routes.get(f"/runs/{ID_ROUTE}.json")
@needs(Action.VIEW)
async def show_run(request: web.Request) -> web.StreamResponse:
    return await run_page(request, find_run(request))


@routes.get("/runs")
@routes.get("/runs.json")
@needs(Action.VIEW)
async def list_runs(request: web.Request) -> web.StreamResponse:
    data = runlist.listing(
        request.app[RUNS].newest_first(), request.query, lambda meta: _summary(request, meta)
    )
    return respond(request, "runs.html", data, page="runs")


async def act(
    request: web.Request,
    meta: RunMeta,
    action: Callable[[], Awaitable[None] | None],
    refused: int,
    said: str,
    rows: dict[str, int] | None = None,
    detail: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Do ``action``, say so in the audit log (``said``), then show the run; a RunError
    shows the run with why, as ``refused``, and nothing is logged."""
    try:
        done = action()
        if done is not None:
            await done
    except RunError as exc:
        return await run_page(request, meta, error=str(exc), error_field=exc.field, status=refused)
    await auditing.record(request, said, meta, rows=rows, detail=detail)
    return after_post(request, f"/runs/{meta.id}")


async def confirmed_forget(request: web.Request) -> bool:
    return (await forms.fields(request)).get(CONFIRM_FORGET) == "yes"


@routes.post(f"/runs/{ID_ROUTE}/send")
@needs(Action.SEND)
async def send(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    confirmed = await confirmed_forget(request)
    user = signed_in_user(request)
    manager = request.app[RUNS]
    return await act(
        request,
        meta,
        lambda: manager.send(meta, user, confirm_forget=confirmed),
        400,
        audit.SEND,
        auditing.to_send(meta),
    )


@routes.get(f"/runs/{ID_ROUTE}/stop")
@needs(Action.SEND)
async def confirm_stop(request: web.Request) -> web.StreamResponse:
    """Stop's confirmation, a page of its own so that it works without JavaScript too."""
    meta = find_run(request)
    if request.app[RUNS].live(meta.id) is None:
        raise web.HTTPSeeOther(f"/runs/{meta.id}")  # it ended meanwhile: nothing to confirm
    return await run_page(request, meta, confirm_stop=True)


@routes.post(f"/runs/{ID_ROUTE}/stop")
@needs(Action.SEND)
async def stop(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    user = signed_in_user(request)
    return await act(request, meta, lambda: request.app[RUNS].stop(meta, user), 409, audit.STOP)


@routes.post(f"/runs/{ID_ROUTE}/retry-failed")
@needs(Action.CHECK)
async def retry_failed(request: web.Request) -> web.StreamResponse:
    """Send the failed rows again: of every installation, or of the one the form names."""
    meta = find_run(request)
    installation = (await forms.fields(request)).get("installation") or None
    try:
        retry = await request.app[RUNS].retry_failed(meta, signed_in_user(request), installation)
    except RunError as exc:
        return await run_page(request, meta, error=str(exc), status=409)
    await auditing.record(
        request,
        audit.CHECK,
        retry,
        rows=auditing.plan_rows(retry),
        detail={"failed_rows_of": meta.id},
    )
    return after_post(request, f"/runs/{retry.id}")


@routes.post(f"/runs/{ID_ROUTE}/resume")
@needs(Action.SEND)
async def resume(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    user = signed_in_user(request)
    return await act(request, meta, lambda: request.app[RUNS].resume(meta, user), 409, audit.RESUME)
