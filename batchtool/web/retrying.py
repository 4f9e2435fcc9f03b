"""Sending a finished run's failed rows again: which installations' failed rows no run sends
again yet, which a request may send (every installation's, or one's), the new run's
installations, and its files.

The new run's input is the first run's own (passwords as typed, which a results file
masks), beside each row's status there as it is now (``tables.write_earlier``): the rows
the first run did, or found invalid, are planned as skipped or invalid again, so the new
run sends the failed rows and nothing else. In a run to several, each row's installation
goes with its status, so each failed row goes back to its own installation only.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from batchtool import model
from batchtool.errors import UsageError
from batchtool.urls import masked
from batchtool.web import retention, runstore, tables
from batchtool.web.installations import Installations
from batchtool.web.runerror import RunError
from batchtool.web.runstore import RunMeta, Target


def retried(meta: RunMeta, runs: Mapping[str, RunMeta]) -> set[str]:
    """The installations whose failed rows of ``meta`` a run of ``runs`` sends again already."""
    found: set[str] = set()
    for run_id in meta.retried_in:
        if (retry := runs.get(run_id)) is not None:
            found.update(retry.names)
    return found


def offered(meta: RunMeta, runs: Mapping[str, RunMeta]) -> dict[str, int]:
    """Failed rows that "Send the failed rows again" would send, by installation: those of
    each installation whose failed rows no run sends again yet. None while a row waits for a
    Resume, which would send the failed rows as well."""
    if meta.status not in runstore.ENDED or meta.purged_at or meta.unsent:
        return {}
    taken = retried(meta, runs)
    return {
        target.name: failed
        for target in meta.installations
        if (failed := target.counts.get(model.FAILED, 0)) and target.name not in taken
    }


def chosen(meta: RunMeta, runs: Mapping[str, RunMeta], installation: str | None) -> list[str]:
    """The installations whose failed rows a request sends again: every one's not sent again
    yet, or ``installation``'s alone; RunError says why none."""
    if meta.status not in runstore.ENDED or not meta.counts.get(model.FAILED):
        raise RunError("This run has no failed rows to send again.")
    if meta.purged_at:
        raise RunError(retention.gone(meta))
    if meta.unsent:
        raise RunError("This run has rows not sent yet: Resume sends them and the failed rows.")
    if installation is not None and meta.target(installation) is None:
        raise RunError(f"This run does not send to {installation}.")
    names = list(offered(meta, runs))
    if installation is None:
        taken = not names and bool(meta.retried_in)
    else:
        taken = installation in retried(meta, runs)
        names = [installation] if installation in names else []
    if taken:
        raise RunError("The failed rows of this run are already being sent again.")
    if not names:
        raise RunError("This run has no failed rows to send again.")
    return names


def targets(meta: RunMeta, names: Sequence[str], installations: Installations) -> list[Target]:
    """The new run's installations: ``names``, in the first run's order, as they are offered
    now; RunError for one that is not any more."""
    found = []
    for target in meta.installations:
        if target.name not in names:
            continue
        try:
            now = installations.get(target.name)
        except UsageError as exc:
            raise RunError(str(exc)) from None
        if now is None:
            raise RunError(f"The installation {target.name} is no longer offered.")
        found.append(Target(now.name, masked(now.base_url), now.shown))
    return found


def write_files(
    inputs: tuple[Path, Path],
    first_results: Path,
    earlier: Path,
    installations: Sequence[str] | None,
) -> None:
    """The first run's input for the new one, and its rows' statuses as they are now (of
    ``installations``, in a run to several: whose each row is goes with it); blocking."""
    shutil.copyfile(*inputs)
    tables.write_earlier(first_results, earlier, installations)
