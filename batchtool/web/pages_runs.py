"""A run's page (plan, sending, done), its actions (send, stop, resume), its downloads, and
the list of every run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from aiohttp import web

from batchtool import api
from batchtool.web import forms, runstore
from batchtool.web.keys import RUNS, SESSION
from batchtool.web.render import after_post, error_page, respond
from batchtool.web.runs import RunError
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


def _summary(meta: RunMeta) -> dict[str, Any]:
    """What the runs list shows of a run (and the start of its page's JSON)."""
    return {
        **meta.to_json(),
        "status_text": meta.status_text,
        "sent_by": meta.sent_by,
        "sent_at": meta.sent_at,
        "url": f"/runs/{meta.id}",
    }


def _downloads(request: web.Request, meta: RunMeta) -> dict[str, str | None]:
    store = request.app[RUNS].store
    base = f"/runs/{meta.id}"
    ended = meta.status in runstore.ENDED and store.results_path(meta).exists()
    return {
        "plan_csv": f"{base}/plan.csv" if meta.plan is not None else None,
        "results_csv": f"{base}/results.csv" if ended else None,
        "results_xlsx": f"{base}/results.xlsx" if ended else None,
    }


async def run_page(
    request: web.Request, meta: RunMeta, *, error: str | None = None, status: int = 200
) -> web.Response:
    manager = request.app[RUNS]
    live = manager.live(meta.id)
    plan = meta.plan or {}
    invalid = await manager.invalid_rows(meta) if meta.plan else []
    data = {
        "run": _summary(meta),
        "error": error,
        "invalid_rows": invalid,
        "invalid_rows_more": max(0, int(plan.get("invalid", 0)) - len(invalid)),
        "needs_forget_confirmation": bool(plan.get("by_operation", {}).get(api.FORGET)),
        "can_send": meta.status == runstore.PLANNED and bool(plan.get("valid")),
        "can_stop": live is not None and not live.stopping,
        "can_resume": meta.status in runstore.ENDED and meta.resumable,
        "live": live.snapshot() if live else None,
        "downloads": _downloads(request, meta),
        "api_names": list(api.KNOWN_COLUMNS),
    }
    return respond(request, "run.html", data, page=f"run run-{meta.status}", status=status)


@routes.get(f"/runs/{ID_ROUTE}")
@routes.get(f"/runs/{ID_ROUTE}.json")
async def show_run(request: web.Request) -> web.StreamResponse:
    return await run_page(request, find_run(request))


@routes.get("/runs")
@routes.get("/runs.json")
async def list_runs(request: web.Request) -> web.StreamResponse:
    runs = [_summary(meta) for meta in request.app[RUNS].newest_first()]
    return respond(request, "runs.html", {"runs": runs}, page="runs")


async def _act(
    request: web.Request, meta: RunMeta, action: Callable[[], None], refused: int
) -> web.StreamResponse:
    """Do ``action``, then show the run; a RunError shows the run with why, as ``refused``."""
    try:
        action()
    except RunError as exc:
        return await run_page(request, meta, error=str(exc), status=refused)
    return after_post(request, f"/runs/{meta.id}")


@routes.post(f"/runs/{ID_ROUTE}/send")
async def send(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    confirmed = (await forms.fields(request)).get("confirm_forget") == "yes"
    user = signed_in_user(request)
    manager = request.app[RUNS]
    return await _act(
        request, meta, lambda: manager.send(meta, user, confirm_forget=confirmed), 400
    )


@routes.post(f"/runs/{ID_ROUTE}/stop")
async def stop(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    return await _act(request, meta, lambda: request.app[RUNS].stop(meta), 409)


@routes.post(f"/runs/{ID_ROUTE}/resume")
async def resume(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    user = signed_in_user(request)
    return await _act(request, meta, lambda: request.app[RUNS].resume(meta, user), 409)


_CONTENT_TYPES: Final = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _attachment(path: Path, name: str) -> web.FileResponse:
    # The uploaded name goes into a header: ASCII stand-in plus the exact name, percent-encoded.
    ascii_name = "".join(
        ch if (ch.isascii() and ch.isalnum()) or ch in "._-" else "_" for ch in name
    )
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    headers = {"Content-Disposition": disposition, "Content-Type": _CONTENT_TYPES[path.suffix]}
    return web.FileResponse(path, headers=headers)


def _stem(meta: RunMeta) -> str:
    return Path(meta.file_name).stem or "batch"


@routes.get(f"/runs/{ID_ROUTE}/plan.csv")
async def plan_csv(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    path = request.app[RUNS].store.plan_path(meta)
    if meta.plan is None or not path.exists():
        raise web.HTTPNotFound()
    return _attachment(path, f"{_stem(meta)}.plan.csv")


@routes.get(f"/runs/{ID_ROUTE}/results.csv")
async def results_csv(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    if _downloads(request, meta)["results_csv"] is None:
        raise web.HTTPNotFound()
    return _attachment(request.app[RUNS].store.results_path(meta), f"{_stem(meta)}.results.csv")


@routes.get(f"/runs/{ID_ROUTE}/results.xlsx")
async def results_xlsx(request: web.Request) -> web.StreamResponse:
    meta = find_run(request)
    if _downloads(request, meta)["results_xlsx"] is None:
        raise web.HTTPNotFound()
    manager = request.app[RUNS]
    try:
        await manager.excel(meta)
    except RunError as exc:
        return error_page(request, 409, str(exc))
    return _attachment(manager.store.excel_path(meta), f"{_stem(meta)}.results.xlsx")
