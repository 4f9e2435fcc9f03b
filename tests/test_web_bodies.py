"""What the ops page reads of a request body: each route's limit, the upload's token before
its file, malformed forms, and a server that keeps its memory under a flood of big bodies."""

from __future__ import annotations

import errno
import json
import logging
import select
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest
import requests
from conftest import WebServer
from web_support import (
    PASSWORD,
    ServeProcess,
    add_user,
    csv_bytes,
    page_token,
    run_json,
    upload,
)

MB = 1024 * 1024
#: What the server may grow by while it refuses every big body below: a wide margin (it
#: grew by gigabytes when it read them whole).
RSS_MARGIN = 150 * MB
#: The body each hostile client offers.
FLOOD_BODY = 100 * MB


async def _chunked(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("path", "limit_kb"),
    [
        pytest.param("/send", 16, id="send-form"),
        pytest.param("/columns", 64, id="column-mapping"),
    ],
)
async def test_each_form_takes_a_body_that_fits_it(
    web: WebServer, path: str, limit_kb: int, chunked: bool
) -> None:
    _, run, _ = await upload(web.client, csv_bytes("operation,customer_id", "lock,1"), "a.csv")
    token = await page_token(web.client, run)
    body = b"confirm_forget=" + b"y" * (limit_kb * 1024)
    response = await web.client.post(
        run + path,
        data=_chunked(body) if chunked else body,
        headers={
            "X-CSRF-Token": token,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status == 413
    assert (
        f"This form sent more than the {limit_kb} KB the server takes for it — nothing was "
        "changed. Go back, reload the page and try again."
    ) in await response.text()
    assert (await run_json(web.client, run))["run"]["status"] == "planned"
    assert web.simulator.log == []


async def test_the_sign_in_form_takes_a_few_kb(web_server: WebServer) -> None:
    client = web_server.client
    token = await page_token(client, "/login")
    body = f"csrf_token={token}&username=alice&password={'p' * 9000}".encode()
    for data in (body, _chunked(body)):
        response = await client.post(
            "/login",
            data=data,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 413
        assert "This form sent more than the 8 KB the server takes for it" in (
            await response.text()
        )


def _multipart(*parts: tuple[str, str | None, bytes], boundary: str = "XyZ") -> bytes:
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


MULTIPART = "multipart/form-data; boundary=XyZ"
BIG_FILE = b"operation,customer_id\n" + b"lock,1\n" * 300_000  # 2 MB; the limit is 1 MB


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param(
            [("csrf_token", None, b"not-the-token"), ("spreadsheet", "big.csv", BIG_FILE)],
            id="a-wrong-token-first",
        ),
        pytest.param(
            [("spreadsheet", "big.csv", BIG_FILE), ("csrf_token", None, b"TOKEN")],
            id="the-token-after-the-file",
        ),
    ],
)
async def test_an_upload_is_refused_on_its_token_before_its_file_is_read(
    web: WebServer, parts: list[tuple[str, str | None, bytes]]
) -> None:
    token = (await page_token(web.client)).encode()
    body = _multipart(*[(n, f, token if c == b"TOKEN" else c) for n, f, c in parts])
    # Chunked: no length to refuse it by, so only reading it could find it too large.
    response = await web.client.post(
        "/check", data=_chunked(body, 64 * 1024), headers={"Content-Type": MULTIPART}
    )
    assert response.status == 403
    assert "This form has expired or did not come from this site" in await response.text()
    assert not (web.data_dir / "runs").exists()


_NO_FILE_FORM = "multipart/form-data"


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        pytest.param(
            MULTIPART,
            _multipart(("csrf_token", None, b"TOKEN"), ("spreadsheet", "a\x00.csv", b"x\n")),
            "its parts are malformed or cut short",
            id="nul-in-the-file-name",
        ),
        pytest.param(
            _NO_FILE_FORM,
            b"csrf_token=TOKEN",
            "it is a multipart form without a boundary",
            id="no-boundary",
        ),
        pytest.param(
            MULTIPART,
            _multipart(("csrf_token", None, b"TOKEN"), ("spreadsheet", "a.csv", b"x" * 100))[:-40],
            "its parts are malformed or cut short",
            id="cut-short",
        ),
        pytest.param(
            MULTIPART,
            _multipart(("csrf_token", None, b"TOKEN")).replace(b"--XyZ--", b"--XyZ\r\n")
            + b'Content-Disposition: form-data; filename="a.csv"\r\n\r\nx\r\n--XyZ--\r\n',
            "a part of it has no name",
            id="a-part-without-a-name",
        ),
        pytest.param(
            "text/plain",
            b"csrf_token=TOKEN",
            "a spreadsheet comes in a multipart/form-data form",
            id="not-a-form",
        ),
        pytest.param(
            MULTIPART,
            _multipart(("csrf_token", None, b"TOKEN"), ("other", "a.csv", b"x\n")),
            "it carries a file this form does not take",
            id="a-file-in-another-field",
        ),
    ],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["page", "json"])
async def test_a_malformed_upload_gets_a_readable_400(
    web: WebServer,
    caplog: pytest.LogCaptureFixture,
    content_type: str,
    body: bytes,
    reason: str,
    as_json: bool,
) -> None:
    caplog.set_level(logging.INFO)
    token = await page_token(web.client)
    headers = {"Content-Type": content_type, "X-CSRF-Token": token}
    if as_json:
        headers["Accept"] = "application/json"
    response = await web.client.post(
        "/check", data=body.replace(b"TOKEN", token.encode()), headers=headers
    )
    message = f"This form could not be read: {reason} — go back, reload the page and try again."
    assert response.status == 400
    if as_json:
        assert await response.json() == {"error": message}
    else:
        assert f'<p class="error" role="alert">{message}</p>' in await response.text()
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    runs = web.data_dir / "runs"
    assert not runs.exists() or not any(runs.iterdir())


async def test_an_upload_is_written_as_it_arrives_into_its_run_folder(web: WebServer) -> None:
    token = await page_token(web.client)
    content = csv_bytes("operation,customer_id", *(f"lock,{i}" for i in range(1, 5000)))
    body = _multipart(
        ("csrf_token", None, token.encode()),
        ("spreadsheet", "many.csv", content),
        ("installation", None, b"staging"),  # after the file: read all the same
    )
    response = await web.client.post(
        "/check", data=_chunked(body, 1000), headers={"Content-Type": MULTIPART}
    )
    assert response.status == 200
    run = response.url.path
    folder = web.data_dir / "runs" / run.rsplit("/", 1)[1]
    assert (folder / "input.csv").read_bytes() == content
    assert (await run_json(web.client, run))["run"]["installation"] == "staging"


# --- a real server under a flood of big bodies ----------------------------------------------


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.start_rss = self.peak = self.process.memory_info().rss
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)


def _offer(url: str, path: str, headers: dict[str, str], chunked: bool) -> int:
    """Offer a ``FLOOD_BODY`` body to ``path`` the way a hostile client would, stop sending
    when the answer comes; the answer's status (0: none before the connection closed)."""
    host, port = url.removeprefix("http://").split(":")
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(FLOOD_BODY)}
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in {**headers, **framing}.items()
    )

    def framed(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    piece = b"a" * (256 * 1024)
    chunk = framed(piece)
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        conn.sendall(head.encode() + b"\r\n" + framed(b"csrf_token="))
        answer = b""
        sent = 0
        while sent < FLOOD_BODY and not select.select([conn], [], [], 0)[0]:
            try:
                conn.sendall(chunk)
            except OSError:
                break  # the server stopped listening to the body: its answer is waiting
            sent += len(piece)
        conn.settimeout(60)
        try:
            while b"\r\n" not in answer:
                data = conn.recv(4096)
                if not data:
                    break
                answer += data
        except OSError:
            pass
    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b"0"
    return int(status)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    add_user(tmp_path / "data")
    server = ServeProcess(tmp_path / "data", tmp_path / "none.toml", {})
    server.start()
    yield server
    server.stop()


def test_a_flood_of_big_bodies_is_refused_without_reading_them(served: ServeProcess) -> None:
    http = requests.Session()
    login = http.get(served.url + "/login.json", timeout=30)
    cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    form = {
        "Cookie": cookies,
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-For": "203.0.113.7",
    }
    upload_form = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    assert login.json()["csrf_token"]
    offers = [("/login", form, chunked) for chunked in (False, True) for _ in range(4)]
    offers += [("/check", upload_form, chunked) for chunked in (False, True)]
    statuses: list[int] = [0] * len(offers)
    assert served.proc is not None
    rss = PeakRss(served.proc.pid)
    rss.start()

    def offer(i: int) -> None:
        path, headers, chunked = offers[i]
        statuses[i] = _offer(served.url, path, headers, chunked)

    threads = [threading.Thread(target=offer, args=(i,)) for i in range(len(offers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    time.sleep(0.2)
    rss.done.set()
    assert statuses == [413] * 8 + [401] * 2
    assert rss.peak - rss.start_rss < RSS_MARGIN, (rss.start_rss, rss.peak)
    # Still answering, and anyone with the right password still signs in.
    answer = http.post(
        served.url + "/login",
        data={"csrf_token": login.json()["csrf_token"], "username": "alice", "password": PASSWORD},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.url.endswith("/")
    assert json.loads(http.get(served.url + "/.json", timeout=30).text)["installations"] == []


async def test_an_upload_the_server_cannot_keep_says_so(
    web: WebServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr("batchtool.web.runstore.RunStore.new_folder", full)
        status, _, page = await upload(web.client, csv_bytes("operation,customer_id"), "a.csv")
    assert status == 500
    assert (
        "The server could not keep the upload (No space left on device) — try again later."
    ) in page
    assert "Traceback" not in caplog.text
    assert not (web.data_dir / "runs").exists()
