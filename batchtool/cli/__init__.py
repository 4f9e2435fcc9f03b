"""The ``batchtool`` command: parse options, call the library, print, map reports to exit codes.

No logic lives here that the Python API (``batchtool.run_batch``) lacks.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

import click

from batchtool.atomic import check_writable
from batchtool.cli.options import (
    CredentialArgs,
    DispatchArgs,
    ReadArgs,
    ReportArgs,
    credential_options,
    data_dir_option,
    dispatch_options,
    read_options,
    report_options,
    sync_options,
)
from batchtool.dispatch import AUTO
from batchtool.errors import BatchtoolError, UsageError
from batchtool.jsonlog import JsonLog
from batchtool.progress import render_summary
from batchtool.report import EXIT_ABORTED, EXIT_USAGE, RunReport
from batchtool.report_files import write_metrics, write_summary_json
from batchtool.runner import run_batch
from batchtool.sync_state import SyncOptions

if TYPE_CHECKING:
    from batchtool.web import Users

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"batchtool: error: {message}", err=True)
    sys.exit(code)


def _wants_json_log(args: Sequence[str]) -> bool:
    """Whether a command line asks for JSON logs, read before (or without) click parsing it."""
    pairs = zip(args, [*args[1:], ""], strict=True)
    return any(a == "--log-format=json" or (a, b) == ("--log-format", "json") for a, b in pairs)


class _RunCommand(click.Command):
    """``run``, whose command-line errors are JSON too when the command line asks for JSON logs."""

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


def _print_plan(report: RunReport) -> None:
    plan = report.plan
    click.echo(f"{plan.total} row(s) read from {report.input_path}")
    if report.header_place:
        click.echo(f"  header on {report.header_place}; the rows above it were skipped")
    for op, count in sorted(plan.by_operation.items()):
        click.echo(f"  {op:<22} {count} valid")
    if plan.invalid:
        click.echo(f"  {'invalid':<22} {plan.invalid}")
        for row, reason in plan.invalid_examples:
            click.echo(f"    row {row}: {reason}")
        if plan.invalid > len(plan.invalid_examples):
            click.echo(f"    … and {plan.invalid - len(plan.invalid_examples)} more in the results")
    for status, count in sorted(plan.preset.items()):
        click.echo(f"  {status:<22} {count} (not sent)")
    if plan.warned:
        click.echo(f"  {'warnings':<22} {plan.warned} valid row(s) to check")
        for row, warning in plan.warnings:
            click.echo(f"    row {row}: {warning}")
        if plan.warned > len(plan.warnings):
            click.echo(f"    … and {plan.warned - len(plan.warnings)} more")
    if report.sample_requests:
        click.echo("first requests as they would be sent:")
        for line in report.sample_requests:
            click.echo(f"  {line}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="batchtool")
def main() -> None:
    """Apply a spreadsheet of customer changes to an Offerit, Trackfinity or NATS For
    Networks installation through its REST customer API — and account for every row."""


@main.command(cls=_RunCommand)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=True))
@read_options
@sync_options
@report_options
@click.option("--dry-run", is_flag=True, help="Validate and show the plan; send nothing.")
@click.option("--strict", is_flag=True, help="If any row is invalid, send nothing.")
@click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path),
    help="Results file (.csv, .parquet, .jsonl, .xlsx). Default: <input stem>.results.csv here.",
)
@click.option(
    "--simulate", is_flag=True, help="Send to the built-in simulator (started in-process)."
)
@credential_options
@dispatch_options
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds per request.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an earlier run of this file: rows already ok are not sent.",
)
@click.option("--restart", is_flag=True, help="Discard an earlier run's journal and start over.")
@click.option(
    "--canary",
    type=click.IntRange(min=1),
    metavar="N",
    help="Send only the first N rows, then stop; --resume (without --canary) sends the rest.",
)
@click.option(
    "--only-failed",
    is_flag=True,
    help="FILE is a results file (edited or not): send only its rows that were not ok.",
)
@click.option(
    "--no-journal", is_flag=True, help="Keep no journal: nothing to resume after a crash or Ctrl-C."
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress and no summary; the exit code tells."
)
def run(
    file: Path,
    read: ReadArgs,
    sync: SyncOptions,
    reporting: ReportArgs,
    dry_run: bool,
    strict: bool,
    results_path: Path | None,
    simulate: bool,
    credentials: CredentialArgs,
    dispatch: DispatchArgs,
    timeout_s: float,
    resume: bool,
    restart: bool,
    canary: int | None,
    only_failed: bool,
    no_journal: bool,
    quiet: bool,
) -> None:
    """Apply FILE (CSV, TSV, Parquet, Excel or JSON Lines), one request per row.

    Exit codes: 0 every row ok (or valid, with --dry-run); 1 some rows not ok;
    2 usage or input error, nothing sent; 3 aborted (e.g. credentials refused); 130 interrupted.
    """
    started = time.monotonic()
    json_log = JsonLog() if reporting.log_format == "json" else None
    files = _RunFiles(
        file, credentials.profile, reporting.metrics_path, reporting.summary_path, json_log
    )

    def stop(message: str, code: int) -> NoReturn:
        files.write(None, code, time.monotonic() - started, error=message)
        if json_log is None:
            _fail(message, code)
        json_log.error(message, code)
        sys.exit(code)

    try:
        files.check()
        read_options = read.options()
        resolved = None if dry_run or simulate else credentials.resolve()
        report = run_batch(
            file,
            credentials=resolved,
            dry_run=dry_run,
            strict=strict,
            results_path=results_path,
            read=read_options,
            dispatch_config=dispatch.config(),
            timeout_s=timeout_s,
            resume=resume,
            restart=restart,
            canary=canary,
            only_failed=only_failed,
            sync=sync,
            journal=not no_journal,
            quiet=quiet,
            on_event=json_log if json_log is not None and not quiet else None,
            handle_signals=True,
            simulate=simulate,
        )
    except BatchtoolError as exc:
        stop(str(exc), exc.exit_code)
    except click.ClickException as exc:
        if json_log is None:
            raise
        stop(exc.format_message(), exc.exit_code)
    except Exception as exc:  # a traceback in front of a user is a bug: say so in one line
        if os.environ.get("BATCHTOOL_DEBUG"):
            traceback.print_exc()
        stop(
            f"internal error: {type(exc).__name__}: {exc} — please report it "
            "(set BATCHTOOL_DEBUG=1 for the details)",
            EXIT_ABORTED,
        )
    files.write(report, report.exit_code, report.elapsed_s)
    if not quiet and json_log is None:
        if report.dry_run:
            _print_plan(report)
        for note in report.notes:
            click.echo(f"batchtool: {note}", err=True)
        if report.aborted:
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
                extra=_concurrency_summary(report, dispatch.concurrency),
            )
        )
    sys.exit(report.exit_code)


def _concurrency_summary(report: RunReport, concurrency: int | Literal["auto"]) -> list[str]:
    """How many requests were in flight: the adaptive limit's average, or the fixed number."""
    if report.mean_concurrency is None:
        return []  # nothing was sent
    if concurrency == AUTO:
        return [f"concurrency: auto (avg {report.mean_concurrency:.1f})"]
    return [f"concurrency: {concurrency}"]


class _RunFiles:
    """The files ``run`` writes for a scheduler at the end: metrics and summary (if asked)."""

    def __init__(
        self,
        input_path: Path,
        profile: str | None,
        metrics_path: Path | None,
        summary_path: Path | None,
        json_log: JsonLog | None,
    ) -> None:
        self._input = input_path
        self._profile = profile
        self._metrics = metrics_path
        self._summary = summary_path
        self._log = json_log

    def check(self) -> None:
        if self._metrics is not None:
            check_writable(self._metrics, "--metrics-file")
        if self._summary is not None:
            check_writable(self._summary, "--summary-json")

    def write(
        self, report: RunReport | None, code: int, duration_s: float, *, error: str | None = None
    ) -> None:
        """Write what was asked; a file that cannot be written is a warning, not a new report."""
        try:
            if self._metrics is not None:
                write_metrics(
                    self._metrics,
                    input_path=self._input,
                    exit_code=code,
                    duration_s=duration_s,
                    report=report,
                    profile=self._profile,
                )
            if self._summary is not None:
                write_summary_json(self._summary, report, error=error, exit_code=code)
        except OSError as exc:
            message = f"cannot write {exc.filename}: {exc.strerror or exc}"
            if self._log is not None:
                self._log.note(message, "warning")
            else:
                click.echo(f"batchtool: warning: {message}", err=True)


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; loopback unless you mean otherwise.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--customers",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Seed customers 1..N (subscription_id S<id>, orderid 100000+<id>).",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    help="JSON file to load the customers from and save them back to on exit.",
)
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--jitter-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--rate-429", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--retry-after", "retry_after_s", type=click.FloatRange(0), default=1.0, show_default=True
)
@click.option("--rate-500", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--rate-502", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--rate-503", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--drop-before",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Rate of connections dropped before the change is applied.",
)
@click.option(
    "--drop-after",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Rate of connections dropped after the change is applied (answer lost).",
)
@click.option("--slow-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--slow-s", type=click.FloatRange(0), default=60.0, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1),
    help="Work on at most K requests at a time (each takes --latency-ms); default: no limit.",
)
@click.option(
    "--queue",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Requests that may wait for a worker; the rest get 503 at once (needs --workers).",
)
@click.option("--seed", type=int, help="Makes the faults reproducible.")
@click.option("--api-username", help="The api-username it accepts (default: sim_admin).")
@click.option("--api-key", help="The api-key it accepts (default: a fixed, not secret key).")
@click.option("--no-log", is_flag=True, help="Keep no request log (benchmarks).")
@click.option("--log-limit", type=click.IntRange(1), help="Keep only the newest N log entries.")
@click.option(
    "--ready-line",
    is_flag=True,
    help="Print only 'READY <base URL>' once listening (for scripts and test harnesses).",
)
def simulate(
    host: str,
    port: int,
    customers: int,
    state_path: Path | None,
    latency_ms: float,
    jitter_ms: float,
    rate_429: float,
    retry_after_s: float,
    rate_500: float,
    rate_502: float,
    rate_503: float,
    drop_before: float,
    drop_after: float,
    slow_rate: float,
    slow_s: float,
    workers: int | None,
    queue: int,
    seed: int | None,
    api_username: str | None,
    api_key: str | None,
    no_log: bool,
    log_limit: int | None,
    ready_line: bool,
) -> None:
    """Serve the customer API on this machine, with a stateful store and optional faults.

    The simulator's request log is at GET /_sim/log, a customer at GET /_sim/customers/ID and
    the answers counted by status at GET /_sim/stats: paths for tests only, which the real API
    does not have.
    """
    # Imported here: aiohttp.web is not needed by `batchtool run`.
    from batchtool.simulator import (
        DEFAULT_API_KEY,
        DEFAULT_API_USERNAME,
        FaultConfig,
        Simulator,
        serve,
    )

    username = api_username or DEFAULT_API_USERNAME
    key = api_key or DEFAULT_API_KEY

    try:
        faults = FaultConfig(
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            rate_429=rate_429,
            retry_after_s=retry_after_s,
            rate_500=rate_500,
            rate_502=rate_502,
            rate_503=rate_503,
            drop_before=drop_before,
            drop_after=drop_after,
            slow_rate=slow_rate,
            slow_s=slow_s,
            seed=seed,
        )
    except (ValueError, UsageError) as exc:
        _fail(str(exc))

    def ready(base_url: str) -> None:
        if ready_line:
            click.echo(f"READY {base_url}")
            sys.stdout.flush()
            return
        click.echo(f"simulator listening on {base_url} (Ctrl-C to stop)")
        click.echo(f"  export BATCHTOOL_BASE_URL={base_url}")
        click.echo(f"  export BATCHTOOL_API_USERNAME={username}")
        click.echo(f"  export BATCHTOOL_API_KEY={key}")

    try:
        simulator = Simulator(
            host=host,
            port=port,
            customers=customers,
            state_path=state_path,
            faults=faults,
            api_username=username,
            api_key=key,
            log_requests=not no_log,
            log_limit=log_limit,
            workers=workers,
            queue=queue,
        )
        serve(simulator, on_ready=ready)
    except BatchtoolError as exc:
        _fail(str(exc), exc.exit_code)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} — choose another --port")


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback needs a user and an HTTPS proxy.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8750,
    show_default=True,
    help="0 picks a free port.",
)
@data_dir_option
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file whose profiles are the installations offered "
    "(default $BATCHTOOL_CONFIG or ~/.config/batchtool/config.toml).",
)
@click.option(
    "--max-upload-mb",
    type=click.IntRange(1, 10_240),
    default=100,
    show_default=True,
    help="Largest spreadsheet accepted.",
)
@click.option(
    "--simulate", is_flag=True, help='Also offer a "Simulator" installation (built-in simulator).'
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    config_path: Path | None,
    max_upload_mb: int,
    simulate: bool,
) -> None:
    """Serve the ops page: sign in, upload a spreadsheet, check, send, watch, download.

    Add users first with 'batchtool users add NAME'. API keys stay in this server's
    environment; no page, log or download shows them.
    """
    # Imported here: aiohttp.web and jinja2 are not needed by `batchtool run`.
    from batchtool.web import Users, WebConfig, default_data_dir
    from batchtool.web import serve as serve_page

    config = WebConfig(
        data_dir=data_dir or default_data_dir(),
        config_path=config_path,
        max_upload_mb=max_upload_mb,
        simulate=simulate,
    )

    def warn(text: str) -> None:
        click.echo(f"batchtool: warning: {text}", err=True)

    def ready(url: str) -> None:
        click.echo(f"batchtool serve: listening on {url} (Ctrl-C to stop)")
        if not Users(config.users_path).any():
            click.echo(
                "batchtool serve: nobody can sign in yet — add a user with: "
                f"batchtool users add NAME --data-dir {config.data_dir}"
            )
        sys.stdout.flush()

    logging.basicConfig(level=logging.INFO, format="batchtool serve: %(message)s")
    try:
        serve_page(config, host=host, port=port, on_ready=ready, on_warning=warn)
    except BatchtoolError as exc:
        _fail(str(exc), exc.exit_code)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} — choose another --port")


@main.group()
def users() -> None:
    """Who may sign in to the ops page (batchtool serve)."""


def _users(data_dir: Path | None) -> Users:
    from batchtool.web import Users, WebConfig, default_data_dir

    return Users(WebConfig(data_dir=data_dir or default_data_dir()).users_path)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users.command("add")
@click.argument("name")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
@data_dir_option
def users_add(name: str, password_stdin: bool, data_dir: Path | None) -> None:
    """Add user NAME, or give NAME a new password; asks for it twice."""
    try:
        store = _users(data_dir)
        existed = store.exists(name)
        store.add(name, _read_password(password_stdin))
    except BatchtoolError as exc:
        _fail(str(exc), exc.exit_code)
    what = "new password for" if existed else "added"
    click.echo(f"{what} {name} ({store.path})")


@users.command("list")
@data_dir_option
def users_list(data_dir: Path | None) -> None:
    """Who may sign in, and since when."""
    try:
        found = _users(data_dir).names()
    except BatchtoolError as exc:
        _fail(str(exc), exc.exit_code)
    for user in found:
        click.echo(f"{user.name}\t{user.created}")


@users.command("remove")
@click.argument("name")
@data_dir_option
def users_remove(name: str, data_dir: Path | None) -> None:
    """Remove user NAME; a running server signs them out at once."""
    try:
        _users(data_dir).remove(name)
    except BatchtoolError as exc:
        _fail(str(exc), exc.exit_code)
    click.echo(f"removed {name}")
