"""How this machine reaches the installation: which CAs to trust, which client certificate to
show, which proxy to go through — and a certificate failure told in words.

``Network`` is the value; ``Network.ssl_context()`` turns it into the one ``ssl.SSLContext``
of a run: the system's trust store plus an optional CA bundle (verification is never switched
off), and an optional client certificate for installations behind mutual TLS. Every file is
checked when the context is built, before anything is sent.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from batchtool.errors import UsageError
from batchtool.proxies import normalise_proxy_url
from batchtool.secret_files import check_private_file
from batchtool.urls import masked

_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_PEM_PRIVATE_KEY = b"PRIVATE KEY-----"
_PEM_ENCRYPTED_KEY = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")

# OpenSSL's verify codes (X509_V_ERR_*), grouped by what a person can do about them.
_SELF_SIGNED = frozenset({18})  # DEPTH_ZERO_SELF_SIGNED_CERT
_UNKNOWN_CA = frozenset({2, 19, 20, 21})  # no trusted issuer / private root in the chain
_WRONG_NAME = frozenset({62, 64})  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
_EXPIRED = frozenset({10})  # CERT_HAS_EXPIRED
_NOT_YET_VALID = frozenset({9})  # CERT_NOT_YET_VALID


@dataclass(frozen=True, repr=False)
class Network:
    """How to reach the installation from here. The defaults: system trust, no proxy.

    ``ca_bundle``: PEM file of CA certificates trusted in addition to the system's.
    ``client_cert`` / ``client_key``: PEM client certificate for mutual TLS, and its private
    key when that is not in the same file (the file holding the key must be ``chmod 600``).
    ``proxy``: an ``http://`` or ``https://`` proxy; https installations are reached through it
    with CONNECT, so the api key stays inside TLS. ``proxy_source`` says where it came from
    (``--proxy``, ``$HTTPS_PROXY``…) for the run's notes. ``repr`` never shows its credentials.
    """

    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    proxy: str | None = None
    proxy_source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name in ("ca_bundle", "client_cert", "client_key"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))  # accept a str from Python callers
        if self.client_key is not None and self.client_cert is None:
            raise UsageError(
                "a client key was given without its certificate — give client_cert "
                "(--client-cert) too"
            )
        if self.proxy is not None:
            source = self.proxy_source or "Network(proxy=…)"
            object.__setattr__(self, "proxy", normalise_proxy_url(self.proxy, source))

    def __repr__(self) -> str:
        shown = [
            f"{name}={value!r}"
            for name, value in (
                ("ca_bundle", self.ca_bundle),
                ("client_cert", self.client_cert),
                ("client_key", self.client_key),
                ("proxy", masked(self.proxy) if self.proxy else None),
            )
            if value is not None
        ]
        return f"Network({', '.join(shown)})"

    @property
    def proxy_note(self) -> str | None:
        """One line for the start of a run: the proxy in use (credentials masked), or None."""
        if self.proxy is None:
            return None
        source = f" (from {self.proxy_source})" if self.proxy_source else ""
        return f"through proxy {masked(self.proxy)}{source}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The run's TLS settings; None when the system's trust store is all there is (the
        HTTP client then uses its own default context, built once at import).

        Raises :class:`UsageError` for a missing or invalid file. Blocking (reads the
        system's trust store and the files): call it once per run.
        """
        if self.ca_bundle is None and self.client_cert is None:
            return None
        context = ssl.create_default_context()  # system trust, certificates and names checked
        context.set_alpn_protocols(["http/1.1"])  # what aiohttp's own default context offers
        if self.ca_bundle is not None:
            _load_ca_bundle(context, self.ca_bundle)
        if self.client_cert is not None:
            _load_client_cert(context, self.client_cert, self.client_key)
        return context


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"{what} {path} cannot be read ({exc.strerror or exc})") from None


def _load_ca_bundle(context: ssl.SSLContext, path: Path) -> None:
    data = _read(path, "CA bundle")
    if _PEM_CERTIFICATE not in data:
        raise UsageError(
            f"CA bundle {path} holds no PEM certificate — give the CA's certificate(s) "
            "in PEM form (-----BEGIN CERTIFICATE-----)"
        )
    try:
        context.load_verify_locations(cadata=data.decode("ascii", "replace"))
    except ssl.SSLError:
        # OpenSSL's reason ("no start line") would not help anyone find the broken part.
        raise UsageError(
            f"CA bundle {path} holds a damaged certificate — give the CA's certificate(s) "
            "in PEM form, as the CA publishes them"
        ) from None


class _EncryptedKey(Exception):
    """OpenSSL asked for a passphrase; a run has nobody to type one."""


def _no_passphrase() -> str:
    raise _EncryptedKey


def _load_client_cert(context: ssl.SSLContext, cert: Path, key: Path | None) -> None:
    cert_data = _read(cert, "client certificate")
    if _PEM_CERTIFICATE not in cert_data:
        raise UsageError(
            f"client certificate {cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )
    key_path, key_what = (key, "client key") if key is not None else (cert, "client certificate")
    key_data = _read(key_path, key_what) if key is not None else cert_data
    if _PEM_PRIVATE_KEY not in key_data:
        hint = "" if key is not None else " — give the key with client_key (--client-key)"
        raise UsageError(f"{key_what} {key_path} holds no PEM private key{hint}")
    if any(marker in key_data for marker in _PEM_ENCRYPTED_KEY):
        raise UsageError(
            f"{key_what} {key_path} is protected by a passphrase, which an unattended run "
            f"cannot type — store it decrypted: openssl pkey -in {key_path} -out KEYFILE, "
            "then chmod 600 KEYFILE"
        )
    check_private_file(key_path, key_what)
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except _EncryptedKey:
        raise UsageError(
            f"{key_what} {key_path} is protected by a passphrase — store it decrypted"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise UsageError(
                f"client key {key_path} does not belong to client certificate {cert}"
            ) from None
        raise UsageError(
            f"client certificate {cert} cannot be loaded ({exc.reason or exc})"
        ) from None
    except OSError as exc:  # the file went away between the checks and the load
        raise UsageError(f"client certificate {cert} cannot be read ({exc})") from None


def explain_certificate_error(error: ssl.SSLCertVerificationError, host: str) -> str:
    """A certificate the system (and ``--ca-bundle``) would not accept, in words, one line."""
    code = error.verify_code
    subject = f"the certificate of {host}"
    if code in _SELF_SIGNED:
        return (
            f"TLS: {subject} is self-signed, so nothing vouches for it — if it is the "
            "installation's own, pass that certificate with --ca-bundle PATH"
        )
    if code in _UNKNOWN_CA:
        return (
            f"TLS: {subject} comes from a CA this machine does not trust (a company or "
            "private CA?) — pass that CA's certificate with --ca-bundle PATH"
        )
    if code in _WRONG_NAME:
        return (
            f"TLS: {subject} is made out to another host name — use the name it was issued "
            "for in the base URL (--ca-bundle cannot fix a wrong name)"
        )
    if code in _EXPIRED:
        return (
            f"TLS: {subject} has expired — the installation must renew it, or this "
            "machine's clock is wrong (--ca-bundle cannot fix this)"
        )
    if code in _NOT_YET_VALID:
        return (
            f"TLS: {subject} is not valid yet — check this machine's clock "
            "(--ca-bundle cannot fix this)"
        )
    detail = error.verify_message or error.reason or "refused"
    return (
        f"TLS: {subject} was refused ({detail}) — if it comes from a private CA, "
        "pass that CA's certificate with --ca-bundle PATH"
    )


def explain_handshake_error(error: ssl.SSLError, host: str) -> str:
    """A TLS handshake that failed for another reason than the certificate, one line."""
    if error.reason == "WRONG_VERSION_NUMBER":
        return (
            f"TLS: {host} did not answer in TLS — if the installation speaks plain http on "
            "that port, its base URL starts with http://"
        )
    return f"TLS handshake with {host} failed ({error.reason or error.strerror or error})"
