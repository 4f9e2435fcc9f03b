"""``batchtool purge``: delete the customer data of the ops page's runs that ended before a
given age (``web.retention`` says what goes and what stays), each with its audit line.

A running server keeps the runs in memory and purges by itself (``serve --retention-days``),
so ``purge`` refuses while one holds the data dir, and holds it itself meanwhile.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from batchtool import audit
from batchtool.cli.options import data_dir_option
from batchtool.cli.output import fail
from batchtool.cli.params import Age, AgeType
from batchtool.errors import BatchtoolError


@click.command()
@data_dir_option
@click.option(
    "--older-than",
    "age",
    type=AgeType(),
    required=True,
    help="Runs that ended longer ago than this: days or hours, e.g. 30d or 12h.",
)
@click.option("--dry-run", is_flag=True, help="Only list the runs it would purge.")
def purge(data_dir: Path | None, age: Age, dry_run: bool) -> None:
    """Delete the customer data (upload, plan, results, journal, copies) of the ops page's
    runs that ended before then; who did what, when, and the counts stay.

    A run still sending, or that Resume could still finish, is never touched. Refused
    while 'batchtool serve' uses the data dir: it purges by itself, daily."""
    from batchtool.web import WebConfig, default_data_dir, retention
    from batchtool.web.datadir import DataDirBusy, holding
    from batchtool.web.runstore import RunStore

    config = WebConfig(data_dir=data_dir or default_data_dir())
    if not config.data_dir.is_dir():
        fail(f"no data dir at {config.data_dir} — give the one 'batchtool serve' uses")
    cutoff = datetime.now(UTC) - age.span
    by = audit.local_user()
    try:
        with holding(config.data_dir):
            found = retention.purge_store(RunStore(config.runs_dir), cutoff, by=by, dry_run=dry_run)
            log = audit.AuditLog(config.audit_path)
            for meta in [] if dry_run else found:
                retention.record(log, meta, user=by, via=audit.CLI, older_than=age.text)
    except DataDirBusy as busy:
        fail(
            f"batchtool serve (pid {busy.pid}) is using the data dir {config.data_dir} and "
            "purges it itself daily (--retention-days) — stop it first to purge now"
        )
    except BatchtoolError as exc:
        fail(str(exc), exc.exit_code)
    verb = "would delete" if dry_run else "deleted"
    for meta in found:
        step = retention.last_step(meta) or meta.created
        click.echo(f"{meta.id}\t{meta.file_name}\t(last step {step[:10]})")
    runs = f"{len(found)} run{'' if len(found) == 1 else 's'}"
    click.echo(
        f"{verb} the customer data of {runs} that ended before "
        f"{cutoff.isoformat(timespec='seconds')}"
    )
