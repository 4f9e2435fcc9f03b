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
"""

from batchtool.config import Credentials, resolve_credentials
from batchtool.dispatch import DispatchConfig
from batchtool.errors import BatchtoolError, InputError, JournalError, UsageError
from batchtool.runner import ReadOptions, RunReport, run_batch, run_batch_async

__all__ = [
    "BatchtoolError",
    "Credentials",
    "DispatchConfig",
    "InputError",
    "JournalError",
    "ReadOptions",
    "RunReport",
    "UsageError",
    "resolve_credentials",
    "run_batch",
    "run_batch_async",
]
