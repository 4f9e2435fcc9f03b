"""A whole run, start to finish: read -> plan -> dispatch -> journal -> results. The CLI calls this.

A run is the same few steps whatever kind of run it is; a dry run, a --strict refusal, a
canary and a resumed run differ in data (which rows are sent, why the others are not), not
in branches of their own:

1. settle   check the options; refuse an output that is the input, before anything is read.
2. snapshot copy the input privately; everything after reads only that copy (one version).
3. plan     read and validate every row; selection steps give rows that need no sending a
            status of their own (``plan.preset``): --only-failed's ``skipped`` for rows an
            earlier run did, --changed-only's ``unchanged``.
4. send     unless it is a dry run: open the journal, send what is left (all of it, the first
            N for a canary, nothing under --strict with invalid rows), each finished row
            journaled before it counts.
5. finish   write the results file, summarise, take the ok rows into the sync state (with
            --changed-only or --full), close the journal (complete when nothing is left to
            send), report.

Every row ends in the results file exactly once, in input order, so a crash or Ctrl-C loses
nothing that ``resume=True`` cannot finish. Polars work runs in a worker thread, so a caller
serving other requests on the same event loop (the ops page) stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TextIO, TypeVar

import polars as pl

from batchtool import api, model, snapshot
from batchtool.config import Credentials
from batchtool.dispatch import DispatchConfig
from batchtool.errors import UsageError
from batchtool.events import EventSink, RunFinished, ignore
from batchtool.journal import journal_path, lock_path
from batchtool.options import Job, ReadOptions
from batchtool.plan import (
    PlanSummary,
    plan_frame,
    requests_from,
    summarise,
    to_send,
    with_warnings,
)
from batchtool.progress import LINE_INTERVAL_S, TextProgress
from batchtool.reader import InputTable, polars_errors, read_input
from batchtool.report import (
    EXIT_ABORTED,
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_OK,
    EXIT_OK,
    EXIT_USAGE,
    RunReport,
    exit_code,
)
from batchtool.results import (
    ResultSummary,
    build_results,
    check_results_path,
    default_results_path,
    dry_run_plan,
    dry_run_summary,
    read_back,
    summarise_results,
    write_results,
)
from batchtool.selection import only_failed
from batchtool.sync_state import Sync, SyncOptions

__all__ = [
    "EXIT_ABORTED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_ALL_OK",
    "EXIT_OK",
    "EXIT_USAGE",
    "ReadOptions",
    "RunReport",
    "run_batch",
    "run_batch_async",
]

if TYPE_CHECKING:
    from batchtool.sending import Sent

_T = TypeVar("_T")
_P = ParamSpec("_P")


async def run_batch_async(
    input_path: str | Path,
    *,
    credentials: Credentials | None = None,
    dry_run: bool = False,
    strict: bool = False,
    results_path: str | Path | None = None,
    read: ReadOptions | None = None,
    dispatch_config: DispatchConfig | None = None,
    timeout_s: float = 30.0,
    resume: bool = False,
    restart: bool = False,
    journal: bool = True,
    canary: int | None = None,
    only_failed: bool = False,
    sync: SyncOptions | None = None,
    quiet: bool = True,
    progress_stream: TextIO | None = None,
    on_event: EventSink | None = None,
    progress_interval_s: float | None = None,
    handle_signals: bool = False,
    stop: asyncio.Event | None = None,
    simulate: bool = False,
) -> RunReport:
    """Run a batch from code that already runs an event loop; :func:`run_batch` otherwise.

    Raises :class:`batchtool.errors.BatchtoolError` subclasses for problems that stop the run
    before anything is sent (bad file, bad options, a journal in the way). Rows that fail are
    not exceptions: they are in the results file and counted in ``report.summary``.

    ``canary=N`` sends only the first N rows still to send; the rest are skipped, and the
    same call with ``resume=True`` (without ``canary``) sends them. ``only_failed=True``
    takes a results file of an earlier run and sends only its rows that were not done (not
    ok, nor unchanged). ``on_event`` receives the
    run's events (see :mod:`batchtool.events`), progress every ``progress_interval_s``;
    without it, ``quiet=False`` shows text progress on ``progress_stream`` (stderr).
    ``simulate=True`` starts the built-in simulator in this process and sends to it instead
    of ``credentials``: the way to try a file without an installation. ``sync`` makes it a
    nightly sync: with ``changed_only``, rows that would change nothing since the last run
    are ``unchanged`` and not sent (see :mod:`batchtool.sync_state`).
    """
    started = time.monotonic()
    job = _settle(
        input_path,
        results_path=results_path,
        read=read,
        dispatch_config=dispatch_config,
        timeout_s=timeout_s,
        dry_run=dry_run,
        strict=strict,
        resume=resume,
        restart=restart,
        journal=journal,
        canary=canary,
        only_failed=only_failed,
        sync=sync,
    )
    async with contextlib.AsyncExitStack() as stack:
        sink, interval = _observer(on_event, progress_interval_s, quiet, progress_stream, stack)
        snap = await asyncio.to_thread(stack.enter_context, snapshot.taken(job.path, job.results))
        if simulate and not job.dry_run:
            credentials = await stack.enter_async_context(_simulator())
        base_url = credentials.base_url if credentials else "{base}"
        planning = await _plan(job, snap, base_url)
        planned, plan = planning.planned, planning.plan
        sent: Sent | None = None
        if plan is not None:
            # Imported here: aiohttp takes ~150 ms to load, which a dry run has no use for.
            from batchtool.sending import Sender

            sender = Sender(job, credentials, sink, interval, stop, handle_signals)
            sent = await sender.send(planned, plan, snap.fingerprint, stack)
        report = await _finish(job, planning, sent, started)
        if plan is None:
            sink(job.started(report.plan, to_send=0))  # a dry run is checked only now
        sink(RunFinished(report))
        return report


def _blocking(run: Callable[_P, Coroutine[Any, Any, _T]]) -> Callable[_P, _T]:
    """``run`` as a plain function that runs its own event loop, with the same parameters."""

    @functools.wraps(run)
    def blocking(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return asyncio.run(run(*args, **kwargs))

    return blocking


run_batch = _blocking(run_batch_async)
run_batch.__name__ = run_batch.__qualname__ = "run_batch"
run_batch.__doc__ = """Run a batch from code (e.g. an Airflow task) and return what happened.

Takes the same arguments as :func:`run_batch_async` and runs its own event loop.
"""


# --- 1. settle ------------------------------------------------------------------------------


def _settle(
    input_path: str | Path,
    *,
    results_path: str | Path | None,
    read: ReadOptions | None,
    dispatch_config: DispatchConfig | None,
    timeout_s: float,
    dry_run: bool,
    strict: bool,
    resume: bool,
    restart: bool,
    journal: bool,
    canary: int | None,
    only_failed: bool,
    sync: SyncOptions | None,
) -> Job:
    """The run's options, checked against each other; fails before anything is read or sent."""
    if timeout_s <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout_s}")
    if resume and restart:
        raise UsageError("--resume and --restart contradict each other — choose one")
    if canary is not None:
        if isinstance(canary, bool) or not isinstance(canary, int) or canary < 1:
            raise UsageError(f"--canary must be a whole number of rows, 1 or more, not {canary!r}")
        if not journal:
            raise UsageError(
                "--canary needs the journal, which lets --resume send the rest — drop --no-journal"
            )
    path = Path(input_path)
    out = Path(results_path) if results_path else default_results_path(path)
    check_results_path(out)
    nightly = Sync(sync or SyncOptions(), out)
    nightly.check_writable()
    snapshot.check_outputs_apart(
        path,
        (
            ("results file", out),
            ("journal", journal_path(out)),
            ("lock file", lock_path(out)),
            *nightly.outputs(),
        ),
    )
    return Job(
        path=path,
        results=out,
        read=read or ReadOptions(),
        dispatch=dispatch_config or DispatchConfig(),
        timeout_s=timeout_s,
        dry_run=dry_run,
        strict=strict,
        resume=resume,
        restart=restart,
        journal=journal,
        canary=canary if not dry_run else None,
        sync=nightly,
        only_failed=only_failed,
    )


def _observer(
    on_event: EventSink | None,
    interval_s: float | None,
    quiet: bool,
    stream: TextIO | None,
    stack: contextlib.AsyncExitStack,
) -> tuple[EventSink, float]:
    """The run's event sink and progress interval: the caller's, else text (unless quiet)."""
    if on_event is not None:
        return on_event, interval_s or LINE_INTERVAL_S
    if quiet:
        return ignore, LINE_INTERVAL_S
    text = TextProgress(stream)
    stack.callback(text.close)  # a run that fails midway must not leave the bar drawing
    return text, interval_s or text.interval_s


# --- 3. plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planning:
    """The plan step's result: the input, its rows planned and selected, their summary (None
    for a dry run, which takes it from its results file), and notes for the report."""

    table: InputTable
    planned: pl.LazyFrame
    plan: PlanSummary | None
    notes: tuple[str, ...] = ()
    sample_requests: tuple[str, ...] = ()


async def _plan(job: Job, snap: snapshot.Snapshot, base_url: str) -> _Planning:
    """Read the snapshot and, for a live run, validate every row before anything is sent: a
    broken line 900,000 must stop the run while nothing has been sent yet. A dry run
    validates while it writes its results instead (one pass over the input). The selection
    steps come in between."""

    def work() -> _Planning:
        read = job.read
        table = read_input(
            job.path,
            fmt=read.fmt,
            sheet=read.sheet,
            encoding=read.encoding,
            delimiter=read.delimiter,
            header_row=read.header_row,
            column_map=read.column_map,
            ignore_columns=read.ignore_columns,
            ignore_unknown=read.ignore_unknown,
            data_path=snap.path,
            # A UTF-8 copy of a UTF-16 (or --encoding) file goes beside the snapshot, and
            # leaves with it.
            scratch_dir=snap.path.parent,
        )
        planned = plan_frame(table.frame, default_operation=read.operation)
        if job.only_failed:
            planned = only_failed(planned, job.path)
        with polars_errors(job.path):
            planned, notes = job.sync.select(planned)
            if not job.dry_run:
                return _Planning(table, planned, summarise(planned), notes)
            # The first requests a dry run shows are taken now, before the pass over the
            # whole file: their memory is then reused by it rather than added on top.
            samples = _sample_requests(planned, base_url)
            return _Planning(table, planned, None, notes, samples)

    return await asyncio.to_thread(work)


# --- 4. send --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _simulator() -> AsyncIterator[Credentials]:
    # Imported here: the simulator (aiohttp.web) is not needed by ordinary runs.
    from batchtool.simulator import Simulator

    sim = Simulator()
    await sim.start()
    try:
        yield Credentials(sim.base_url, sim.api_username, sim.api_key)
    finally:
        await sim.stop()


# --- 5. finish ------------------------------------------------------------------------------


async def _finish(job: Job, planning: _Planning, sent: Sent | None, started: float) -> RunReport:
    """Write the results, update the sync state, close the journal, and say what happened.

    ``planning.plan``: the plan's summary, taken before sending; None for a dry run, which
    takes it while it writes the results.
    """
    planned, checked = planning.planned, planning.plan
    dispatched = sent.dispatched if sent else None

    def write() -> tuple[PlanSummary, ResultSummary, tuple[str, ...]]:
        with polars_errors(job.path):
            results = build_results(
                planned,
                planning.table.headers,
                outcomes=sent.outcomes if sent else None,
                unsent_reason=sent.unsent_reason if sent else "not sent",
            )
            write_results(results, job.results)
            # Only a run that sent: a dry run or a --strict refusal changed nothing.
            taken = job.sync.take_in(planned, sent.outcomes) if sent and dispatched else ()
            if checked is not None:
                return checked, summarise_results(read_back(job.results)), taken
            # A dry run checks every row while it writes the results: one pass over the input.
            summarised = with_warnings(dry_run_plan(job.results), planned)
            return summarised, dry_run_summary(summarised), taken

    plan, summary, taken = await asyncio.to_thread(write)
    aborted = dispatched.aborted if dispatched else None
    interrupted = dispatched.interrupted if dispatched else False
    code = exit_code(summary, aborted=bool(aborted), interrupted=interrupted)
    # Nothing left to send: every row that is not ok was deliberately not sent (a preset).
    unsent = summary.counts.get(model.SKIPPED, 0) - plan.preset.get(model.SKIPPED, 0)
    complete = code == EXIT_OK and unsent == 0
    notes = [*planning.notes, *(sent.notes if sent else ()), *taken]
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
    return RunReport(
        input_path=job.path,
        results_path=job.results,
        dry_run=job.dry_run,
        plan=plan,
        summary=summary,
        elapsed_s=time.monotonic() - started,
        exit_code=code,
        aborted=aborted,
        interrupted=interrupted,
        sample_requests=planning.sample_requests,
        resumed_ok=sent.resumed_ok if sent else 0,
        notes=tuple(notes),
        requests_sent=dispatched.requests_sent if dispatched else 0,
        header_place=planning.table.header_place,
        mean_concurrency=dispatched.mean_concurrency if dispatched else None,
    )


def _mask_form(form: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{k}={api.MASK if k in api.SECRET_COLUMNS else v}" for k, v in form)


def _sample_requests(planned: pl.LazyFrame, base_url: str, n: int = 3) -> tuple[str, ...]:
    head = planned.filter(to_send()).head(n).collect(engine="streaming")
    return tuple(
        f"PATCH {api.endpoint_url(base_url, r.operation)}  {_mask_form(r.form)}"
        for r in requests_from(head)
    )
