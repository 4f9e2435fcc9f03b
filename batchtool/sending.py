"""A run's send step: what may be sent, and sending it with a journal, progress and signals.

Under ``--strict`` with invalid rows nothing is sent; a canary sends the first N rows still to
send; a resumed run leaves out the rows its journal already holds as ok. Each finished row is
recorded (journal, or memory with --no-journal) before it counts as done.

A run to several installations sends each one its share (a ``Lane``) at the same time, on
one event loop: each with its own connection pool, its own engine (adaptive limit, rate
limit, per-customer order, abort) and its own canary, resume and progress counts; one
journal records them all, one stop event (Ctrl-C, SIGTERM) stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass

import polars as pl

from batchtool import model
from batchtool.client import Client, make_session
from batchtool.dispatch import DispatchReport, dispatch
from batchtool.errors import UsageError
from batchtool.events import EventSink, RunNote
from batchtool.installation import Lane
from batchtool.interrupts import Interrupts
from batchtool.journal import Journal
from batchtool.network import Network
from batchtool.options import Job
from batchtool.plan import PlanSummary, requests_from, to_send
from batchtool.progress import FanProgress, Progress
from batchtool.reader import polars_errors
from batchtool.results import JOURNAL_SCHEMA, last_outcome_per_row

#: Rows pulled from polars at a time while sending: big enough to amortise polars'
#: per-batch cost, small enough that memory stays flat whatever the file size.
SEND_BATCH_ROWS = 4096


@dataclass
class LaneSent:
    """What the send step did at one installation: every outcome recorded for it (earlier
    runs' included) and why its rows without one were not sent."""

    outcomes: pl.DataFrame
    unsent_reason: str
    dispatched: DispatchReport | None = None
    resumed_ok: int = 0


@dataclass
class Sent:
    """What the send step did, per installation (in the run's order), and its journal."""

    lanes: tuple[LaneSent, ...]
    journal: Journal | None = None
    notes: tuple[str, ...] = ()

    @property
    def dispatched(self) -> bool:
        """Whether anything was sent (not a --strict refusal)."""
        return any(lane.dispatched is not None for lane in self.lanes)


class Recorder:
    """Where finished rows go before they count: the journal, or memory with --no-journal."""

    def __init__(self, journal: Journal | None) -> None:
        self.journal = journal
        self._memory: list[tuple[model.Outcome, str | None]] = []

    def record(self, outcome: model.Outcome, installation: str | None = None) -> None:
        if self.journal is not None:
            self.journal.record(outcome, installation)
        else:
            self._memory.append((outcome, installation))

    def previous(self) -> pl.DataFrame:
        """Rows an earlier run of this journal finished (none without a journal)."""
        return self.journal.previous() if self.journal else pl.DataFrame(schema=JOURNAL_SCHEMA)

    def outcomes(self) -> pl.DataFrame:
        if self.journal is not None:
            return self.journal.outcomes()
        rows = [
            (o.row, o.status, o.http_status, o.attempts, o.error, o.elapsed_ms, None, place)
            for o, place in self._memory
        ]
        return last_outcome_per_row(pl.DataFrame(rows, schema=JOURNAL_SCHEMA, orient="row"))


def whose(outcomes: pl.DataFrame, name: str | None, *, fanout: bool) -> pl.DataFrame:
    """The outcomes of ``name``'s rows: all of them in a run to one installation."""
    return outcomes.filter(pl.col(model.INSTALLATION) == name) if fanout else outcomes


@dataclass
class _Share:
    """One lane on its way: its rows still to send, its client settings, its counts."""

    lane: Lane
    ssl_context: ssl.SSLContext | None
    done_ok: pl.DataFrame
    to_send: int
    rows: Iterator[model.Request]


class Sender:
    """Decides what may be sent, then sends it with a journal, progress and signals."""

    def __init__(
        self,
        job: Job,
        sink: EventSink,
        interval_s: float,
        stop: asyncio.Event | None,
        handle_signals: bool,
    ) -> None:
        self._job = job
        self._sink = sink
        self._interval_s = interval_s
        self._stop = stop or asyncio.Event()
        self._handle_signals = handle_signals

    async def send(
        self,
        lanes: Sequence[Lane],
        plan: PlanSummary,
        fingerprint: str,
        stack: contextlib.AsyncExitStack,
    ) -> Sent:
        """Send each lane's rows (``plan`` is their total) and record every outcome."""
        job = self._job
        if any(lane.installation.credentials is None for lane in lanes):
            raise UsageError(
                "a live run needs credentials — pass them, or use --dry-run or --simulate"
            )
        if job.strict and plan.invalid:
            self._sink(job.started(plan, to_send=0))
            reason = f"not sent: --strict and {plan.invalid} row(s) are invalid"
            return Sent(
                tuple(LaneSent(pl.DataFrame(schema=JOURNAL_SCHEMA), reason) for _ in lanes),
                notes=(f"--strict: {plan.invalid} invalid row(s), nothing was sent",),
            )
        # A missing or invalid CA bundle or client certificate stops the run here, before a
        # journal exists and before anything is sent. Reading the files blocks: in a thread.
        contexts = [
            await asyncio.to_thread(self._network(lane).ssl_context) for lane in lanes
        ]
        journal = self._open_journal(fingerprint)
        if journal is not None:
            stack.callback(journal.close)  # closing twice is harmless; this is for errors
        recorder = Recorder(journal)
        previous = recorder.previous().filter(pl.col("status") == model.OK)
        shares = [
            self._share(lane, context, whose(previous, lane.name, fanout=job.fanout))
            for lane, context in zip(lanes, contexts, strict=True)
        ]
        by_installation = {str(s.lane.name): s.to_send for s in shares} if job.fanout else None
        ok_by_installation = (
            {str(s.lane.name): s.done_ok.height for s in shares} if job.fanout else None
        )
        to_send = sum(s.to_send for s in shares)
        resumed = sum(s.done_ok.height for s in shares)
        self._sink(
            job.started(
                plan,
                to_send=to_send,
                already_ok=resumed,
                by_installation=by_installation,
                ok_by_installation=ok_by_installation,
            )
        )
        for share in shares:
            if note := self._network(share.lane).proxy_note:
                self._sink(RunNote(f"{share.lane.name}: {note}" if job.fanout else note))
        with polars_errors(job.path):
            dispatched = await self._dispatch_all(shares, recorder)
        outcomes = await asyncio.to_thread(recorder.outcomes)
        notes = (
            (f"resumed: {resumed} row(s) already ok were not sent again",) if resumed else ()
        )
        return Sent(
            tuple(
                LaneSent(
                    whose(outcomes, share.lane.name, fanout=job.fanout),
                    unsent_reason(
                        report,
                        canary=job.canary,
                        installation=share.lane.name if job.fanout else None,
                    ),
                    dispatched=report,
                    resumed_ok=share.done_ok.height,
                )
                for share, report in zip(shares, dispatched, strict=True)
            ),
            journal=journal,
            notes=notes,
        )

    @staticmethod
    def _network(lane: Lane) -> Network:
        assert lane.installation.credentials is not None
        return lane.installation.credentials.network

    def _share(self, lane: Lane, context: ssl.SSLContext | None, done: pl.DataFrame) -> _Share:
        assert lane.plan is not None, "a live run summarises each lane before sending"
        done_ok = done.select("row")
        count = lane.plan.valid - done_ok.height
        rows: Iterator[model.Request] = requests(lane.planned, done_ok)
        if self._job.canary is not None:
            rows = itertools.islice(rows, self._job.canary)
            count = min(count, self._job.canary)
        return _Share(lane, context, done_ok, count, rows)

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

    async def _dispatch_all(
        self, shares: Sequence[_Share], recorder: Recorder
    ) -> list[DispatchReport]:
        """Every lane at once; an error in one (the journal cannot be written) stops all."""
        if self._job.fanout:
            fan = FanProgress(
                [(s.lane.name, s.to_send) for s in shares],
                sink=self._sink,
                interval_s=self._interval_s,
            )
            counters = fan.lanes
        else:
            counters = [Progress(shares[0].to_send, sink=self._sink, interval_s=self._interval_s)]
        interrupts = Interrupts(self._stop, self._sink)
        loop = asyncio.get_running_loop()
        if self._handle_signals:
            interrupts.install(loop)
        try:
            return await _together(
                [
                    self._dispatch(share, recorder, progress)
                    for share, progress in zip(shares, counters, strict=True)
                ]
            )
        finally:
            interrupts.uninstall(loop)

    async def _dispatch(
        self, share: _Share, recorder: Recorder, progress: Progress
    ) -> DispatchReport:
        job = self._job
        credentials = share.lane.installation.credentials
        assert credentials is not None
        name = share.lane.name if job.fanout else None

        def on_outcome(outcome: model.Outcome) -> None:
            recorder.record(outcome, name)
            progress.advance(outcome)

        # As many connections as requests may be in flight: adaptive may grow to its max.
        async with make_session(
            job.dispatch.max_in_flight,
            job.timeout_s,
            ssl_context=share.ssl_context,
            proxy=credentials.network.proxy,
        ) as session:
            client = Client(
                session, credentials.base_url, credentials.api_username, credentials.api_key
            )
            report = await dispatch(
                share.rows,
                client,
                job.dispatch,
                on_outcome=on_outcome,
                on_limit=progress.set_limit,
                on_slowdown=progress.slowed,
                stop=self._stop,
            )
        if report.aborted and job.fanout:
            progress.abort(report.aborted)  # the others go on: their watchers hear it now
        return report


async def _together(runs: Sequence[Awaitable[DispatchReport]]) -> list[DispatchReport]:
    """Await ``runs`` concurrently, results in their order; the first error cancels the rest
    and is raised as it is (not in an exception group: the caller reports it in one line)."""
    if len(runs) == 1:
        return [await runs[0]]
    tasks = [asyncio.ensure_future(run) for run in runs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [task.result() for task in tasks]


def requests(planned: pl.LazyFrame, skip_rows: pl.DataFrame) -> Iterator[model.Request]:
    """Rows still to send, streamed from polars in batches (never all at once)."""
    todo = planned.filter(to_send())
    if skip_rows.height:
        todo = todo.join(skip_rows.lazy(), on="row", how="anti", maintain_order="left")
    for batch in todo.collect_batches(chunk_size=SEND_BATCH_ROWS):
        yield from requests_from(batch)


def unsent_reason(
    dispatched: DispatchReport, *, canary: int | None, installation: str | None = None
) -> str:
    """Why a row the engine never finished was not sent; ``installation`` names the one it
    stopped for, in a run to several (the others went on)."""
    if dispatched.aborted:
        if installation is not None:
            return f"not sent: aborted for {installation} — {dispatched.aborted}"
        return f"not sent: run aborted — {dispatched.aborted}"
    if dispatched.interrupted:
        return "interrupted"
    if canary is not None:
        return "not sent: canary — run again with --resume to send the rest"
    return "not sent"

