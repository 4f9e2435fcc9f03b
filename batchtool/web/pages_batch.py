"""New batch: choose the installations (one, or several: the same file to each), upload a
spreadsheet, check it; map unknown columns, read it otherwise (another sheet, encoding,
header row, delimiter), ignore a column: each checks the kept upload again."""

from __future__ import annotations

import logging
from typing import Any, Final

from aiohttp import web

from batchtool import api, audit
from batchtool.errors import UsageError
from batchtool.reader import FORMATS
from batchtool.web import auditing, forms, reading
from batchtool.web.keys import INSTALLATIONS, RUNS
from batchtool.web.pages_runs import Columns, find_run, run_page, signed_in_user
from batchtool.web.permissions import Action, needs
from batchtool.web.render import after_post, respond
from batchtool.web.runerror import ColumnConflict, RunError
from batchtool.web.runstore import ID_ROUTE, RunMeta

log = logging.getLogger("batchtool.web")

routes = web.RouteTableDef()

#: The upload form's file field.
SPREADSHEET: Final = "spreadsheet"


def _new_batch_data(request: web.Request, error: str | None = None) -> dict[str, Any]:
    installations = request.app[INSTALLATIONS]
    telling = request.app[RUNS].telling
    try:
        offered = installations.all()
        problem = None
    except UsageError as exc:
        offered, problem = [], telling.say(str(exc))
    return {
        "installations": [{"name": i.name, "label": i.label, "shown": i.shown} for i in offered],
        "config_problem": problem,
        "label_problems": [telling.say(i.label_problem) for i in offered if i.label_problem],
        "formats": list(FORMATS),
        "operations": list(api.OPERATIONS),
        "delimiters": {name: words for name, (_, words) in reading.DELIMITERS.items()},
        "error": error,
    }


@routes.get("/")
@routes.get("/.json")
@needs(Action.VIEW)  # a viewer sees it say so instead of the form
async def new_batch(request: web.Request) -> web.StreamResponse:
    return respond(request, "new.html", _new_batch_data(request), page="new-batch")


def _refused(request: web.Request, error: str, status: int = 400) -> web.Response:
    return respond(
        request, "new.html", _new_batch_data(request, error), page="new-batch", status=status
    )


@routes.post("/check")
@needs(Action.CHECK)
@forms.takes_upload
async def check_upload(request: web.Request) -> web.StreamResponse:
    manager = request.app[RUNS]
    reception = manager.reception()
    try:
        upload = await forms.receive_upload(request, SPREADSHEET, reception.target)
        if not upload.received:
            return _refused(request, "Choose a spreadsheet to upload.")
        form = upload.fields
        try:
            chosen = reading.chosen(form)
        except reading.Refused as exc:
            return _refused(request, str(exc))
        options: dict[str, Any] = {**chosen, "column_map": {}, "ignore_columns": []}
        meta = await manager.upload(
            reception,
            installations=upload.every.get("installation", []),
            options=options,
            user=signed_in_user(request),
        )
    except RunError as exc:
        return _refused(request, str(exc))
    except OSError as exc:  # a full disk, say: the server's trouble, told without a path
        log.warning("an upload could not be kept: %s", exc)
        message = (
            f"The server could not keep the upload ({exc.strerror or 'error'}) — try again later."
        )
        return _refused(request, message, status=500)
    finally:
        reception.discard()
    await auditing.record(request, audit.CHECK, meta, rows=auditing.plan_rows(meta))
    return after_post(request, f"/runs/{meta.id}")


@routes.post(f"/runs/{ID_ROUTE}/columns")
@needs(Action.CHECK)
@forms.limit(forms.COLUMNS_BYTES)
async def map_columns(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    form = await forms.fields(request)
    choices: dict[str, str] = {}
    for index, column in enumerate(meta.unknown_columns):
        choices[column["header"]] = form.get(f"column-{index}", "")
    try:
        await request.app[RUNS].map_columns(meta, choices)
    except ColumnConflict as conflict:
        return await run_page(
            request,
            meta,
            error=str(conflict),
            status=400,
            columns=Columns(conflict.choices, conflict.why),
        )
    except RunError as exc:
        return await run_page(request, meta, error=str(exc), status=400)
    return await _checked_again(request, meta, {"columns": "mapped or ignored"})


async def _checked_again(
    request: web.Request, meta: RunMeta, detail: dict[str, str]
) -> web.StreamResponse:
    await auditing.record(request, audit.CHECK, meta, rows=auditing.plan_rows(meta), detail=detail)
    return after_post(request, f"/runs/{meta.id}")


@routes.post(f"/runs/{ID_ROUTE}/read")
@needs(Action.CHECK)
async def read_again(request: web.Request) -> web.StreamResponse:
    """Check the kept upload again, read as the "Check again" form says."""
    meta = find_run(request)
    form = await forms.fields(request)
    try:
        options = reading.chosen(form, sheets=tuple(meta.sheets))
        await request.app[RUNS].reread(meta, options)
    except (reading.Refused, RunError) as exc:
        return await run_page(request, meta, error=str(exc), status=400)
    return await _checked_again(request, meta, {"reading": "read again"})


@routes.post(f"/runs/{ID_ROUTE}/ignore-column")
@needs(Action.CHECK)
async def ignore_column(request: web.Request) -> web.StreamResponse:
    """Leave out the column a check found a problem in, and check again."""
    meta = find_run(request)
    header = (await forms.fields(request)).get("header", "")
    try:
        await request.app[RUNS].ignore_column(meta, header)
    except RunError as exc:
        return await run_page(request, meta, error=str(exc), status=400)
    return await _checked_again(request, meta, {"columns": "one ignored"})
