"""A run's send step: what may be sent, and sending it with a journal, progress and signals.

Under ``--strict`` with invalid rows nothing is sent; a canary sends the first N rows still to
send; a resumed run leaves out the rows its journal already holds as ok. Each finished row is
recorded (journal, or memory with --no-journal) before it counts as done.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl

from batchtool import model
from batchtool.client import Client, make_session
from batchtool.config import Credentials
from batchtool.dispatch import DispatchReport, dispatch
from batchtool.errors import UsageError
from batchtool.events import EventSink, RunNote
from batchtool.interrupts import Interrupts
from batchtool.journal import Journal
from batchtool.options import Job
from batchtool.plan import PlanSummary, requests_from, to_send
from batchtool.progress import Progress
from batchtool.reader import polars_errors
from batchtool.results import outcomes_frame

#: Rows pulled from polars at a time while sending: big enough to amortise polars'
#: per-batch cost, small enough that memory stays flat whatever the file size.
SEND_BATCH_ROWS = 4096


@dataclass
class Sent:
    """What the send step did: every outcome recorded (earlier runs' included) and why the
    rows without one were not sent."""

    outcomes: pl.DataFrame
    unsent_reason: str
    dispatched: DispatchReport | None = None
    resumed_ok: int = 0
    journal: Journal | None = None
    notes: tuple[str, ...] = ()


class Recorder:
    """Where finished rows go before they count: the journal, or memory with --no-journal."""

    def __init__(self, journal: Journal | None) -> None:
        self.journal = journal
        self._memory: list[model.Outcome] = []

    def record(self, outcome: model.Outcome) -> None:
        if self.journal is not None:
            self.journal.record(outcome)
        else:
            self._memory.append(outcome)

    def done_ok(self) -> pl.DataFrame:
        """Rows an earlier run of this journal finished ok (none without a journal)."""
        previous = self.journal.previous() if self.journal else outcomes_frame(())
        return previous.filter(pl.col("status") == model.OK).select("row")

    def outcomes(self) -> pl.DataFrame:
        return self.journal.outcomes() if self.journal else outcomes_frame(self._memory)


class Sender:
    """Decides what may be sent, then sends it with a journal, progress and signals."""

    def __init__(
        self,
        job: Job,
        credentials: Credentials | None,
        sink: EventSink,
        interval_s: float,
        stop: asyncio.Event | None,
        handle_signals: bool,
    ) -> None:
        if credentials is None:
            raise UsageError(
                "a live run needs credentials — pass them, or use --dry-run or --simulate"
            )
        self._job = job
        self._credentials = credentials
        self._ssl_context: ssl.SSLContext | None = None
        self._sink = sink
        self._interval_s = interval_s
        self._stop = stop or asyncio.Event()
        self._handle_signals = handle_signals

    async def send(
        self,
        planned: pl.LazyFrame,
        plan: PlanSummary,
        fingerprint: str,
        stack: contextlib.AsyncExitStack,
    ) -> Sent:
        job = self._job
        if job.strict and plan.invalid:
            self._sink(job.started(plan, to_send=0))
            return Sent(
                outcomes_frame(()),
                f"not sent: --strict and {plan.invalid} row(s) are invalid",
                notes=(f"--strict: {plan.invalid} invalid row(s), nothing was sent",),
            )
        # A missing or invalid CA bundle or client certificate stops the run here, before a
        # journal exists and before anything is sent. Reading the files blocks: in a thread.
        self._ssl_context = await asyncio.to_thread(self._credentials.network.ssl_context)
        journal = self._open_journal(fingerprint)
        if journal is not None:
            stack.callback(journal.close)  # closing twice is harmless; this is for errors
        recorder = Recorder(journal)
        done_ok = recorder.done_ok()
        count = plan.valid - done_ok.height
        rows: Iterator[model.Request] = requests(planned, done_ok)
        if job.canary is not None:
            rows = itertools.islice(rows, job.canary)
            count = min(count, job.canary)
        self._sink(job.started(plan, to_send=count, already_ok=done_ok.height))
        if note := self._credentials.network.proxy_note:
            self._sink(RunNote(note))
        progress = Progress(count, sink=self._sink, interval_s=self._interval_s)

        def on_outcome(outcome: model.Outcome) -> None:
            recorder.record(outcome)
            progress.advance(outcome)

        with polars_errors(job.path):
            dispatched = await self._dispatch(
                rows, on_outcome, progress.set_limit, progress.slowed
            )
        outcomes = await asyncio.to_thread(recorder.outcomes)
        notes = (
            (f"resumed: {done_ok.height} row(s) already ok were not sent again",)
            if done_ok.height
            else ()
        )
        return Sent(
            outcomes,
            unsent_reason(dispatched, canary=job.canary),
            dispatched=dispatched,
            resumed_ok=done_ok.height,
            journal=journal,
            notes=notes,
        )

    def _open_journal(self, fingerprint: str) -> Journal | None:
        job = self._job
        if not job.journal:
            return None
        return Journal.open(
            job.results,
            input_fingerprint=fingerprint,
            options=job.journal_options(),
            resume=job.resume,
            restart=job.restart,
        )

    async def _dispatch(
        self,
        rows: Iterator[model.Request],
        on_outcome: Callable[[model.Outcome], None],
        on_limit: Callable[[int], None],
        on_slowdown: Callable[[model.Slowdown], None],
    ) -> DispatchReport:
        job, credentials = self._job, self._credentials
        interrupts = Interrupts(self._stop, self._sink)
        loop = asyncio.get_running_loop()
        if self._handle_signals:
            interrupts.install(loop)
        try:
            # As many connections as requests may be in flight: adaptive may grow to its max.
            async with make_session(
                job.dispatch.max_in_flight,
                job.timeout_s,
                ssl_context=self._ssl_context,
                proxy=credentials.network.proxy,
            ) as session:
                client = Client(
                    session, credentials.base_url, credentials.api_username, credentials.api_key
                )
                return await dispatch(
                    rows,
                    client,
                    job.dispatch,
                    on_outcome=on_outcome,
                    on_limit=on_limit,
                    on_slowdown=on_slowdown,
                    stop=self._stop,
                )
        finally:
            interrupts.uninstall(loop)


def requests(planned: pl.LazyFrame, skip_rows: pl.DataFrame) -> Iterator[model.Request]:
    """Rows still to send, streamed from polars in batches (never all at once)."""
    todo = planned.filter(to_send())
    if skip_rows.height:
        todo = todo.join(skip_rows.lazy(), on="row", how="anti", maintain_order="left")
    for batch in todo.collect_batches(chunk_size=SEND_BATCH_ROWS):
        yield from requests_from(batch)


def unsent_reason(dispatched: DispatchReport, *, canary: int | None) -> str:
    if dispatched.aborted:
        return f"not sent: run aborted — {dispatched.aborted}"
    if dispatched.interrupted:
        return "interrupted"
    if canary is not None:
        return "not sent: canary — run again with --resume to send the rest"
    return "not sent"


