"""Through a company proxy: a small CONNECT proxy started by the test on 127.0.0.1 relays to the
simulator served over TLS. It must see the CONNECT and never the api key in clear; NO_PROXY
goes around it; ``--proxy`` wins over the environment; the run says which proxy it used."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner, Result
from conftest import LoopThread

from batchtool import resolve_credentials, run_batch
from batchtool.cli import main
from batchtool.events import Event, RunNote, RunStarted
from batchtool.simulator import Simulator

ROWS = 6


class ConnectProxy:
    """An http proxy that only tunnels (CONNECT), as company proxies do for https.

    Records each CONNECT target and every byte it relays, both ways. With ``user`` and
    ``password`` it answers 407 to a CONNECT without those credentials.
    """

    def __init__(self, *, user: str | None = None, password: str | None = None) -> None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode() if user else None
        self._expected_auth = f"Basic {token}" if token else None
        self.connects: list[str] = []
        self.relayed = bytearray()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.relayed += head
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines if line)
            }
            if method != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            if self._expected_auth and headers.get("proxy-authorization") != self._expected_auth:
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
                )
                return
            self.connects.append(target)
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            self._writers.add(up_writer)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
            self._writers.discard(writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.relayed += data
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@pytest.fixture
def ca(tmp_path: Path) -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_bundle(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "company-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def sim(loop_thread: LoopThread, ca: trustme.CA) -> Iterator[Simulator]:
    """The simulator over TLS, with a certificate from the company CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    simulator = Simulator(customers=ROWS, ssl_context=context)
    loop_thread.run(simulator.start())
    yield simulator
    loop_thread.run(simulator.stop())


@pytest.fixture
def proxy(loop_thread: LoopThread) -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    loop_thread.run(server.start())
    yield server
    loop_thread.run(server.stop())


@pytest.fixture
def unlocks(tmp_path: Path) -> Path:
    path = tmp_path / "unlock.csv"
    lines = ["operation,customer_id", *(f"unlock,{i}" for i in range(1, ROWS + 1))]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(sim: Simulator, src: Path, ca_bundle: Path, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(
        main,
        [
            "run",
            str(src),
            "--base-url",
            sim.base_url,
            "--api-username",
            sim.api_username,
            "--ca-bundle",
            str(ca_bundle),
            "--results",
            str(src.with_suffix(".results.csv")),
            "--no-journal",
            *args,
        ],
        env={"BATCHTOOL_API_KEY": sim.api_key, **env},
    )


def assert_tunnelled(proxy: ConnectProxy, sim: Simulator) -> None:
    """The proxy carried the run, and saw nothing of it in clear but where it went."""
    assert proxy.connects and set(proxy.connects) == {f"127.0.0.1:{sim.port}"}
    assert sim.requests_served == ROWS
    assert sim.api_key.encode() not in proxy.relayed
    assert sim.api_username.encode() not in proxy.relayed
    assert b"customer_id" not in proxy.relayed


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_https_proxy_from_the_environment_tunnels_with_connect(
    sim: Simulator, proxy: ConnectProxy, ca_bundle: Path, unlocks: Path, variable: str
) -> None:
    result = run_cli(sim, unlocks, ca_bundle, {variable: proxy.url()})
    assert result.exit_code == 0, result.output
    assert f"batchtool: through proxy {proxy.url()} (from ${variable})\n" in result.output
    assert_tunnelled(proxy, sim)


def test_proxy_option_wins_over_the_environment_and_hides_its_password(
    loop_thread: LoopThread, sim: Simulator, ca_bundle: Path, unlocks: Path
) -> None:
    guarded = ConnectProxy(user="ops", password="hunter2")
    loop_thread.run(guarded.start())
    try:
        result = run_cli(
            sim,
            unlocks,
            ca_bundle,
            {"HTTPS_PROXY": "http://127.0.0.1:9"},  # nothing listens there
            "--proxy",
            guarded.url("ops:hunter2@"),
        )
    finally:
        loop_thread.run(guarded.stop())
    assert result.exit_code == 0, result.output
    assert f"batchtool: through proxy {guarded.url('***@')} (from --proxy)\n" in result.output
    assert "hunter2" not in result.output and "ops" not in result.output
    assert_tunnelled(guarded, sim)


def test_a_proxy_token_without_a_password_is_masked_in_text_and_json(
    sim: Simulator, proxy: ConnectProxy, ca_bundle: Path, unlocks: Path, tmp_path: Path
) -> None:
    token = "tok3n-Secret"
    env = {"HTTPS_PROXY": proxy.url(f"{token}@")}
    text = run_cli(sim, unlocks, ca_bundle, env)
    assert text.exit_code == 0, text.output
    assert f"batchtool: through proxy {proxy.url('***@')} (from $HTTPS_PROXY)\n" in text.output
    summary = tmp_path / "summary.json"
    logged = run_cli(
        sim, unlocks, ca_bundle, env, "--log-format", "json", "--summary-json", str(summary)
    )
    assert logged.exit_code == 0, logged.output
    events = [json.loads(line) for line in logged.output.splitlines()]
    notes = [e["message"] for e in events if e["event"] == "note"]
    assert f"through proxy {proxy.url('***@')} (from $HTTPS_PROXY)" in notes
    for output in (text.output, logged.output, summary.read_text()):
        assert token not in output


def test_no_proxy_goes_around_the_proxy(
    sim: Simulator, proxy: ConnectProxy, ca_bundle: Path, unlocks: Path
) -> None:
    result = run_cli(
        sim, unlocks, ca_bundle, {"HTTPS_PROXY": proxy.url(), "NO_PROXY": "localhost,127.0.0.1"}
    )
    assert result.exit_code == 0, result.output
    assert "through proxy" not in result.output
    assert proxy.connects == [] and sim.requests_served == ROWS


def test_a_proxy_that_wants_credentials_stops_the_run_with_the_fix(
    loop_thread: LoopThread, sim: Simulator, ca_bundle: Path, unlocks: Path
) -> None:
    guarded = ConnectProxy(user="ops", password="hunter2")
    loop_thread.run(guarded.start())
    try:
        result = run_cli(
            sim, unlocks, ca_bundle, {}, "--proxy", guarded.url(), "--concurrency", "1"
        )
    finally:
        loop_thread.run(guarded.stop())
    assert result.exit_code == 3, result.output
    assert (
        "batchtool: aborted: no answer from the server for the first 3 rows: the proxy refused "
        "the connection: 407 Proxy Authentication Required — give the proxy's user and password "
        "in its URL: http://USER:PASSWORD@HOST:PORT\n"
    ) in result.output
    assert sim.requests_served == 0


def test_python_api_takes_the_proxy_from_the_environment(
    sim: Simulator, proxy: ConnectProxy, ca_bundle: Path, unlocks: Path, tmp_path: Path
) -> None:
    credentials = resolve_credentials(
        base_url=sim.base_url,
        api_username=sim.api_username,
        api_key=sim.api_key,
        ca_bundle=ca_bundle,
        environ={"HTTPS_PROXY": proxy.url()},
    )
    events: list[Event] = []
    report = run_batch(
        unlocks, credentials=credentials, results_path=tmp_path / "r.csv", on_event=events.append
    )
    assert report.exit_code == 0, report.summary
    # Said as the run starts, right after the event that opens it.
    assert isinstance(events[0], RunStarted)
    assert events[1] == RunNote(f"through proxy {proxy.url()} (from $HTTPS_PROXY)")
    assert_tunnelled(proxy, sim)
