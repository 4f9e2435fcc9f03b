"""Four-eyes approval on a run's page: request it, then another approver or admin approves
and sends the run, or rejects it with a reason (see ``approval`` for the rule)."""

from __future__ import annotations

from aiohttp import web

from batchtool import audit
from batchtool.web import approval, auditing, forms
from batchtool.web.keys import RUNS
from batchtool.web.pages_runs import act, confirmed_forget, find_run, signed_in_user
from batchtool.web.permissions import Action, needs
from batchtool.web.runstore import ID_ROUTE

routes = web.RouteTableDef()


@routes.post(f"/runs/{ID_ROUTE}/request-approval")
@needs(Action.SEND)
async def request_approval(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    user = signed_in_user(request)
    manager = request.app[RUNS]
    return await act(
        request,
        meta,
        lambda: manager.request_approval(meta, user),
        409,
        audit.REQUEST_APPROVAL,
        auditing.to_send(meta),
    )


@routes.post(f"/runs/{ID_ROUTE}/approve")
@needs(Action.APPROVE)
async def approve(request: web.Request) -> web.StreamResponse:
    """Approve and send: what is sent is the file as it was when approval was asked for."""
    meta = find_run(request)
    confirmed = await confirmed_forget(request)
    user = signed_in_user(request)
    manager = request.app[RUNS]
    return await act(
        request,
        meta,
        lambda: manager.approve(meta, user, confirm_forget=confirmed),
        409,
        audit.APPROVE,
        auditing.to_send(meta),
        {"requested_by": meta.approval.requested_by} if meta.approval else None,
    )


@routes.post(f"/runs/{ID_ROUTE}/reject")
@needs(Action.APPROVE)
async def reject(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    reason = (await forms.fields(request)).get("reason", "")
    user = signed_in_user(request)
    manager = request.app[RUNS]
    return await act(
        request,
        meta,
        lambda: manager.reject(meta, user, reason),
        400,
        audit.REJECT,
        detail={"reason": approval.reason_given(reason)},
    )
