"""A run's downloads: which it offers now (the plan; the results as CSV and as Excel; the rows
not ok as Excel), of every installation's rows or of one's, at which path and under which
file name; and those made from the results file (``runstore.COPIES``) when first asked for.
A run whose customer data retention deleted offers none."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

from batchtool import model
from batchtool.errors import BatchtoolError
from batchtool.web import retention, runstore, tables
from batchtool.web.runerror import RunError
from batchtool.web.runstore import RunMeta, RunStore

#: Every download a run's page may offer.
KINDS: Final = ("plan_csv", "results_csv", "results_xlsx", "failed_xlsx")


def offered(
    store: RunStore, meta: RunMeta, installation: str | None = None
) -> dict[str, str | None]:
    """The run's downloads (of ``installation``'s rows only, when given): their paths, None
    for those there are not (yet, or any more)."""
    base = f"/runs/{meta.id}"
    if meta.purged_at:
        return dict.fromkeys(KINDS)
    ended = meta.status in runstore.ENDED and store.results_path(meta).exists()
    part = meta.target(installation) if installation is not None else None
    counts, unsent = (part.counts, part.unsent) if part else (meta.counts, meta.unsent)
    not_ok = ended and counts.get(model.FAILED, 0) + counts.get(model.INVALID, 0) + unsent > 0
    query = f"?{urlencode({'installation': installation})}" if installation is not None else ""
    return {
        "plan_csv": f"{base}/plan.csv" if meta.plan is not None and not query else None,
        "results_csv": f"{base}/results.csv{query}" if ended else None,
        "results_xlsx": f"{base}/results.xlsx{query}" if ended else None,
        "failed_xlsx": f"{base}/failed.xlsx{query}" if not_ok else None,
    }


def stem(meta: RunMeta, installation: str | None = None) -> str:
    """A download's name before its kind: the uploaded file's (and the installation's)."""
    name = Path(meta.file_name).stem or "batch"
    return name if installation is None else f"{name}.{installation}"


async def made(
    store: RunStore,
    meta: RunMeta,
    kind: str,
    installation: str | None,
    tell: Callable[[BatchtoolError], str],
) -> Path:
    """A download made from the results (``runstore.COPIES``: all rows as Excel, the rows
    not ok as Excel, or one installation's rows as CSV), of ``installation``'s rows only
    when given; made if it is not there yet. RunError says why not (``tell``: an engine
    message as the page shows it)."""
    path = store.copy_path(meta, kind, installation)
    if not path.exists():
        try:
            await asyncio.to_thread(
                tables.write_copy,
                store.results_path(meta),
                path,
                failed=kind == runstore.FAILED_XLSX,
                installation=installation,
            )
        except BatchtoolError as exc:
            raise RunError(tell(exc)) from None
    if meta.purged_at:  # deleted while the copy was made: it goes too
        path.unlink(missing_ok=True)
        raise RunError(retention.gone(meta))
    return path
