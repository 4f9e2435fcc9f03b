"""Summarise a planned input: counts, the first invalid rows, the top reasons, the warnings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import polars as pl

from batchtool import api
from batchtool.plan.columns import ERROR, PRESET_ERROR, PRESET_STATUS, VALID, WARNING
from batchtool.plan.presets import PRESET_STATUSES, to_send
from batchtool.reader import NUMBER_PREFIX, ROW


@dataclass(frozen=True)
class PlanSummary:
    """Counts of a planned input, and the first invalid rows with their reasons.

    ``valid`` counts the rows to send (valid and without a preset status), ``invalid`` the
    invalid rows without one; ``preset`` counts the rows a selection step settled, by status.
    ``top_reasons``: the most common reasons rows will not be sent (invalid or preset), with
    their counts. ``warnings``: the first rows to send that carry a warning (each names its
    column and value), out of ``warned`` such rows.
    """

    total: int
    valid: int
    invalid: int
    by_operation: dict[str, int]
    invalid_examples: list[tuple[int, str]]
    preset: dict[str, int] = field(default_factory=dict)
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    warned: int = 0


def summarise(planned: pl.LazyFrame, *, examples: int = 20, top: int = 5) -> PlanSummary:
    """Rows to send per operation, preset counts, the first ``examples`` invalid rows and the
    ``top`` most common reasons not to send, reading the input once."""
    return summarise_each([planned], examples=examples, top=top)[0]


def summarise_each(
    planned: Sequence[pl.LazyFrame], *, examples: int = 20, top: int = 5
) -> list[PlanSummary]:
    """:func:`summarise` for each of several frames planned from one input (each
    installation's share of a run), still reading the input once: polars shares the scan
    between the queries collected together. A frame given twice is summarised once.

    Separate queries collected together rather than one select: gathering the examples inside
    an aggregation holds whole columns in memory while streaming; a filtered ``head`` does not.
    """
    distinct = list({id(frame): frame for frame in planned}.values())
    queries = [_queries(frame, examples, top) for frame in distinct]
    found = pl.collect_all([q for qs in queries for q in qs], engine="streaming")
    summaries: dict[int, PlanSummary] = {}
    for frame, qs in zip(distinct, queries, strict=True):
        summaries[id(frame)] = _summary(*found[: len(qs)])
        found = found[len(qs) :]
    return [summaries[id(frame)] for frame in planned]


def _queries(planned: pl.LazyFrame, examples: int, top: int) -> list[pl.LazyFrame]:
    free = pl.col(PRESET_STATUS).is_null()
    valid = to_send()
    invalid = ~pl.col(VALID) & free
    counts_query = planned.select(
        pl.len().alias("total"),
        valid.sum().alias("valid"),
        invalid.sum().alias("invalid"),
        *((valid & (pl.col(api.OPERATION_COLUMN) == o)).sum().alias(o) for o in api.OPERATIONS),
        *((pl.col(PRESET_STATUS) == s).sum().alias(f"preset {s}") for s in PRESET_STATUSES),
    )
    examples_query = planned.filter(invalid).select(ROW, ERROR).head(examples)
    reason = pl.when(free).then(pl.col(ERROR)).otherwise(pl.col(PRESET_ERROR)).alias("reason")
    reasons_query = (
        planned.select(reason)
        .filter(pl.col("reason").is_not_null())
        .group_by("reason")
        .agg(pl.len().alias("n"))
        .sort(["n", "reason"], descending=[True, False])
        .head(top)
    )
    return [counts_query, examples_query, reasons_query, *_warnings_queries(planned, examples)]


def _summary(
    counts: pl.DataFrame, first_invalid: pl.DataFrame, reasons: pl.DataFrame, *warned: pl.DataFrame
) -> PlanSummary:
    first = counts.row(0, named=True)
    presets = {s: int(first[f"preset {s}"] or 0) for s in PRESET_STATUSES}
    summary = PlanSummary(
        total=int(first["total"]),
        valid=int(first["valid"] or 0),
        invalid=int(first["invalid"] or 0),
        by_operation={o: int(first[o] or 0) for o in api.OPERATIONS if first[o]},
        invalid_examples=[(int(row), str(error)) for row, error in first_invalid.iter_rows()],
        preset={status: n for status, n in presets.items() if n},
        top_reasons=[(str(text), int(n)) for text, n in reasons.iter_rows()],
    )
    return _with_warnings(summary, *warned) if warned else summary


def combined(plans: Sequence[PlanSummary], *, examples: int = 20, top: int = 5) -> PlanSummary:
    """The plans of each installation's share of a run as one: counts added up (a row counts
    once per installation), the first ``examples`` rows of each kind once each, the ``top``
    reasons with their counts added up."""
    if len(plans) == 1:
        return plans[0]

    def added(field: str) -> dict[str, int]:
        total: dict[str, int] = {}
        for plan in plans:
            for key, n in getattr(plan, field).items():
                total[key] = total.get(key, 0) + n
        return total

    def first_rows(field: str) -> list[tuple[int, str]]:
        rows: dict[int, str] = {}
        for plan in plans:
            for row, text in getattr(plan, field):
                rows.setdefault(row, text)
        return sorted(rows.items())[:examples]

    reasons: dict[str, int] = {}
    for plan in plans:
        for text, n in plan.top_reasons:
            reasons[text] = reasons.get(text, 0) + n
    operations = added("by_operation")
    return PlanSummary(
        total=sum(p.total for p in plans),
        valid=sum(p.valid for p in plans),
        invalid=sum(p.invalid for p in plans),
        by_operation={o: operations[o] for o in api.OPERATIONS if o in operations},
        invalid_examples=first_rows("invalid_examples"),
        preset=added("preset"),
        top_reasons=sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:top],
        warnings=first_rows("warnings"),
        warned=sum(p.warned for p in plans),
    )


def with_warnings(
    summary: PlanSummary, planned: pl.LazyFrame, *, examples: int = 20
) -> PlanSummary:
    """``summary`` (e.g. a dry run's, read from its results file) with the warnings of
    ``planned``. Only a file whose reader marked numbers (an Excel sheet, floating-point
    Parquet columns) can have any: for any other file nothing is read."""
    queries = _warnings_queries(planned, examples)
    if not queries:
        return summary
    return _with_warnings(summary, *pl.collect_all(queries, engine="streaming"))


def _warnings_queries(planned: pl.LazyFrame, examples: int) -> list[pl.LazyFrame]:
    if not any(n.startswith(NUMBER_PREFIX) for n in planned.collect_schema().names()):
        return []
    warned = to_send() & pl.col(WARNING).is_not_null()
    return [
        planned.select(warned.sum().alias("warned")),
        planned.filter(warned).select(ROW, WARNING).head(examples),
    ]


def _with_warnings(summary: PlanSummary, count: pl.DataFrame, first: pl.DataFrame) -> PlanSummary:
    return replace(
        summary,
        warnings=[(int(row), str(text)) for row, text in first.iter_rows()],
        warned=int(count.item() or 0),
    )
