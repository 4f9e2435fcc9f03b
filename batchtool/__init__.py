"""batchtool: apply a spreadsheet of customer changes through the customer REST API.

From code (an Airflow or Dagster task)::

    from batchtool import Credentials, run_batch

    report = run_batch(
        "changes.csv",
        credentials=Credentials("https://affiliates.example.com", "offerit_admin", key),
        results_path="changes.results.parquet",
    )
    if report.exit_code != 0:
        raise RuntimeError(f"{report.summary.counts} — see {report.results_path}")

The same file to several installations in one run: ``installations={"offerit": creds,
"nats": other}`` instead of ``credentials=``; ``report.installations`` says what happened at
each.

The names below are imported on first use, so that the command line can tune polars
(see ``batchtool._entry``) before polars is loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchtool.config import Credentials, resolve_credentials
    from batchtool.dispatch import DispatchConfig
    from batchtool.errors import (
        BatchtoolError,
        InputError,
        JournalError,
        SyncStateError,
        UsageError,
    )
    from batchtool.installation import Installation, resolve_installations
    from batchtool.network import Network
    from batchtool.options import ReadOptions
    from batchtool.report import InstallationReport, RunReport
    from batchtool.runner import run_batch, run_batch_async
    from batchtool.sync_state import SyncOptions

_EXPORTS = {
    "BatchtoolError": "batchtool.errors",
    "Credentials": "batchtool.config",
    "DispatchConfig": "batchtool.dispatch",
    "InputError": "batchtool.errors",
    "Installation": "batchtool.installation",
    "InstallationReport": "batchtool.report",
    "JournalError": "batchtool.errors",
    "Network": "batchtool.network",
    "ReadOptions": "batchtool.options",
    "RunReport": "batchtool.report",
    "SyncOptions": "batchtool.sync_state",
    "SyncStateError": "batchtool.errors",
    "UsageError": "batchtool.errors",
    "resolve_credentials": "batchtool.config",
    "resolve_installations": "batchtool.installation",
    "run_batch": "batchtool.runner",
    "run_batch_async": "batchtool.runner",
}

__all__ = [
    "BatchtoolError",
    "Credentials",
    "DispatchConfig",
    "InputError",
    "Installation",
    "InstallationReport",
    "JournalError",
    "Network",
    "ReadOptions",
    "RunReport",
    "SyncOptions",
    "SyncStateError",
    "UsageError",
    "resolve_credentials",
    "resolve_installations",
    "run_batch",
    "run_batch_async",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'batchtool' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
