"""Helpers for the ops page's tests: a fake clock, signing in, uploading, reading forms."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import FormData, web
from aiohttp.test_utils import TestClient

PASSWORD = "correct horse battery"
PROFILE = "staging"
KEY_ENV = "BATCHTOOL_TEST_STAGING_KEY"

WebClient = TestClient[web.Request, web.Application]

#: How often the wait helpers look before giving up (each look sleeps a little): generous, so
#: a busy machine never fails a test that would pass on a quiet one.
WAIT_POLLS = 1500

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class FakeClock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def page_token(client: WebClient, path: str = "/") -> str:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return csrf_of(await response.text())


async def sign_in(client: WebClient, user: str = "alice", password: str = PASSWORD) -> int:
    """Sign in through the page's own form; returns the status of the final answer."""
    token = csrf_of(await (await client.get("/login")).text())
    response = await client.post(
        "/login", data={"csrf_token": token, "username": user, "password": password}
    )
    return response.status


async def upload(
    client: WebClient,
    content: bytes,
    file_name: str,
    *,
    installation: str = PROFILE,
    sheet: str = "",
    operation: str = "",
) -> tuple[int, str, str]:
    """Upload a spreadsheet through New batch; (status, final URL path, page text)."""
    form = FormData(quote_fields=False)  # the file name as browsers send it, not %-encoded
    form.add_field("csrf_token", await page_token(client))
    form.add_field("installation", installation)
    form.add_field("sheet", sheet)
    form.add_field("operation", operation)
    form.add_field("spreadsheet", content, filename=file_name)
    response = await client.post("/check", data=form)
    return response.status, response.url.path, await response.text()


async def post_form(
    client: WebClient, path: str, fields: dict[str, str] | None = None, *, token_from: str
) -> tuple[int, str]:
    """POST ``fields`` with the CSRF token of the page at ``token_from``; (status, page text)."""
    data = {"csrf_token": await page_token(client, token_from), **(fields or {})}
    response = await client.post(path, data=data)
    return response.status, await response.text()


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def run_folder(data_dir: Path, run_path: str) -> Path:
    return data_dir / "runs" / run_path.rsplit("/", 1)[-1]


async def run_json(client: WebClient, run_path: str) -> dict[str, Any]:
    response = await client.get(run_path + ".json")
    assert response.status == 200, await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def wait_for_status(
    client: WebClient, run_path: str, *, leaving: tuple[str, ...] = ("checking", "sending")
) -> dict[str, Any]:
    """The run's JSON once its status is none of ``leaving`` (a bound, not a timing check)."""
    for _ in range(WAIT_POLLS):
        data = await run_json(client, run_path)
        if data["run"]["status"] not in leaving:
            return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"{run_path} still {data['run']['status']} after waiting")


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(WAIT_POLLS):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never came true")


async def wait_for_live(client: WebClient, run_path: str) -> dict[str, Any]:
    """The live state of a sending run once it has counted a row."""
    for _ in range(WAIT_POLLS):
        live = (await run_json(client, run_path))["live"]
        if live and live["done"]:
            return dict(live)
        await asyncio.sleep(0.02)
    raise AssertionError(f"{run_path} never showed progress")
