"""The simulator's HTTP application: the customer API's PATCH endpoints over a Store, with faults.

Routes:

- ``PATCH /api/customer/{set_customer_details,lock,unlock,forget}`` – the API as the vendor's pages
  describe it (DESIGN §1): ``api-username``/``api-key`` headers, a form-urlencoded body, exactly one
  lookup parameter, success is HTTP 200 with the JSON body ``true``; errors are an HTTP status and
  ``{"status": "error", "message": "..."}``.
- ``GET /_sim/log``, ``GET /_sim/customers/{customer_id}`` and ``GET /_sim/stats`` (answers counted
  by status, for benchmarks) – simulator-only admin views for tests running in another process.
  **The real API has no such paths.**

With a capacity model (``capacity``), a request first needs a worker: it may wait in the queue,
or is answered 503 at once when that is full, before any fault is drawn or the API runs.

Choices where the vendor's pages are silent (the simulator is strict so client bugs show up):
a parameter sent twice, an empty value (to clear a field a client sends ``REMOVE``), a malformed
or non-UTF-8 body, and a malformed ``email`` are 400; a locked customer refuses only
``set_customer_details`` (409); ``forget`` keeps the lookup ids (so it stays idempotent) and
clears email, which ``keep`` cannot name. Passwords are masked as ``***`` in the request log.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from batchtool import api
from batchtool.simulator.capacity import OVER_CAPACITY_PAGE, Capacity
from batchtool.simulator.faults import Decision, Fault, FaultConfig, FaultInjector
from batchtool.simulator.store import Store

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
DROPPED: Final = "dropped"
#: The log entry's ``fault`` for a request refused because workers and queue were full.
OVER_CAPACITY: Final = "over_capacity"

_TRUE_BODY: Final = b"true"
_JSON: Final = "application/json"
_BAD_GATEWAY_PAGE: Final = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
_FAULT_STATUS: Final[dict[Fault, int]] = {
    Fault.RATE_LIMITED: 429,
    Fault.ERROR_500: 500,
    Fault.ERROR_502: 502,
    Fault.ERROR_503: 503,
}
_KEEP_NAMES: Final = frozenset(api.KEEP_NAMES)
# Guards the parser against absurd bodies; the API has at most 17 parameters.
_MAX_FIELDS: Final = 100


@dataclass(slots=True)
class LogEntry:
    """One API request as the simulator saw it, appended when it arrives.

    ``status`` is the HTTP status answered, or ``"dropped"`` when the connection was closed
    without an answer (0 while the request is still being handled). ``applied`` tells whether
    the customer store was changed. ``form`` has ``password`` masked.
    """

    time: float
    operation: str
    form: dict[str, str]
    lookup: tuple[str, str] | None
    status: int | str
    applied: bool
    fault: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "operation": self.operation,
            "form": self.form,
            "lookup": list(self.lookup) if self.lookup is not None else None,
            "status": self.status,
            "applied": self.applied,
            "fault": self.fault,
        }


class _Rejected(Exception):
    """A request the API refuses: becomes an error answer with this status and message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps({"status": "error", "message": message}, separators=(",", ":"))
    return web.Response(body=body.encode(), status=status, content_type=_JSON, headers=headers)


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


class SimulatorApp:
    """Request handling state: the store, credentials, faults, capacity and the request log."""

    def __init__(
        self,
        store: Store,
        *,
        faults: FaultConfig,
        api_username: str,
        api_key: str,
        log_requests: bool = True,
        log_limit: int | None = None,
        capacity: Capacity | None = None,
    ) -> None:
        if log_limit is not None and log_limit < 1:
            raise ValueError(f"log_limit must be 1 or more (or None), not {log_limit}")
        self.store = store
        self._username = api_username.encode()
        self._key = api_key.encode()
        self.log_requests = log_requests
        # A deque so a capped log drops its oldest entries in O(1).
        self._log: deque[LogEntry] = deque(maxlen=log_limit)
        self.requests_served = 0
        #: Answers sent, by HTTP status (or ``"dropped"``), whether the log is kept or not.
        self.statuses: Counter[int | str] = Counter()
        self.capacity = capacity
        self._injector = FaultInjector(faults)
        # Handlers sleeping for latency or a slow fault; stopping cancels them rather than waiting.
        self._sleepers: set[asyncio.Task[Any]] = set()
        self._closing = False

    @property
    def faults(self) -> FaultConfig:
        return self._injector.config

    @faults.setter
    def faults(self, config: FaultConfig) -> None:
        # A new injector restarts the seeded sequence: setting the same config replays it.
        self._injector = FaultInjector(config)

    @property
    def log(self) -> list[LogEntry]:
        """A snapshot of the request log, oldest first."""
        return list(self._log)

    def clear_log(self) -> None:
        self._log.clear()

    def close(self) -> None:
        """Cut sleeping handlers short (their connections close unanswered), as a dying server."""
        self._closing = True
        for task in self._sleepers:
            task.cancel()

    async def _sleep(self, seconds: float) -> None:
        if self._closing:
            raise asyncio.CancelledError
        task = asyncio.current_task()
        assert task is not None
        self._sleepers.add(task)
        try:
            await asyncio.sleep(seconds)
        finally:
            self._sleepers.discard(task)

    def make_app(self) -> web.Application:
        self._closing = False
        if self.capacity is not None:
            self.capacity.reset()
        app = web.Application()
        app.router.add_route("*", api.API_PREFIX + "{operation}", self.handle)
        app.router.add_get("/_sim/log", self._admin_log)
        app.router.add_get("/_sim/customers/{customer_id}", self._admin_customer)
        app.router.add_get("/_sim/stats", self._admin_stats)
        return app

    # The API

    async def handle(self, request: web.Request) -> web.StreamResponse:
        capacity = self.capacity
        if capacity is None:
            return await self._serve(request)
        async with capacity.admit() as admitted:
            if admitted:
                return await self._serve(request)
        return await self._refuse_over_capacity(request)

    async def _refuse_over_capacity(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        entry = LogEntry(
            time.time(), request.match_info["operation"], {}, None, 503, False, OVER_CAPACITY
        )
        self.requests_served += 1
        if self.log_requests:
            self._log.append(entry)
            self._note_form(entry, request, body)
        self.statuses[503] += 1
        return web.Response(body=OVER_CAPACITY_PAGE, status=503, content_type="text/html")

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        operation = request.match_info["operation"]
        body = await request.read()
        decision = self._injector.decide()
        entry = LogEntry(time.time(), operation, {}, None, 0, False, decision.fault)
        self.requests_served += 1
        if self.log_requests:
            self._log.append(entry)
        response = await self._answer(request, operation, body, decision, entry)
        self.statuses[entry.status] += 1
        return response

    async def _answer(
        self,
        request: web.Request,
        operation: str,
        body: bytes,
        decision: Decision,
        entry: LogEntry,
    ) -> web.StreamResponse:
        if decision.delay_s:
            await self._sleep(decision.delay_s)

        fault = decision.fault
        if fault is not None and fault is not Fault.DROP_AFTER and fault is not Fault.SLOW:
            # Faults that pre-empt the API: record what was sent, change nothing.
            self._note_form(entry, request, body)
            if fault is Fault.DROP_BEFORE:
                return self._drop(request, entry)
            status = _FAULT_STATUS[fault]
            entry.status = status
            if fault is Fault.ERROR_502:
                return web.Response(body=_BAD_GATEWAY_PAGE, status=502, content_type="text/html")
            headers = (
                {"Retry-After": self.faults.retry_after_header}
                if fault is Fault.RATE_LIMITED
                else None
            )
            return error_response(status, f"simulated {status} fault", headers)

        try:
            self._process(request, operation, body, entry)
        except _Rejected as rejected:
            response = error_response(rejected.status, rejected.message, rejected.headers)
        else:
            response = web.Response(body=_TRUE_BODY, content_type=_JSON)
        if fault is Fault.DROP_AFTER:
            return self._drop(request, entry)
        entry.status = response.status
        if fault is Fault.SLOW:
            await self._sleep(self.faults.slow_s)
        return response

    def _drop(self, request: web.Request, entry: LogEntry) -> web.StreamResponse:
        entry.status = DROPPED
        transport = request.transport
        if transport is not None:
            transport.close()
        # aiohttp's attempt to write this to the closed transport is its "client went away" path:
        # nothing reaches the client and nothing is logged.
        return web.Response(status=204)

    def _note_form(self, entry: LogEntry, request: web.Request, body: bytes) -> None:
        """Fill the log entry's form and lookup on a best-effort basis (for pre-empting faults)."""
        try:
            form = self._parse_form(request, body)
        except _Rejected:
            return
        entry.form = _masked(form)
        present = [k for k in api.LOOKUP_KEYS if k in form]
        if len(present) == 1:
            entry.lookup = (present[0], form[present[0]])

    def _process(self, request: web.Request, operation: str, body: bytes, entry: LogEntry) -> None:
        """Validate the request and apply it to the store; raise _Rejected to refuse it."""
        if operation not in api.OPERATION_PARAMS:
            raise _Rejected(404, f"unknown API operation {operation!r}")
        if request.method != "PATCH":
            raise _Rejected(405, f"{request.method} is not allowed; use PATCH", {"Allow": "PATCH"})
        self._authenticate(request)
        form = self._parse_form(request, body)
        entry.form = _masked(form)

        allowed_lookups = api.OPERATION_LOOKUPS[operation]
        present = [k for k in api.LOOKUP_KEYS if k in form]
        if not present:
            raise _Rejected(
                400, f"You need to pass either {' or '.join(allowed_lookups)} for customer lookup"
            )
        if len(present) > 1:
            raise _Rejected(400, f"pass exactly one lookup parameter, not {_names(present)}")
        lookup_key = present[0]
        lookup_value = form[lookup_key]
        entry.lookup = (lookup_key, lookup_value)
        if lookup_key not in allowed_lookups:
            raise _Rejected(
                400,
                f"{operation} cannot look customers up by {lookup_key}; "
                f"use {' or '.join(allowed_lookups)}",
            )

        accepted = api.OPERATION_PARAMS[operation]
        params = {k: v for k, v in form.items() if k != lookup_key}
        unknown = [k for k in params if k not in accepted]
        if unknown:
            raise _Rejected(400, f"unknown parameter(s) for {operation}: {_names(unknown)}")
        empty = [k for k, v in form.items() if v == ""]
        if empty:
            raise _Rejected(
                400, f"empty value for {_names(empty)}; to clear a field send {api.REMOVE}"
            )

        keep: frozenset[str] = frozenset()
        if operation == api.SET_CUSTOMER_DETAILS:
            if not params:
                raise _Rejected(400, "At least one optional parameter must be passed in")
            if params.get("password") == api.REMOVE:
                raise _Rejected(400, f"password cannot be removed with {api.REMOVE}")
            email = params.get("email")
            if email is not None and email != api.REMOVE and not _plausible_email(email):
                raise _Rejected(400, f"email {email!r} is not a valid email address")
        elif operation == api.FORGET and api.KEEP in params:
            names = [n.strip() for n in params[api.KEEP].split(",") if n.strip()]
            bad = [n for n in names if n not in _KEEP_NAMES]
            if bad:
                raise _Rejected(400, f"keep names unknown field(s) or table(s): {_names(bad)}")
            keep = frozenset(names)

        customer = self.store.find(lookup_key, lookup_value)
        if customer is None:
            raise _Rejected(404, f"customer not found ({lookup_key}={lookup_value})")

        if operation == api.SET_CUSTOMER_DETAILS:
            if customer.locked:
                raise _Rejected(409, "customer is locked; unlock it before editing")
            customer.set_details(params)
        elif operation == api.LOCK:
            customer.locked = True
        elif operation == api.UNLOCK:
            customer.locked = False
        else:
            customer.forget(keep)
        entry.applied = True

    def _authenticate(self, request: web.Request) -> None:
        username = request.headers.get("api-username")
        key = request.headers.get("api-key")
        if not username or not key:
            missing = [h for h, v in (("api-username", username), ("api-key", key)) if not v]
            raise _Rejected(401, f"missing authentication header(s): {', '.join(missing)}")
        # Both compared in constant time, and both always compared, so timing says nothing.
        user_ok = hmac.compare_digest(username.encode(), self._username)
        key_ok = hmac.compare_digest(key.encode(), self._key)
        if not (user_ok and key_ok):
            raise _Rejected(401, "invalid api-username or api-key")

    def _parse_form(self, request: web.Request, body: bytes) -> dict[str, str]:
        if request.content_type != FORM_CONTENT_TYPE:
            sent = request.headers.get("Content-Type", "no Content-Type")
            raise _Rejected(415, f"the body must be {FORM_CONTENT_TYPE}, not {sent}")
        charset = request.charset
        if charset is not None and charset.lower() not in ("utf-8", "utf8"):
            raise _Rejected(415, f"the body must be UTF-8, not {charset}")
        try:
            pairs = parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=True,
                errors="strict",
                max_num_fields=_MAX_FIELDS,
            )
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            raise _Rejected(400, f"malformed form body: {exc}") from None
        form = dict(pairs)
        if len(form) != len(pairs):
            counts: dict[str, int] = {}
            for k, _ in pairs:
                counts[k] = counts.get(k, 0) + 1
            repeated = [k for k, n in counts.items() if n > 1]
            raise _Rejected(400, f"parameter(s) given more than once: {_names(repeated)}")
        return form

    # Admin views (not part of the real API)

    async def _admin_log(self, request: web.Request) -> web.Response:
        return web.json_response([e.to_json() for e in self._log])

    async def _admin_stats(self, request: web.Request) -> web.Response:
        statuses = sorted(self.statuses.items(), key=lambda item: str(item[0]))
        return web.json_response(
            {
                "requests": self.requests_served,
                "statuses": {str(status): n for status, n in statuses},
                "capacity": self.capacity.to_json() if self.capacity is not None else None,
            }
        )

    async def _admin_customer(self, request: web.Request) -> web.Response:
        customer = self.store.get(request.match_info["customer_id"])
        if customer is None:
            return error_response(404, "customer not found")
        return web.json_response(customer.to_json())


def _masked(form: dict[str, str]) -> dict[str, str]:
    if "password" not in form:
        return form
    return {k: (api.MASK if k in api.SECRET_COLUMNS else v) for k, v in form.items()}


def _plausible_email(value: str) -> bool:
    # Deliberately loose: the client validates properly (DESIGN §3); this only catches garbage.
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain.strip(".") and not any(c.isspace() for c in value))
