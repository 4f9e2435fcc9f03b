"""New batch: choose an installation, upload a spreadsheet, check it; map unknown columns."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from batchtool import api, audit
from batchtool.errors import UsageError
from batchtool.reader import FORMATS
from batchtool.web import auditing
from batchtool.web.keys import INSTALLATIONS, RUNS
from batchtool.web.pages_runs import find_run, run_page, signed_in_user
from batchtool.web.permissions import Action, needs
from batchtool.web.render import after_post, respond
from batchtool.web.runs import RunError
from batchtool.web.runstore import ID_ROUTE

routes = web.RouteTableDef()


def _new_batch_data(request: web.Request, error: str | None = None) -> dict[str, Any]:
    installations = request.app[INSTALLATIONS]
    try:
        found = [{"name": i.name, "label": i.label} for i in installations.all()]
        problem = None
    except UsageError as exc:
        found, problem = [], str(exc)
    return {
        "installations": found,
        "config_path": str(installations.config_path),
        "config_problem": problem,
        "formats": list(FORMATS),
        "operations": list(api.OPERATIONS),
        "error": error,
    }


@routes.get("/")
@routes.get("/.json")
@needs(Action.VIEW)  # a viewer sees it say so instead of the form
async def new_batch(request: web.Request) -> web.StreamResponse:
    return respond(request, "new.html", _new_batch_data(request), page="new-batch")


@routes.post("/check")
@needs(Action.CHECK)
async def check_upload(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("spreadsheet")
    if not isinstance(upload, web.FileField) or not upload.filename:
        return respond(
            request,
            "new.html",
            _new_batch_data(request, "Choose a spreadsheet to upload."),
            page="new-batch",
            status=400,
        )
    options: dict[str, Any] = {
        "sheet": str(form.get("sheet") or "").strip() or None,
        "operation": str(form.get("operation") or "").strip() or None,
        "column_map": {},
        "ignore_columns": [],
    }
    try:
        meta = await request.app[RUNS].upload(
            upload.file,
            file_name=upload.filename,
            installation=str(form.get("installation") or ""),
            options=options,
            user=signed_in_user(request),
        )
    except RunError as exc:
        return respond(
            request, "new.html", _new_batch_data(request, str(exc)), page="new-batch", status=400
        )
    await auditing.record(request, audit.CHECK, meta, rows=auditing.plan_rows(meta))
    return after_post(request, f"/runs/{meta.id}")


@routes.post(f"/runs/{ID_ROUTE}/columns")
@needs(Action.CHECK)
async def map_columns(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    form = await request.post()
    choices: dict[str, str] = {}
    for index, column in enumerate(meta.unknown_columns):
        choices[column["header"]] = str(form.get(f"column-{index}") or "")
    try:
        await request.app[RUNS].map_columns(meta, choices)
    except RunError as exc:
        return await run_page(request, meta, error=str(exc), status=400)
    detail = {"columns": "mapped or ignored"}
    await auditing.record(request, audit.CHECK, meta, rows=auditing.plan_rows(meta), detail=detail)
    return after_post(request, f"/runs/{meta.id}")
