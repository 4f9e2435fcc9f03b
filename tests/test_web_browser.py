"""The ops page end to end in a real browser: Debian's chromium driven by Playwright, against
a real ``batchtool serve`` process sending to a simulator process.

Skipped, with the reason shown, where ``/usr/bin/chromium`` is missing (``apt-get install
chromium``; ``.ci/run`` does that). ``make test-browser`` runs only these. A failing test
leaves a screenshot in ``browser-failures/``.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import requests
import xlsxwriter
from conftest import PHASE_REPORTS, SimulatorProcesses
from playwright.sync_api import Page, expect, sync_playwright
from web_support import (
    KEY_ENV,
    PASSWORD,
    ServeProcess,
    add_user,
    csv_bytes,
    seed_runs,
    write_profile,
)

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


def _serve(
    tmp_path: Path,
    simulator_process: SimulatorProcesses,
    runs: list[tuple[str, str, str]],
    *,
    users: tuple[tuple[str, str | None], ...] = (("alice", None),),
    profile_lines: str = "",
) -> Iterator[Served]:
    sim_url = simulator_process("--latency-ms", "20", "--customers", str(LONG_RUN_ROWS))
    config = write_profile(tmp_path / "config.toml", sim_url, DEFAULT_API_USERNAME)
    with config.open("a") as profile:
        profile.write(profile_lines)
    for name, role in users:
        add_user(tmp_path / "data", name, role)
    seed_runs(tmp_path / "data" / "runs", sim_url, runs)
    serve = Served(tmp_path / "data", config, {KEY_ENV: DEFAULT_API_KEY})
    serve.sim_url = sim_url
    serve.start()
    yield serve
    if serve.proc is not None and serve.proc.poll() is None:
        serve.stop()
    print("".join(serve.output))  # shown when the test fails


@pytest.fixture
def server(tmp_path: Path, simulator_process: SimulatorProcesses) -> Iterator[Served]:
    """A `batchtool serve` with user alice and a profile "staging" for a simulator process
    answering in about 20 ms, so a few thousand rows take a few seconds to send."""
    yield from _serve(tmp_path, simulator_process, [])


#: Runs the runs list starts with: 45 finished by alice, then 15 stopped by bob, and two
#: uploads bob checked but never sent.
SEEDED_RUNS = [
    *((f"weekly-{i:02}.csv", "alice", "finished") for i in range(45)),
    *((f"fixes-{i:02}.csv", "bob", "stopped") for i in range(15)),
    ("draft-a.csv", "bob", "planned"),
    ("draft-b.csv", "bob", "planned"),
]


@pytest.fixture
def server_with_runs(tmp_path: Path, simulator_process: SimulatorProcesses) -> Iterator[Served]:
    """``server``, with the ``SEEDED_RUNS`` already there."""
    yield from _serve(tmp_path, simulator_process, SEEDED_RUNS)


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


def sign_in(page: Page, url: str, user: str = "alice") -> None:
    page.goto(url + "/")
    expect(page).to_have_url(url + "/login?next=/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New batch")).to_be_visible()


def check(page: Page, file: Path, *installations: str) -> None:
    for name in installations or ("staging",):
        page.get_by_role("checkbox", name=re.compile(f"^{name} ")).check()
    page.get_by_label("Spreadsheet").set_input_files(file)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("heading", name="The plan")).to_be_visible()


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
    expect(page.get_by_role("group", name="Installation")).to_be_visible()
    for name in ("Spreadsheet", "Sheet", "Default operation"):
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


def _run_json(page: Page) -> dict[str, Any]:
    """The JSON twin of the run page shown, fetched with the browser's own session."""
    url = page.url.split("?")[0].removesuffix("/stop")
    data: dict[str, Any] = page.request.get(url + ".json").json()
    return data


def test_stop_asks_first_then_resume_keeps_the_totals(
    page: Page, server: Served, tmp_path: Path
) -> None:
    rows = range(1, LONG_RUN_ROWS + 1)
    file = tmp_path / "locks.csv"
    file.write_bytes(csv_bytes("operation,customer_id", *(f"lock,{i}" for i in rows)))
    sign_in(page, server.url)
    check(page, file)
    page.get_by_role("button", name=f"Send {LONG_RUN_ROWS:,} rows").click()
    bar = page.get_by_role("progressbar", name="Rows sent")
    expect(bar).not_to_have_attribute("aria-valuenow", "0")  # moved by the page's script
    expect(page.locator('[data-field="time_left_text"]')).to_have_text(
        re.compile(r"about \d+ min left|less than a minute left")
    )
    elapsed = page.locator('[data-field="elapsed_text"]')
    expect(elapsed).to_have_text(re.compile(r"\d+ s|\d+ min \d+ s"))
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("heading", name="Stop sending?")).to_be_visible()
    expect(page.get_by_role("heading", name="Sending", exact=True)).to_be_visible()  # not yet
    page.get_by_role("button", name="Stop").click()
    stopped = page.get_by_role("heading", name=re.compile("^Stopped by alice at "))
    expect(stopped).to_be_visible()
    run = _run_json(page)["run"]
    at = datetime.fromisoformat(run["sends"][0]["stopped_at"]).astimezone(UTC).strftime("%H:%M")
    expect(stopped).to_have_text(f"Stopped by alice at {at}")
    unsent, ok_before = run["counts"]["skipped"], run["counts"]["ok"]
    expect(page.locator("p.unsent")).to_have_text(
        f"{unsent:,} rows not sent yet. Resume sends them, never a row that is already ok."
    )
    expect(page.get_by_role("table", name="Errors, grouped by reason")).to_have_count(0)

    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("heading", name="Sending", exact=True)).to_be_visible()
    expect(page.locator("#to-send")).to_have_text(f"{LONG_RUN_ROWS:,}")  # the whole file
    assert int(page.locator("#done").inner_text().replace(",", "")) >= ok_before
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    expect(page.get_by_role("table", name="Rows by status")).to_contain_text(f"{LONG_RUN_ROWS:,}")
    story = page.get_by_role("table", name=re.compile("^The run's story"))
    expect(story.get_by_role("row")).to_have_text(
        [
            re.compile("When.*What.*Who"),
            re.compile("Checked.*alice"),
            re.compile("Sent.*alice"),
            re.compile("Stopped.*alice"),
            re.compile("Resumed.*alice"),
            re.compile("Finished"),
        ]
    )


def test_failed_rows_grouped_then_sent_again_through_the_plan(
    page: Page, server: Served, tmp_path: Path
) -> None:
    # Customers above LONG_RUN_ROWS do not exist: those rows fail with 404.
    missing = [f"lock,{LONG_RUN_ROWS + i}" for i in range(1, 13)]
    file = tmp_path / "some.csv"
    there = [f"lock,{i}" for i in range(1, 9)]
    file.write_bytes(csv_bytes("operation,customer_id", *there, *missing))
    sign_in(page, server.url)
    check(page, file)
    page.get_by_role("button", name="Send 20 rows").click()
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    errors = page.get_by_role("table", name="Errors, grouped by reason")
    expect(errors.get_by_role("row")).to_have_count(2)  # the header, one group
    expect(errors.get_by_role("row").nth(1).get_by_role("cell")).to_have_text(
        [
            "failed",
            "HTTP 404: customer not found (customer_id=…)",
            "12",
            "rows 9 (line 10), 10 (line 11), 11 (line 12)",
        ]
    )
    first = page.url
    page.get_by_role("button", name="Send the 12 failed rows again").click()
    expect(page.get_by_role("heading", name="The plan")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^some.csv, checked"))).to_have_attribute(
        "href", first.removeprefix(server.url)
    )
    page.get_by_role("button", name="Send 12 rows").click()
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    expect(page.get_by_role("table", name="Rows by status")).to_have_text(
        re.compile(r"failed\s*12\s*skipped\s*8")
    )  # the 8 rows ok before were not sent again
    log = requests.get(server.sim_url + "/_sim/log", timeout=10).json()
    sent = [entry["lookup"][1] for entry in log]
    assert sorted(sent, key=int) == [str(i) for i in range(1, 9)] + sorted(
        [m.split(",")[1] for m in missing] * 2, key=int
    )
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(first)
    expect(page.get_by_text("The failed rows are sent again in")).to_be_visible()
    expect(page.get_by_role("button", name="Send the 12 failed rows again")).to_have_count(0)
    _fits_a_phone(page)


def test_the_page_offers_the_control_where_the_terminal_takes_a_flag(
    page: Page, server: Served, tmp_path: Path
) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("operation,customer_id,Vorname,Login\nset,7,José,jo7\n".encode("latin-1"))
    sign_in(page, server.url)
    page.get_by_role("checkbox", name=re.compile("^staging ")).check()
    page.get_by_label("Spreadsheet").set_input_files(latin)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("alert")).to_have_text(
        "latin.csv: not valid UTF-8 (byte 0xe9 at offset 45, line 2) — choose the file's "
        "encoding below and check again"
    )
    encoding = page.get_by_label("Encoding")
    expect(encoding).to_have_value("cp1252")  # the bytes decode cleanly: preselected
    expect(encoding.locator("option:checked")).to_have_text("Western European (Windows-1252)")
    page.get_by_role("button", name="Check again").click()

    # Decoded, "Vorname" is read as firstname; "Login" waits for a person, not preselected.
    expect(page.get_by_role("heading", name="Unknown columns")).to_be_visible()
    expect(page.get_by_text("1 column needs a decision")).to_be_visible()
    recognised = page.get_by_role("table", name="Columns recognised by their name")
    expect(recognised.get_by_role("row").nth(1).get_by_role("cell")).to_have_text(
        ["Vorname", "firstname"]
    )
    login = page.get_by_label("Column “Login”")
    expect(login).to_have_value("")
    login.select_option("username")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_role("heading", name="The plan")).to_be_visible()
    expect(page.get_by_role("list", name="How the file was read")).to_contain_text(
        "Encoding: Western European (Windows-1252)"
    )
    expect(page.get_by_text("customer_id=7&firstname=José&username=jo7")).to_be_visible()

    book = tmp_path / "two.xlsx"
    workbook = xlsxwriter.Workbook(str(book))
    workbook.add_worksheet("Notes").write(0, 0, "The changes are on the next sheet")
    changes = workbook.add_worksheet("Unlocks")
    changes.write_row(0, 0, ["operation", "customer_id"])
    changes.write_row(1, 0, ["unlock", "7"])
    workbook.close()
    page.get_by_role("link", name="New batch").click()
    page.get_by_role("checkbox", name=re.compile("^staging ")).check()
    page.get_by_label("Spreadsheet").set_input_files(book)
    page.get_by_role("button", name="Check").click()
    picker = page.get_by_label("Sheet", exact=True)
    expect(picker.locator("option")).to_have_text(["Notes", "Unlocks"])
    picker.select_option("Unlocks")
    page.get_by_role("button", name="Check again").click()
    expect(page.get_by_role("heading", name="The plan")).to_be_visible()
    expect(page.get_by_role("list", name="How the file was read")).to_contain_text(
        "Sheet: Unlocks (2 of 2)"
    )
    expect(page.get_by_role("button", name="Send 1 row")).to_be_visible()


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


#: Finds every word inside ``selector`` that the browser laid out over more than one line,
#: e.g. "alic/e", "Fini/shed" or "19,1/56" in a table squeezed onto a phone.
_BROKEN_WORDS_JS = """
(selector) => {
  const broken = [];
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
        if (lines.size > 1) { broken.push(match[0]); }
      }
    }
  }
  return broken;
}
"""

#: Elements that reach past the right edge of the screen.
_TOO_WIDE_JS = """
(selector) => Array.from(document.querySelectorAll(selector))
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
  .map((el) => el.id || el.name || el.tagName)
"""


def _fits_a_phone(page: Page) -> None:
    assert page.evaluate(_BROKEN_WORDS_JS, "table") == []
    assert page.evaluate(_TOO_WIDE_JS, "header.top *, form, input, select, button") == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_runs_list_pages_and_filters_and_fits_a_phone(page: Page, server_with_runs: Served) -> None:
    server = server_with_runs
    sign_in(page, server.url)
    page.get_by_role("link", name="Runs").click()
    expect(page.get_by_role("table", name="Runs 1 to 50 of 60, newest first")).to_be_visible()
    first = page.get_by_role("table", name=re.compile("^Runs 1 to 50")).get_by_role("row").nth(1)
    expect(first).to_contain_text("fixes-14.csv")
    page.get_by_role("link", name="Older runs").click()
    older = page.get_by_role("table", name="Runs 51 to 60 of 60, newest first")
    expect(older.get_by_role("row")).to_have_count(11)
    expect(older.get_by_role("row").last).to_contain_text("weekly-00.csv")
    expect(page.get_by_text("2 uploads checked, not sent")).to_be_visible()
    expect(page.get_by_role("link", name="draft-a.csv")).to_be_hidden()  # collapsed

    page.get_by_label("Person").select_option("bob")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("table", name="Runs 1 to 15 of 15, newest first")).to_be_visible()
    page.get_by_text("2 uploads checked, not sent").click()
    expect(page.get_by_role("link", name="draft-a.csv")).to_be_visible()
    page.get_by_label("File name").fill("fixes-1")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/runs\?status=&person=bob&installation=&file=fixes-1$"))
    found = page.get_by_role("table", name="Runs 1 to 5 of 5, newest first")
    expect(found.get_by_role("row")).to_have_count(6)
    expect(found.get_by_role("row").nth(1)).to_contain_text("fixes-14.csv")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.url + "/runs")
    _fits_a_phone(page)
    page.get_by_role("link", name="fixes-14.csv").click()
    expect(page.get_by_role("heading", name="fixes-14.csv")).to_be_visible()
    _fits_a_phone(page)
    page.get_by_role("link", name="New batch").click()
    _fits_a_phone(page)


@pytest.fixture
def team_server(tmp_path: Path, simulator_process: SimulatorProcesses) -> Iterator[Served]:
    """``server`` with olga (operator) and bob (approver), where files with forget rows
    need approval."""
    yield from _serve(
        tmp_path,
        simulator_process,
        [],
        users=(("olga", "operator"), ("bob", "approver")),
        profile_lines='approval = "forget"\n',
    )


def test_an_operator_asks_another_person_approves_and_sends(
    page: Page, team_server: Served, tmp_path: Path
) -> None:
    server = team_server
    file = tmp_path / "erase.csv"
    file.write_bytes(csv_bytes("operation,customer_id", "forget,11", "lock,12", "lock,13"))
    sign_in(page, server.url, "olga")
    check(page, file)
    expect(page.get_by_role("button", name=re.compile("^Send"))).to_have_count(0)
    page.get_by_role("button", name="Request approval").click()
    expect(page.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    expect(page.locator("#status-text")).to_have_text("Waiting for approval")
    expect(page.get_by_role("button", name="Approve and send")).to_have_count(0)
    run_url = page.url
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    forged = page.request.post(
        run_url + "/approve", form={"csrf_token": token or "", "confirm_forget": "yes"}
    )
    assert forged.status == 403
    assert "Your role (operator) cannot approve runs — ask an admin." in forged.text()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, server.url, "bob")
    page.get_by_role("link", name="Runs").click()
    row = page.get_by_role("row").filter(has_text="erase.csv")
    expect(row).to_contain_text("Waiting for approval")
    row.get_by_role("link", name="erase.csv").click()
    expect(page.get_by_role("heading", name="The plan")).to_be_visible()
    expect(page.get_by_role("table", name="3 rows read")).to_contain_text("forget")
    page.get_by_label("I understand that forget erases customer data").check()
    page.get_by_role("button", name="Approve and send").click()
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    story = page.get_by_role("table", name=re.compile("^The run's story"))
    expect(story.get_by_role("row")).to_have_text(
        [
            re.compile("When.*What.*Who"),
            re.compile("Checked.*olga"),
            re.compile("Approval requested: it has 1 forget row.*olga"),
            re.compile("Approved.*bob"),
            re.compile("Sent.*bob"),
            re.compile("Finished"),
        ]
    )
    log = requests.get(server.sim_url + "/_sim/log", timeout=10).json()
    assert sorted(entry["lookup"][1] for entry in log) == ["11", "12", "13"]


@pytest.fixture
def fan_server(tmp_path: Path, simulator_process: SimulatorProcesses) -> Iterator[Served]:
    """``server`` with a second profile, "nats", for a simulator process of its own."""
    nats = simulator_process("--latency-ms", "20", "--customers", str(LONG_RUN_ROWS))
    lines = (
        f'\n[profiles.nats]\nbase_url = "{nats}"\napi_username = "{DEFAULT_API_USERNAME}"\n'
        f'api_key_env = "{KEY_ENV}"\n'
    )
    yield from _serve(tmp_path, simulator_process, [], profile_lines=lines)


def test_one_file_to_two_installations(page: Page, fan_server: Served, tmp_path: Path) -> None:
    rows = 5_000  # at 20 ms a request, seconds of sending to each: time to see the bars
    file = tmp_path / "locks.csv"
    file.write_bytes(csv_bytes("operation,customer_id", *(f"lock,{i}" for i in range(1, rows + 1))))
    sign_in(page, fan_server.url)
    check(page, file, "nats", "staging")
    expect(page.get_by_text("5,000 rows to each of 2 installations: 10,000 in all")).to_be_visible()
    page.get_by_role("button", name="Send 10,000 rows to 2 installations").click()
    expect(page.get_by_role("progressbar", name="Rows sent", exact=True)).to_be_visible()
    for name in ("nats", "staging"):
        bar = page.get_by_role("progressbar", name=f"Rows sent to {name}")
        expect(bar).to_be_visible()
        expect(bar).to_have_attribute("aria-valuemax", str(rows))
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    by_installation = page.get_by_role("table", name="Rows by installation")
    expect(by_installation.get_by_role("row")).to_have_text(
        [
            re.compile(r"Installation\s*ok"),
            re.compile(r"nats\s*5,000\s*Every row sent"),
            re.compile(r"staging\s*5,000\s*Every row sent"),
            re.compile(r"In all\s*10,000"),
        ]
    )
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the results of nats (CSV)").click()
    assert download.value.suggested_filename == "locks.nats.results.csv"
    results = pl.read_csv(io.BytesIO(Path(download.value.path()).read_bytes()), infer_schema=False)
    assert results.columns[:2] == ["installation", "row"] and results.height == rows
    assert set(results["installation"]) == {"nats"} and set(results["status"]) == {"ok"}


def test_signing_in_never_leaves_this_site(page: Page, server: Served) -> None:
    # The tab is dropped by the browser: "/\t/example.com" would be "//example.com".
    page.goto(server.url + "/login?next=/%09/example.com")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New batch")).to_be_visible()
    expect(page).to_have_url(server.url + "/")
