"""Where the credentials come from: options, then environment, then a named profile in a TOML file.

One installation per profile (an Offerit, a Trackfinity, a NATS For Networks), e.g.::

    [profiles.offerit]
    base_url = "https://affiliates.example.com"
    api_username = "offerit_admin"
    api_key_env = "OFFERIT_API_KEY"    # preferred: the key stays out of the file

The key may also be written as ``api_key = "..."`` in a file only its owner can read.
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

ENV_BASE_URL = "BATCHTOOL_BASE_URL"
ENV_API_KEY = "BATCHTOOL_API_KEY"
ENV_API_USERNAME = "BATCHTOOL_API_USERNAME"
ENV_CONFIG = "BATCHTOOL_CONFIG"


def default_config_path() -> Path:
    """``$BATCHTOOL_CONFIG``, else ``$XDG_CONFIG_HOME/batchtool/config.toml`` (``~/.config``)."""
    if env := os.environ.get(ENV_CONFIG):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "batchtool" / "config.toml"


@dataclass(frozen=True)
class Credentials:
    """Where to send and as whom. ``repr`` never shows the key."""

    base_url: str
    api_username: str
    api_key: str = field(repr=False)


def _load_profile(name: str, path: Path) -> Mapping[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"profile '{name}': config file {path} does not exist — create it or pass --config PATH"
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"config file {path}: cannot be read ({exc}) — fix or replace it"
        ) from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or name not in profiles:
        known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) else ""
        hint = f"known profiles: {known}" if known else "it defines no [profiles.NAME] table"
        raise UsageError(f"profile '{name}' not found in {path} — {hint}")
    profile = profiles[name]
    if not isinstance(profile, dict):
        raise UsageError(f"config file {path}: [profiles.{name}] must be a table")
    return profile


def resolve_credentials(
    *,
    base_url: str | None = None,
    api_username: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    config_path: Path | None = None,
    allow_insecure_http: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Options first, then ``BATCHTOOL_*`` environment variables, then the profile's values."""
    env = os.environ if environ is None else environ
    prof: Mapping[str, object] = {}
    if profile:
        prof = _load_profile(profile, config_path or default_config_path())

    def pick(given: str | None, env_name: str, key: str) -> str | None:
        if given:
            return given
        if env.get(env_name):
            return env[env_name]
        value = prof.get(key)
        return value if isinstance(value, str) and value else None

    url = pick(base_url, ENV_BASE_URL, "base_url")
    user = pick(api_username, ENV_API_USERNAME, "api_username")
    key = pick(api_key, ENV_API_KEY, "api_key")
    if not key and isinstance(prof.get("api_key_env"), str):
        key = env.get(str(prof["api_key_env"])) or None
        if not key:
            raise UsageError(
                f"profile '{profile}' reads the api key from ${prof['api_key_env']}, "
                "which is not set — export it"
            )
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
    check_base_url(url, allow_insecure_http=allow_insecure_http)
    return Credentials(base_url=url, api_username=user, api_key=key)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, allow_insecure_http: bool = False) -> None:
    """Refuse non-http(s) URLs, and plain http to another host (the key would travel in clear)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"base URL '{url}' is not an http(s) URL — give the installation's root, "
            "e.g. https://affiliates.example.com"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise UsageError(
            f"base URL '{url}' is plain http: the api key would cross the network in clear — "
            "use https, or pass --allow-insecure-http if you really mean it"
        )
