"""What the commands tell users and schedulers: plan, summary, errors (text or JSON), exit codes."""

from __future__ import annotations

import itertools
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, NoReturn

import click

from batchtool import snapshot
from batchtool.atomic import check_writable
from batchtool.cli.options import ReportArgs
from batchtool.dispatch import AUTO
from batchtool.errors import BatchtoolError
from batchtool.jsonlog import JsonLog
from batchtool.progress import render_summary
from batchtool.reader import Places
from batchtool.report import EXIT_ABORTED, EXIT_USAGE, RunReport
from batchtool.report_files import write_metrics, write_summary_json


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"batchtool: error: {message}", err=True)
    sys.exit(code)


def _wants_json_log(args: Sequence[str]) -> bool:
    """Whether a command line asks for JSON logs, read before (or without) click parsing it."""
    pairs = itertools.pairwise([*args, ""])
    return any(a == "--log-format=json" or (a, b) == ("--log-format", "json") for a, b in pairs)


class JsonErrorsCommand(click.Command):
    """A command whose command-line errors are JSON too when the command line asks for JSON logs."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        wants_json = _wants_json_log(args)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:
            if not wants_json:
                raise
            JsonLog().error(exc.format_message(), exc.exit_code)
            sys.exit(exc.exit_code)


def _print_rows(
    examples: Sequence[tuple[int, str]], total: int, where: str, places: Places | None
) -> None:
    """The first rows of a kind with why, and how many more there are (``where`` to look);
    each row with its place in the file ("row 2 (line 3)") when it has one."""
    said = places.say([row for row, _ in examples]) if places else [None] * len(examples)
    for (row, why), place in zip(examples, said, strict=True):
        click.echo(f"    row {row}{f' ({place})' if place else ''}: {why}")
    if total > len(examples):
        click.echo(f"    … and {total - len(examples)} more{where}")


def _print_plan(report: RunReport) -> None:
    plan = report.plan
    if report.fanout:
        many = len(report.installations)
        click.echo(f"{plan.total} row(s) for {many} installations from {report.input_path}")
    else:
        click.echo(f"{plan.total} row(s) read from {report.input_path}")
    read_as = report.read_as
    if read_as is not None and read_as.sheet is not None:
        of = f" ({read_as.sheets.index(read_as.sheet) + 1} of {len(read_as.sheets)})"
        click.echo(f"  sheet '{read_as.sheet}'{of if len(read_as.sheets) > 1 else ''}")
    if report.header_place:
        click.echo(f"  header on {report.header_place}; the rows above it were skipped")
    for op, count in sorted(plan.by_operation.items()):
        click.echo(f"  {op:<22} {count} valid")
    if plan.invalid:
        click.echo(f"  {'invalid':<22} {plan.invalid}")
        _print_rows(plan.invalid_examples, plan.invalid, " in the results", report.places)
    for status, count in sorted(plan.preset.items()):
        click.echo(f"  {status:<22} {count} (not sent)")
    if plan.warned:
        click.echo(f"  {'warnings':<22} {plan.warned} valid row(s) to check")
        _print_rows(plan.warnings, plan.warned, "", report.places)
    if report.sample_requests:
        click.echo("first requests as they would be sent:")
        for line in report.sample_requests:
            click.echo(f"  {line}")


def _concurrency_summary(report: RunReport, concurrency: int | Literal["auto"]) -> list[str]:
    """How many requests were in flight: the adaptive limit's average (at each installation,
    in a run to several), or the fixed number."""
    if report.mean_concurrency is None:
        return []  # nothing was sent
    if concurrency != AUTO:
        each = " at each installation" if report.fanout else ""
        return [f"concurrency: {concurrency}{each}"]
    if not report.fanout:
        return [f"concurrency: auto (avg {report.mean_concurrency:.1f})"]
    means = ", ".join(
        f"{i.name} {i.mean_concurrency:.1f}"
        for i in report.installations
        if i.mean_concurrency is not None
    )
    return [f"concurrency: auto (avg {means})"]


def _print_outcome(report: RunReport, concurrency: int | Literal["auto"]) -> None:
    if report.dry_run:
        _print_plan(report)
    for note in report.notes:
        click.echo(f"batchtool: {note}", err=True)
    if report.fanout:
        for installation in report.installations:
            if installation.aborted:
                click.echo(
                    f"batchtool: aborted for {installation.name}: {installation.aborted}",
                    err=True,
                )
    elif report.aborted:
        click.echo(f"batchtool: aborted: {report.aborted}", err=True)
    if report.interrupted:
        click.echo(
            "batchtool: interrupted — run the same command with --resume to finish", err=True
        )
    click.echo(
        render_summary(
            report.summary,
            elapsed_s=report.elapsed_s,
            results_path=report.results_path,
            dry_run=report.dry_run,
            resumed=report.resumed_ok,
            extra=_concurrency_summary(report, concurrency),
            installations=report.installations if report.fanout else (),
        )
    )


class _RunFiles:
    """The files ``run`` writes for a scheduler at the end: metrics and summary (if asked)."""

    def __init__(
        self,
        input_path: Path,
        profiles: Sequence[str],
        metrics_path: Path | None,
        summary_path: Path | None,
        json_log: JsonLog | None,
    ) -> None:
        self._input = input_path
        self._profiles = tuple(profiles)
        self._metrics = metrics_path
        self._summary = summary_path
        self._log = json_log

    def check(self) -> None:
        """Raise UsageError for a file that could not be written, or that is the input.

        A file that is the input is forgotten first, so that reporting the refusal does not
        write it; the other still reports it, as for any run that could not start.
        """
        asked = [
            ("metrics file", self._metrics, "--metrics-file"),
            ("summary file", self._summary, "--summary-json"),
        ]
        outputs = [(what, path, option) for what, path, option in asked if path is not None]
        if self._metrics is not None and snapshot.same_file(self._input, self._metrics):
            self._metrics = None
        if self._summary is not None and snapshot.same_file(self._input, self._summary):
            self._summary = None
        snapshot.check_outputs_apart(self._input, outputs)
        for _, path, option in outputs:
            check_writable(path, option)

    def _labels(self, report: RunReport | None) -> tuple[str | None, tuple[str, ...]]:
        """The profile of a run to one installation, or the names of a run to several."""
        if report is not None and report.fanout:
            return None, tuple(str(i.name) for i in report.installations)
        if report is not None:
            return report.installations[0].name, ()
        if len(self._profiles) > 1:
            return None, self._profiles
        return (self._profiles[0] if self._profiles else None), ()

    def write(
        self, report: RunReport | None, code: int, duration_s: float, *, error: str | None = None
    ) -> None:
        """Write what was asked; a file that cannot be written is a warning, not a new outcome."""
        try:
            if self._metrics is not None:
                profile, installations = self._labels(report)
                write_metrics(
                    self._metrics,
                    input_path=self._input,
                    exit_code=code,
                    duration_s=duration_s,
                    report=report,
                    profile=profile,
                    installations=installations,
                )
            if self._summary is not None:
                write_summary_json(self._summary, report, error=error, exit_code=code)
        except OSError as exc:
            message = f"cannot write {exc.filename}: {exc.strerror or exc}"
            if self._log is not None:
                self._log.note(message, "warning")
            else:
                click.echo(f"batchtool: warning: {message}", err=True)


class RunOutput:
    """Where one ``run`` reports: text or JSON lines on stderr, and the files a scheduler asked for.

    Built first, so that every way the run ends, even before it starts, is reported alike.
    """

    def __init__(
        self, input_path: Path, reporting: ReportArgs, *, profiles: Sequence[str] = ()
    ) -> None:
        self._started = time.monotonic()
        self._log = JsonLog() if reporting.log_format == "json" else None
        self._files = _RunFiles(
            input_path, profiles, reporting.metrics_path, reporting.summary_path, self._log
        )

    def check(self) -> None:
        """Raise ``UsageError`` now for a metrics or summary file that could not be written."""
        self._files.check()

    def note(self, text: str) -> None:
        """Something to say before the run starts: a JSON note, or a line on stderr."""
        if self._log is not None:
            self._log.note(text)
        else:
            click.echo(f"batchtool: {text}", err=True)

    def events(self, *, quiet: bool) -> JsonLog | None:
        """Where the run's events go: the JSON log, unless there is none or ``quiet``."""
        return None if quiet else self._log

    @contextmanager
    def exit_on_failure(self) -> Iterator[None]:
        """Turn what ends a run before it runs into its one-line message, files and exit code."""
        try:
            yield
        except BatchtoolError as exc:
            self._stop(str(exc), exc.exit_code)
        except click.ClickException as exc:
            if self._log is None:
                raise
            self._stop(exc.format_message(), exc.exit_code)
        except Exception as exc:  # a traceback in front of a user is a bug: say so in one line
            if os.environ.get("BATCHTOOL_DEBUG"):
                traceback.print_exc()
            self._stop(
                f"internal error: {type(exc).__name__}: {exc} — please report it "
                "(set BATCHTOOL_DEBUG=1 for the details)",
                EXIT_ABORTED,
            )

    def _stop(self, message: str, code: int) -> NoReturn:
        self._files.write(None, code, time.monotonic() - self._started, error=message)
        if self._log is None:
            fail(message, code)
        self._log.error(message, code)
        sys.exit(code)

    def finish(
        self, report: RunReport, *, quiet: bool, concurrency: int | Literal["auto"]
    ) -> NoReturn:
        """Write the files asked for, show the plan and summary (as text), exit with its code."""
        self._files.write(report, report.exit_code, report.elapsed_s)
        if not quiet and self._log is None:
            _print_outcome(report, concurrency)
        sys.exit(report.exit_code)
