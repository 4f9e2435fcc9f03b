"""A run's finish step: the results file, the sync state, the journal closed, the report.

The results file has one group per installation when there are several (``installation``
first, in the order given), each in input order, written as one lazy concatenation streamed
to disk a group at a time; its summaries, in total and per installation, are read back from
it. The exit code, the notes and the report follow from what it says.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from batchtool import model
from batchtool.installation import Lane
from batchtool.options import Job
from batchtool.plan import PlanSummary, combined, with_warnings
from batchtool.reader import InputTable, Places, polars_errors
from batchtool.report import EXIT_OK, InstallationReport, RunReport, exit_code
from batchtool.results import (
    ResultSummary,
    build_results,
    dry_run_plan,
    dry_run_summary,
    read_back,
    summarise_results,
    write_results,
)

if TYPE_CHECKING:
    from batchtool.sending import LaneSent, Sent


@dataclass(frozen=True)
class Planning:
    """The plan step's result: the input, one lane per installation (its rows planned and
    selected), their total summary (None for a dry run, which takes it from its results
    file), and notes for the report."""

    table: InputTable
    lanes: tuple[Lane, ...]
    plan: PlanSummary | None
    notes: tuple[str, ...] = ()
    sample_requests: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Written:
    """What the results file says: the total plan and summary, and each lane's."""

    plan: PlanSummary
    summary: ResultSummary
    summaries: tuple[ResultSummary, ...]
    plans: tuple[PlanSummary, ...]
    taken: tuple[str, ...]


def _write(job: Job, planning: Planning, sent: Sent | None) -> _Written:
    """Write the results file (one group per installation when there are several), take the
    ok rows into the sync state, and summarise what the file says."""
    lanes, headers = planning.lanes, planning.table.headers
    names = job.names if job.fanout else (None,) * len(lanes)
    parts = [
        build_results(
            lane.planned,
            headers,
            outcomes=done.outcomes if done else None,
            unsent_reason=done.unsent_reason if done else "not sent",
            installation=name,
        )
        for lane, name, done in zip(lanes, names, _lanes_sent(sent, lanes), strict=True)
    ]
    # Concatenated lazily and written streaming: a group at a time, never all in memory.
    if len(parts) == 1:
        write_results(parts[0], job.results)
    else:
        write_results(pl.concat(parts, parallel=False), job.results, parts_share_input=True)
    taken: tuple[str, ...] = ()
    if sent is not None and sent.dispatched:  # a dry run or a --strict refusal changed nothing
        shares = [lane.planned for lane in lanes]
        taken = job.sync.take_in(shares, [done.outcomes for done in sent.lanes], job.names)
    if planning.plan is not None:
        summary = summarise_results(read_back(job.results))
        summaries = tuple(
            summarise_results(read_back(job.results, name)) if job.fanout else summary
            for name in names
        )
        plans = tuple(lane.plan for lane in lanes if lane.plan is not None)
        return _Written(planning.plan, summary, summaries, plans, taken)
    # A dry run checks every row while it writes the results: no pass over the input of its
    # own (one per installation: each part of the results reads the input for itself).
    plans = tuple(
        with_warnings(dry_run_plan(job.results, name), lane.planned)
        for lane, name in zip(lanes, names, strict=True)
    )
    plan = combined(plans)
    summaries = tuple(map(dry_run_summary, plans))
    return _Written(plan, dry_run_summary(plan), summaries, plans, taken)


def _lanes_sent(sent: Sent | None, lanes: Sequence[Lane]) -> Sequence[LaneSent | None]:
    return sent.lanes if sent is not None else [None] * len(lanes)


async def finish(
    job: Job, planning: Planning, sent: Sent | None, started: float
) -> RunReport:
    """Write the results, update the sync state, close the journal, and say what happened."""

    def write() -> tuple[_Written, Places | None]:
        with polars_errors(job.path):
            written = _write(job, planning, sent)
            # A dry run shows its plan: its rows are named as the file has them too.
            return written, planning.table.places() if job.dry_run else None

    written, places = await asyncio.to_thread(write)
    done = _lanes_sent(sent, planning.lanes)
    installations = tuple(
        _installation_report(lane, plan, summary, lane_sent)
        for lane, plan, summary, lane_sent in zip(
            planning.lanes, written.plans, written.summaries, done, strict=True
        )
    )
    aborted = _aborted(installations, fanout=job.fanout)
    interrupted = any(d.dispatched.interrupted for d in done if d and d.dispatched)
    code = exit_code(written.summary, aborted=bool(aborted), interrupted=interrupted)
    # Nothing left to send: every row that is not ok was deliberately not sent (a preset).
    unsent = sum(
        summary.counts.get(model.SKIPPED, 0) - plan.preset.get(model.SKIPPED, 0)
        for summary, plan in zip(written.summaries, written.plans, strict=True)
    )
    complete = code == EXIT_OK and unsent == 0
    notes = [*planning.notes, *(sent.notes if sent else ()), *written.taken]
    if sent is not None and sent.journal is not None:
        if job.canary is not None and unsent and not (aborted or interrupted):
            notes.append(
                f"canary: {unsent} row(s) not sent yet — run the same command with --resume "
                "(without --canary) to send them"
            )
        elif code != EXIT_OK:
            notes.append(
                "to send the rows that are not ok again: add --resume "
                f"(journal {sent.journal.path})"
            )
        # Complete: --resume then sends nothing, and the next plain run on this results path
        # (tomorrow's cron job) is not refused.
        sent.journal.close(complete=complete)
    means = [i.mean_concurrency for i in installations if i.mean_concurrency is not None]
    return RunReport(
        input_path=job.path,
        results_path=job.results,
        dry_run=job.dry_run,
        plan=written.plan,
        summary=written.summary,
        elapsed_s=time.monotonic() - started,
        exit_code=code,
        aborted=aborted,
        interrupted=interrupted,
        sample_requests=planning.sample_requests,
        resumed_ok=sum(i.resumed_ok for i in installations),
        notes=tuple(notes),
        requests_sent=sum(i.requests_sent for i in installations),
        header_place=planning.table.header_place,
        read_as=planning.table.read_as,
        places=places,
        mean_concurrency=sum(means) if means else None,
        installations=installations,
    )


def _installation_report(
    lane: Lane, plan: PlanSummary, summary: ResultSummary, done: LaneSent | None
) -> InstallationReport:
    dispatched = done.dispatched if done else None
    return InstallationReport(
        name=lane.name,
        plan=plan,
        summary=summary,
        aborted=dispatched.aborted if dispatched else None,
        resumed_ok=done.resumed_ok if done else 0,
        requests_sent=dispatched.requests_sent if dispatched else 0,
        mean_concurrency=dispatched.mean_concurrency if dispatched else None,
    )


def _aborted(installations: Sequence[InstallationReport], *, fanout: bool) -> str | None:
    """Why sending stopped: in a run to several, each installation aborted and why."""
    if not fanout:
        return installations[0].aborted
    reasons = [f"{i.name}: {i.aborted}" for i in installations if i.aborted]
    return "; ".join(reasons) or None
