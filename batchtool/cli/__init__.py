"""The ``batchtool`` command group, thin over the Python API: one module per command's job.

- ``run_command``: ``run``, a file of changes through :func:`batchtool.run_batch`;
- ``simulate_command``: ``simulate``, the customer API on this machine;
- ``ops_page``: ``serve`` the ops page, and ``users`` who may sign in to it, with which role;
- ``audit_command``: ``audit``, the ops page's audit log printed or verified;
- ``purge_command``: ``purge``, the customer data of old runs deleted (retention);
- ``completion_command``: ``completion``, the script that lets a shell complete the commands;
- ``options``: the options declared in bundles, each handing its command one value;
- ``params``: parsers of option values (``auto|N``, ``HEADER=FIELD``);
- ``output``: what the commands print, the files a scheduler asked for, and exit codes.

No logic lives here that the Python API (``batchtool.run_batch``) lacks.
"""

from __future__ import annotations

import click

from batchtool.cli.audit_command import audit
from batchtool.cli.completion_command import completion
from batchtool.cli.ops_page import serve, users
from batchtool.cli.purge_command import purge
from batchtool.cli.run_command import run
from batchtool.cli.simulate_command import simulate

__all__ = ["audit", "completion", "main", "purge", "run", "serve", "simulate", "users"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="batchtool")
def main() -> None:
    """Apply a spreadsheet of customer changes to an Offerit, Trackfinity or NATS For
    Networks installation through its REST customer API — and account for every row."""


main.add_command(run)
main.add_command(simulate)
main.add_command(serve)
main.add_command(users)
main.add_command(audit)
main.add_command(purge)
main.add_command(completion)
