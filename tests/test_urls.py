"""Credentials in a URL are never shown nor stored (issue 19): a base URL or a proxy URL with a
user and password, or a token alone, is masked as ``scheme://***@host`` by one function,
wherever batchtool prints, logs or keeps a URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import WebServer
from web_support import PROFILE, run_folder, run_json, upload, write_profile

from batchtool import Credentials, run_batch
from batchtool.cli import main
from batchtool.urls import masked

SECRET = "PASS-w0rd"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param(f"https://u:{SECRET}@host", "https://***@host", id="user-and-password"),
        pytest.param("http://TOKEN@proxy:3128", "http://***@proxy:3128", id="token-alone"),
        pytest.param(
            f"https://u:{SECRET}@h.example:8443/nats/api?x=1",
            "https://***@h.example:8443/nats/api?x=1",
            id="port-path-query-kept",
        ),
        pytest.param("http://a%40b:p%3Aw@p:3128/", "http://***@p:3128/", id="escaped"),
        pytest.param("u:pw@proxy:3128", "***@proxy:3128", id="no-scheme"),
        pytest.param("http://u:p@ss/w#rd@host", "http://***@host", id="at-slash-hash-in-password"),
        pytest.param("http://u:s3[cret@p", "http://***@p", id="malformed"),
        pytest.param("https://[::1]:8443/x", "https://[::1]:8443/x", id="ipv6-no-credentials"),
        pytest.param("https://host/path", "https://host/path", id="no-credentials"),
        pytest.param("", "", id="empty"),
    ],
)
def test_masked(url: str, shown: str) -> None:
    assert masked(url) == shown


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", *args], env={"BATCHTOOL_API_KEY": "k"})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        pytest.param(
            f"ftp://u:{SECRET}@host",
            "base URL 'ftp://***@host' is not an http(s) URL — give the installation's root, "
            "e.g. https://affiliates.example.com",
            id="not-http",
        ),
        pytest.param(
            f"http://u:{SECRET}@affiliates.example.com",
            "base URL 'http://***@affiliates.example.com' is plain http: the api key would "
            "cross the network in clear — use https, or pass --allow-insecure-http if you "
            "really mean it",
            id="plain-http",
        ),
        pytest.param(
            f"https://u:{SECRET}@host:99999",
            "base URL 'https://***@host:99999' is not an http(s) URL — give the installation's "
            "root, e.g. https://affiliates.example.com",
            id="port-out-of-range",
        ),
    ],
)
def test_errors_quoting_the_base_url_mask_it_in_text_json_and_the_summary_file(
    tmp_path: Path, base_url: str, message: str
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("operation,customer_id\nlock,1\n")
    args = [str(src), "--base-url", base_url, "--api-username", "u"]
    code, output = run_cli(*args)
    assert (code, output) == (2, f"batchtool: error: {message}\n")
    summary = tmp_path / "summary.json"
    code, output = run_cli(*args, "--log-format", "json", "--summary-json", str(summary))
    assert code == 2
    assert json.loads(output)["message"] == message
    assert json.loads(summary.read_text())["message"] == message


def test_the_requests_a_dry_run_shows_mask_the_base_url(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("operation,customer_id\nlock,1\n")
    report = run_batch(
        src,
        dry_run=True,
        credentials=Credentials(f"https://u:{SECRET}@h.example/nats", "u", "k"),
        results_path=tmp_path / "out.csv",
    )
    assert report.sample_requests == (
        "PATCH https://***@h.example/nats/api/customer/lock  customer_id=1",
    )


def test_credentials_never_show_the_base_urls_secret() -> None:
    creds = Credentials(f"https://u:{SECRET}@h.example", "u", "the-key")
    assert repr(creds) == (
        "Credentials(base_url='https://***@h.example', api_username='u', network=Network())"
    )


async def test_the_ops_page_shows_and_keeps_the_base_url_masked(web: WebServer) -> None:
    port = web.simulator.port
    assert web.config.config_path is not None
    write_profile(web.config.config_path, f"http://ops:{SECRET}@127.0.0.1:{port}", "u")
    shown = f"http://***@127.0.0.1:{port}"
    data = await (await web.client.get("/.json")).json()
    label = f"{PROFILE} ({shown})"
    assert data["installations"] == [{"name": PROFILE, "label": label, "shown": PROFILE}]
    assert f"{label}</label>" in await (await web.client.get("/")).text()
    _, path, page = await upload(web.client, b"operation,customer_id\nlock,1\n", "in.csv")
    meta = json.loads((run_folder(web.data_dir, path) / "meta.json").read_text())
    assert [t["base_url"] for t in meta["installations"]] == [shown]
    run = await run_json(web.client, path)
    for text in (page, json.dumps(run), json.dumps(meta)):
        assert SECRET not in text
