"""Checking an upload: the CLI's dry run on the stored file, told as the page needs it.

The plan file the dry run writes is the page's "Download plan (CSV)": every row, valid or
invalid and why, masked and formula-guarded like any results file.

Unknown columns are offered for mapping ``COLUMNS_SHOWN`` at most, and only those whose
header could be a column's name (``shown.HEADER_CHARS``): a file with thousands of them
gets a page that still renders, and the columns not offered are ignored when the person
goes on (``ignore_unknown``: not sent, still in the results).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from batchtool import api
from batchtool.config import Credentials
from batchtool.errors import BatchtoolError, InputError, UnknownColumn, UnknownColumnsError
from batchtool.plan import PlanSummary
from batchtool.reader import MAX_ROWS
from batchtool.runner import ReadOptions, run_batch
from batchtool.web import runstore, shown, tables
from batchtool.web.runstore import RunMeta, RunStore

log = logging.getLogger("batchtool.web")

#: Unknown columns the mapping step offers at most.
COLUMNS_SHOWN: Final = 100
#: Sample requests kept for the plan page.
SAMPLES_SHOWN: Final = 3


def read_options(options: Mapping[str, Any]) -> ReadOptions:
    """The reading options a run's ``meta.json`` records, as the runner takes them. Every
    format is held to a spreadsheet's rows: the page reads spreadsheets, not database dumps,
    and a check must fit the server's memory."""
    return ReadOptions(
        max_rows=MAX_ROWS,
        sheet=options.get("sheet"),
        column_map=dict(options.get("column_map") or {}),
        ignore_columns=tuple(options.get("ignore_columns") or ()),
        operation=options.get("operation"),
        ignore_unknown=bool(options.get("ignore_unknown")),
    )


@dataclass(frozen=True)
class CheckResult:
    """What a check found. ``plan``: the run's, counted as its results will be (a row once
    per installation it goes to), but ``total`` is the rows the file has; ``plans``: each
    installation's share, in the run's order."""

    status: str
    message: str | None = None
    unknown: tuple[UnknownColumn, ...] = ()
    plan: dict[str, Any] | None = None
    plans: tuple[dict[str, Any], ...] = ()
    samples: tuple[str, ...] = ()
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)


def check(
    input_path: Path,
    *,
    plan_path: Path,
    options: Mapping[str, Any],
    installations: Mapping[str, Credentials | None],
    earlier: Path | None = None,
) -> CheckResult:
    """Read and plan the upload for its installations (in order), write the plan file;
    blocking (run it off the event loop).

    The check is the dry run of the run to those installations: with several, the plan file
    holds each row once per installation, as the results will. ``earlier``: the statuses of
    the run whose failed rows this one sends again (the upload is that run's input): the
    rows it did are planned as skipped, at each installation apart. Unknown columns are a
    result (to map); any other BatchtoolError is raised, its message for the caller to tell.
    """
    try:
        report = run_batch(
            input_path,
            installations=dict(installations),
            dry_run=True,
            results_path=plan_path,
            read=read_options(options),
            only_failed=earlier is not None,
            earlier_results=earlier,
        )
        invalid = tables.invalid_rows(plan_path) if report.plan.invalid else []
    except UnknownColumnsError as exc:
        return CheckResult(runstore.COLUMNS, str(exc), unknown=exc.columns)
    plans = tuple(_counts(i.plan) for i in report.installations if i.plan is not None)
    return CheckResult(
        runstore.PLANNED,
        plan={**_counts(report.plan), "total": plans[0]["total"]},
        plans=plans,
        samples=tuple(shown.cut(line) for line in report.sample_requests[:SAMPLES_SHOWN]),
        invalid_rows=invalid,
    )


async def checked(
    meta: RunMeta,
    store: RunStore,
    credentials: Callable[[RunMeta], Mapping[str, Credentials]],
    telling: shown.Telling,
) -> CheckResult:
    """``check`` of ``meta``'s stored upload, off the event loop, its messages told as the page
    shows them; a check that cannot be done is a rejected result, never an exception: a run
    must never stay "checking" for ever. ``credentials``: how to reach the run's
    installations (UsageError naming what is missing)."""
    files = store.named_files(meta)
    try:
        result = await asyncio.to_thread(
            check,
            store.input_path(meta),
            plan_path=store.plan_path(meta),
            options=meta.options,
            installations=credentials(meta),
            earlier=store.earlier_path(meta),
        )
    except BatchtoolError as exc:
        about_input = isinstance(exc, InputError)
        return CheckResult(
            runstore.REJECTED, telling.say(str(exc), files=files, about_input=about_input)
        )
    except MemoryError:
        log.warning("run %s: out of memory while checking %s", meta.id, meta.file_name)
        return CheckResult(
            runstore.REJECTED,
            f"{meta.file_name}: checking this file needs more memory than the server "
            "has — split it into smaller files and upload them one at a time",
        )
    except Exception as exc:
        log.exception("run %s: the check failed", meta.id)
        message = f"internal error while checking: {type(exc).__name__} — see the server log"
        return CheckResult(runstore.REJECTED, message)
    if result.message is None:
        return result
    told = telling.say(result.message, files=files, about_input=True)
    return dataclasses.replace(result, message=told)


def _counts(plan: PlanSummary) -> dict[str, Any]:
    """What a run's ``meta.json`` keeps of a plan: its counts."""
    return {
        "total": plan.total,
        "valid": plan.valid,
        "invalid": plan.invalid,
        "by_operation": plan.by_operation,
        "preset": plan.preset,
    }


def offered(unknown: Sequence[UnknownColumn]) -> list[UnknownColumn]:
    """The unknown columns the mapping step offers: the first ``COLUMNS_SHOWN`` whose header
    could be a column's name."""
    fit = (column for column in unknown if len(column.header) <= shown.HEADER_CHARS)
    return list(itertools.islice(fit, COLUMNS_SHOWN))


def column_choices(
    unknown: Sequence[UnknownColumn], remembered: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    """Each unknown column offered with what the mapping step preselects: the choice
    remembered for these headers, else the closest API name, else ignore ("")."""
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


def apply_choices(
    options: Mapping[str, Any], choices: Mapping[str, str], *, ignore_rest: bool
) -> dict[str, Any]:
    """``options`` with each header in ``choices`` mapped to its API name, or ignored ("");
    ``ignore_rest``: the unknown columns not offered are ignored too."""
    column_map = dict(options.get("column_map") or {})
    ignored = list(options.get("ignore_columns") or ())
    for header, target in choices.items():
        if target:
            column_map[header] = target
        elif header not in ignored:
            ignored.append(header)
    rest = {"ignore_unknown": True} if ignore_rest else {}
    return {**options, "column_map": column_map, "ignore_columns": ignored, **rest}


def is_api_name(name: str) -> bool:
    return name in api.KNOWN_COLUMNS


def bound(meta: RunMeta) -> bool:
    """Cut what a run stored of its file to what a page shows (a run checked before the
    page cut it); whether anything changed."""
    before = meta.to_json()
    if meta.message is not None:
        meta.message = shown.cut(meta.message)
    meta.samples = [shown.cut(line) for line in meta.samples[:SAMPLES_SHOWN]]
    meta.errors = [
        {**group, "reason": shown.cut(str(group.get("reason", "")))}
        for group in meta.errors[: tables.ERROR_GROUPS_SHOWN]
    ]
    fit = [c for c in meta.unknown_columns if len(str(c.get("header"))) <= shown.HEADER_CHARS]
    meta.unknown_columns = fit[:COLUMNS_SHOWN]
    return meta.to_json() != before
