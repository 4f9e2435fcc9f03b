"""One request -> one classified Attempt: the wire format of the customer API and nothing else.

``Client.send`` speaks HTTP exactly as the vendor's pages describe (``PATCH``, a form body,
``api-key``/``api-username`` headers) and turns whatever comes back, network trouble included,
into a ``model.Attempt``. It never raises for HTTP or network problems; retrying, ordering and
stopping belong to ``dispatch``.
"""

from __future__ import annotations

import html
import json
import math
import re
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from importlib import metadata
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from batchtool import api, model
from batchtool.network import explain_certificate_error, explain_handshake_error
from batchtool.urls import masked

#: Statuses worth sending again: the server or something in front of it was briefly unable.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses that mean the credentials are wrong for every row.
AUTH_REFUSED_STATUSES = frozenset({401, 403})

#: Longest server message kept in an error, so a results cell stays readable.
MESSAGE_MAX_CHARS = 200

_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_WHITESPACE = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]*>")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(rb"<h([1-6])[^>]*>(.*?)</h\1\s*>", re.IGNORECASE | re.DOTALL)


def _user_agent() -> str:
    try:
        return f"batchtool/{metadata.version('batchtool')}"
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "batchtool"


def make_session(
    concurrency: int,
    timeout_s: float,
    *,
    ssl_context: ssl.SSLContext | None = None,
    proxy: str | None = None,
) -> aiohttp.ClientSession:
    """The run's one HTTP session: ``concurrency`` connections, TLS verified, a total timeout.

    ``ssl_context``: the run's trust and client certificate (``Network.ssl_context()``);
    None: the system's trust store. ``proxy``: every request goes through it (https with
    CONNECT); the environment's proxy variables are not read here, ``config`` decides.
    Must be called with an event loop running; the caller closes it.
    """
    connector = aiohttp.TCPConnector(
        limit=concurrency,
        limit_per_host=concurrency,
        # Certificates are always verified: the api key travels in a header.
        ssl=ssl_context if ssl_context is not None else True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        proxy=proxy,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        # Each request stands alone: a cookie the server sets must not ride along on the
        # next row, and skipping the jar saves work on every response.
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": _user_agent()},
    )


class Client:
    """Sends planned requests to one installation with one set of credentials."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, api_username: str, api_key: str
    ) -> None:
        self._session = session
        self._base_url = base_url
        self._headers = {
            "api-key": api_key,
            "api-username": api_username,
            "Content-Type": _FORM_CONTENT_TYPE,
        }
        # Parsed once per operation: building a URL from a string costs more than the lookup.
        self._urls: dict[str, URL] = {}
        total = session.timeout.total
        self._timeout_error = f"timed out after {total:g} s" if total else "timed out"
        # Attempts are immutable, so the common answer is built once per status.
        self._ok: dict[int, model.Attempt] = {}

    def __repr__(self) -> str:
        # Never show the api key, even in a traceback or a debugger.
        return f"Client(base_url={masked(self._base_url)!r})"

    def _url(self, operation: str) -> URL:
        url = self._urls.get(operation)
        if url is None:
            url = self._urls[operation] = URL(api.endpoint_url(self._base_url, operation))
        return url

    async def send(self, request: model.Request) -> model.Attempt:
        """Send one request and classify its answer; network trouble becomes a failed Attempt."""
        url = self._url(request.operation)
        body_out = urlencode(request.form).encode("ascii")
        try:
            async with self._session.patch(
                url,
                data=body_out,
                headers=self._headers,
                # A redirect would re-send the api key to wherever it points, and a PATCH
                # turned into a GET would report success for nothing: report it instead.
                allow_redirects=False,
            ) as response:
                body = await response.read()
                status = response.status
                if body == b"true" and 200 <= status < 300:
                    ok = self._ok.get(status)
                    if ok is None:
                        ok = self._ok[status] = model.Attempt(
                            ok=True, http_status=status, error=None
                        )
                    return ok
                return classify(status, body, response.headers)
        except TimeoutError:
            # Before ClientError: aiohttp's timeout errors are both.
            return model.Attempt(
                ok=False, http_status=None, error=self._timeout_error, retryable=True
            )
        except aiohttp.ClientSSLError as exc:
            # A certificate will not fix itself between attempts.
            return model.Attempt(ok=False, http_status=None, error=_tls_error(exc))
        except aiohttp.ClientHttpProxyError as exc:
            return _proxy_refused(exc)
        except aiohttp.ClientProxyConnectionError as exc:
            return model.Attempt(
                ok=False,
                http_status=None,
                error=f"could not connect to the proxy: {_one_line(str(exc.os_error))}",
                retryable=True,
            )
        except aiohttp.ClientConnectorError as exc:
            return model.Attempt(
                ok=False,
                http_status=None,
                error=f"could not connect: {_one_line(str(exc))}",
                retryable=True,
            )
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            # The error names the URL, credentials and all: said without them.
            return model.Attempt(
                ok=False, http_status=None, error=f"invalid URL: {masked(_one_line(str(exc)))}"
            )
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            return model.Attempt(
                ok=False,
                http_status=None,
                error=f"connection lost before an answer ({type(exc).__name__})",
                retryable=True,
            )
        except aiohttp.ClientError as exc:
            # A malformed answer (oversized headers, bad status line): sending again gets the same.
            detail = _one_line(str(exc))
            return model.Attempt(
                ok=False,
                http_status=None,
                error=f"unreadable answer ({type(exc).__name__}: {detail})",
            )


def _tls_error(exc: aiohttp.ClientSSLError) -> str:
    """What went wrong in the handshake, in words (never a raw OpenSSL string alone)."""
    host = exc.host
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        error = exc.certificate_error
        if isinstance(error, ssl.SSLCertVerificationError):
            return explain_certificate_error(error, host)
    if isinstance(exc.os_error, ssl.SSLError):
        return explain_handshake_error(exc.os_error, host)
    return f"TLS handshake with {host} failed ({_one_line(str(exc))})"


def _proxy_refused(exc: aiohttp.ClientHttpProxyError) -> model.Attempt:
    """The proxy answered CONNECT with an error: the installation never saw the request."""
    hint = ""
    if exc.status == 407:
        hint = " — give the proxy's user and password in its URL: http://USER:PASSWORD@HOST:PORT"
    elif exc.status == 403:
        hint = " — the proxy does not allow this host; ask its administrators"
    reason = _one_line(exc.message or _reason(exc.status))
    return model.Attempt(
        ok=False,
        http_status=None,
        error=f"the proxy refused the connection: {exc.status} {reason}{hint}",
        retryable=exc.status in RETRYABLE_STATUSES,
    )


def classify(status: int, body: bytes, headers: Mapping[str, str]) -> model.Attempt:
    """Classify one HTTP answer: success only for 2xx with a JSON body of exactly ``true``."""
    if 200 <= status < 300 and (body == b"true" or body.strip() == b"true"):
        return model.Attempt(ok=True, http_status=status, error=None)
    message = _server_message(status, body, headers)
    return model.Attempt(
        ok=False,
        http_status=status,
        error=f"HTTP {status}: {message}",
        retryable=status in RETRYABLE_STATUSES,
        auth_refused=status in AUTH_REFUSED_STATUSES,
        retry_after=parse_retry_after(_header(headers, "Retry-After")),
    )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (delay-seconds or HTTP date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # aiohttp's headers are case-insensitive; a plain dict (tests, other callers) may not be.
    value = headers.get(name)
    return value if value is not None else headers.get(name.lower())


def _server_message(status: int, body: bytes, headers: Mapping[str, str]) -> str:
    """The server's own words for a non-success answer, one short line."""
    if 300 <= status < 400:
        location = _header(headers, "Location")
        if location:
            return _one_line(f"redirected to {location} (use that address as the base URL)")
    text = body.strip()
    if not text:
        return "empty answer, expected true" if 200 <= status < 300 else _reason(status)
    if text[:1] in b'{["-0123456789' or text in (b"false", b"null", b"true"):
        from_json = _json_message(text)
        if from_json is not None:
            return from_json
    if text[:1] == b"<":
        return _html_message(text) or _reason(status)
    return _one_line(text.decode("utf-8", "replace"))


def _json_message(text: bytes) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if value is None or isinstance(value, bool | int | float):
        return f"server answered {json.dumps(value)}"  # e.g. "server answered false"
    if isinstance(value, str):
        return _one_line(value) or "server answered an empty string"
    if isinstance(value, dict):
        for key in ("message", "error"):
            found = value.get(key)
            if found is None or found == "":
                continue
            if isinstance(found, str):
                return _one_line(found)
            if isinstance(found, dict) and isinstance(found.get("message"), str):
                return _one_line(found["message"])
            return _one_line(json.dumps(found, ensure_ascii=False))
    return _one_line(json.dumps(value, ensure_ascii=False))


def _html_message(text: bytes) -> str | None:
    """An HTML error page's title or first heading, never its markup."""
    head = text[:65536]  # the title is near the top; do not scan a megabyte page
    for pattern, group in ((_TITLE, 1), (_HEADING, 2)):
        match = pattern.search(head)
        if match:
            inner = _TAGS.sub(" ", match.group(group).decode("utf-8", "replace"))
            words = _one_line(html.unescape(inner))
            if words:
                return words
    return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no message"


def _one_line(text: str) -> str:
    line = _WHITESPACE.sub(" ", text).strip()
    if len(line) > MESSAGE_MAX_CHARS:
        line = line[: MESSAGE_MAX_CHARS - 1].rstrip() + "…"
    return line
