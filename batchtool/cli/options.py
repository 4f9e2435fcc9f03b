"""Options declared once, in bundles: each bundle hands its command one value."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import click
from click.core import ParameterSource

from batchtool import api
from batchtool.cli.params import MAX_CONCURRENCY, Concurrency, parse_map
from batchtool.config import (
    CREDENTIAL_VARIABLES,
    Credentials,
    profile_names,
    resolve_credentials,
)
from batchtool.dispatch import AUTO, DEFAULT_MAX_CONCURRENCY, DispatchConfig
from batchtool.errors import UsageError
from batchtool.installation import Installation, resolve_installations
from batchtool.options import ReadOptions
from batchtool.reader import FORMATS
from batchtool.sync_state import SyncOptions

F = TypeVar("F", bound=Callable[..., Any])
_Option = Callable[[Callable[..., Any]], Callable[..., Any]]


def _bundle(name: str, kind: type[Any], options: Sequence[_Option]) -> Callable[[F], F]:
    """Declare ``options`` on a command, which receives their values as one ``kind``, ``name``.

    ``kind`` is a dataclass whose fields are named as the options' parameters.
    """
    fields = [field.name for field in dataclasses.fields(kind)]

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def bundled(*args: Any, **kwargs: Any) -> Any:
            value = kind(**{field: kwargs.pop(field) for field in fields})
            return command(*args, **kwargs, **{name: value})

        declared: Callable[..., Any] = bundled
        for option in reversed(options):
            declared = option(declared)
        return cast(F, declared)

    return decorate


@dataclass(frozen=True)
class ReadArgs:
    """How to read and plan the input, as given on the command line."""

    fmt: str | None
    sheet: str | None
    encoding: str | None
    delimiter: str | None
    header_row: int | None
    maps: tuple[str, ...]
    ignore_columns: tuple[str, ...]
    operation: str | None

    def options(self) -> ReadOptions:
        """The library's options; a bad --map raises ``click.BadParameter``."""
        return ReadOptions(
            fmt=self.fmt,
            sheet=self.sheet,
            encoding=self.encoding,
            delimiter=self.delimiter,
            header_row=self.header_row,
            column_map=parse_map(self.maps),
            ignore_columns=self.ignore_columns,
            operation=self.operation,
        )


#: Options that say how to read and plan the input, shared by every command that reads it.
#: The command receives them as ``read``, a :class:`ReadArgs`; --map is checked only when it
#: calls ``read.options()``, so that a bad --map is reported like any error of a started run
#: (a JSON line with --log-format json, the --summary-json file).
read_options = _bundle(
    "read",
    ReadArgs,
    [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            help="Input format; default: by extension.",
        ),
        click.option("--sheet", help="Excel sheet name (default: the first sheet)."),
        click.option(
            "--encoding",
            help="Text encoding of a CSV/TSV that is not UTF-8 and has no byte order mark, "
            "e.g. latin-1.",
        ),
        click.option(
            "--delimiter",
            metavar="CHAR",
            help="CSV/TSV delimiter, e.g. ';' or tab; default: detected from the header line.",
        ),
        click.option(
            "--header-row",
            type=click.IntRange(min=1),
            metavar="N",
            help="Line (CSV/TSV) or sheet row (Excel) of the header; default: the first, or "
            "the first below a title that names known columns.",
        ),
        click.option(
            "--map",
            "maps",
            multiple=True,
            metavar="HEADER=FIELD",
            help='Map a column to an API name, e.g. --map "E-mail address=email". Repeatable.',
        ),
        click.option(
            "--ignore-column",
            "ignore_columns",
            multiple=True,
            metavar="NAME",
            help="A column to skip (still shown in the results). Repeatable.",
        ),
        click.option(
            "--operation",
            type=click.Choice(sorted(api.OPERATION_ALIASES), case_sensitive=False),
            help="Operation for rows whose operation cell is empty, or files without that column.",
        ),
    ],
)

#: Options of a nightly sync: send only what changed since the last run, or everything.
#: The command receives them as ``sync``, the library's :class:`SyncOptions`.
sync_options = _bundle(
    "sync",
    SyncOptions,
    [
        click.option(
            "--changed-only",
            is_flag=True,
            help="Send only rows that change something since the last run's ok rows (the sync "
            "state); the others are 'unchanged'.",
        ),
        click.option(
            "--full",
            is_flag=True,
            help="Send every row and rebuild the sync state from this run (e.g. weekly).",
        ),
        click.option(
            "--state",
            "state_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Sync state file. Default: <results path>.state.parquet.",
        ),
    ],
)


@dataclass(frozen=True)
class ReportArgs:
    """Where a run reports besides its text: JSON logs, a metrics file, a summary file."""

    log_format: str
    metrics_path: Path | None
    summary_path: Path | None


#: Options for schedulers and log pipelines: JSON logs, a metrics file, a summary file.
#: The command receives them as ``reporting``, a :class:`ReportArgs`.
report_options = _bundle(
    "reporting",
    ReportArgs,
    [
        click.option(
            "--log-format",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="json: stderr carries one JSON object per line (start, progress, notes, "
            "summary, errors) and nothing else.",
        ),
        click.option(
            "--metrics-file",
            "metrics_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Write Prometheus metrics of the run here at its end (node_exporter textfile).",
        ),
        click.option(
            "--summary-json",
            "summary_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Write the run's final summary as JSON here.",
        ),
    ],
)


#: Options that name one installation, or a key for one: with several, each installation is
#: exactly its profile. (option, its parameter, the profile key to set instead)
_ONE_INSTALLATION_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--base-url", "base_url", "base_url"),
    ("--api-username", "api_username", "api_username"),
    ("--api-key", "api_key", "api_key_env"),
    ("--api-key-file", "api_key_file", "api_key_file"),
    ("--client-cert", "client_cert", "client_cert"),
    ("--client-key", "client_key", "client_key"),
)


@dataclass(frozen=True)
class CredentialArgs:
    """Where to send, as whom, and how to get there, as given on the command line."""

    base_url: str | None
    api_username: str | None
    api_key: str | None
    api_key_file: Path | None
    profiles: tuple[str, ...]
    all_profiles: bool
    config_path: Path | None
    allow_insecure_http: bool
    ca_bundle: Path | None
    client_cert: Path | None
    client_key: Path | None
    proxy: str | None

    def resolve(self, profile: str | None = None) -> Credentials:
        """With the environment and the profile; raises ``UsageError`` for what is missing."""
        return resolve_credentials(
            base_url=self.base_url,
            api_username=self.api_username,
            api_key=self.api_key,
            api_key_file=self.api_key_file,
            profile=profile,
            config_path=self.config_path,
            allow_insecure_http=self.allow_insecure_http,
            ca_bundle=self.ca_bundle,
            client_cert=self.client_cert,
            client_key=self.client_key,
            proxy=self.proxy,
        )

    def names(self) -> tuple[str, ...]:
        """The profiles to send to: each --profile, or every one with --all-profiles."""
        if self.all_profiles:
            if self.profiles:
                raise UsageError(
                    "--all-profiles takes every profile of the config file — drop --profile, "
                    "or name each installation with --profile instead"
                )
            return profile_names(self.config_path)
        for i, name in enumerate(self.profiles):
            if name in self.profiles[:i]:
                raise UsageError(f"--profile {name} is given twice — give each profile once")
        return self.profiles

    def installations(self, *, names_only: bool) -> tuple[Installation, ...]:
        """The installations to send to, in order; ``names_only`` where nothing is sent (a
        dry run, the simulator). One profile, or none, is exactly what it always was."""
        names = self.names()
        if len(names) <= 1:
            name = names[0] if names else None
            return (Installation(name, None if names_only else self.resolve(name)),)
        self._refuse_one_installation_options(names)
        if names_only:
            return tuple(Installation(name) for name in names)
        return resolve_installations(
            names,
            config_path=self.config_path,
            allow_insecure_http=self.allow_insecure_http,
            ca_bundle=self.ca_bundle,
            proxy=self.proxy,
        )

    def _refuse_one_installation_options(self, names: Sequence[str]) -> None:
        context = click.get_current_context(silent=True)
        for option, parameter, key in _ONE_INSTALLATION_OPTIONS:
            if getattr(self, parameter) is None:
                continue
            source = context.get_parameter_source(parameter) if context else None
            if source is ParameterSource.ENVIRONMENT:
                continue  # a variable: ignored with several installations (ignored_variables)
            raise UsageError(
                f"{option} is for a run to one installation; this one sends to "
                f"{', '.join(names)}, each exactly its profile — set {key} in its "
                "[profiles.NAME] table instead"
            )

    @staticmethod
    def ignored_variables(environ: Mapping[str, str] | None = None) -> list[str]:
        """The ``BATCHTOOL_*`` credential variables that are set, which a run to several
        installations does not read: each installation is exactly its profile."""
        env = os.environ if environ is None else environ
        return [name for name in CREDENTIAL_VARIABLES if env.get(name)]


#: Options that say how to reach the installation from inside a company network.
_NETWORK_OPTIONS: list[_Option] = [
    click.option(
        "--ca-bundle",
        type=click.Path(path_type=Path, dir_okay=False),
        help="PEM file of CA certificates to trust besides the system's (a company CA).",
    ),
    click.option(
        "--client-cert",
        type=click.Path(path_type=Path, dir_okay=False),
        help="PEM client certificate, for an installation behind mutual TLS.",
    ),
    click.option(
        "--client-key",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Its private key, if not in the --client-cert file (chmod 600).",
    ),
    click.option(
        "--proxy",
        metavar="URL",
        help="http(s) proxy to go through; default: $HTTPS_PROXY / $HTTP_PROXY, NO_PROXY.",
    ),
]

#: The installation, the API user and key, and the network options to reach it.
#: The command receives them as ``credentials``, a :class:`CredentialArgs`.
credential_options = _bundle(
    "credentials",
    CredentialArgs,
    [
        click.option(
            "--base-url",
            envvar="BATCHTOOL_BASE_URL",
            show_envvar=True,
            help="Installation root, e.g. https://affiliates.example.com.",
        ),
        click.option("--api-username", envvar="BATCHTOOL_API_USERNAME", show_envvar=True),
        click.option(
            "--api-key",
            help="Prefer $BATCHTOOL_API_KEY or a key file: options show up in process lists.",
        ),
        click.option(
            "--api-key-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="File whose first line is the key (chmod 600); or $BATCHTOOL_API_KEY_FILE.",
        ),
        click.option(
            "--profile",
            "profiles",
            multiple=True,
            metavar="NAME",
            help="A [profiles.NAME] table of the config file. Repeatable: the same file goes "
            "to each installation named.",
        ),
        click.option(
            "--all-profiles",
            is_flag=True,
            help="Send to every installation of the config file, each exactly its profile.",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path),
            help="Config file (default $BATCHTOOL_CONFIG or ~/.config/batchtool/config.toml).",
        ),
        click.option(
            "--allow-insecure-http",
            is_flag=True,
            help="Allow plain http:// to a host that is not this machine (sends the key in clear).",
        ),
        *_NETWORK_OPTIONS,
    ],
)


@dataclass(frozen=True)
class DispatchArgs:
    """How to send, as given on the command line."""

    concurrency: int | Literal["auto"]
    max_concurrency: int | None
    rate_limit: float | None
    max_attempts: int

    def config(self) -> DispatchConfig:
        """The engine's settings; a contradiction raises ``UsageError``."""
        return DispatchConfig(
            concurrency=self.concurrency,
            max_concurrency=self.max_concurrency,
            rate_limit=self.rate_limit,
            max_attempts=self.max_attempts,
        )


#: How to send: requests in flight, their pace, and attempts per row.
#: The command receives them as ``dispatch``, a :class:`DispatchArgs`.
dispatch_options = _bundle(
    "dispatch",
    DispatchArgs,
    [
        click.option(
            "--concurrency",
            type=Concurrency(),
            default=AUTO,
            show_default=True,
            help="Requests in flight: auto adapts to the server's answers; N fixes it.",
        ),
        click.option(
            "--max-concurrency",
            type=click.IntRange(1, MAX_CONCURRENCY),
            help=f"Most requests in flight with --concurrency auto "
            f"(default {DEFAULT_MAX_CONCURRENCY}).",
        ),
        click.option(
            "--rate-limit",
            type=click.FloatRange(min=0, min_open=True),
            metavar="N",
            help="At most N requests started per second.",
        ),
        click.option("--max-attempts", type=click.IntRange(1, 100), default=5, show_default=True),
    ],
)


def data_dir_option(f: F) -> F:
    """Where the ops page keeps its users and runs: ``serve`` and every ``users`` command."""
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="Where the ops page keeps users and runs "
        "(default $BATCHTOOL_DATA_DIR or ~/.local/share/batchtool).",
    )(f)
