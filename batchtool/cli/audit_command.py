"""``batchtool audit``: print the ops page's audit log, filtered, as JSON Lines or CSV; or
check its chain (``--verify``), exiting non-zero at the first line that does not fit."""

from __future__ import annotations

from pathlib import Path

import click

from batchtool import audit as audit_log
from batchtool.cli.options import data_dir_option
from batchtool.cli.output import fail
from batchtool.errors import BatchtoolError


@click.command()
@data_dir_option
@click.option("--since", metavar="DATE", help="Only lines from then on: an ISO date or datetime.")
@click.option("--user", metavar="NAME", help="Only what NAME did (or tried, to sign in).")
@click.option("--run", "run_id", metavar="ID", help="Only lines about the run ID.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="csv: one row per line, formula-guarded like results files.",
)
@click.option(
    "--verify",
    is_flag=True,
    help=f"Check the whole chain instead: exit 0 when intact, {audit_log.BROKEN_EXIT} naming "
    "the first line that does not fit.",
)
def audit(
    data_dir: Path | None,
    since: str | None,
    user: str | None,
    run_id: str | None,
    fmt: str,
    verify: bool,
) -> None:
    """Print the ops page's audit log: who signed in, checked, asked for approval, approved,
    rejected, sent, stopped, resumed, downloaded, purged, and who changed users, and when."""
    from batchtool.web import WebConfig, default_data_dir

    log = audit_log.AuditLog(WebConfig(data_dir=data_dir or default_data_dir()).audit_path)
    source = click.get_current_context().get_parameter_source("fmt")
    if verify and (since or user or run_id or source is click.core.ParameterSource.COMMANDLINE):
        fail("--verify checks the whole log: leave out --since, --user, --run and --format")
    try:
        if verify:
            _verify(log)
            return
        when = audit_log.parse_since(since) if since else None
        entries = log.entries()
    except BatchtoolError as exc:
        fail(str(exc), exc.exit_code)
    if not log.path.exists():
        click.echo(f"batchtool: no audit log at {log.path} yet", err=True)
    found = audit_log.select(entries, since=when, user=user, run=run_id)
    text = audit_log.to_csv(found) if fmt == "csv" else audit_log.to_jsonl(found)
    click.echo(text, nl=False)


def _verify(log: audit_log.AuditLog) -> None:
    verdict = log.verify()
    if verdict.broken is not None:
        click.echo(f"audit log {log.path}: the chain is broken: {verdict.broken}")
        raise SystemExit(audit_log.BROKEN_EXIT)
    if not verdict.lines:
        click.echo(f"audit log {log.path}: no lines yet")
        return
    click.echo(
        f"audit log {log.path}: intact, {verdict.lines} lines; the last one's hash is "
        f"{verdict.last_hash}"
    )
