"""The ops page for everyone: axe-core finds nothing on any page state, at a desk's size and a
phone's; the keyboard gets everywhere; and README's screenshots, made from the same states.

One ``batchtool serve`` for the whole module, sending to two simulator processes: a quick one
and a slow one that holds a run in "Sending" for as long as the checks take. Each state is
reached once, its URL kept, and looked at as often as needed. To check a new state, add a
``State`` to ``STATES``. Skipped, like every browser test, where ``/usr/bin/chromium`` is
missing; ``make test-browser`` runs them. ``make screenshots`` (BATCHTOOL_SCREENSHOTS=1)
writes README's screenshots into ``docs/screenshots``; otherwise they go to a temporary folder.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import test_web_browser as browser_tests
from axe_playwright_python.sync_playwright import Axe
from conftest import SimulatorProcesses
from playwright.sync_api import (
    BrowserContext,
    FloatRect,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from test_web_browser import CHROMIUM, CHROMIUM_ARGS, SEEDED_RUNS, WAIT_MS, Served, _serve, sign_in
from test_web_reading import LATIN1, TWO_SHEETS
from web_support import KEY_ENV, PROFILE, csv_bytes

from batchtool.simulator import DEFAULT_API_USERNAME

#: Marked and skipped as every browser test is.
pytestmark = browser_tests.pytestmark

SIZES = {
    "desktop": ViewportSize(width=1280, height=800),
    "phone": ViewportSize(width=390, height=844),
}

#: The installation whose simulator answers each request after half a second: a run of
#: ``SLOW_ROWS`` rows there stays in "Sending" for half a minute or more (a state that needs
#: it sending starts another one after that), and stops within a second. One answer in
#: ``1 / SLOW_BUSY`` is 503 (busy), retried: a run there soon says why it slows down.
SLOW = "offerit-eu"
SLOW_ROWS = 5_000
SLOW_BUSY = 0.02
#: The installation where every run waits for a second person's approval.
FOUR_EYES = "four-eyes"
#: A run to two installations at their own speeds: the quick simulator's and the slow one.
TWO = (PROFILE, SLOW)

SAMPLE = Path(__file__).parent.parent / "sample_data" / "ops_changes.xlsx"
SCREENSHOTS = Path(__file__).parent.parent / "docs" / "screenshots"


class Site:
    """The server under test, a signed-in browser page per user, and the runs made so far
    (a state's URL, by the state's name)."""

    def __init__(self, served: Served, context: Callable[[], BrowserContext], folder: Path):
        self.url = served.url
        self.folder = folder
        self._context = context
        self._pages: dict[str, Page] = {}
        self._urls: dict[str, str] = {}

    def page(self, user: str | None) -> Page:
        """A page signed in as ``user``, or, for None, a new one signed in as nobody."""
        if user is None:
            return self._context().new_page()
        if user not in self._pages:
            page = self._context().new_page()
            sign_in(page, self.url, user)
            self._pages[user] = page
        return self._pages[user]

    def once(self, name: str, make: Callable[[], str]) -> str:
        """The URL ``make`` reached, made the first time it is asked for."""
        if name not in self._urls:
            self._urls[name] = make()
        return self._urls[name]

    def sending(self, name: str, make: Callable[[], str]) -> str:
        """Like ``once``, for a run that must still be sending: made again once it is not."""
        url = self._urls.get(name)
        if url is not None:
            run = self.page("alice").request.get(url + ".json").json()["run"]
            if run["status"] != "sending":
                del self._urls[name]
        return self.once(name, make)

    def upload(self, page: Page, file: Path, *installations: str) -> str:
        """Check ``file`` through New batch for ``installations`` (PROFILE if none); the run's
        URL once its check is done."""
        page.goto(self.url + "/")
        for name in installations or (PROFILE,):
            page.get_by_role("checkbox", name=re.compile(f"^{re.escape(name)} ")).check()
        page.get_by_label("Spreadsheet").set_input_files(file)
        page.get_by_role("button", name="Check").click()
        expect(page.locator("#run")).not_to_have_attribute("data-status", "checking")
        return page.url

    def file(self, name: str, *lines: str) -> Path:
        return self.raw(name, csv_bytes(*lines))

    def raw(self, name: str, content: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(content)
        return path


def _profile(name: str, url: str, extra: str = "") -> str:
    return (
        f'\n[profiles.{name}]\nbase_url = "{url}"\napi_username = "{DEFAULT_API_USERNAME}"\n'
        f'api_key_env = "{KEY_ENV}"\n{extra}\n'
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("axe")
    simulators = SimulatorProcesses()
    slow = simulators(
        "--latency-ms", "500", "--customers", str(SLOW_ROWS), "--rate-503", str(SLOW_BUSY)
    )
    served = _serve(
        folder,
        simulators,
        SEEDED_RUNS[-8:],  # runs stopped by bob, and uploads never sent: the Runs list's parts
        users=(("alice", "admin"), ("bob", "approver")),
        # Nobody approves in these tests: the approval's installation may be the slow one.
        profile_lines=_profile(SLOW, slow) + _profile(FOUR_EYES, slow, 'approval = "always"'),
    )
    try:
        server = next(served)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )

            def context() -> BrowserContext:
                made = browser.new_context(viewport=SIZES["desktop"])
                made.set_default_timeout(WAIT_MS)
                return made

            expect.set_options(timeout=WAIT_MS)
            yield Site(server, context, folder)
            browser.close()
    finally:
        next(served, None)  # stops the server
        simulators.stop_all()


# --- the page states -----------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """A page as someone sees it: ``reach`` brings ``user``'s page there (None: nobody
    signed in) and waits until it shows."""

    name: str
    reach: Callable[[Site, Page], None]
    user: str | None = "alice"


def _sign_in(site: Site, page: Page) -> None:
    page.goto(site.url + "/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def _new_batch(site: Site, page: Page) -> None:
    page.goto(site.url + "/")
    expect(page.get_by_role("heading", name="New batch")).to_be_visible()


def _reading_options(site: Site, page: Page) -> None:
    _new_batch(site, page)
    for name in (PROFILE, SLOW):
        page.get_by_role("checkbox", name=re.compile(f"^{name} ")).check()
    page.get_by_text("Reading options").click()
    expect(page.get_by_label("Header row")).to_be_visible()


def _unknown_columns(site: Site, page: Page) -> None:
    # Kundennummer is read as customer_id: the step lists it among the columns recognised.
    file = site.file(
        "columns.csv", "operation,Kundennummer,E-mail address,Notes", "lock,1,a@b.example,x"
    )
    page.goto(site.once("columns", lambda: site.upload(page, file)))
    expect(page.get_by_text("2 columns need a decision")).to_be_visible()
    expect(page.get_by_role("table", name="Columns recognised by their name")).to_be_visible()


def _column_conflict(site: Site, page: Page) -> None:
    # Notes first: the page opens on the first marked column, not on the first column.
    file = site.file(
        "mails.csv", "operation,customer_id,Notes,Mail 1,Mail 2", "set,7,x,a@b.example,c@d.example"
    )
    page.goto(site.once("conflict", lambda: site.upload(page, file)))
    for header in ("Mail 1", "Mail 2"):
        page.get_by_label(f"Column “{header}”").select_option("email")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_text("“Mail 1” and “Mail 2” are both mapped to email")).to_have_count(2)


def _sheet_picker(site: Site, page: Page) -> None:
    file = site.raw("two-sheets.xlsx", TWO_SHEETS)
    page.goto(site.once("sheets", lambda: site.upload(page, file)))
    expect(page.get_by_label("Sheet", exact=True)).to_have_value("Notes")


def _encoding_offer(site: Site, page: Page) -> None:
    file = site.raw("latin.csv", LATIN1)
    page.goto(site.once("encoding", lambda: site.upload(page, file)))
    expect(page.get_by_label("Encoding")).to_have_value("cp1252")


def _not_a_spreadsheet(site: Site, page: Page) -> None:
    file = site.raw("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(40))
    page.goto(site.once("png", lambda: site.upload(page, file)))
    expect(page.get_by_role("alert")).to_have_text("This is a PNG image, not a spreadsheet.")


def _plan(site: Site, page: Page) -> None:
    rows = [f"set,{i},City {i}" for i in range(1, 30)]
    file = site.file("locks.csv", "operation,customer_id,city", *rows, "set,x,")
    page.goto(site.once("plan", lambda: site.upload(page, file)))
    expect(page.get_by_role("heading", name="The plan")).to_be_visible()


def _plan_with_forget(site: Site, page: Page) -> None:
    page.goto(site.once("forget", lambda: site.upload(page, SAMPLE)))
    expect(page.get_by_label("I understand that forget erases customer data")).to_be_visible()


def _refused(site: Site, page: Page) -> None:
    _plan_with_forget(site, page)
    page.get_by_role("button", name=re.compile("^Send ")).click()  # not ticked: refused
    expect(page.get_by_role("alert")).to_have_text(
        "Tick “I understand that forget erases customer data” to send this file."
    )


def _send_slowly(site: Site, page: Page, *to: str) -> str:
    """``SLOW_ROWS`` rows sent to ``to`` (the slow installation if none): the run's URL once
    it is sending."""
    to = to or (SLOW,)
    rows = (f"lock,{i}" for i in range(1, SLOW_ROWS + 1))
    page.goto(site.upload(page, site.file("slow.csv", "operation,customer_id", *rows), *to))
    page.get_by_role("button", name=re.compile(f"^Send {len(to) * SLOW_ROWS:,} rows")).click()
    expect(page.get_by_role("heading", name="Sending", exact=True)).to_be_visible()
    return page.url


#: What the page says once the slow installation has answered 503.
SLOWED = re.compile(r"^the installation answered 503 \(busy\): slowing down to \d+ at a time$")


def _sending(site: Site, page: Page) -> None:
    page.goto(site.sending("sending", lambda: _send_slowly(site, page)))
    expect(page.get_by_role("progressbar", name="Rows sent")).not_to_have_attribute(
        "aria-valuenow", "0"
    )
    expect(page.get_by_role("status").filter(has_text=SLOWED)).to_be_visible()


def _stop_confirmation(site: Site, page: Page) -> None:
    page.goto(site.sending("sending", lambda: _send_slowly(site, page)) + "/stop")
    expect(page.get_by_role("heading", name="Stop sending?")).to_be_visible()


def _stop(site: Site, page: Page) -> str:
    page.goto(_send_slowly(site, page) + "/stop")
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("heading", name=re.compile("^Stopped by alice at "))).to_be_visible()
    return page.url.removesuffix("/stop")


def _stopped(site: Site, page: Page) -> None:
    page.goto(site.once("stopped", lambda: _stop(site, page)))
    expect(page.get_by_role("button", name="Resume")).to_be_visible()


def _send_with_failures(site: Site, page: Page, *to: str) -> str:
    """20 rows, 4 of them failing, sent to ``to`` (PROFILE if none): the run's URL once it
    is finished."""
    missing = [f"lock,{90_000 + i}" for i in range(1, 5)]  # no such customers anywhere: 404
    rows = [f"lock,{i}" for i in range(1, 17)]
    file = site.file("weekly.csv", "operation,customer_id", *rows, *missing)
    page.goto(site.upload(page, file, *to))
    page.get_by_role("button", name=re.compile(f"^Send {20 * max(1, len(to))} rows")).click()
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    return page.url


def _done(site: Site, page: Page) -> None:
    page.goto(site.once("done", lambda: _send_with_failures(site, page)))
    expect(page.get_by_role("button", name="Send the 4 failed rows again")).to_be_visible()


def _plan_two(site: Site, page: Page) -> None:
    rows = [f"lock,{i}" for i in range(1, 311)]
    file = site.file("everywhere.csv", "operation,customer_id", *rows)
    page.goto(site.once("plan-two", lambda: site.upload(page, file, *TWO)))
    expect(page.get_by_role("button", name="Send 620 rows to 2 installations")).to_be_visible()


def _sending_two(site: Site, page: Page) -> None:
    page.goto(site.sending("sending-two", lambda: _send_slowly(site, page, *TWO)))
    for name in TWO:
        expect(page.get_by_role("progressbar", name=f"Rows sent to {name}")).to_be_visible()
    slow = page.locator(".installation").filter(has_text=SLOW)
    expect(slow.get_by_role("status").filter(has_text=SLOWED)).to_be_visible()


def _done_two(site: Site, page: Page) -> None:
    page.goto(site.once("done-two", lambda: _send_with_failures(site, page, *TWO)))
    expect(page.get_by_role("table", name="Rows by installation")).to_be_visible()
    for name in TWO:
        retry = page.get_by_role("button", name=f"Send the 4 failed rows to {name} again")
        expect(retry).to_be_visible()


def _runs(site: Site, page: Page) -> None:
    page.goto(site.url + "/runs")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()


def _ask_approval(site: Site, page: Page) -> str:
    file = site.file("erase.csv", "operation,customer_id", "forget,11", "lock,12")
    page.goto(site.upload(page, file, FOUR_EYES))
    page.get_by_role("button", name="Request approval").click()
    expect(page.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    return page.url


def _approval_asked(site: Site, page: Page) -> None:
    page.goto(site.once("approval", lambda: _ask_approval(site, site.page("alice"))))
    expect(page.get_by_text("You asked for it")).to_be_visible()


def _approval_to_decide(site: Site, page: Page) -> None:
    page.goto(site.once("approval", lambda: _ask_approval(site, site.page("alice"))))
    expect(page.get_by_role("button", name="Approve and send")).to_be_visible()


def _audit(site: Site, page: Page) -> None:
    page.goto(site.url + "/audit")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()


def _not_found(site: Site, page: Page) -> None:
    page.goto(site.url + "/runs/no-such-run")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


STATES = [
    State("sign-in", _sign_in, user=None),
    State("new-batch", _new_batch),
    State("reading-options", _reading_options),
    State("unknown-columns", _unknown_columns),
    State("column-conflict", _column_conflict),
    State("sheet-picker", _sheet_picker),
    State("encoding-offer", _encoding_offer),
    State("not-a-spreadsheet", _not_a_spreadsheet),
    State("plan", _plan),
    State("plan-with-forget", _plan_with_forget),
    State("refused-send", _refused),
    State("sending", _sending),
    State("stop-confirmation", _stop_confirmation),
    State("stopped", _stopped),
    State("done", _done),
    State("plan-two-installations", _plan_two),
    State("sending-two-installations", _sending_two),
    State("done-two-installations", _done_two),
    State("runs", _runs),
    State("approval-asked", _approval_asked),
    State("approval-to-decide", _approval_to_decide, user="bob"),
    State("audit", _audit),
    State("not-found", _not_found),
]


def _reach(site: Site, state: State, size: str) -> Page:
    page = site.page(state.user)
    page.set_viewport_size(SIZES[size])
    state.reach(site, page)
    return page


def _violations(page: Page) -> list[str]:
    """What axe-core finds on the page, one line per rule and element."""
    found: dict[str, Any] = Axe().run(page).response
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']} — {' '.join(node['target'])}: "
        f"{node.get('failureSummary', '')}"
        for rule in found["violations"]
        for node in rule["nodes"]
    ]


@pytest.mark.parametrize(
    ("state", "size"),
    [pytest.param(state, size, id=f"{state.name}-{size}") for state in STATES for size in SIZES],
)
def test_axe_finds_nothing(site: Site, state: State, size: str) -> None:
    page = _reach(site, state, size)
    found = _violations(page)
    assert not found, "\n".join(found)


# --- the keyboard ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "role", "name"),
    [
        pytest.param(_sign_in, "textbox", "Username", id="sign-in"),
        # The installations' boxes, in name order: the first one.
        pytest.param(_new_batch, "checkbox", re.compile(f"^{FOUR_EYES} "), id="new-batch"),
        pytest.param(_unknown_columns, "combobox", "Column “E-mail address”", id="unknown-columns"),
        # The first of the two columns marked: where the fix is made.
        pytest.param(_column_conflict, "combobox", "Column “Mail 1”", id="column-conflict"),
        pytest.param(_plan, "link", "Download plan (CSV)", id="plan"),
        pytest.param(_plan_with_forget, "link", "Download plan (CSV)", id="plan-with-forget"),
    ],
)
def test_a_page_opens_with_its_first_control_focused(
    site: Site, state: Callable[[Site, Page], None], role: Any, name: str | re.Pattern[str]
) -> None:
    page = site.page(None if state is _sign_in else "alice")
    page.set_viewport_size(SIZES["desktop"])
    state(site, page)
    expect(page.get_by_role(role, name=name, exact=True)).to_be_focused()


def test_a_wrong_password_keeps_the_name_and_focuses_the_password(site: Site) -> None:
    page = site.page(None)
    _sign_in(site, page)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value("alice")
    expect(page.get_by_label("Password")).to_be_focused()


def test_tab_from_page_load_reaches_the_skip_link_first_and_it_skips_the_header(
    site: Site,
) -> None:
    page = site.page("alice")
    page.set_viewport_size(SIZES["phone"])
    _runs(site, page)
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).not_to_be_in_viewport()  # out of sight until the keyboard reaches it
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Status")).to_be_focused()  # the first field after the header


def test_a_refused_send_says_why_at_the_checkbox_and_focuses_it(site: Site) -> None:
    page = site.page("alice")
    page.set_viewport_size(SIZES["desktop"])
    _refused(site, page)
    tick = page.get_by_label("I understand that forget erases customer data")
    why = "Tick “I understand that forget erases customer data” to send this file."
    expect(tick).to_be_focused()
    expect(tick).to_have_accessible_description(why)
    expect(page.get_by_role("alert")).to_have_count(1)  # said once, where it is about
    # Next to it: the line right under the checkbox and its label.
    expect(page.locator(".check + p")).to_have_text(why)
    page.keyboard.press("Space")
    expect(tick).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=re.compile("^Send "))).to_be_focused()


#: The focused element's ring, and the colours it must stand out from: the element's own
#: background and the first one behind it (white where nothing sets one).
_RING_JS = """
() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  let behind = el.parentElement;
  while (behind && getComputedStyle(behind).backgroundColor === "rgba(0, 0, 0, 0)") {
    behind = behind.parentElement;
  }
  return {
    text: el.textContent.trim(),
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    ring: style.outlineColor,
    own: style.backgroundColor,
    page: behind ? getComputedStyle(behind).backgroundColor : "rgb(255, 255, 255)",
  };
}
"""


def _contrast(one: str, other: str) -> float:
    """WCAG's contrast ratio of two CSS ``rgb(r, g, b)`` colours."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _tab_to(page: Page, name: str) -> None:
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


@pytest.mark.parametrize(
    ("state", "button"),
    [
        pytest.param(_new_batch, "Check", id="check"),
        pytest.param(_plan, f"Send 29 rows to {PROFILE}", id="send"),
        pytest.param(_done, "Send the 4 failed rows again", id="send-again"),
    ],
)
def test_a_blue_button_shows_a_ring_when_the_keyboard_reaches_it(
    site: Site, state: Callable[[Site, Page], None], button: str
) -> None:
    page = site.page("alice")
    page.set_viewport_size(SIZES["desktop"])
    state(site, page)
    _tab_to(page, button)
    ring = page.evaluate(_RING_JS)
    assert (ring["text"], ring["style"]) == (button, "solid")
    assert ring["width"] >= 2
    assert _contrast(ring["ring"], ring["own"]) >= 3, ring
    assert _contrast(ring["ring"], ring["page"]) >= 3, ring


# --- README's screenshots --------------------------------------------------------------------

#: What README shows: (file name, state, size, the button it shows down to when that is
#: further down than the screen reaches; None: the screen).
SHOTS: list[tuple[str, Callable[[Site, Page], None], str, str | None]] = [
    ("new-batch", _new_batch, "desktop", None),
    ("unknown-columns", _unknown_columns, "desktop", None),
    ("plan", _plan_with_forget, "desktop", "Send 30 rows"),
    ("plan-two-installations", _plan_two, "desktop", "Send 620 rows"),
    ("sending", _sending, "desktop", None),
    ("done", _done, "desktop", None),
    ("sending-phone", _sending, "phone", None),
]


def test_readme_screenshots(site: Site, tmp_path: Path) -> None:
    """README's screenshots; into docs/screenshots with BATCHTOOL_SCREENSHOTS=1 (``make
    screenshots``), otherwise into a temporary folder, so that a test run leaves the tree as
    it was."""
    folder = SCREENSHOTS if os.environ.get("BATCHTOOL_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(exist_ok=True)
    page = site.page("alice")
    for name, state, size, until in SHOTS:
        page.set_viewport_size(SIZES[size])
        state(site, page)
        shot = _screenshot(page, SIZES[size], until)
        smaller = _recompressed(shot)
        assert len(smaller) <= len(shot)
        (folder / f"{name}.png").write_bytes(smaller)
    assert sorted(p.name for p in folder.glob("*.png")) == sorted(f"{n}.png" for n, *_ in SHOTS)


def _screenshot(page: Page, size: ViewportSize, until: str | None) -> bytes:
    """What the screen shows; with ``until``, down to the button named so, when it is further
    down (the page is at its top: the button's box is where it is on the page)."""
    if until is None:
        return page.screenshot(animations="disabled", caret="hide")
    box = page.get_by_role("button", name=re.compile(f"^{until} ")).bounding_box()
    assert box is not None
    bottom = max(size["height"], box["y"] + box["height"] + 24)
    clip = FloatRect(x=0, y=0, width=size["width"], height=bottom)
    return page.screenshot(animations="disabled", caret="hide", full_page=True, clip=clip)


def _recompressed(png: bytes) -> bytes:
    """The same PNG, its image data deflated as hard as zlib can: chromium favours speed."""
    signature, chunks, at = png[:8], [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        chunks.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + length]))
        at += 12 + length
    pixels = zlib.decompress(b"".join(data for kind, data in chunks if kind == b"IDAT"))
    packed = zlib.compress(pixels, 9)
    out, written = [signature], False
    for kind, data in chunks:
        if kind == b"IDAT":
            if written:
                continue  # one IDAT holds it all
            data, written = packed, True
        crc = zlib.crc32(kind + data)
        out.append(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc))
    return b"".join(out)
