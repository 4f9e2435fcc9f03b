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

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from batchtool import api
from batchtool.config import Credentials
from batchtool.errors import UnknownColumn, UnknownColumnsError
from batchtool.reader import MAX_ROWS, Places, ReadAs
from batchtool.reader.names import likely_column
from batchtool.remedies import Remedy
from batchtool.runner import ReadOptions, run_batch
from batchtool.web import runstore, shown, tables

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
    names columns with (their API names)."""

    status: str
    message: str | None = None
    unknown: tuple[UnknownColumn, ...] = ()
    named: dict[str, str] = field(default_factory=dict)
    header_unsure: bool = False
    remedy: Remedy | None = None
    plan: dict[str, Any] | None = None
    samples: tuple[str, ...] = ()
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)
    read_as: ReadAs | None = None
    places: Places | None = None


def check(
    input_path: Path,
    *,
    plan_path: Path,
    options: Mapping[str, Any],
    credentials: Credentials | None,
    earlier: Path | None = None,
) -> CheckResult:
    """Read and plan the upload, write the plan file; blocking (run it off the event loop).

    ``earlier``: the statuses of the run whose failed rows this one sends again (the upload
    is that run's input): the rows it did are planned as skipped. Unknown columns are a
    result (to map); any other BatchtoolError is raised, its message for the caller to tell.
    """
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
            runstore.COLUMNS,
            exc.problem,
            unknown=exc.columns,
            named=exc.named,
            header_unsure=exc.header_unsure,
            remedy=exc.remedy,
        )
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
        samples=tuple(shown.cut(line) for line in report.sample_requests[:SAMPLES_SHOWN]),
        invalid_rows=invalid,
        read_as=report.read_as,
        places=report.places,
    )


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
