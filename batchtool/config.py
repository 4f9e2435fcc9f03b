"""Where the credentials and the way to the installation come from: options, then environment,
then a named profile in a TOML file.

One installation per profile (an Offerit, a Trackfinity, a NATS For Networks), e.g.::

    [profiles.offerit]
    base_url = "https://affiliates.example.com"
    api_username = "offerit_admin"
    api_key_env = "OFFERIT_API_KEY"    # preferred: the key stays out of the file
    ca_bundle = "company-ca.pem"       # relative paths: beside this file
    proxy = "http://proxy.example.com:3128"

The key may instead come from a file (``api_key_file``, e.g. a Docker/Kubernetes secret or a
systemd credential) or be written as ``api_key = "..."``; either file must be private
(``chmod 600``). The README's "company networks" section has the whole order of precedence.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from batchtool.errors import UsageError
from batchtool.network import Network
from batchtool.proxies import choose_proxy
from batchtool.secret_files import check_private_file, key_file_path, read_key_file
from batchtool.urls import masked

ENV_BASE_URL = "BATCHTOOL_BASE_URL"
ENV_API_KEY = "BATCHTOOL_API_KEY"
ENV_API_KEY_FILE = "BATCHTOOL_API_KEY_FILE"
ENV_API_USERNAME = "BATCHTOOL_API_USERNAME"
ENV_CONFIG = "BATCHTOOL_CONFIG"
#: Variables that would send every profile to one installation, as one user or with one key:
#: a run to several installations ignores them, so that each installation is its profile.
CREDENTIAL_VARIABLES = (ENV_BASE_URL, ENV_API_USERNAME, ENV_API_KEY, ENV_API_KEY_FILE)

#: The profile keys that can hold the api key, one of them per profile.
PROFILE_KEY_SOURCES = ("api_key_env", "api_key_file", "api_key")


def default_config_path() -> Path:
    """``$BATCHTOOL_CONFIG``, else ``$XDG_CONFIG_HOME/batchtool/config.toml`` (``~/.config``)."""
    if env := os.environ.get(ENV_CONFIG):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "batchtool" / "config.toml"


@dataclass(frozen=True)
class Credentials:
    """Where to send, as whom, and how to get there. ``repr`` never shows the key, nor what
    credentials the base URL may carry.

    Built by hand, it means exactly what it says (``network`` defaults to the system's trust
    store and no proxy); :func:`resolve_credentials` fills it from options, environment and
    profile, the proxy variables included.
    """

    base_url: str
    api_username: str
    api_key: str = field(repr=False)
    network: Network = field(default_factory=Network)

    def __repr__(self) -> str:
        return (
            f"Credentials(base_url={masked(self.base_url)!r}, "
            f"api_username={self.api_username!r}, network={self.network!r})"
        )


@dataclass(frozen=True)
class _Profile:
    name: str
    path: Path
    values: Mapping[str, object]

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise UsageError(
                f"config file {self.path}: [profiles.{self.name}] {key} must be a string"
            )
        return value

    def file(self, key: str) -> Path | None:
        """A path in the profile: ``~`` expanded, relative to the config file's folder."""
        value = self.text(key)
        return None if value is None else self.path.parent / Path(value).expanduser()


def _profiles_in(path: Path, asker: str) -> dict[str, object]:
    """The ``[profiles]`` tables of the config file at ``path``; ``asker`` (e.g. "profile
    'offerit'") begins the message when there is no such file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{asker}: config file {path} does not exist — create it or pass --config PATH"
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"config file {path}: cannot be read ({exc}) — fix or replace it"
        ) from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        return {}
    if any(isinstance(table, dict) and "api_key" in table for table in profiles.values()):
        check_private_file(path, "config file")
    return profiles


def profile_names(config_path: Path | None = None) -> tuple[str, ...]:
    """Every profile of the config file, in the file's order (``--all-profiles``)."""
    path = config_path or default_config_path()
    names = tuple(_profiles_in(path, "--all-profiles"))
    if not names:
        raise UsageError(
            f"--all-profiles: config file {path} defines no [profiles.NAME] table — add one "
            "per installation"
        )
    return names


def _load_profile(name: str, path: Path) -> _Profile:
    profiles = _profiles_in(path, f"profile '{name}'")
    if name not in profiles:
        known = ", ".join(sorted(profiles))
        hint = f"known profiles: {known}" if known else "it defines no [profiles.NAME] table"
        raise UsageError(f"profile '{name}' not found in {path} — {hint}")
    profile = profiles[name]
    if not isinstance(profile, dict):
        raise UsageError(f"config file {path}: [profiles.{name}] must be a table")
    return _Profile(name, path, profile)


def resolve_credentials(
    *,
    base_url: str | None = None,
    api_username: str | None = None,
    api_key: str | None = None,
    api_key_file: str | Path | None = None,
    profile: str | None = None,
    config_path: Path | None = None,
    allow_insecure_http: bool = False,
    ca_bundle: str | Path | None = None,
    client_cert: str | Path | None = None,
    client_key: str | Path | None = None,
    proxy: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Options first, then ``BATCHTOOL_*`` environment variables, then the profile's values;
    the proxy from ``proxy``, else the profile, else ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``.

    Raises :class:`UsageError` for anything missing, contradictory, or a secret file that
    other users can open.
    """
    env = os.environ if environ is None else environ
    prof = _load_profile(profile, config_path or default_config_path()) if profile else None

    def pick(given: str | None, env_name: str, key: str) -> str | None:
        return given or env.get(env_name) or (prof.text(key) if prof else None)

    url = pick(base_url, ENV_BASE_URL, "base_url")
    user = pick(api_username, ENV_API_USERNAME, "api_username")
    key = _resolve_key(api_key, api_key_file, env, prof)
    missing = [
        label
        for label, value in (
            ("--base-url / $" + ENV_BASE_URL, url),
            ("--api-username / $" + ENV_API_USERNAME, user),
            ("--api-key / $" + ENV_API_KEY, key),
        )
        if not value
    ]
    if missing:
        raise UsageError(
            "missing " + ", ".join(missing) + " — give them, use --profile NAME, "
            "or try --dry-run (no credentials needed) or --simulate"
        )
    assert url and user and key
    network = _resolve_network(url, ca_bundle, client_cert, client_key, proxy, env, prof)
    check_base_url(url, allow_insecure_http=allow_insecure_http, proxy=network.proxy)
    return Credentials(base_url=url, api_username=user, api_key=key, network=network)


def _resolve_key(
    api_key: str | None,
    api_key_file: str | Path | None,
    env: Mapping[str, str],
    prof: _Profile | None,
) -> str | None:
    """The api key from the first source that gives one (README: "company networks")."""
    if api_key and api_key_file:
        raise UsageError("--api-key and --api-key-file both give the api key — choose one")
    if api_key:
        return api_key
    if api_key_file:
        return read_key_file(key_file_path(api_key_file, env), "api key file")
    env_key, env_file = env.get(ENV_API_KEY), env.get(ENV_API_KEY_FILE)
    if env_key and env_file:
        raise UsageError(f"${ENV_API_KEY} and ${ENV_API_KEY_FILE} are both set — unset one of them")
    if env_key:
        return env_key
    if env_file:
        return read_key_file(key_file_path(env_file, env), "api key file")
    if prof is None:
        return None
    given = [name for name in PROFILE_KEY_SOURCES if prof.text(name)]
    if len(given) > 1:
        raise UsageError(
            f"profile '{prof.name}' gives the api key {len(given)} ways "
            f"({', '.join(given)}) — keep one of them in {prof.path}"
        )
    if variable := prof.text("api_key_env"):
        value = env.get(variable)
        if not value:
            raise UsageError(
                f"profile '{prof.name}' reads the api key from ${variable}, "
                "which is not set — export it"
            )
        return value
    if name := prof.text("api_key_file"):
        return read_key_file(key_file_path(name, env, relative_to=prof.path.parent), "api key file")
    return prof.text("api_key")


def _resolve_network(
    base_url: str,
    ca_bundle: str | Path | None,
    client_cert: str | Path | None,
    client_key: str | Path | None,
    proxy: str | None,
    env: Mapping[str, str],
    prof: _Profile | None,
) -> Network:
    """Options win over the profile; the client certificate and its key come as a pair."""
    bundle = Path(ca_bundle) if ca_bundle else (prof.file("ca_bundle") if prof else None)
    if client_cert or client_key:
        cert = Path(client_cert) if client_cert else None
        key = Path(client_key) if client_key else None
    elif prof is not None:
        cert, key = prof.file("client_cert"), prof.file("client_key")
    else:
        cert = key = None
    if proxy:
        explicit, source = proxy, "--proxy"
    elif prof is not None and (from_profile := prof.text("proxy")):
        explicit, source = from_profile, f"profile '{prof.name}'"
    else:
        explicit, source = None, ""
    choice = choose_proxy(base_url, explicit=explicit, explicit_source=source, environ=env)
    return Network(
        ca_bundle=bundle,
        client_cert=cert,
        client_key=key,
        proxy=choice.url,
        proxy_source=choice.source,
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(
    url: str, *, allow_insecure_http: bool = False, proxy: str | None = None
) -> None:
    """Refuse non-http(s) URLs, and plain http that crosses the network (the key would travel
    in clear): to another host, or to this one through a proxy on another host."""
    shown = masked(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - parsing the port is the check (out of range, not a number)
    except ValueError:  # or an IPv6 address without its closing bracket
        host = None
    if not host or parts.scheme not in ("http", "https"):
        raise UsageError(
            f"base URL '{shown}' is not an http(s) URL — give the installation's root, "
            "e.g. https://affiliates.example.com"
        )
    if parts.scheme != "http" or allow_insecure_http:
        return
    if not is_loopback(host):
        raise UsageError(
            f"base URL '{shown}' is plain http: the api key would cross the network in clear "
            "— use https, or pass --allow-insecure-http if you really mean it"
        )
    proxy_host = urlsplit(proxy).hostname if proxy else None
    if proxy_host and not is_loopback(proxy_host):
        raise UsageError(
            f"base URL '{shown}' is plain http and goes through proxy {masked(proxy or '')}: "
            "the api key would cross the network in clear — use https, name the host in "
            "NO_PROXY, or pass --allow-insecure-http if you really mean it"
        )
