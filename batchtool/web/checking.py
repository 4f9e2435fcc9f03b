"""Checking an upload: the CLI's dry run on the stored file, told as the page needs it.

The plan file the dry run writes is the page's "Download plan (CSV)": every row, valid or
invalid and why, masked and formula-guarded like any results file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchtool import api
from batchtool.config import Credentials
from batchtool.errors import BatchtoolError, UnknownColumn, UnknownColumnsError
from batchtool.runner import ReadOptions, run_batch
from batchtool.web import runstore, tables


def read_options(options: Mapping[str, Any]) -> ReadOptions:
    """The reading options a run's ``meta.json`` records, as the runner takes them."""
    return ReadOptions(
        sheet=options.get("sheet"),
        column_map=dict(options.get("column_map") or {}),
        ignore_columns=tuple(options.get("ignore_columns") or ()),
        operation=options.get("operation"),
    )


def speak_of(message: str, stored: Path, file_name: str) -> str:
    """``message`` naming the file as uploaded instead of where the server keeps it."""
    return message.replace(str(stored), file_name)


@dataclass(frozen=True)
class CheckResult:
    status: str
    message: str | None = None
    unknown: tuple[UnknownColumn, ...] = ()
    plan: dict[str, Any] | None = None
    samples: tuple[str, ...] = ()
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)


def check(
    input_path: Path,
    *,
    file_name: str,
    plan_path: Path,
    options: Mapping[str, Any],
    credentials: Credentials | None,
    earlier: Path | None = None,
) -> CheckResult:
    """Read and plan the upload, write the plan file; blocking (run it off the event loop).

    ``earlier``: the statuses of the run whose failed rows this one sends again (the upload
    is that run's input): the rows it did are planned as skipped."""
    try:
        report = run_batch(
            input_path,
            credentials=credentials,
            dry_run=True,
            results_path=plan_path,
            read=read_options(options),
            only_failed=earlier is not None,
            earlier_results=earlier,
        )
        invalid = tables.invalid_rows(plan_path) if report.plan.invalid else []
    except UnknownColumnsError as exc:
        return CheckResult(
            runstore.COLUMNS, speak_of(str(exc), input_path, file_name), unknown=exc.columns
        )
    except BatchtoolError as exc:
        return CheckResult(runstore.REJECTED, speak_of(str(exc), input_path, file_name))
    plan = report.plan
    return CheckResult(
        runstore.PLANNED,
        plan={
            "total": plan.total,
            "valid": plan.valid,
            "invalid": plan.invalid,
            "by_operation": plan.by_operation,
            "preset": plan.preset,
        },
        samples=report.sample_requests,
        invalid_rows=invalid,
    )


def column_choices(
    unknown: Sequence[UnknownColumn], remembered: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    """Each unknown column with what the mapping step preselects: the choice remembered for
    these headers, else the closest API name, else ignore ("")."""
    return [
        {
            "header": column.header,
            "suggestion": column.suggestion,
            "choice": (
                remembered[column.header]
                if remembered is not None and column.header in remembered
                else column.suggestion or ""
            ),
        }
        for column in unknown
    ]


def apply_choices(options: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
    """``options`` with each header in ``choices`` mapped to its API name, or ignored ("")."""
    column_map = dict(options.get("column_map") or {})
    ignored = list(options.get("ignore_columns") or ())
    for header, target in choices.items():
        if target:
            column_map[header] = target
        elif header not in ignored:
            ignored.append(header)
    return {**options, "column_map": column_map, "ignore_columns": ignored}


def is_api_name(name: str) -> bool:
    return name in api.KNOWN_COLUMNS
