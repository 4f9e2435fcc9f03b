"""A run's downloads as files: the plan, the results as CSV and as Excel, the rows not ok as
Excel (``?installation=NAME``: that installation's rows only; see ``downloads`` for which a
run offers), each written to the audit log; 410 once retention deleted the run's customer
data."""

from __future__ import annotations

from pathlib import Path
from typing import Final
from urllib.parse import quote

from aiohttp import web

from batchtool import audit
from batchtool.web import auditing, downloads, retention, runstore
from batchtool.web.keys import RUNS
from batchtool.web.pages_runs import find_run
from batchtool.web.permissions import Action, needs
from batchtool.web.render import error_page
from batchtool.web.runerror import RunError
from batchtool.web.runstore import ID_ROUTE, RunMeta

routes = web.RouteTableDef()


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


def _downloadable(request: web.Request, which: str) -> tuple[RunMeta, str | None]:
    """The run, if its download ``which`` is there (of the installation the query names, if
    it names one of the run's): 410 once retention deleted it."""
    meta = find_run(request)
    if meta.purged_at:
        raise web.HTTPGone(text=retention.gone(meta))
    installation = request.query.get("installation")
    if installation is not None and meta.target(installation) is None:
        raise web.HTTPNotFound()
    if downloads.offered(request.app[RUNS].store, meta, installation)[which] is None:
        raise web.HTTPNotFound()
    return meta, installation


async def _download(
    request: web.Request, meta: RunMeta, path: Path, name: str
) -> web.StreamResponse:
    await auditing.record(request, audit.DOWNLOAD, meta, detail={"download": name})
    return _attachment(path, name)


@routes.get(f"/runs/{ID_ROUTE}/plan.csv")
@needs(Action.DOWNLOAD)
async def plan_csv(request: web.Request) -> web.StreamResponse:
    meta, _ = _downloadable(request, "plan_csv")
    path = request.app[RUNS].store.plan_path(meta)
    if not path.exists():
        raise web.HTTPNotFound()
    return await _download(request, meta, path, f"{downloads.stem(meta)}.plan.csv")


@routes.get(f"/runs/{ID_ROUTE}/results.csv")
@needs(Action.DOWNLOAD)
async def results_csv(request: web.Request) -> web.StreamResponse:
    meta, installation = _downloadable(request, "results_csv")
    if installation is None:
        path = request.app[RUNS].store.results_path(meta)
        return await _download(request, meta, path, f"{downloads.stem(meta)}.results.csv")
    return await _copy(request, meta, runstore.RESULTS_CSV, installation)


async def _copy(
    request: web.Request, meta: RunMeta, kind: str, installation: str | None
) -> web.StreamResponse:
    """A download made from the results (``runstore.COPIES``), of ``installation``'s rows."""
    try:
        path = await request.app[RUNS].copy(meta, kind, installation)
    except RunError as exc:  # gone with the customer data, or too big for one sheet
        return error_page(request, 410 if meta.purged_at else 409, str(exc))
    return await _download(request, meta, path, f"{downloads.stem(meta, installation)}.{kind}")


@routes.get(f"/runs/{ID_ROUTE}/results.xlsx")
@needs(Action.DOWNLOAD)
async def results_xlsx(request: web.Request) -> web.StreamResponse:
    meta, installation = _downloadable(request, "results_xlsx")
    return await _copy(request, meta, runstore.RESULTS_XLSX, installation)


@routes.get(f"/runs/{ID_ROUTE}/failed.xlsx")
@needs(Action.DOWNLOAD)
async def failed_xlsx(request: web.Request) -> web.StreamResponse:
    meta, installation = _downloadable(request, "failed_xlsx")
    return await _copy(request, meta, runstore.FAILED_XLSX, installation)
