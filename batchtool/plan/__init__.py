"""Validate rows and turn valid ones into requests, vectorised with polars expressions.

A planned frame also carries a *preset* status per row: a status a selection step gave the
row without sending it (``unchanged`` with --changed-only, ``skipped`` for a row ok in an
earlier run with --only-failed). A row with a preset is never sent; see :func:`preset`.

A row that is sent may still carry a *warning*: a value that looks damaged (a number Excel
rounded) but is not a lookup id, for the person to check.

The package's modules, one job each: ``rules`` (``plan_frame``: every validation rule),
``keep`` (the keep column's checks), ``numbers`` (damaged numbers: reasons and warnings),
``tables`` (lookups inside expressions), ``columns`` (the names of the columns a plan adds),
``presets``, ``requests`` (valid rows to requests) and ``summary``.
"""

from __future__ import annotations

from batchtool.plan.columns import (
    ERROR,
    LOOKUP_KEY,
    LOOKUP_VALUE,
    PRESET_ERROR,
    PRESET_STATUS,
    VALID,
    WARNING,
)
from batchtool.plan.presets import PRESET_STATUSES, preset, to_send
from batchtool.plan.requests import requests_from
from batchtool.plan.rules import normalise_operation, plan_frame
from batchtool.plan.summary import (
    PlanSummary,
    combined,
    summarise,
    summarise_each,
    with_warnings,
)

__all__ = [
    "ERROR",
    "LOOKUP_KEY",
    "LOOKUP_VALUE",
    "PRESET_ERROR",
    "PRESET_STATUS",
    "PRESET_STATUSES",
    "VALID",
    "WARNING",
    "PlanSummary",
    "combined",
    "normalise_operation",
    "plan_frame",
    "preset",
    "requests_from",
    "summarise",
    "summarise_each",
    "to_send",
    "with_warnings",
]
