"""The runs of one server: create them from uploads, check them, send, stop and resume them.

The one place that changes a run's status, and the one where the engine's messages become
a run's (``reading.say``: no command-line option, the control that does the same instead;
``shown.Telling``: no server path or pid on a page). A run not sent yet can be checked again
with other reading options or column choices (``rechecking``): its upload is kept.
Everything slow happens off the event loop: checks in a worker thread (``checking.checked``;
``CHECKS_AT_ONCE`` at most, so a few big files at once stay within the server's memory; a
check that runs out of it is refused, the server stays up), sends in a thread of their own
(see ``sending``), downloads made from the results in a worker thread (``downloads``). A run
that was sending when the server died shows as interrupted after the restart, ready to
resume; its journal makes sure no row already ok is sent again. A finished run's failed rows
can be sent again as a new run of their own, linked to it, checked like any upload
(``retrying``). A run that needs a second person's approval (``approval``) waits for it, and
is sent by whoever approves it. Once its customer data is deleted (``retention``), a run can
no longer be sent, resumed or sent again.

A run sends to one installation or to several at once (a fan-out), chosen at upload
(``reception``): the same file, checked once, to each. Each installation has its own share
of the plan, its own approval rule, its own counts and abort; its failed rows can be sent
again on their own (to it alone) or with every installation's (each row to its own
installation only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from batchtool import api, snapshot
from batchtool.config import Credentials
from batchtool.dispatch import DispatchConfig
from batchtool.errors import BatchtoolError, InputError, UsageError
from batchtool.reader import sheet_names
from batchtool.web import (
    approval,
    checking,
    downloads,
    reading,
    rechecking,
    retention,
    retrying,
    runstore,
    sending,
    shown,
)
from batchtool.web.checked import CheckedRows
from batchtool.web.installations import Installations
from batchtool.web.live import LiveRun
from batchtool.web.mappings import ColumnMemory
from batchtool.web.reception import Reception
from batchtool.web.reception import targets as reception_targets
from batchtool.web.runerror import RunError
from batchtool.web.runstore import Approval, RunMeta, RunStore, Send, now_iso
from batchtool.web.sending import SendJob, SendOutcome

log = logging.getLogger("batchtool.web")

#: How long a server shutting down waits for its runs to stop gracefully.
SHUTDOWN_WAIT_S: Final = 30.0
#: Checks running at once; more uploads wait their turn ("Checking…").
CHECKS_AT_ONCE: Final = 2
#: The form field of the tick that sending (or approving) a run with forget rows needs.
CONFIRM_FORGET: Final = "confirm_forget"


class RunManager:
    def __init__(
        self,
        store: RunStore,
        installations: Installations,
        memory: ColumnMemory,
        telling: shown.Telling,
    ) -> None:
        self.store = store
        self.installations = installations
        self.memory = memory
        self.telling = telling
        self._checks = asyncio.Semaphore(CHECKS_AT_ONCE)
        self._runs: dict[str, RunMeta] = {}
        self.rows = CheckedRows(store)
        self._jobs: dict[str, SendJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- reading -----------------------------------------------------------------------

    def load(self) -> None:
        """Read every run from disk; runs cut off by the last shutdown become interrupted."""
        for meta in self.store.load_all():
            if meta.status == runstore.SENDING:
                meta.status = runstore.INTERRUPTED
                meta.resumable = True
                if meta.sends:
                    meta.sends[-1].ended = runstore.INTERRUPTED  # when is not known
                self.store.save(meta)
            elif checking.bound(meta):
                self.store.save(meta)
            self._runs[meta.id] = meta

    def resume_checks(self) -> None:
        """Check again the uploads whose check the last shutdown cut off."""
        for meta in self._runs.values():
            if meta.status == runstore.CHECKING:
                self._spawn(self._check(meta))

    def get(self, run_id: str) -> RunMeta | None:
        return self._runs.get(run_id)

    def newest_first(self) -> list[RunMeta]:
        return sorted(self._runs.values(), key=lambda m: (m.created, m.id), reverse=True)

    def live(self, run_id: str) -> LiveRun | None:
        job = self._jobs.get(run_id)
        return job.live if job else None

    # -- checking ----------------------------------------------------------------------

    def reception(self) -> Reception:
        return Reception(self.store)

    async def upload(
        self,
        reception: Reception,
        *,
        installations: Sequence[str],
        options: Mapping[str, Any],
        user: str,
    ) -> RunMeta:
        """Make the upload ``reception`` received a run to ``installations``, then check it."""
        assert reception.run_id is not None, "an upload is received before it becomes a run"
        meta = self.store.create(
            run_id=reception.run_id,
            file_name=reception.file_name,
            extension=reception.extension,
            installations=reception_targets(installations, self.installations, self.telling),
            user=user,
            options=dict(options),
        )
        reception.kept = True
        self._runs[meta.id] = meta
        await asyncio.shield(self._spawn(self._check(meta)))
        return meta

    async def map_columns(self, meta: RunMeta, choices: Mapping[str, str]) -> None:
        """Map or ignore the unknown columns as chosen, remember it, check again; see
        ``rechecking.map_columns`` (ColumnConflict when two columns would have one field)."""
        await self._check_again(meta, rechecking.map_columns(meta, choices, self.memory))

    async def reread(self, meta: RunMeta, options: Mapping[str, Any]) -> None:
        """Check the kept upload again, read with ``options`` (``rechecking.reread``)."""
        await self._check_again(meta, rechecking.reread(meta, options))

    async def ignore_column(self, meta: RunMeta, header: str) -> None:
        """Leave the column an error named out of the run, and check again."""
        await self._check_again(meta, rechecking.ignore_column(meta, header))

    async def _check_again(self, meta: RunMeta, options: dict[str, Any]) -> None:
        meta.options = options
        meta.status = runstore.CHECKING
        self.store.save(meta)
        await asyncio.shield(self._spawn(self._check(meta)))

    async def _check(self, meta: RunMeta) -> None:
        async with self._checks:
            if not meta.sheets:
                sheets = await asyncio.to_thread(sheet_names, self.store.input_path(meta))
                meta.sheets = list(sheets)
            result = await checking.checked(meta, self.store, self._credentials, self.telling)
        meta.status = result.status
        meta.message = result.message
        meta.remedy = result.remedy.to_json() if result.remedy else None
        meta.plan = result.plan
        for target, plan in itertools.zip_longest(meta.installations, result.plans):
            target.plan = plan
        meta.samples = list(result.samples)
        meta.named_columns = result.named
        meta.header_unsure = result.header_unsure
        meta.unknown_columns, meta.unknown_total = rechecking.mapping_step(
            meta, result, self.memory
        )
        if result.read_as is not None:
            meta.read_as = dataclasses.asdict(result.read_as)
        await self.rows.checked(meta, result.invalid_rows, result.places)
        self.store.save(meta)

    def _credentials(self, meta: RunMeta) -> dict[str, Credentials]:
        """How to reach each of the run's installations; UsageError naming what is missing."""
        return {name: self.installations.credentials(name) for name in meta.names}

    def _tell(self, meta: RunMeta, exc: BatchtoolError | str) -> str:
        """An engine message about ``meta`` as the page shows it."""
        text = reading.say(exc) if isinstance(exc, BatchtoolError) else reading.in_text(exc)
        about_input = isinstance(exc, InputError)
        return self.telling.say(text, files=self.store.named_files(meta), about_input=about_input)

    # -- sending -----------------------------------------------------------------------

    def send(self, meta: RunMeta, user: str, *, confirm_forget: bool) -> None:
        """Start sending a checked run; ``confirm_forget`` must be given if it forgets anyone.

        A run that needs approval by its installation's rule now is refused (its approver
        sends it); one that waited for approval the rule no longer asks for may be sent."""
        if meta.status not in (runstore.PLANNED, runstore.WAITING):
            raise RunError("This run is not waiting to be sent.")
        self._check_sendable(meta)
        if reason := self.approval_needed(meta):
            raise RunError(approval.refused(meta, reason))
        _check_forget(meta, confirm_forget)
        self._start(meta, user, resume=False)

    def _check_sendable(self, meta: RunMeta) -> None:
        if meta.purged_at:
            raise RunError(retention.gone(meta))
        if not (meta.plan or {}).get("valid"):
            raise RunError("No valid rows to send.")

    # -- approval ----------------------------------------------------------------------

    def approval_needed(self, meta: RunMeta) -> str | None:
        """Why the run needs approval by its installations' rules now, in words (with several,
        any one's rule asking for it is enough: each such names itself); None if it does not.
        RunError when a rule cannot be read: nothing is sent there then."""
        try:
            return approval.needed_at(meta, self.installations.approval_rule)
        except UsageError as exc:
            raise RunError(str(exc)) from None

    async def request_approval(self, meta: RunMeta, user: str) -> None:
        """Put a checked run up for approval, bound to its stored file as it is now."""
        if meta.status != runstore.PLANNED:
            raise RunError("Only a checked run that was not sent can wait for approval.")
        self._check_sendable(meta)  # forget is ticked by the one who sends: the approver
        reason = self.approval_needed(meta)
        if reason is None:
            raise RunError("This run needs no approval: send it.")
        fingerprint = await asyncio.to_thread(snapshot.fingerprint, self.store.input_path(meta))
        if meta.status != runstore.PLANNED:  # another request came first
            raise RunError("Only a checked run that was not sent can wait for approval.")
        meta.approval = Approval(user, now_iso(), reason, fingerprint, dict(meta.options))
        meta.status = runstore.WAITING
        self.store.save(meta)
        log.info("run %s: approval requested by %s (%s)", meta.id, user, reason)

    async def approve(self, meta: RunMeta, user: str, *, confirm_forget: bool) -> None:
        """Approve a waiting run and send it, if its file is still exactly what was asked."""
        approval.waiting(meta, user)
        self._check_sendable(meta)
        _check_forget(meta, confirm_forget)
        self.approval_needed(meta)  # a rule that cannot be read sends nothing
        fingerprint = await asyncio.to_thread(snapshot.fingerprint, self.store.input_path(meta))
        request = approval.waiting(meta, user)  # again: another approver may have come first
        if problem := approval.changed(request, fingerprint, meta.options):
            log.warning("run %s: not sent on approval by %s: %s", meta.id, user, problem)
            raise RunError(problem)
        self._start(meta, user, resume=False)
        request.decision, request.decided_by = runstore.DECIDED_APPROVED, user
        request.decided_at = meta.sends[-1].at
        self.store.save(meta)

    def reject(self, meta: RunMeta, user: str, reason: str) -> None:
        request = approval.waiting(meta, user)
        why = approval.reason_given(reason)
        if not why:
            raise RunError("Say why you reject it: the reason is shown on the run.")
        request.decision, request.decided_by = runstore.DECIDED_REJECTED, user
        request.decided_at, request.rejection = now_iso(), why
        meta.status = runstore.DECLINED
        self.store.save(meta)
        log.info("run %s: rejected by %s", meta.id, user)

    # -- sending on --------------------------------------------------------------------

    def resume(self, meta: RunMeta, user: str) -> None:
        if meta.status not in runstore.ENDED or not meta.resumable or meta.purged_at:
            raise RunError("This run has nothing left to resume.")
        self._start(meta, user, resume=True)

    def stop(self, meta: RunMeta, user: str) -> None:
        job = self._jobs.get(meta.id)
        if job is None:
            raise RunError("This run is not sending.")
        log.info("run %s: stopping (asked by %s)", meta.id, user)
        send = meta.sends[-1]
        if send.stopped_by is None:
            send.stopped_by, send.stopped_at = user, now_iso()
            self.store.save(meta)
        job.stop()

    def failed_to_retry(self, meta: RunMeta) -> dict[str, int]:
        """Failed rows that "Send the failed rows again" would send, by installation."""
        return retrying.offered(meta, self._runs)

    async def retry_failed(
        self, meta: RunMeta, user: str, installation: str | None = None
    ) -> RunMeta:
        """A new run of exactly ``meta``'s failed rows, linked to it, checked like an upload:
        of every installation (each row back to its own installation only), or of
        ``installation`` alone (to it alone). See ``retrying``."""
        names = retrying.chosen(meta, self._runs, installation)
        retry = self.store.create(
            run_id=self.store.new_folder(),
            file_name=meta.file_name,
            extension=Path(meta.input_name).suffix,
            installations=retrying.targets(meta, names, self.installations),
            user=user,
            options=dict(meta.options),
        )
        retry.retry_of = meta.id
        self._runs[retry.id] = retry
        earlier = self.store.earlier_path(retry)
        assert earlier is not None
        await asyncio.to_thread(
            retrying.write_files,
            (self.store.input_path(meta), self.store.input_path(retry)),
            self.store.results_path(meta),
            earlier,
            names if meta.fanout else None,
        )
        self.store.save(retry)
        meta.retried_in.append(retry.id)
        self.store.save(meta)
        log.info("run %s: its failed rows sent again in run %s by %s", meta.id, retry.id, user)
        await asyncio.shield(self._spawn(self._check(retry)))
        return retry

    def _start(self, meta: RunMeta, user: str, *, resume: bool) -> None:
        if meta.id in self._jobs:
            raise RunError("This run is already sending.")
        try:
            credentials = self._credentials(meta)
        except UsageError as exc:
            raise RunError(self._tell(meta, exc)) from None
        job = SendJob(
            name=meta.id,
            input_path=self.store.input_path(meta),
            results_path=self.store.results_path(meta),
            options=meta.options,
            installations=credentials,
            resume=resume,
            dispatch=DispatchConfig(),
            earlier=self.store.earlier_path(meta),
        )
        meta.status = runstore.SENDING
        meta.message = None
        meta.sends.append(Send(by=user, at=now_iso(), resume=resume))
        self.store.save(meta)
        self._jobs[meta.id] = job
        log.info(
            "run %s: %s by %s to %s",
            meta.id,
            "resumed" if resume else "sent",
            user,
            meta.installation_text,
        )
        done = job.start()
        self._spawn(self._finish(meta, done))

    async def _finish(self, meta: RunMeta, done: asyncio.Future[SendOutcome]) -> None:
        try:
            outcome = await done
        except BatchtoolError as exc:
            meta.status = runstore.ABORTED
            meta.message = self._tell(meta, exc)
            meta.resumable = True
        except Exception as exc:
            log.exception("run %s failed", meta.id)
            meta.status = runstore.ABORTED
            meta.message = f"internal error: {type(exc).__name__} — see the server log"
            meta.resumable = True
        else:
            report = outcome.report
            # Looked up before the run changes: a page read meanwhile sees it whole or not.
            where = await self.rows.places(meta, outcome.example_rows())
            if report.aborted:
                meta.status = runstore.ABORTED
                meta.message = self._tell(meta, report.aborted)
            elif report.interrupted:
                meta.status = runstore.STOPPED
            else:
                meta.status = runstore.FINISHED
            sending.ended(meta, outcome, where, lambda text: self._tell(meta, text))
        finally:
            self._jobs.pop(meta.id, None)
        meta.finished_at = now_iso()
        meta.sends[-1].ended_at, meta.sends[-1].ended = meta.finished_at, meta.status
        self.store.save(meta)
        for copy in self.store.copies(meta):  # made from results this send replaced
            copy.unlink(missing_ok=True)
        counts = ", ".join(f"{status} {n}" for status, n in meta.counts.items())
        log.info("run %s: %s (%s)", meta.id, meta.status_text, counts)

    async def copy(self, meta: RunMeta, kind: str, installation: str | None = None) -> Path:
        """A download made from the results when first asked for; see ``downloads.made``."""
        return await downloads.made(
            self.store, meta, kind, installation, lambda exc: self._tell(meta, exc)
        )

    # -- shutting down -----------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop every sending run gracefully and wait (a while) for them to write results."""
        for job in self._jobs.values():
            job.stop()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=SHUTDOWN_WAIT_S)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        # Kept until done: a task nobody holds may be collected mid-run, and a page request
        # that started it may go away (the browser closed) without cancelling it.
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _check_forget(meta: RunMeta, confirmed: bool) -> None:
    if (meta.plan or {}).get("by_operation", {}).get(api.FORGET) and not confirmed:
        raise RunError(
            "Tick “I understand that forget erases customer data” to send this file.",
            field=CONFIRM_FORGET,
        )
