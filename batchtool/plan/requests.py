"""Turn the valid rows of a planned batch into requests, in row order."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Final

import polars as pl

from batchtool import api
from batchtool.model import Request
from batchtool.plan.columns import LOOKUP_KEY, LOOKUP_VALUE, VALID
from batchtool.reader import ROW

_KEEP_SPACING_PATTERN: Final = r"\s*,\s*"


def requests_from(batch: pl.DataFrame) -> Iterator[Request]:
    """The request of every valid row of a collected ``plan_frame`` batch, in row order.

    Rows are read per operation so each group selects only the parameters its operation
    takes; the groups are then merged back by position.
    """
    present = set(batch.columns)
    positioned = batch.with_row_index("__position").filter(pl.col(VALID))
    operation = pl.col(api.OPERATION_COLUMN)
    groups = [
        _requests_of(positioned.filter(operation == name), name, present) for name in api.OPERATIONS
    ]
    for _, request in heapq.merge(*groups, key=lambda pair: pair[0]):
        yield request


def _requests_of(
    group: pl.DataFrame, operation: str, present: set[str]
) -> Iterator[tuple[int, Request]]:
    if group.is_empty():
        return
    params = [p for p in api.OPERATION_PARAMS[operation] if p in present]
    values = [pl.col(p) for p in params]
    if api.KEEP in params:
        # Servers split keep on bare commas: "firstname, lastname" would keep only firstname
        # and forget the rest, irreversibly.
        values[params.index(api.KEEP)] = pl.col(api.KEEP).str.replace_all(
            _KEEP_SPACING_PATTERN, ","
        )
    rows = group.select("__position", ROW, LOOKUP_KEY, LOOKUP_VALUE, *values).iter_rows()
    if not params:
        for position, row, key, value in rows:
            lookup = (key, value)
            yield position, Request(row, operation, lookup, (lookup,))
        return
    for position, row, key, value, *given in rows:
        lookup = (key, value)
        form = (lookup, *((p, v) for p, v in zip(params, given, strict=True) if v is not None))
        yield position, Request(row, operation, lookup, form)
