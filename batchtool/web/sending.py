"""One run sending: ``run_batch_async`` in a thread of its own, with its own event loop, to
its installations (one, or several at once: each with its own connections, concurrency and
abort, as the engine sends them).

The runner already reads, plans and writes results in worker threads; here the per-row work
too (feeding the engine, retries, the journal, counting) runs away from the server's loop,
so pages answer quickly while a big run sends thousands of rows a second. What crosses
between the two threads: a stop request one way; events and the outcome the other way, each
through ``call_soon_threadsafe``.

When it ends, what it left goes onto its run (``ended``): the counts, the errors grouped,
the rows not sent, each installation's own; the run's status is ``runs``' to set.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from batchtool.config import Credentials
from batchtool.dispatch import DispatchConfig
from batchtool.events import Event
from batchtool.runner import RunReport, run_batch_async
from batchtool.web import tables
from batchtool.web.checking import read_options
from batchtool.web.live import LiveRun
from batchtool.web.runstore import RunMeta

#: How often the run reports progress; the page polls twice as often, so what it shows is
#: never more than a second old.
PROGRESS_INTERVAL_S: Final = 0.5


@dataclass(frozen=True)
class SendOutcome:
    report: RunReport
    outcomes: tables.Outcomes

    def example_rows(self) -> list[int]:
        """The rows the error groups show as examples, in file order."""
        return sorted({row for group in self.outcomes.groups for row in group["rows"]})


def ended(
    meta: RunMeta, outcome: SendOutcome, where: Mapping[int, str], tell: Callable[[str], str]
) -> None:
    """Put what a send that ended left onto its run ``meta``: its counts, its errors grouped
    (each example row with its place in the file, ``where``, when the file has places), the
    rows not sent yet (then it can be resumed), and each installation's counts, rows not
    sent and abort (``tell``: an engine message as the page shows it)."""
    report, found = outcome.report, outcome.outcomes
    meta.counts = dict(report.summary.counts)  # in the order people look for them
    meta.errors, meta.error_groups = found.groups, found.group_count
    for group in meta.errors:
        if where:
            group["places"] = [where[row] for row in group["rows"]]
    meta.unsent = found.unsent
    meta.resumable = found.unsent > 0
    for target, there in zip(meta.installations, report.installations, strict=True):
        target.counts = dict(there.summary.counts)
        target.unsent = found.unsent_at.get(target.name, found.unsent)
        target.aborted = tell(there.aborted) if there.aborted else None
    meta.sends[-1].aborted = [t.name for t in meta.installations if t.aborted]


class SendJob:
    def __init__(
        self,
        *,
        name: str,
        input_path: Path,
        results_path: Path,
        options: Mapping[str, Any],
        installations: Mapping[str, Credentials],
        resume: bool,
        dispatch: DispatchConfig,
        earlier: Path | None = None,
    ) -> None:
        # A fixed limit is known now; an adaptive one ("auto") arrives with the first progress.
        fixed = dispatch.concurrency if isinstance(dispatch.concurrency, int) else None
        self.live = LiveRun.to(list(installations), fixed)
        self._dispatch = dispatch
        self._earlier = earlier
        self._name = name
        self._input_path = input_path
        self._results_path = results_path
        self._options = dict(options)
        self._installations = dict(installations)
        self._resume = resume
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._web_loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Future[SendOutcome] | None = None

    def start(self) -> asyncio.Future[SendOutcome]:
        """Start sending; the future (of the caller's loop) ends with the outcome."""
        self._web_loop = asyncio.get_running_loop()
        self._done = self._web_loop.create_future()
        threading.Thread(
            target=self._main, name=f"batchtool-send-{self._name}", daemon=True
        ).start()
        return self._done

    def stop(self) -> None:
        """Finish the requests in flight and start no new rows, as a first Ctrl-C does."""
        with self._lock:
            self._stop_requested = True
            self.live.stopping = True
            if self._loop is not None and self._stop is not None:
                # RuntimeError: the run's loop has just closed, nothing is left to stop.
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._stop.set)

    def _main(self) -> None:
        assert self._web_loop is not None and self._done is not None
        try:
            outcome = asyncio.run(self._run())
        except BaseException as exc:  # handed to the server's loop, which reports it
            self._web_loop.call_soon_threadsafe(_settle, self._done, None, exc)
        else:
            self._web_loop.call_soon_threadsafe(_settle, self._done, outcome, None)

    def _on_event(self, event: Event) -> None:
        # Called on the run's thread; the live state belongs to the server's loop.
        assert self._web_loop is not None
        with contextlib.suppress(RuntimeError):  # the server's loop has closed (shutdown)
            self._web_loop.call_soon_threadsafe(self.live.apply, event)

    async def _run(self) -> SendOutcome:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            if self._stop_requested:
                self._stop.set()
        report = await run_batch_async(
            self._input_path,
            installations=self._installations,
            results_path=self._results_path,
            read=read_options(self._options),
            dispatch_config=self._dispatch,
            resume=self._resume,
            only_failed=self._earlier is not None,
            earlier_results=self._earlier,
            on_event=self._on_event,
            progress_interval_s=PROGRESS_INTERVAL_S,
            stop=self._stop,
        )
        return SendOutcome(report, tables.outcomes(self._results_path))


def _settle(
    future: asyncio.Future[SendOutcome], outcome: SendOutcome | None, error: BaseException | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert outcome is not None
        future.set_result(outcome)
