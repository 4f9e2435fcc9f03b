"""A run not sent yet, checked again with what its page chose: its kept upload read with other
options (``reread``), its unknown columns mapped or ignored (``map_columns``, the choice
remembered for each of its installations), the column a check's error named left out
(``ignore_column``). Each gives the options the next check reads the upload with, or a
RunError that says why it cannot be, and then nothing has changed; the check itself is
``RunManager``'s.

The mapping step a check leads to (``mapping_step``) is the other half of ``map_columns``:
the unknown columns offered, with the choice made for the same headers before preselected,
else each header's latest choice (the first installation's, in a run to several).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batchtool.web import checking, reading, retention, runstore
from batchtool.web.checking import CheckResult
from batchtool.web.mappings import ColumnMemory
from batchtool.web.runerror import ColumnConflict, RunError
from batchtool.web.runstore import RunMeta


def map_columns(meta: RunMeta, choices: Mapping[str, str], memory: ColumnMemory) -> dict[str, Any]:
    """Map or ignore the unknown columns as chosen (and those not offered: ignore), and
    remember the choice. ColumnConflict, and nothing changed, when two columns would have
    one field."""
    if meta.status not in (runstore.COLUMNS, runstore.REJECTED):
        raise RunError("This run's columns are already settled.")
    for header, target in choices.items():
        if target and not checking.is_api_name(target):
            raise RunError(f"Column '{header}': '{target}' is not a column batchtool knows.")
    if why := checking.conflicts(choices, meta.named_columns):
        raise ColumnConflict(dict(choices), why)
    for name in meta.names:
        memory.remember(name, choices, meta.unknown_total)
    return checking.apply_choices(
        meta.options, choices, ignore_rest=meta.unknown_total > len(choices)
    )


def reread(meta: RunMeta, options: Mapping[str, Any]) -> dict[str, Any]:
    """Read the kept upload with ``options`` (see ``reading.chosen``). A change of how it is
    read may change its columns: their mapping is asked again (remembered choices come
    preselected)."""
    if meta.status not in (runstore.PLANNED, runstore.COLUMNS, runstore.REJECTED):
        raise RunError("This run can no longer be checked again: upload the file again.")
    if meta.purged_at:
        raise RunError(retention.gone(meta))
    changed = {**meta.options, **options}
    if reading.changes_columns(meta.options, changed):
        changed.update(column_map={}, ignore_columns=[], ignore_unknown=False)
    return changed


def ignore_column(meta: RunMeta, header: str) -> dict[str, Any]:
    """Leave the column an error named out of the run."""
    remedy = meta.remedy or {}
    if meta.status != runstore.REJECTED or remedy.get("kind") != "ignore_column":
        raise RunError("This run has no column to ignore.")
    if header != remedy.get("header"):
        raise RunError("That is not the column the check found a problem in.")
    return checking.apply_choices(meta.options, {header: ""}, ignore_rest=False)


def mapping_step(
    meta: RunMeta, result: CheckResult, memory: ColumnMemory
) -> tuple[list[dict[str, Any]], int]:
    """The unknown columns the mapping step offers after ``result`` (see
    ``checking.column_choices``), and how many unknown columns the file has: none unless
    the check asks for the step."""
    if result.status != runstore.COLUMNS:
        return [], 0
    total = len(result.unknown)
    offered = checking.offered(result.unknown)
    headers = [c.header for c in offered]
    found = (memory.recall(n, headers, total) for n in meta.names)
    remembered = next((choices for choices in found if choices is not None), None)
    habits: dict[str, str] = {}
    for name in reversed(meta.names):  # the first installation's habit wins
        habits.update(memory.habits(name))
    return checking.column_choices(offered, result.named, remembered, habits), total
