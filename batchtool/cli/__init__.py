"""The ``batchtool`` command: parse options, call the library, print, map reports to exit codes.

No logic lives here that the Python API (``batchtool.run_batch``) lacks.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

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
from batchtool.cli.output import JsonErrorsCommand, RunOutput, fail
from batchtool.errors import BatchtoolError, UsageError
from batchtool.runner import run_batch
from batchtool.sync_state import SyncOptions

if TYPE_CHECKING:
    from batchtool.web import Users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="batchtool")
def main() -> None:
    """Apply a spreadsheet of customer changes to an Offerit, Trackfinity or NATS For
    Networks installation through its REST customer API — and account for every row."""


@main.command(cls=JsonErrorsCommand)
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
    output = RunOutput(file, reporting, profile=credentials.profile)
    with output.exit_on_failure():
        output.check()
        read_options = read.options()  # before the credentials: a bad --map is named first
        report = run_batch(
            file,
            credentials=None if dry_run or simulate else credentials.resolve(),
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
            on_event=output.events(quiet=quiet),
            handle_signals=True,
            simulate=simulate,
        )
    output.finish(report, quiet=quiet, concurrency=dispatch.concurrency)


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
        fail(str(exc))

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
        fail(str(exc), exc.exit_code)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} — choose another --port")


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
        fail(str(exc), exc.exit_code)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} — choose another --port")


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
        fail(str(exc), exc.exit_code)
    what = "new password for" if existed else "added"
    click.echo(f"{what} {name} ({store.path})")


@users.command("list")
@data_dir_option
def users_list(data_dir: Path | None) -> None:
    """Who may sign in, and since when."""
    try:
        found = _users(data_dir).names()
    except BatchtoolError as exc:
        fail(str(exc), exc.exit_code)
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
        fail(str(exc), exc.exit_code)
    click.echo(f"removed {name}")
