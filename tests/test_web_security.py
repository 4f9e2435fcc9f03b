"""The ops page's security rules, each shown failing safe: CSRF, headers and CSP, escaping,
formula-guarded downloads, the upload limit, keys that never leave the server, binding."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import polars as pl
import pytest
from aiohttp import FormData
from conftest import WebServer
from web_support import (
    PASSWORD,
    csv_bytes,
    page_token,
    post_form,
    run_json,
    upload,
    wait_for_status,
)

from batchtool.errors import UsageError
from batchtool.web import Users, check_bind

XSS = "<img src=x onerror=alert(1)>"


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    web: WebServer,
) -> None:
    _, path, _ = await upload(web.client, csv_bytes("operation,customer_id", "lock,1"), "a.csv")
    for data in ({}, {"csrf_token": "not-the-token"}):
        response = await web.client.post(path + "/send", data=data)
        assert response.status == 403
        page = await response.text()
        assert "This form has expired or did not come from this site" in page
        assert "Nothing was changed." in page
    assert (await run_json(web.client, path))["run"]["status"] == "planned"
    assert web.simulator.log == []

    form = FormData()
    form.add_field("installation", "staging")
    form.add_field("spreadsheet", b"operation,customer_id\nlock,2\n", filename="b.csv")
    assert (await web.client.post("/check", data=form)).status == 403
    runs = (await (await web.client.get("/runs.json")).json())["not_sent"]
    assert [r["file_name"] for r in runs] == ["a.csv"]


async def test_the_token_may_come_in_a_header_for_scripts(web: WebServer) -> None:
    _, path, _ = await upload(web.client, csv_bytes("operation,customer_id", "lock,1"), "a.csv")
    token = await page_token(web.client, path)
    response = await web.client.post(
        path + "/send",
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert response.status == 200
    assert response.url.path == path + ".json"
    data = await wait_for_status(web.client, path)
    assert data["run"]["status"] == "finished"


async def test_sign_in_needs_the_token_of_the_sign_in_page(web_server: WebServer) -> None:
    response = await web_server.client.post(
        "/login", data={"username": "alice", "password": PASSWORD}
    )
    assert response.status == 403
    assert (await web_server.client.get("/.json")).status == 401


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/login", id="page"),
        pytest.param("/static/style.css", id="static"),
        pytest.param("/no/such/page", id="error"),
        pytest.param("/.json", id="json"),
    ],
)
async def test_every_response_carries_the_security_headers(web: WebServer, path: str) -> None:
    response = await web.client.get(path)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


_INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),  # a script element without src
    re.compile(r"\sstyle=", re.I),
    re.compile(r"<style", re.I),
    re.compile(r"\son[a-z]+=", re.I),  # event handler attributes
    re.compile(r"javascript:", re.I),
]


async def test_no_page_has_inline_script_or_style_the_csp_would_block(web: WebServer) -> None:
    content = csv_bytes("operation,customer_id,Notes", "forget,1,x", "set,2,y")
    _, columns, _ = await upload(web.client, content, "columns.csv")
    _, plan, _ = await upload(web.client, csv_bytes("operation,customer_id", "forget,1"), "p.csv")
    _, done, _ = await upload(web.client, csv_bytes("operation,customer_id", "lock,3"), "d.csv")
    await post_form(web.client, done + "/send", token_from=done)
    await wait_for_status(web.client, done)
    for path in ("/", "/runs", columns, plan, done, "/nowhere"):
        page = await (await web.client.get(path)).text()
        for pattern in _INLINE:
            assert not pattern.search(page), (path, pattern.pattern)
    web.client.session.cookie_jar.clear()
    page = await (await web.client.get("/login")).text()
    assert not any(p.search(page) for p in _INLINE)


async def test_file_names_cells_headers_and_messages_show_as_text(web: WebServer) -> None:
    content = csv_bytes(f"operation,customer_id,email,{XSS}", f"set,1,{XSS},x")
    _, path, page = await upload(web.client, content, f"{XSS}.csv")
    assert XSS not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the column header, shown as text
    await post_form(web.client, path + "/columns", {"column-0": ""}, token_from=path)
    page = await (await web.client.get(path)).text()
    assert XSS not in page
    assert "email &#39;&lt;img src=x onerror=alert(1)&gt;&#39; is not an email address" in page
    runs = await (await web.client.get("/runs")).text()
    assert XSS not in runs and "&lt;img src=x onerror=alert(1)&gt;.csv" in runs


async def test_downloads_keep_the_formula_guard(web: WebServer) -> None:
    content = csv_bytes("operation,customer_id,city", 'set,1,"=HYPERLINK(""http://x"")"')
    _, path, _ = await upload(web.client, content, "f.csv")
    plan = await (await web.client.get(path + "/plan.csv")).read()
    assert pl.read_csv(io.BytesIO(plan))["city"].to_list() == ['\'=HYPERLINK("http://x")']
    await post_form(web.client, path + "/send", token_from=path)
    await wait_for_status(web.client, path)
    results = await (await web.client.get(path + "/results.csv")).read()
    assert pl.read_csv(io.BytesIO(results))["city"].to_list() == ['\'=HYPERLINK("http://x")']


async def test_an_upload_over_the_limit_gets_a_readable_413(web: WebServer) -> None:
    too_big = b"operation,customer_id\n" + b"lock,1\n" * 200_000  # 1.4 MB, the limit is 1 MB
    status, _, page = await upload(web.client, too_big, "big.csv")
    assert status == 413
    assert "<h1>File too large</h1>" in page
    assert (
        "The file is larger than the upload limit of 1 MB — split it into smaller files, "
        "or ask an admin to raise the server&#39;s upload limit."
    ) in page
    assert not (web.data_dir / "runs").exists()


async def test_the_api_key_never_reaches_a_page_a_download_or_the_log(
    web: WebServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = web.simulator.api_key
    content = csv_bytes("operation,customer_id,password", "set,1,pw-in-the-file-1", "set,x,")
    _, path, page = await upload(web.client, content, "k.csv")
    await post_form(web.client, path + "/send", token_from=path)
    await wait_for_status(web.client, path)
    seen = [page]
    for url in ("/", "/.json", "/runs", "/runs.json", path, path + ".json"):
        seen.append(await (await web.client.get(url)).text())
    for url in (path + "/plan.csv", path + "/results.csv", path + "/results.xlsx"):
        seen.append((await (await web.client.get(url)).read()).decode("latin-1"))
    seen.append(caplog.text)
    for text in seen:
        assert key not in text
        assert "pw-in-the-file-1" not in text
    meta = (web.data_dir / "runs" / path.rsplit("/", 1)[1] / "meta.json").read_text()
    assert key not in meta


def test_a_public_address_is_refused_while_nobody_can_sign_in(tmp_path: Path) -> None:
    users = Users(tmp_path / "users.json")
    with pytest.raises(UsageError) as caught:
        check_bind("0.0.0.0", users)
    assert str(caught.value) == (
        "refusing to listen on 0.0.0.0 while no user exists — add one first with "
        "'batchtool users add NAME', or listen on 127.0.0.1"
    )
    assert check_bind("127.0.0.1", users) is None
    users.add("alice", PASSWORD)
    assert check_bind("0.0.0.0", users) == (
        "listening on 0.0.0.0: put this page behind an HTTPS reverse proxy (see the README) — "
        "passwords and customer data would otherwise cross the network in clear"
    )
