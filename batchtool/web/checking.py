"""Checking an upload: the CLI's dry run on the stored file, told as the page needs it.

The plan file the dry run writes is the page's "Download plan (CSV)": every row, valid or
invalid and why, masked and formula-guarded like any results file.

Unknown columns are offered for mapping ``COLUMNS_SHOWN`` at most, and only those whose
header could be a column's name (``shown.HEADER_CHARS``): a file with thousands of them
gets a page that still renders, and the columns not offered are ignored when the person
goes on (``ignore_unknown``: not sent, still in the results). What the mapping step
preselects never goes quietly wrong: a field only when the header surely means it
(``names.likely_column``), never ``username`` or ``password`` on a guess or on a choice
remembered for other columns, never a field another column already has; two columns mapped
to one field are refused before anything is checked (``conflicts``).

A check also says how the file was read (``read_as``) and where each data row is in it
(``places``: the sheet row or line), so pages can name a row as the spreadsheet does.
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
from batchtool.reader import MAX_ROWS, Places, ReadAs
from batchtool.reader.names import likely_column
from batchtool.remedies import Remedy
from batchtool.runner import ReadOptions, run_batch
from batchtool.web import reading, runstore, shown, tables
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
        encoding=options.get("encoding"),
        delimiter=options.get("delimiter"),
        header_row=options.get("header_row"),
        column_map=dict(options.get("column_map") or {}),
        ignore_columns=tuple(options.get("ignore_columns") or ()),
        operation=options.get("operation"),
        ignore_unknown=bool(options.get("ignore_unknown")),
    )


@dataclass(frozen=True)
class CheckResult:
    """What a check found: the run's next status, and what its page shows. ``message`` is
    the page's words; ``remedy``, the fix an error asks for; ``named``, the headers the file
    names columns with (their API names). ``plan``: the run's, counted as its results will
    be (a row once per installation it goes to), but ``total`` is the rows the file has;
    ``plans``: each installation's share, in the run's order."""

    status: str
    message: str | None = None
    unknown: tuple[UnknownColumn, ...] = ()
    named: dict[str, str] = field(default_factory=dict)
    header_unsure: bool = False
    remedy: Remedy | None = None
    plan: dict[str, Any] | None = None
    plans: tuple[dict[str, Any], ...] = ()
    samples: tuple[str, ...] = ()
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)
    read_as: ReadAs | None = None
    places: Places | None = None


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
        return CheckResult(
            runstore.COLUMNS,
            exc.problem,
            unknown=exc.columns,
            named=exc.named,
            header_unsure=exc.header_unsure,
            remedy=exc.remedy,
        )
    plans = tuple(_counts(i.plan) for i in report.installations if i.plan is not None)
    return CheckResult(
        runstore.PLANNED,
        plan={**_counts(report.plan), "total": plans[0]["total"]},
        plans=plans,
        samples=tuple(shown.cut(line) for line in report.sample_requests[:SAMPLES_SHOWN]),
        invalid_rows=invalid,
        read_as=report.read_as,
        places=report.places,
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
        told = telling.say(reading.say(exc), files=files, about_input=about_input)
        return CheckResult(runstore.REJECTED, told, remedy=exc.remedy)
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
    unknown: Sequence[UnknownColumn],
    named: Mapping[str, str],
    remembered: Mapping[str, str] | None,
    habits: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Each unknown column offered with what the mapping step preselects ("": ignore it).

    ``remembered``: the choices made for exactly these columns before, taken as they were;
    ``habits``: each header's latest choice among other columns, taken unless it is
    ``username`` or ``password``, which a person chooses for each set of columns. Otherwise
    the field the header surely means (``names.likely_column``), or nothing. Never a field
    that another column of the file has, or that a column above was given.
    """
    taken = set(named.values())
    offered = []
    for column in unknown:
        header = column.header
        if remembered is not None and header in remembered:
            choice = remembered[header]
        elif header in habits:
            choice = "" if habits[header] in api.SIGN_IN_COLUMNS else habits[header]
        else:
            choice = likely_column(header, taken) or ""
        if choice in taken or (choice and not is_api_name(choice)):
            choice = ""
        if choice:
            taken.add(choice)
        offered.append({"header": header, "suggestion": column.suggestion, "choice": choice})
    return offered


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
            ignored = [h for h in ignored if h != header]
        else:
            column_map.pop(header, None)
            if header not in ignored:
                ignored.append(header)
    rest = {"ignore_unknown": True} if ignore_rest else {}
    return {**options, "column_map": column_map, "ignore_columns": ignored, **rest}


def conflicts(choices: Mapping[str, str], named: Mapping[str, str]) -> dict[str, str]:
    """Each chosen header that shares its field with another column, and why, in words for
    the page: two columns mapped to one field, or one mapped to a field another column of
    the file already has. Empty when every field has one column at most."""
    holder = {field: header for header, field in named.items()}
    by_field: dict[str, list[str]] = {}
    for header, target in choices.items():
        if target:
            by_field.setdefault(target, []).append(header)
    found: dict[str, str] = {}
    for target, headers in by_field.items():
        if target in holder:
            for header in headers:
                found[header] = (
                    f"The column “{holder[target]}” already holds {target}: choose another "
                    "field for this column, or ignore it."
                )
        elif len(headers) > 1:
            both = " and ".join(f"“{h}”" for h in headers)
            for header in headers:
                found[header] = (
                    f"{both} are both mapped to {target}: choose another field for one of them."
                )
    return found


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
