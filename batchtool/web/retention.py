"""Retention: the customer data of runs that ended long enough ago is deleted; who did what,
when, and how many rows, stays.

**What goes** is everything that came from the file: every file in the run's folder but
``meta.json`` (the upload, plan, results, journal, lock, snapshot and scratch copies, Excel
copies, earlier statuses), and from ``meta.json``:

- the example requests, which hold the rows' values as they would be sent;
- the unknown columns' headers, and the headers and sheet name in the reading options:
  a file's headers can say as much about its customers as its cells;
- the errors' reasons and example rows (values are taken out of reasons, but only as well
  as patterns can), keeping how many groups there were;
- the message of a file that could not be sent, which may quote a cell (an aborted run's
  reason is about the installation, not the file, and stays);
- the same reading options inside an approval.

**What stays**: the file's name as uploaded, the installation, who checked, requested,
approved or rejected, sent, stopped and resumed it and when, the plan's counts and the rows
by status, the approval's reason and the file's fingerprint (a digest, which cannot give the
data back), the run's audit lines, and when and by whom the data was deleted.

**Which runs**: those whose last step is older than the cutoff — a send that ended with
nothing left to resume, an upload never sent (not checked to the end, rejected, checked,
or rejected by an approver), and a request for approval nobody answered (it lapses, as a
deployment waiting for review does). A run checking, sending, or that Resume could still
finish is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from batchtool import audit
from batchtool.audit import AuditLog
from batchtool.web import runstore, words
from batchtool.web.runstore import RunMeta, RunStore, now_iso

if TYPE_CHECKING:
    from batchtool.web.runs import RunManager

log = logging.getLogger("batchtool.web")

#: ``batchtool serve``'s default: customer data is kept this many days after a run ends.
DEFAULT_DAYS: Final = 90
#: How often a server purges (it also purges when it starts).
EVERY_S: Final = 24 * 3600.0
#: Who deleted it, when the server did it on its timer.
RETENTION: Final = "retention"

#: Reading options that name nothing from the file.
_KEPT_OPTIONS: Final = ("operation",)


def last_step(meta: RunMeta) -> str | None:
    """When the run last moved; None if it may still move (never purged)."""
    request = meta.approval
    if meta.status in runstore.ENDED:
        return None if meta.resumable else meta.finished_at or meta.created
    if meta.status == runstore.DECLINED and request is not None:
        return request.decided_at
    if meta.status == runstore.WAITING and request is not None:
        return request.requested_at
    if meta.status in (runstore.PLANNED, runstore.COLUMNS, runstore.REJECTED):
        return meta.created
    return None


def due(meta: RunMeta, cutoff: datetime) -> bool:
    """Whether ``meta``'s customer data goes at ``cutoff``."""
    if meta.purged_at:
        return False
    step = last_step(meta)
    return step is not None and datetime.fromisoformat(step) < cutoff


def strip(meta: RunMeta, *, by: str) -> None:
    """Take what came from the file out of ``meta`` and say when and by whom."""
    meta.samples = []
    meta.unknown_columns = []
    meta.errors = []
    if meta.status != runstore.ABORTED:
        meta.message = None
    meta.options = _kept(meta.options)
    if meta.approval is not None:
        meta.approval.options = _kept(meta.approval.options)
    meta.purged_at, meta.purged_by = now_iso(), by


def _kept(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in _KEPT_OPTIONS}


def erase(store: RunStore, meta: RunMeta) -> None:
    """Delete every file of the run's folder but ``meta.json``, then save ``meta``. Blocking."""
    folder = store.folder(meta.id)
    for entry in folder.iterdir():
        if entry.name == "meta.json":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
    store.save(meta)


def gone(meta: RunMeta) -> str:
    """What a purged run's page, and its downloads, say."""
    return f"Customer data deleted on {words.day(meta.purged_at)} (retention)."


def record(
    audit_log: AuditLog, meta: RunMeta, *, user: str | None, via: str, older_than: str
) -> None:
    """The purge's audit line for ``meta``."""
    audit_log.append(
        audit.PURGE,
        user=user,
        via=via,
        run=meta.id,
        file=meta.file_name,
        installation=meta.installation_text,
        rows=meta.counts or None,
        detail={"older_than": older_than},
    )


def purge_store(
    store: RunStore, cutoff: datetime, *, by: str, dry_run: bool = False
) -> list[RunMeta]:
    """Purge the runs on disk due at ``cutoff`` (``batchtool purge``: no server runs). Blocking."""
    found = [meta for meta in store.load_all() if due(meta, cutoff)]
    if not dry_run:
        for meta in found:
            strip(meta, by=by)
            erase(store, meta)
    return found


def cutoff_days(days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


async def every_day(
    purge: Callable[[], Awaitable[None]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """``purge`` now, then once a day, until cancelled; a failed purge is logged, not fatal."""
    while True:
        try:
            await purge()
        except Exception:
            log.exception("retention: the purge failed; it is tried again tomorrow")
        await sleep(EVERY_S)


async def purge_served(manager: RunManager, audit_log: AuditLog, days: int) -> list[RunMeta]:
    """Purge the runs of a running server due ``days`` days ago, each with its audit line."""
    cutoff = cutoff_days(days)
    purged = []
    for meta in manager.newest_first():
        if not due(meta, cutoff):
            continue
        # Stripped on the server's loop first: from now on no action starts on the run.
        strip(meta, by=RETENTION)
        await asyncio.to_thread(erase, manager.store, meta)
        await asyncio.to_thread(
            record, audit_log, meta, user=None, via=audit.SERVER, older_than=f"{days}d"
        )
        purged.append(meta)
    if purged:
        log.info(
            "retention: customer data of %d runs deleted (ended over %d days ago)",
            len(purged),
            days,
        )
    return purged
