"""A whole run, start to finish: read -> plan -> dispatch -> journal -> results. The CLI calls this.

A run is the same few steps whatever kind of run it is; a dry run, a --strict refusal, a
canary and a resumed run differ in data (which rows are sent, why the others are not), not
in branches of their own:

1. settle   check the options; refuse an output that is the input, before anything is read.
2. snapshot copy the input privately; everything after reads only that copy (one version).
3. plan     read and validate every row; selection steps give rows that need no sending a
            status of their own (``plan.preset``): --only-failed's ``skipped`` for rows an
            earlier run did, --changed-only's ``unchanged``. The result is one ``Lane`` per
            installation: the same plan, with what a selection step decided for it.
4. send     unless it is a dry run: open the journal, send what is left (all of it, the first
            N for a canary, nothing under --strict with invalid rows) to every installation
            at once, each finished row journaled before it counts.
5. finish   write the results file, summarise, take the ok rows into the sync state (with
            --changed-only or --full), close the journal (complete when nothing is left to
            send), report.

Every row ends in the results file exactly once per installation, in input order (grouped
by installation, in the order given, when there are several), so a crash or Ctrl-C loses
nothing that ``resume=True`` cannot finish. Polars work runs in a worker thread, so a caller
serving other requests on the same event loop (the ops page) stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TextIO, TypeVar

import polars as pl

from batchtool import api, selection, snapshot
from batchtool.config import Credentials
from batchtool.dispatch import DispatchConfig
from batchtool.errors import UsageError
from batchtool.events import EventSink, RunFinished, ignore
from batchtool.finish import Planning, finish
from batchtool.installation import Installation, Lane, installations_of, simulated
from batchtool.journal import journal_path, lock_path
from batchtool.options import Job, ReadOptions
from batchtool.plan import combined, plan_frame, requests_from, summarise_each, to_send
from batchtool.progress import LINE_INTERVAL_S, TextProgress
from batchtool.reader import cut, polars_errors, read_input
from batchtool.report import (
    EXIT_ABORTED,
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_OK,
    EXIT_OK,
    EXIT_USAGE,
    RunReport,
)
from batchtool.results import check_results_path, default_results_path
from batchtool.sync_state import Sync, SyncOptions
from batchtool.urls import masked

__all__ = [
    "EXIT_ABORTED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_ALL_OK",
    "EXIT_OK",
    "EXIT_USAGE",
    "Installation",
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
    installations: Sequence[Installation] | Mapping[str, Credentials | None] | None = None,
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
    earlier_results: str | Path | None = None,
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
    ok, nor unchanged); with ``earlier_results`` too, the input is that earlier run's own input
    and its rows' statuses come from its results file ``earlier_results``. ``on_event``
    receives the run's events (see :mod:`batchtool.events`), progress every
    ``progress_interval_s``; without it, ``quiet=False`` shows text progress on
    ``progress_stream`` (stderr).
    ``simulate=True`` starts the built-in simulator in this process and sends to it instead
    of ``credentials``: the way to try a file without an installation. ``sync`` makes it a
    nightly sync: with ``changed_only``, rows that would change nothing since the last run
    are ``unchanged`` and not sent (see :mod:`batchtool.sync_state`).

    ``installations`` sends the same file to several installations in one run (a fan-out):
    ``[Installation("offerit", creds), ...]`` or ``{"offerit": creds, ...}``, in the order
    the results file groups them; ``credentials`` means one unnamed installation, and giving
    both is a usage error. A dry run needs their names only (credentials None), and so does
    ``simulate=True``, which then starts one simulator per installation. Each installation
    is sent to independently (see :mod:`batchtool.sending`); ``report.installations`` says
    what happened at each.
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
        earlier_results=earlier_results,
        sync=sync,
        installations=installations_of(credentials, installations),
    )
    async with contextlib.AsyncExitStack() as stack:
        sink, interval = _observer(on_event, progress_interval_s, quiet, progress_stream, stack)
        if not job.dry_run:
            # Before the plan reads the state: what it reads must be what this run replaces.
            stack.enter_context(job.sync.locked())
        snap = await asyncio.to_thread(stack.enter_context, snapshot.taken(job.path, job.results))
        if simulate and not job.dry_run:
            installed = await stack.enter_async_context(simulated(job.installations))
            job = dataclasses.replace(job, installations=installed)
        first = job.installations[0].credentials
        planning = await _plan(job, snap, first.base_url if first else "{base}")
        plan = planning.plan
        sent: Sent | None = None
        if plan is not None:
            # Imported here: aiohttp takes ~150 ms to load, which a dry run has no use for.
            from batchtool.sending import Sender

            sender = Sender(job, sink, interval, stop, handle_signals)
            sent = await sender.send(planning.lanes, plan, snap.fingerprint, stack)
        report = await finish(job, planning, sent, started)
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
    earlier_results: str | Path | None,
    sync: SyncOptions | None,
    installations: tuple[Installation, ...],
) -> Job:
    """The run's options, checked against each other; fails before anything is read or sent."""
    if timeout_s <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout_s}")
    if resume and restart:
        raise UsageError("--resume and --restart contradict each other — choose one")
    if earlier_results and not only_failed:
        raise UsageError("earlier_results names the rows to send again: it needs only_failed")
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
            ("results file", out, "--results"),
            ("journal", journal_path(out), "--results"),
            ("lock file", lock_path(out), "--results"),
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
        earlier_results=Path(earlier_results) if earlier_results else None,
        installations=installations,
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


async def _plan(job: Job, snap: snapshot.Snapshot, base_url: str) -> Planning:
    """Read the snapshot and, for a live run, validate every row before anything is sent: a
    broken line 900,000 must stop the run while nothing has been sent yet. A dry run
    validates while it writes its results instead (one pass over the input). The selection
    steps come in between; those that decide per installation make its lane differ."""

    def work() -> Planning:
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
            max_rows=read.max_rows,
        )
        planned = plan_frame(table.frame, default_operation=read.operation)
        if job.only_failed:
            planned = selection.only_failed(planned, job.path, job.earlier_results)
        with polars_errors(job.path):
            shares = selection.shares(planned, job.names, job.path, only_failed=job.only_failed)
            shares, notes = job.sync.select(shares, job.names)
            if not job.dry_run:
                plans = summarise_each(shares)  # one pass over the input for them all
                lanes = tuple(map(Lane, job.installations, shares, plans))
                return Planning(table, lanes, combined(plans), notes)
            # The first requests a dry run shows are taken now, before the pass over the
            # whole file: their memory is then reused by it rather than added on top.
            samples = _sample_requests(shares[0], base_url)
            lanes = tuple(map(Lane, job.installations, shares))
            return Planning(table, lanes, None, notes, samples)

    return await asyncio.to_thread(work)


def _mask_form(form: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{k}={api.MASK if k in api.SECRET_COLUMNS else cut(v)}" for k, v in form)


def _sample_requests(planned: pl.LazyFrame, base_url: str, n: int = 3) -> tuple[str, ...]:
    head = planned.filter(to_send()).head(n).collect(engine="streaming")
    return tuple(
        f"PATCH {masked(api.endpoint_url(base_url, r.operation))}  {_mask_form(r.form)}"
        for r in requests_from(head)
    )
