"""The ops page's commands: ``serve`` it, and ``users`` to say who may sign in and with
which role. What ``users`` changes goes into the data dir's audit log."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from batchtool import audit
from batchtool.cli.options import data_dir_option
from batchtool.cli.output import fail
from batchtool.errors import BatchtoolError

if TYPE_CHECKING:
    from batchtool.web import Users


@click.command()
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
    "--simulate",
    is_flag=True,
    help='Also offer two built-in simulators, "Simulator" and "Simulator 2", each with '
    "customers of its own (to try sending to several installations).",
)
@click.option(
    "--retention-days",
    type=click.IntRange(0, 36_500),
    default=90,
    show_default=True,
    help="Delete a run's customer data this many days after it ends (at start-up, then "
    "daily); 0 keeps it for ever.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    config_path: Path | None,
    max_upload_mb: int,
    simulate: bool,
    retention_days: int,
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
        retention_days=retention_days,
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


@click.group()
def users() -> None:
    """Who may sign in to the ops page (batchtool serve)."""


def _users(data_dir: Path | None) -> Users:
    from batchtool.web import Users, WebConfig, default_data_dir

    return Users(WebConfig(data_dir=data_dir or default_data_dir()).users_path)


def _record(store: Users, action: str, name: str, **about: str) -> None:
    """The audit line of a change to the users file, in the same data dir."""
    log = audit.AuditLog(store.path.with_name(audit.FILE_NAME))
    log.append(action, user=audit.local_user(), via=audit.CLI, detail={"name": name, **about})


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    metavar="ROLE",
    help="What NAME may do: viewer, operator, approver or admin (see the README). A new "
    "user is an operator unless given; a new password keeps the role unless given.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
@data_dir_option
def users_add(name: str, role: str | None, password_stdin: bool, data_dir: Path | None) -> None:
    """Add user NAME, or give NAME a new password; asks for it twice."""
    from batchtool.web.permissions import check_role

    try:
        if role is not None:
            check_role(role)  # before asking for a password
        store = _users(data_dir)
        before = store.role(name)
        store.add(name, _read_password(password_stdin), role)
        after = store.role(name) or ""
        if before is None:
            _record(store, audit.USER_ADDED, name, role=after)
        else:
            _record(store, audit.PASSWORD_CHANGED, name)
            if after != before:
                _record(store, audit.ROLE_CHANGED, name, role=after, was=before)
    except BatchtoolError as exc:
        fail(str(exc), exc.exit_code)
    what = "new password for" if before is not None else "added"
    click.echo(f"{what} {name}, {after} ({store.path})")


@users.command("set-role")
@click.argument("name")
@click.argument("role")
@data_dir_option
def users_set_role(name: str, role: str, data_dir: Path | None) -> None:
    """Give user NAME the role ROLE (viewer, operator, approver or admin); a running server
    applies it at their next request."""
    try:
        store = _users(data_dir)
        before = store.role(name)
        store.set_role(name, role)
        if before != role:
            _record(store, audit.ROLE_CHANGED, name, role=role, was=before or "")
    except BatchtoolError as exc:
        fail(str(exc), exc.exit_code)
    click.echo(f"{name} is now {'an' if role[0] in 'aeiou' else 'a'} {role}")


@users.command("list")
@data_dir_option
def users_list(data_dir: Path | None) -> None:
    """Who may sign in, with which role, and since when."""
    try:
        found = _users(data_dir).names()
    except BatchtoolError as exc:
        fail(str(exc), exc.exit_code)
    for user in found:
        click.echo(f"{user.name}\t{user.role}\t{user.created}")


@users.command("remove")
@click.argument("name")
@data_dir_option
def users_remove(name: str, data_dir: Path | None) -> None:
    """Remove user NAME; a running server signs them out at once."""
    try:
        store = _users(data_dir)
        store.remove(name)
        _record(store, audit.USER_REMOVED, name)
    except BatchtoolError as exc:
        fail(str(exc), exc.exit_code)
    click.echo(f"removed {name}")
