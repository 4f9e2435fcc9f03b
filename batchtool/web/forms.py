"""Request bodies, read within limits: each route's limit, small forms, and an upload
streamed to disk.

Every route has a body limit that fits it: ``FORM_BYTES`` unless it says otherwise with
``limit`` (sign-in takes less, the column mapping more); only the upload route
(``takes_upload``) takes ``--max-upload-mb``. ``body_limit_middleware`` answers 413 from
``Content-Length`` before reading anything, and hands on a request whose reading stops at
the limit, so a chunked body without a length is cut off as it arrives.

A form's CSRF token is read before the rest of it (``csrf_field``, for the CSRF middleware):
a urlencoded form is small and read whole; in a multipart form the token must be the first
part, and nothing after it is read until the token is known to be good. Handlers then read
their fields with ``fields``, or an upload with ``receive_upload``, which writes the file
into its run folder in chunks as it arrives, never holding it in memory.

A malformed body (a multipart form without a boundary, cut short, with a part without a
name or headers that cannot be read) is refused with ``BadForm``: a readable 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from batchtool.web.keys import CONFIG

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSRF_FIELD: Final = "csrf_token"

#: Body limits: any form (a few fields and a token), the sign-in form, the column mapping
#: (a choice for each column it offers).
FORM_BYTES: Final = 16 * 1024
SIGN_IN_BYTES: Final = 8 * 1024
COLUMNS_BYTES: Final = 64 * 1024
#: Room for an upload's other fields and the multipart framing, beside the file itself.
UPLOAD_OVERHEAD_BYTES: Final = 64 * 1024
#: A text field of a multipart form, how many of them an upload may carry, and how many
#: values in all (a field repeats once per box ticked: the installations).
FIELD_BYTES: Final = 4 * 1024
MAX_FIELDS: Final = 20
MAX_VALUES: Final = 200
_CHUNK_BYTES: Final = 1 << 20

_URLENCODED: Final = "application/x-www-form-urlencoded"
_MULTIPART: Final = "multipart/form-data"

_LIMITS: dict[Handler, int] = {}
_UPLOADS: set[Handler] = set()

_PARTS: Final = web.RequestKey("multipart parts left", MultipartReader)


def limit(size: int) -> Callable[[Handler], Handler]:
    """A route's body limit, when ``FORM_BYTES`` does not fit it (apply below the route)."""

    def register(handler: Handler) -> Handler:
        _LIMITS[handler] = size
        return handler

    return register


def takes_upload(handler: Handler) -> Handler:
    """The route that takes a spreadsheet: up to ``--max-upload-mb`` (apply below the route)."""
    _UPLOADS.add(handler)
    return handler


def _route(request: web.Request) -> Handler | None:
    handler: Handler | None = getattr(request.match_info, "handler", None)
    return handler


def body_limit(request: web.Request) -> int:
    route = _route(request)
    if route in _UPLOADS:
        return int(request.app[CONFIG].max_upload_bytes + UPLOAD_OVERHEAD_BYTES)
    return _LIMITS.get(route, FORM_BYTES) if route is not None else FORM_BYTES


def too_large_message(request: web.Request) -> str:
    if _route(request) in _UPLOADS:
        limit_mb = request.app[CONFIG].max_upload_mb
        return (
            f"The file is larger than the upload limit of {limit_mb} MB — split it into smaller "
            "files, or ask an admin to raise the server's upload limit."
        )
    return (
        f"This form sent more than the {body_limit(request) // 1024} KB the server takes for "
        "it — nothing was changed. Go back, reload the page and try again."
    )


class BadForm(web.HTTPBadRequest):
    """A body that is not the form it should be; ``text`` says what, for the page."""

    def __init__(self, what: str) -> None:
        super().__init__(
            text=f"This form could not be read: {what} — go back, reload the page and try again."
        )


def _too_large() -> web.HTTPRequestEntityTooLarge:
    # The message comes from too_large_message, as for aiohttp's own 413s.
    return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0)


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    size = body_limit(request)
    if request.content_length is not None and request.content_length > size:
        raise _too_large()
    if not request.body_exists:
        return await handler(request)
    return await handler(request.clone(client_max_size=size))


# -- reading ---------------------------------------------------------------------------------


def _check_size(request: web.Request) -> None:
    # Everything received so far, framing included: a body of many tiny parts counts too.
    if request.content.total_bytes > request.client_max_size:
        raise _too_large()


async def _parts(request: web.Request) -> MultipartReader:
    """The request's multipart parts, from where reading stopped."""
    if (reader := request.get(_PARTS)) is None:
        try:
            reader = await request.multipart()
        except ValueError:
            raise BadForm("it is a multipart form without a boundary") from None
        request[_PARTS] = reader
    return reader


async def _next_part(request: web.Request, reader: MultipartReader) -> BodyPartReader | None:
    try:
        part = await reader.next()
    except (ValueError, LookupError, RuntimeError, HttpProcessingError):
        raise BadForm("its parts are malformed or cut short") from None
    _check_size(request)
    if part is None:
        return None
    if not isinstance(part, BodyPartReader):
        raise BadForm("it has a part made of parts")
    if not part.name:
        raise BadForm("a part of it has no name")
    return part


async def _chunk(request: web.Request, part: BodyPartReader) -> bytes:
    """The next chunk of ``part``; empty at its end."""
    try:
        chunk = await part.read_chunk(_CHUNK_BYTES)
    except (ValueError, LookupError, RuntimeError, HttpProcessingError, ConnectionError):
        raise BadForm("its parts are malformed or cut short") from None
    _check_size(request)
    return chunk


async def _text(request: web.Request, part: BodyPartReader, size: int) -> str:
    data = bytearray()
    while chunk := await _chunk(request, part):
        data += chunk
        if len(data) > size:
            raise _too_large()
    return data.decode("utf-8", "replace")


async def csrf_field(request: web.Request) -> str | None:
    """The CSRF token a form carries: its field in a urlencoded form, the first part of a
    multipart one (nothing after it is read); None when there is none."""
    if request.content_type == _URLENCODED:
        value = (await request.post()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    if request.content_type != _MULTIPART:
        return None
    part = await _next_part(request, await _parts(request))
    if part is None or part.name != CSRF_FIELD or part.filename is not None:
        return None
    return await _text(request, part, FIELD_BYTES)


async def fields(request: web.Request) -> dict[str, str]:
    """A small form's text fields (urlencoded or multipart), within the route's limit."""
    if request.content_type != _MULTIPART:
        form = await request.post()  # within client_max_size: the route's limit
        return {name: value for name, value in form.items() if isinstance(value, str)}
    found: dict[str, str] = {}
    reader = await _parts(request)
    while (part := await _next_part(request, reader)) is not None:
        if part.filename is not None:
            raise BadForm("it carries a file this form does not take")
        found.setdefault(str(part.name), await _text(request, part, FIELD_BYTES))
    return found


@dataclass
class Upload:
    """An upload's text fields (the first value of each), every value of each (a field of
    checkboxes has one per box ticked), and whether its file came (written where
    ``receive_upload`` was told)."""

    fields: dict[str, str] = field(default_factory=dict)
    received: bool = False
    every: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, value: str) -> None:
        if sum(map(len, self.every.values())) >= MAX_VALUES:
            raise BadForm("it has more fields than the form")
        self.every.setdefault(name, []).append(value)
        self.fields.setdefault(name, value)


async def receive_upload(
    request: web.Request, file_field: str, target: Callable[[str | None], Path]
) -> Upload:
    """Read an upload form: its text fields, and its one file (``file_field``) written to
    ``target(file name)`` in chunks as it arrives. A part with a file and no file name (no
    file chosen) is skipped. Raises BadForm, or the 413 of the route's limit (the file
    written so far is removed)."""
    if request.content_type != _MULTIPART:
        raise BadForm("a spreadsheet comes in a multipart/form-data form")
    upload = Upload()
    reader = await _parts(request)
    while (part := await _next_part(request, reader)) is not None:
        if part.filename is None:
            if len(upload.fields) >= MAX_FIELDS and part.name not in upload.fields:
                raise BadForm("it has more fields than the form")
            upload.add(str(part.name), await _text(request, part, FIELD_BYTES))
        elif part.name != file_field or upload.received:
            raise BadForm("it carries a file this form does not take")
        elif part.filename:
            await _save(request, part, target(part.filename))
            upload.received = True
        else:
            while await _chunk(request, part):
                pass
    return upload


async def _save(request: web.Request, part: BodyPartReader, path: Path) -> None:
    loop = asyncio.get_running_loop()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            while chunk := await _chunk(request, part):
                # The disk may be slow: never on the thread that serves every page.
                await loop.run_in_executor(None, handle.write, chunk)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
