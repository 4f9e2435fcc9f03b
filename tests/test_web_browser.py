"""The ops page end to end in a real browser: Debian's chromium driven by Playwright, against
a real ``batchtool serve`` process sending to a simulator process.

Skipped, with the reason shown, where ``/usr/bin/chromium`` is missing (``apt-get install
chromium``; ``.ci/run`` does that). ``make test-browser`` runs only these. A failing test
leaves a screenshot in ``browser-failures/``.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import requests
import xlsxwriter
from conftest import PHASE_REPORTS, SimulatorProcesses
from playwright.sync_api import Page, expect, sync_playwright
from web_support import KEY_ENV, PASSWORD, ServeProcess, add_user, csv_bytes, write_profile

from batchtool.dispatch import DispatchConfig
from batchtool.simulator import DEFAULT_API_KEY, DEFAULT_API_USERNAME

CHROMIUM = Path("/usr/bin/chromium")
#: What a headless chromium needs here: no sandbox (root in a container), no GPU, and none
#: of the background traffic to Google's services that would reach for the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long a step may take before the test fails: generous for a busy machine.
WAIT_MS = 60_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's chromium at /usr/bin/chromium (apt-get install "
        "-y chromium)",
    ),
]


#: Rows of the runs stopped or killed in the middle: at 20 ms a request and up to 64 in
#: flight (the default concurrency), several seconds of sending, so a stop or a kill that
#: comes as soon as the bar moves lands mid-run however fast the machine is.
LONG_RUN_ROWS = 15_000


class Served(ServeProcess):
    """The server under test, and the simulator it sends to."""

    sim_url = ""


@pytest.fixture
def server(tmp_path: Path, simulator_process: SimulatorProcesses) -> Iterator[Served]:
    """A `batchtool serve` with user alice and a profile "staging" for a simulator process
    answering in about 20 ms, so a few thousand rows take a few seconds to send."""
    sim_url = simulator_process("--latency-ms", "20", "--customers", str(LONG_RUN_ROWS))
    config = write_profile(tmp_path / "config.toml", sim_url, DEFAULT_API_USERNAME)
    add_user(tmp_path / "data")
    serve = Served(tmp_path / "data", config, {KEY_ENV: DEFAULT_API_KEY})
    serve.sim_url = sim_url
    serve.start()
    yield serve
    if serve.proc is not None and serve.proc.poll() is None:
        serve.stop()
    print("".join(serve.output))  # shown when the test fails


@pytest.fixture
def page(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=True,
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        try:
            yield page
        finally:
            reports = request.node.stash.get(PHASE_REPORTS, {})
            if "call" in reports and reports["call"].failed:
                folder = request.config.rootpath / "browser-failures"
                folder.mkdir(exist_ok=True)
                page.screenshot(path=str(folder / f"{request.node.name}.png"), full_page=True)
            context.close()


def sign_in(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page).to_have_url(url + "/login?next=/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New batch")).to_be_visible()


def check(page: Page, file: Path) -> None:
    page.get_by_label("Installation").select_option(label=f"staging ({_sim(page)})")
    page.get_by_label("Spreadsheet").set_input_files(file)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("heading", name="The plan")).to_be_visible()


def _sim(page: Page) -> str:
    label = page.get_by_label("Installation").locator("option").first.inner_text()
    return label.removeprefix("staging (").removesuffix(")")


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("changes")
    for r, row in enumerate([["Operation", "Customer ID", "E-mail", "City"], *rows]):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    workbook.close()
    return path


def test_check_confirm_send_watch_and_download(page: Page, server: Served, tmp_path: Path) -> None:
    rows = [["set", str(i), "", f"City {i}"] for i in range(1, 799)]
    rows.insert(3, ["set", "900", "not-an-email", ""])
    rows.insert(7, ["forget", "901", "", ""])
    file = _xlsx(tmp_path / "ops.xlsx", rows)  # 800 rows: 799 valid, 1 forget, 1 invalid

    sign_in(page, server.url)
    for name in ("Installation", "Spreadsheet", "Sheet", "Default operation"):
        expect(page.get_by_label(name, exact=True)).to_be_visible()
    check(page, file)
    invalid = page.get_by_role("table", name="Invalid rows")
    expect(invalid).to_contain_text("email 'not-an-email' is not an email address")
    expect(invalid.get_by_role("cell", name="4", exact=True)).to_be_visible()
    send = page.get_by_role("button", name="Send 799 rows")

    send.click()  # without the confirmation: the server refuses
    expect(page.get_by_role("alert")).to_have_text(
        "Tick “I understand that forget erases customer data” to send this file."
    )
    expect(page.locator("#status-text")).to_have_text("Checked, not sent")

    page.get_by_label("I understand that forget erases customer data").check()
    page.get_by_role("button", name="Send 799 rows").click()
    bar = page.get_by_role("progressbar", name="Rows sent")
    expect(bar).to_have_attribute("aria-valuemax", "799")
    expect(bar).to_have_attribute("aria-valuenow", "799")
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download results (CSV)").click()
    assert download.value.suggested_filename == "ops.results.csv"
    results = pl.read_csv(io.BytesIO(Path(download.value.path()).read_bytes()), infer_schema=False)
    assert results.height == 800
    assert results["status"].value_counts().sort("status").rows() == [("invalid", 1), ("ok", 799)]
    assert results.filter(pl.col("row") == "4")["error"].item() == (
        "email 'not-an-email' is not an email address"
    )


def test_stop_then_resume(page: Page, server: Served, tmp_path: Path) -> None:
    rows = range(1, LONG_RUN_ROWS + 1)
    file = tmp_path / "locks.csv"
    file.write_bytes(csv_bytes("operation,customer_id", *(f"lock,{i}" for i in rows)))
    sign_in(page, server.url)
    check(page, file)
    page.get_by_role("button", name=f"Send {LONG_RUN_ROWS:,} rows").click()
    bar = page.get_by_role("progressbar", name="Rows sent")
    expect(bar).not_to_have_attribute("aria-valuenow", "0")  # moved by the page's script
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("heading", name="Stopped")).to_be_visible()

    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    expect(page.get_by_role("table", name="Rows by status")).to_contain_text(f"{LONG_RUN_ROWS:,}")


def test_a_killed_server_restarts_and_the_run_resumes(
    page: Page, server: Served, tmp_path: Path
) -> None:
    rows = range(1, LONG_RUN_ROWS + 1)
    file = tmp_path / "locks.csv"
    file.write_bytes(csv_bytes("operation,customer_id", *(f"lock,{i}" for i in rows)))
    sign_in(page, server.url)
    check(page, file)
    page.get_by_role("button", name=f"Send {LONG_RUN_ROWS:,} rows").click()
    bar = page.get_by_role("progressbar", name="Rows sent")
    expect(bar).not_to_have_attribute("aria-valuenow", "0")
    server.kill()

    url = server.start()  # a new port: the browser goes to the new address
    sign_in(page, url)
    page.get_by_role("link", name="Runs").click()
    row = page.get_by_role("row").filter(has_text="locks.csv")
    expect(row).to_contain_text("Interrupted")
    row.get_by_role("link", name="locks.csv").click()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()

    log = requests.get(server.sim_url + "/_sim/log", timeout=10).json()
    sent = [entry["lookup"][1] for entry in log]
    assert set(sent) == {str(i) for i in rows}
    # Rows in flight when the server died (at most the concurrency's maximum) may go twice;
    # everything else exactly once.
    assert len(sent) - len(set(sent)) <= DispatchConfig().max_in_flight


def test_signing_in_never_leaves_this_site(page: Page, server: Served) -> None:
    # The tab is dropped by the browser: "/\t/example.com" would be "//example.com".
    page.goto(server.url + "/login?next=/%09/example.com")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New batch")).to_be_visible()
    expect(page).to_have_url(server.url + "/")
