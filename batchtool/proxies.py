"""Which proxy a run goes through: ``--proxy``, the profile's ``proxy``, or the environment.

The environment is read as curl and requests read it: ``https_proxy`` / ``HTTPS_PROXY`` for an
``https://`` installation, ``http_proxy`` / ``HTTP_PROXY`` for ``http://`` (lower case wins
when both are set, an empty value is unset), and ``no_proxy`` / ``NO_PROXY`` lists the hosts
to reach directly: ``*`` for all, a name for that host and its subdomains (a leading dot
changes nothing), an IP address or a CIDR range (``10.0.0.0/8``), each optionally with
``:port``. ``ALL_PROXY`` is not read: batchtool speaks to http(s) proxies only, and that
variable usually names a SOCKS one.

A run has one installation, so the choice is made once, before anything is sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from batchtool.errors import UsageError
from batchtool.urls import masked

PROXY_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class ProxyChoice:
    """The proxy to use (None: connect directly) and where it came from (e.g. ``$HTTPS_PROXY``)."""

    url: str | None
    source: str = ""


def normalise_proxy_url(url: str, source: str) -> str:
    """``url`` checked and completed: ``proxy.corp:3128`` means ``http://proxy.corp:3128``.

    Raises :class:`UsageError` naming ``source`` for anything that is not an http(s) proxy.
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text  # as curl and requests read a proxy without a scheme
    example = "give e.g. http://proxy.example.com:3128"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise UsageError(f"proxy '{masked(url)}' from {source} is malformed — {example}") from None
    if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        raise UsageError(
            f"proxy '{masked(url)}' from {source} is not an http:// or https:// proxy URL "
            f"— {example}"
        )
    return text


def choose_proxy(
    base_url: str, *, explicit: str | None, explicit_source: str, environ: Mapping[str, str]
) -> ProxyChoice:
    """The proxy for ``base_url``: ``explicit`` (an option or the profile) wins as given;
    otherwise the environment's, unless ``NO_PROXY`` names the installation's host."""
    if explicit:
        return ProxyChoice(normalise_proxy_url(explicit, explicit_source), explicit_source)
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    found = _env(environ, f"{scheme}_proxy")
    if found is None:
        return ProxyChoice(None)
    name, value = found
    no_proxy = _env(environ, "no_proxy")
    port = parts.port or (443 if scheme == "https" else 80)
    if no_proxy is not None and parts.hostname and bypasses(parts.hostname, port, no_proxy[1]):
        return ProxyChoice(None)
    return ProxyChoice(normalise_proxy_url(value, f"${name}"), f"${name}")


def _env(environ: Mapping[str, str], lower_name: str) -> tuple[str, str] | None:
    for name in (lower_name, lower_name.upper()):
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return None


def bypasses(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY``'s value ``no_proxy`` says to reach ``host`` (``:port``) directly."""
    host = host.strip("[]").rstrip(".").lower()
    address = _ip(host)
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            if _address_matches(address, entry):
                return True
            continue
        name = entry.lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port``, a bare IPv6 address or a CIDR range, port apart."""
    if entry.startswith("["):
        inside, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return inside, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        if port.isdigit():
            return name, int(port)
    return entry, None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _address_matches(address: ipaddress.IPv4Address | ipaddress.IPv6Address, entry: str) -> bool:
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network
