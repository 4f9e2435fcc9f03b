"""A whole run, start to finish: read -> plan -> dispatch -> journal -> results. The CLI calls this.

The data flows one way. Every row ends in the results file exactly once, in input order; a
live run records each finished row in the journal before it counts as done, so a crash or
Ctrl-C loses nothing that ``resume=True`` cannot finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import polars as pl

from batchtool import api, model
from batchtool.client import Client, make_session
from batchtool.config import Credentials
from batchtool.dispatch import DispatchConfig, dispatch
from batchtool.errors import UsageError
from batchtool.journal import Journal, fingerprint
from batchtool.plan import PlanSummary, plan_frame, requests_from, summarise
from batchtool.progress import Progress
from batchtool.reader import InputTable, polars_errors, read_input
from batchtool.results import (
    ResultSummary,
    build_results,
    check_results_path,
    default_results_path,
    outcomes_frame,
    summarise_results,
    write_results,
)

EXIT_OK = 0
EXIT_NOT_ALL_OK = 1
EXIT_USAGE = 2
EXIT_ABORTED = 3
EXIT_INTERRUPTED = 130

#: Rows pulled from polars at a time while sending: big enough to amortise polars'
#: per-batch cost, small enough that memory stays flat whatever the file size.
SEND_BATCH_ROWS = 4096


@dataclass(frozen=True)
class ReadOptions:
    """How to read and plan the input file; recorded in the journal so a resume reads it alike."""

    fmt: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    column_map: Mapping[str, str] = field(default_factory=dict)
    ignore_columns: Sequence[str] = ()
    operation: str | None = None

    def journal_options(self) -> dict[str, object]:
        return {
            "format": self.fmt,
            "sheet": self.sheet,
            "encoding": self.encoding,
            "map": dict(sorted(self.column_map.items())),
            "ignore_columns": sorted(self.ignore_columns),
            "operation": self.operation,
        }


@dataclass(frozen=True)
class RunReport:
    """What a run did; ``exit_code`` follows DESIGN §5."""

    input_path: Path
    results_path: Path
    dry_run: bool
    plan: PlanSummary
    summary: ResultSummary
    elapsed_s: float
    exit_code: int
    aborted: str | None = None
    interrupted: bool = False
    sample_requests: tuple[str, ...] = ()
    resumed_ok: int = 0
    notes: tuple[str, ...] = ()


def _mask_form(form: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{k}={api.MASK if k in api.SECRET_COLUMNS else v}" for k, v in form)


def _sample_requests(planned: pl.LazyFrame, base_url: str, n: int = 3) -> tuple[str, ...]:
    head = planned.filter(pl.col("_valid")).head(n).collect()
    return tuple(
        f"PATCH {api.endpoint_url(base_url, r.operation)}  {_mask_form(r.form)}"
        for r in requests_from(head)
    )


def _requests(planned: pl.LazyFrame, skip_rows: pl.DataFrame) -> Iterator[model.Request]:
    """Valid rows still to send, streamed from polars in batches (never all at once)."""
    todo = planned.filter(pl.col("_valid"))
    if skip_rows.height:
        todo = todo.join(skip_rows.lazy(), on="row", how="anti", maintain_order="left")
    for batch in todo.collect_batches(chunk_size=SEND_BATCH_ROWS):
        yield from requests_from(batch)


def _exit_code(summary: ResultSummary, *, dry_run: bool, aborted: bool, interrupted: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    if aborted:
        return EXIT_ABORTED
    good = model.VALID if dry_run else model.OK
    return EXIT_OK if summary.counts.get(good, 0) == summary.total else EXIT_NOT_ALL_OK


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


class _Signals:
    """First SIGINT/SIGTERM: stop starting rows. Second: leave at once (the journal is safe)."""

    def __init__(self, stop: asyncio.Event, stream: TextIO | None) -> None:
        self._stop = stop
        self._stream = stream
        self._installed: list[signal.Signals] = []

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may own signals (e.g. run from an Airflow worker thread)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
            self._installed.append(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stop.is_set():
            self._say("batchtool: second interrupt — quitting now; finish later with --resume")
            os._exit(EXIT_INTERRUPTED)
        self._stop.set()
        self._say(
            f"batchtool: {sig.name} — finishing requests in flight, starting no new rows "
            "(interrupt again to quit at once)"
        )

    def _say(self, text: str) -> None:
        stream = self._stream or sys.stderr
        with contextlib.suppress(Exception):
            print(text, file=stream, flush=True)

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in self._installed:
            loop.remove_signal_handler(sig)
        self._installed.clear()


def run_batch(
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
    quiet: bool = True,
    progress_stream: TextIO | None = None,
    handle_signals: bool = False,
    stop: asyncio.Event | None = None,
    simulate: bool = False,
) -> RunReport:
    """Run a batch from code (e.g. an Airflow task) and return what happened.

    Raises :class:`batchtool.errors.BatchtoolError` subclasses for problems that stop the run
    before anything is sent (bad file, bad options, a journal in the way). Rows that fail are
    not exceptions: they are in the results file and counted in ``report.summary``.
    """
    return asyncio.run(
        run_batch_async(
            input_path,
            credentials=credentials,
            dry_run=dry_run,
            strict=strict,
            results_path=results_path,
            read=read,
            dispatch_config=dispatch_config,
            timeout_s=timeout_s,
            resume=resume,
            restart=restart,
            journal=journal,
            quiet=quiet,
            progress_stream=progress_stream,
            handle_signals=handle_signals,
            stop=stop,
            simulate=simulate,
        )
    )


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
    quiet: bool = True,
    progress_stream: TextIO | None = None,
    handle_signals: bool = False,
    stop: asyncio.Event | None = None,
    simulate: bool = False,
) -> RunReport:
    """The same as :func:`run_batch`, for callers that already run an event loop.

    ``simulate=True`` starts the built-in simulator in this process and sends to it instead
    of ``credentials``: the way to try a file without an installation.
    """
    started = time.monotonic()
    read = read or ReadOptions()
    config = dispatch_config or DispatchConfig()
    if timeout_s <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout_s}")
    if resume and restart:
        raise UsageError("--resume and --restart contradict each other — choose one")
    path = Path(input_path)
    out = Path(results_path) if results_path else default_results_path(path)
    check_results_path(out)  # fails now, before anything is read or sent

    async with contextlib.AsyncExitStack() as stack:
        if simulate and not dry_run:
            credentials = await stack.enter_async_context(_simulator())
        table: InputTable = read_input(
            path,
            fmt=read.fmt,
            sheet=read.sheet,
            encoding=read.encoding,
            column_map=read.column_map,
            ignore_columns=read.ignore_columns,
        )
        planned = plan_frame(table.frame, default_operation=read.operation)

        if dry_run:
            with polars_errors(path):
                results = build_results(planned, table.headers, outcomes=None)
                write_results(results, out)
                plan = summarise(planned)
                summary = summarise_results(results)
            base = credentials.base_url if credentials else "{base}"
            return RunReport(
                input_path=path,
                results_path=out,
                dry_run=True,
                plan=plan,
                summary=summary,
                elapsed_s=time.monotonic() - started,
                exit_code=_exit_code(summary, dry_run=True, aborted=False, interrupted=False),
                sample_requests=_sample_requests(planned, base),
            )

        # Read and validate the whole file before sending anything: a broken line 900,000
        # must stop the run while nothing has been sent yet.
        with polars_errors(path):
            plan = summarise(planned)
        if credentials is None:
            raise UsageError(
                "a live run needs credentials — pass them, or use --dry-run or --simulate"
            )

        notes: list[str] = []
        if strict and plan.invalid:
            reason = f"not sent: --strict and {plan.invalid} row(s) are invalid"
            with polars_errors(path):
                results = build_results(
                    planned, table.headers, outcomes=outcomes_frame(()), unsent_reason=reason
                )
                write_results(results, out)
                summary = summarise_results(results)
            return RunReport(
                input_path=path,
                results_path=out,
                dry_run=False,
                plan=plan,
                summary=summary,
                elapsed_s=time.monotonic() - started,
                exit_code=EXIT_NOT_ALL_OK,
                notes=(f"--strict: {plan.invalid} invalid row(s), nothing was sent",),
            )

        jr: Journal | None = None
        recorded: list[model.Outcome] = []
        if journal:
            jr = Journal.open(
                out,
                input_fingerprint=fingerprint(path),
                options=read.journal_options(),
                resume=resume,
                restart=restart,
            )
        try:
            previous = jr.previous() if jr else outcomes_frame(())
            done_ok = previous.filter(pl.col("status") == model.OK).select("row")
            to_send = plan.valid - done_ok.height
            if done_ok.height:
                notes.append(f"resumed: {done_ok.height} row(s) already ok were not sent again")

            progress = Progress(to_send, stream=progress_stream, quiet=quiet)

            def on_outcome(outcome: model.Outcome) -> None:
                if jr is not None:
                    jr.record(outcome)
                else:
                    recorded.append(outcome)
                progress.advance(outcome)

            stop_event = stop or asyncio.Event()
            signals = _Signals(stop_event, progress_stream)
            loop = asyncio.get_running_loop()
            if handle_signals:
                signals.install(loop)
            try:
                async with make_session(config.concurrency, timeout_s) as session:
                    client = Client(
                        session, credentials.base_url, credentials.api_username, credentials.api_key
                    )
                    with polars_errors(path):
                        report = await dispatch(
                            _requests(planned, done_ok),
                            client,
                            config,
                            on_outcome=on_outcome,
                            stop=stop_event,
                        )
            finally:
                signals.uninstall(loop)
                progress.close()

            if report.aborted:
                unsent = f"not sent: run aborted — {report.aborted}"
            elif report.interrupted:
                unsent = "interrupted"
            else:
                unsent = "not sent"
            outcomes = jr.outcomes() if jr else outcomes_frame(recorded)
            with polars_errors(path):
                results = build_results(
                    planned, table.headers, outcomes=outcomes, unsent_reason=unsent
                )
                write_results(results, out)
                summary = summarise_results(results)
            code = _exit_code(
                summary, dry_run=False, aborted=bool(report.aborted), interrupted=report.interrupted
            )
            if code != EXIT_OK and jr is not None:
                notes.append(
                    f"to send the rows that are not ok again: add --resume (journal {jr.path})"
                )
        except BaseException:
            if jr is not None:
                jr.close()
            raise
        if jr is not None:
            # Every row ok: the journal is marked complete, so --resume sends nothing and the
            # next plain run on this results path (tomorrow's cron job) is not refused.
            jr.close(complete=code == EXIT_OK)
        return RunReport(
            input_path=path,
            results_path=out,
            dry_run=False,
            plan=plan,
            summary=summary,
            elapsed_s=time.monotonic() - started,
            exit_code=code,
            aborted=report.aborted,
            interrupted=report.interrupted,
            resumed_ok=done_ok.height,
            notes=tuple(notes),
        )
