"""The ``run`` command: apply a file of changes through the library's ``run_batch``."""

from __future__ import annotations

from pathlib import Path

import click

from batchtool.cli.options import (
    CredentialArgs,
    DispatchArgs,
    ReadArgs,
    ReportArgs,
    credential_options,
    dispatch_options,
    read_options,
    report_options,
    sync_options,
)
from batchtool.cli.output import JsonErrorsCommand, RunOutput
from batchtool.runner import run_batch
from batchtool.sync_state import SyncOptions


@click.command(cls=JsonErrorsCommand)
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
    """Apply FILE (CSV, TSV, Parquet, Excel or JSON Lines), one request per row, to one
    installation or (--profile given several times, --all-profiles) to each of several.

    Exit codes: 0 every row ok (or valid, with --dry-run); 1 some rows not ok;
    2 usage or input error, nothing sent; 3 aborted (e.g. credentials refused), at any
    installation; 130 interrupted.
    """
    output = RunOutput(file, reporting, profiles=credentials.profiles)
    with output.exit_on_failure():
        output.check()
        read_options = read.options()  # before the credentials: a bad --map is named first
        installations = credentials.installations(names_only=dry_run or simulate)
        ignored = credentials.ignored_variables() if len(installations) > 1 else []
        if ignored and not quiet:
            output.note(
                f"warning: {', '.join('$' + name for name in ignored)} not read: with several "
                "installations each is exactly its profile"
            )
        report = run_batch(
            file,
            installations=installations,
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
