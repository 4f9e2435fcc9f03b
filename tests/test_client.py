"""The client: the vendor API's exact wire format, and how every kind of answer is classified."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core
from yarl import URL

from batchtool import model
from batchtool.client import Client, classify, make_session, parse_retry_after

KEY = "44b5498dbcb481a0d00b404c0169af62"  # the vendor manuals' example key
USER = "offerit_admin"
BASE = "https://affiliates.example.com"
UNLOCK_URL = f"{BASE}/api/customer/unlock"

DETAILS = model.Request(
    row=1,
    operation="set_customer_details",
    lookup=("customer_id", "191"),
    form=(
        ("customer_id", "191"),
        ("firstname", "Test"),
        ("zip", "06666"),
        ("email", "test+1@testmail.com"),
        ("address1", "1 Rue de l'Été & Co = 50%"),
        ("password", " spaced pass "),
    ),
)
UNLOCK = model.Request(
    row=2, operation="unlock", lookup=("customer_id", "191"), form=(("customer_id", "191"),)
)


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with make_session(4, 30.0) as s:
        yield s


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without aiohttp 3.14's new ``stream_writer``
    argument (pnuckowski/aioresponses#289); a finished upload of nothing stands in for it."""

    def __init__(self, *args: Any, stream_writer: Any = None, **kwargs: Any) -> None:
        done: Any = stream_writer or SimpleNamespace(output_size=0)
        super().__init__(*args, stream_writer=done, **kwargs)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Any:
    if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", _CompatResponse)
    with aioresponses() as m:
        yield m


def only_call(mocked: Any) -> tuple[str, URL, dict[str, Any]]:
    calls = [(key, call) for key, calls in mocked.requests.items() for call in calls]
    assert len(calls) == 1, calls
    (method, url), call = calls[0]
    return method, url, call.kwargs


# -- wire format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "https://affiliates.example.com",
        "https://affiliates.example.com/",
        "https://affiliates.example.com/api",
        "https://affiliates.example.com/api/",
    ],
)
async def test_wire_format(session: aiohttp.ClientSession, mocked: Any, base_url: str) -> None:
    mocked.patch(f"{BASE}/api/customer/set_customer_details", body="true")
    attempt = await Client(session, base_url, USER, KEY).send(DETAILS)

    assert attempt == model.Attempt(ok=True, http_status=200, error=None)
    method, url, kwargs = only_call(mocked)
    assert method == "PATCH"
    assert str(url) == "https://affiliates.example.com/api/customer/set_customer_details"
    headers = {k.lower(): v for k, v in kwargs["headers"].items()}
    assert headers["api-key"] == KEY
    assert headers["api-username"] == USER
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    # Exactly the planned fields, in order, values untouched (leading zero, spaces, symbols).
    assert parse_qsl(kwargs["data"].decode("ascii"), keep_blank_values=True) == list(DETAILS.form)
    assert kwargs["allow_redirects"] is False
    assert not kwargs.get("params") and not kwargs.get("json")


async def test_installation_under_a_path(session: aiohttp.ClientSession, mocked: Any) -> None:
    mocked.patch("https://example.com/nats/api/customer/unlock", body="true")
    assert (await Client(session, "https://example.com/nats/api", USER, KEY).send(UNLOCK)).ok


async def test_bytes_on_the_wire() -> None:
    """Against a real server on 127.0.0.1: what aioresponses cannot see (encoding, cookies)."""
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, dict(request.headers), await request.read()))
        response = web.Response(text="true", content_type="application/json")
        response.set_cookie("PHPSESSID", "abc")  # must not ride along on the next request
        return response

    app = web.Application()
    app.router.add_route("PATCH", "/api/customer/{operation}", handler)
    async with TestServer(app, host="127.0.0.1") as server, make_session(2, 5.0) as session:
        client = Client(session, str(server.make_url("/")), USER, KEY)
        assert (await client.send(DETAILS)).ok
        assert (await client.send(UNLOCK)).ok

    (method, path, headers, body), (_, path2, headers2, body2) = seen
    assert method == "PATCH"
    assert path == "/api/customer/set_customer_details"
    assert path2 == "/api/customer/unlock"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["api-key"] == KEY and headers["api-username"] == USER
    assert body == (
        b"customer_id=191&firstname=Test&zip=06666&email=test%2B1%40testmail.com"
        b"&address1=1+Rue+de+l%27%C3%89t%C3%A9+%26+Co+%3D+50%25&password=+spaced+pass+"
    )
    assert body2 == b"customer_id=191"
    assert "Cookie" not in headers2
    assert headers["User-Agent"].startswith("batchtool")


async def test_redirect_is_reported_not_followed(
    session: aiohttp.ClientSession, mocked: Any
) -> None:
    mocked.patch(UNLOCK_URL, status=301, headers={"Location": "https://new.example.com/api/x"})
    attempt = await Client(session, BASE, USER, KEY).send(UNLOCK)
    assert not attempt.ok and not attempt.retryable
    assert attempt.error == (
        "HTTP 301: redirected to https://new.example.com/api/x (use that address as the base URL)"
    )
    assert len(mocked.requests) == 1


async def test_make_session() -> None:
    async with make_session(7, 12.5) as session:
        connector = session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert connector.limit == 7 and connector.limit_per_host == 7
        assert session.timeout.total == 12.5
        assert connector._ssl is True  # certificates verified


async def test_the_key_stays_out_of_repr(session: aiohttp.ClientSession) -> None:
    assert KEY not in repr(Client(session, BASE, USER, KEY))


# -- classification ------------------------------------------------------------------------

HTML_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'>"
    "<title>503 Service   Temporarily\n Unavailable</title><style>"
    + "body{color:red}" * 200
    + "</style></head><body><h1>Service Unavailable</h1>"
    + "<p>lorem ipsum</p>" * 200
    + "</body></html>"
)
HTML_HEADING_ONLY = "<html><body><center><h1>502 Bad Gateway</h1></center><hr>nginx</body></html>"
LONG_TEXT = "Fatal error:\n  something broke " + "x" * 2000


def case(
    status: int,
    body: str,
    *,
    ok: bool = False,
    error: str | None = None,
    retryable: bool = False,
    auth: bool = False,
    content_type: str = "application/json",
    id: str,
) -> Any:
    return pytest.param(status, body, content_type, ok, error, retryable, auth, id=id)


CLASSIFICATION = [
    case(200, "true", ok=True, id="true"),
    case(200, " true\n", ok=True, id="true-with-whitespace"),
    case(201, "true", ok=True, id="201-true"),
    case(200, "false", error="HTTP 200: server answered false", id="false"),
    case(200, "", error="HTTP 200: empty answer, expected true", id="200-empty"),
    case(200, '"true"', error="HTTP 200: true", id="true-as-a-string"),
    case(200, "1", error="HTTP 200: server answered 1", id="200-number"),
    case(
        400,
        '{"message": "Customer not found", "code": 12}',
        error="HTTP 400: Customer not found",
        id="json-message",
    ),
    case(
        200,
        '{"error": "Customer is locked"}',
        error="HTTP 200: Customer is locked",
        id="json-error",
    ),
    case(
        422,
        '{"error": {"message": "bad email"}}',
        error="HTTP 422: bad email",
        id="json-nested-error",
    ),
    case(
        503,
        HTML_PAGE,
        error="HTTP 503: 503 Service Temporarily Unavailable",
        retryable=True,
        content_type="text/html",
        id="html-title",
    ),
    case(
        502,
        HTML_HEADING_ONLY,
        error="HTTP 502: 502 Bad Gateway",
        retryable=True,
        content_type="text/html",
        id="html-heading",
    ),
    case(
        500,
        "<html></html>",
        error="HTTP 500: Internal Server Error",
        retryable=True,
        content_type="text/html",
        id="html-nothing-to-say",
    ),
    case(
        500,
        LONG_TEXT,
        error="HTTP 500: Fatal error: something broke " + "x" * 170 + "…",
        retryable=True,
        content_type="text/plain",
        id="plain-text-excerpt",
    ),
    case(404, "", error="HTTP 404: Not Found", id="404-empty"),
    case(404, '{"message":"No such customer"}', error="HTTP 404: No such customer", id="404"),
    case(
        401, '{"message":"Invalid api key"}', error="HTTP 401: Invalid api key", auth=True, id="401"
    ),
    case(
        403,
        "Forbidden",
        error="HTTP 403: Forbidden",
        auth=True,
        content_type="text/plain",
        id="403",
    ),
    *(
        case(
            status,
            '{"message":"busy"}',
            error=f"HTTP {status}: busy",
            retryable=True,
            id=f"retryable-{status}",
        )
        for status in (408, 429, 500, 502, 503, 504)
    ),
    case(501, '{"message":"nope"}', error="HTTP 501: nope", id="501-not-retryable"),
]


@pytest.mark.parametrize(
    ("status", "body", "content_type", "ok", "error", "retryable", "auth"), CLASSIFICATION
)
async def test_classification(
    session: aiohttp.ClientSession,
    mocked: Any,
    status: int,
    body: str,
    content_type: str,
    ok: bool,
    error: str | None,
    retryable: bool,
    auth: bool,
) -> None:
    mocked.patch(UNLOCK_URL, status=status, body=body, content_type=content_type)
    attempt = await Client(session, BASE, USER, KEY).send(UNLOCK)
    assert attempt == model.Attempt(
        ok=ok, http_status=status, error=error, retryable=retryable, auth_refused=auth
    )
    # classify() alone agrees with send()'s fast path.
    assert classify(status, body.encode(), {}) == attempt
    if attempt.error:
        assert "\n" not in attempt.error and len(attempt.error) <= 220


@pytest.mark.parametrize(
    ("exception", "error", "retryable"),
    [
        pytest.param(
            aiohttp.ServerDisconnectedError(),
            "connection lost before an answer (ServerDisconnectedError)",
            True,
            id="server-disconnected",
        ),
        pytest.param(
            aiohttp.ClientOSError(104, "Connection reset by peer"),
            "connection lost before an answer (ClientOSError)",
            True,
            id="connection-reset",
        ),
        pytest.param(
            aiohttp.ClientConnectionError("Connection refused"),
            "connection lost before an answer (ClientConnectionError)",
            True,
            id="connection-error",
        ),
        pytest.param(
            aiohttp.ClientPayloadError("Response payload is not completed"),
            "connection lost before an answer (ClientPayloadError)",
            True,
            id="truncated-body",
        ),
        pytest.param(TimeoutError(), "timed out after 30 s", True, id="timeout"),
        pytest.param(
            aiohttp.ConnectionTimeoutError(), "timed out after 30 s", True, id="connect-timeout"
        ),
    ],
)
async def test_network_trouble_is_an_attempt(
    session: aiohttp.ClientSession,
    mocked: Any,
    exception: Exception,
    error: str,
    retryable: bool,
) -> None:
    mocked.patch(UNLOCK_URL, exception=exception)
    attempt = await Client(session, BASE, USER, KEY).send(UNLOCK)
    assert attempt == model.Attempt(ok=False, http_status=None, error=error, retryable=retryable)


async def test_unreachable_host_is_retryable(session: aiohttp.ClientSession) -> None:
    # Nothing listens on port 9 of 127.0.0.1: a real connection refusal, no mock.
    attempt = await Client(session, "http://127.0.0.1:9", USER, KEY).send(UNLOCK)
    assert not attempt.ok and attempt.retryable and attempt.http_status is None
    assert attempt.error is not None and attempt.error.startswith("could not connect: ")


# -- Retry-After ---------------------------------------------------------------------------


async def test_retry_after_seconds(session: aiohttp.ClientSession, mocked: Any) -> None:
    mocked.patch(
        UNLOCK_URL, status=429, body='{"message":"slow down"}', headers={"Retry-After": "120"}
    )
    attempt = await Client(session, BASE, USER, KEY).send(UNLOCK)
    assert attempt.retryable and attempt.retry_after == 120.0
    assert attempt.error == "HTTP 429: slow down"


async def test_retry_after_http_date(session: aiohttp.ClientSession, mocked: Any) -> None:
    when = datetime.now(UTC) + timedelta(seconds=90)
    mocked.patch(UNLOCK_URL, status=503, headers={"Retry-After": format_datetime(when, True)})
    attempt = await Client(session, BASE, USER, KEY).send(UNLOCK)
    assert attempt.retry_after is not None and 85 <= attempt.retry_after <= 90


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("0", 0.0, id="zero"),
        pytest.param(" 7 ", 7.0, id="spaces"),
        pytest.param("1.5", 1.5, id="fraction"),
        pytest.param("-3", 0.0, id="negative"),
        pytest.param("Wed, 21 Oct 2015 07:28:30 GMT", 30.0, id="http-date"),
        pytest.param("Wed, 21 Oct 2015 07:27:00 GMT", 0.0, id="date-in-the-past"),
        pytest.param("Wednesday, 21-Oct-15 07:28:30 GMT", 30.0, id="rfc850-date"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param("nan", None, id="nan"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


def test_retry_after_header_name_is_case_insensitive_for_plain_dicts() -> None:
    assert classify(503, b"", {"retry-after": "4"}).retry_after == 4.0


async def test_an_invalid_url_error_and_the_repr_hide_credentials(
    session: aiohttp.ClientSession, mocked: Any
) -> None:
    with_secret = URL("https://u:PASS-w0rd@affiliates.example.com/api/customer/unlock")
    mocked.patch(f"{BASE}/api/customer/unlock", exception=aiohttp.InvalidURL(with_secret))
    attempt = await Client(session, BASE, USER, KEY).send(UNLOCK)
    assert attempt.error == "invalid URL: https://***@affiliates.example.com/api/customer/unlock"
    client = Client(session, "https://u:PASS-w0rd@affiliates.example.com", USER, KEY)
    assert repr(client) == "Client(base_url='https://***@affiliates.example.com')"
