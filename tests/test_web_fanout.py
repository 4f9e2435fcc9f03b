"""The ops page sending one file to several installations (issue 18): chosen as boxes ticked,
planned and sent to each, watched per installation (its own bar, its own abort), done per
installation and in all, its failed rows sent again each to its own installation, its
downloads per installation; old single-installation runs still load; two simulators with
``--simulate``. Against two simulators on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from web_support import (
    WAIT_POLLS,
    WebClient,
    add_user,
    csv_bytes,
    post_form,
    run_folder,
    run_json,
    seed_runs,
    sign_in,
    sign_in_as,
    upload,
    wait_for_status,
)

from batchtool.audit import AuditLog
from batchtool.simulator import FaultConfig, Simulator
from batchtool.web import Users, WebConfig, make_app

pytestmark = pytest.mark.usefixtures("cheap_hashes")

NATS_KEY = "BATCHTOOL_TEST_NATS_KEY"
OFFERIT_KEY = "BATCHTOOL_TEST_OFFERIT_KEY"
AUTH_REFUSED = (
    "authentication refused (HTTP 401): invalid api-username or api-key — check the api key "
    "and api username"
)


@dataclass
class Fan:
    """The page with three profiles: offerit (labelled "Offerit EU") and nats, each its own
    simulator, and trackfinity, to offerit's simulator again; alice signed in."""

    client: WebClient
    offerit: Simulator
    nats: Simulator
    config: WebConfig
    monkeypatch: pytest.MonkeyPatch

    def refuse_nats_key(self, refused: bool = True) -> None:
        self.monkeypatch.setenv(NATS_KEY, "not-the-key" if refused else self.nats.api_key)

    def logs(self) -> tuple[list[str], list[str]]:
        """The customers each simulator was sent, in order: (offerit's, nats'); a request
        refused for its key is logged without them ("")."""
        offerit, nats = ([e.form.get("customer_id", "") for e in s.log] for s in self.sims)
        return offerit, nats

    @property
    def sims(self) -> tuple[Simulator, Simulator]:
        return self.offerit, self.nats

    def clear_logs(self) -> None:
        self.offerit.clear_log()
        self.nats.clear_log()


def profile(name: str, sim: Simulator, key_env: str, extra: str = "") -> str:
    return (
        f'[profiles.{name}]\nbase_url = "{sim.base_url}"\napi_username = "{sim.api_username}"\n'
        f'api_key_env = "{key_env}"\n{extra}\n'
    )


@pytest_asyncio.fixture
async def fan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fan]:
    # offerit knows customers 1..5, nats 1..4: row 6 fails at offerit, rows 5 and 6 at nats.
    async with Simulator(customers=5) as offerit, Simulator(customers=4) as nats:
        monkeypatch.setenv(OFFERIT_KEY, offerit.api_key)
        monkeypatch.setenv(NATS_KEY, nats.api_key)
        config_path = tmp_path / "config.toml"
        config_path.write_text(
            profile("offerit", offerit, OFFERIT_KEY, 'label = "Offerit EU"')
            + profile("nats", nats, NATS_KEY)
            + profile("trackfinity", offerit, OFFERIT_KEY)
        )
        config = WebConfig(data_dir=tmp_path / "data", config_path=config_path, max_upload_mb=1)
        Users(config.users_path).add("alice", "correct horse battery")
        async with TestClient(TestServer(make_app(config))) as client:
            assert await sign_in(client) == 200
            yield Fan(client, offerit, nats, config, monkeypatch)


UNLOCKS = csv_bytes("operation,customer_id", *(f"unlock,{i}" for i in range(1, 7)))


async def sent(fan: Fan, content: bytes, name: str, *to: str) -> dict[str, Any]:
    """Upload ``content`` for the installations ``to``, send it, wait: the run's JSON."""
    _, path, _ = await upload(fan.client, content, name, installation=to)
    await post_form(fan.client, path + "/send", {"confirm_forget": "yes"}, token_from=path)
    return await wait_for_status(fan.client, path)


def run_path(data: dict[str, Any]) -> str:
    return str(data["run"]["url"])


async def test_installations_are_boxes_and_a_run_keeps_them_in_the_pages_order(fan: Fan) -> None:
    page = await (await fan.client.get("/")).text()
    assert "<legend>Installation</legend>" in page
    assert (
        '<input id="installation-0" name="installation" type="checkbox" value="nats" autofocus>'
        f'\n      <label for="installation-0">nats ({fan.nats.base_url})</label>'
    ) in page  # several offered: none ticked for you
    assert f'<label for="installation-1">Offerit EU: offerit ({fan.offerit.base_url})</label>' in (
        page
    )
    _, path, _ = await upload(fan.client, UNLOCKS, "u.csv", installation=["offerit", "nats"])
    run = (await run_json(fan.client, path))["run"]
    assert [(t["name"], t["label"]) for t in run["installations"]] == [
        ("nats", "nats"),
        ("offerit", "Offerit EU"),
    ]
    assert (run["installation"], run["base_url"]) == (None, None)  # several: see installations
    assert run["installation_text"] == "nats, offerit"

    status, _, page = await upload(fan.client, UNLOCKS, "u.csv", installation=[])
    assert status == 400 and "Choose an installation to send to: one, or several." in page
    status, _, page = await upload(fan.client, UNLOCKS, "u.csv", installation=["nats", "prod"])
    assert status == 400 and "Choose installations from the list." in page


async def test_the_plan_shows_each_installations_share_and_the_button_how_many(
    fan: Fan,
) -> None:
    content = csv_bytes("operation,customer_id,email", "lock,1,", "set,2,nope", "lock,3,")
    _, path, page = await upload(fan.client, content, "p.csv", installation=["offerit", "nats"])
    assert "<caption>3 rows read, for 2 installations</caption>" in page
    assert (
        '<tr><th scope="row">lock</th><td>2 valid</td><td>2 valid</td></tr>'
        in page.replace("\n", "")
    )
    assert "2 rows to each of 2 installations: 4 in all, each installation on its own." in page
    assert ">Send 4 rows to 2 installations</button>" in page
    invalid = '<td>2</td><td class="place">line 3</td><td>email &#39;nope&#39; is not an email'
    assert page.count(invalid) == 1  # once, though both installations would refuse it
    data = await run_json(fan.client, path)
    assert data["run"]["plan"]["total"] == 3 and data["run"]["plan"]["valid"] == 4
    assert [t["plan"]["valid"] for t in data["run"]["installations"]] == [2, 2]
    plan = pl.read_csv(io.BytesIO(await (await fan.client.get(path + "/plan.csv")).read()))
    assert plan.columns[0] == "installation"
    assert plan["installation"].to_list() == ["nats"] * 3 + ["offerit"] * 3

    _, _, page = await upload(fan.client, content, "p.csv", installation="offerit")
    assert ">Send 2 rows to Offerit EU</button>" in page  # the profile's label


async def test_an_installation_refusing_the_key_is_aborted_alone_and_resumed_later(
    fan: Fan,
) -> None:
    fan.refuse_nats_key()
    fan.offerit.faults = FaultConfig(latency_ms=50)  # still sending when nats is refused
    rows = csv_bytes("operation,customer_id", *(f"lock,{1 + i % 4}" for i in range(300)))
    _, path, _ = await upload(fan.client, rows, "locks.csv", installation=["offerit", "nats"])
    await post_form(fan.client, path + "/send", token_from=path)
    live: dict[str, Any] = {}
    for _ in range(WAIT_POLLS):
        live = (await run_json(fan.client, path))["live"] or {}
        parts = {p["installation"]: p for p in live.get("installations", [])}
        if parts.get("nats", {}).get("aborted"):
            break
        await asyncio.sleep(0.02)
    assert parts["nats"]["aborted"] == AUTH_REFUSED
    assert parts["offerit"]["aborted"] is None
    page = await (await fan.client.get(path)).text()
    assert 'role="progressbar" aria-label="Rows sent"' in page
    for name in ("offerit", "nats"):
        assert f'role="progressbar" aria-label="Rows sent to {name}"' in page
    assert f"for nats: <span data-field=\"aborted\">{AUTH_REFUSED}</span>" in page

    data = await wait_for_status(fan.client, path)
    run = data["run"]
    assert run["status"] == "aborted"
    assert run["status_text"] == f"Aborted: nats: {AUTH_REFUSED}"
    nats, offerit = run["installations"]
    assert (offerit["name"], offerit["counts"]) == ("offerit", {"ok": 300})
    assert offerit["aborted"] is None
    # The requests in flight when the key was refused failed with it; the rest were not sent.
    refused, unsent = nats["counts"]["failed"], nats["counts"]["skipped"]
    assert (nats["name"], refused + unsent, nats["unsent"]) == ("nats", 300, unsent)
    assert nats["aborted"] == AUTH_REFUSED
    assert run["counts"] == {"ok": 300, "failed": refused, "skipped": unsent}
    assert [(e["what"], e["by"]) for e in data["story"]][1:] == [
        ("Sent to nats, offerit", "alice"),
        ("Aborted for nats", None),
    ]
    page = await (await fan.client.get(path)).text()
    assert "<caption>Rows by installation</caption>" in page
    assert f"<td>Aborted: {AUTH_REFUSED}</td>" in page and "<td>Every row sent</td>" in page
    offerit_sent, nats_sent = fan.logs()
    assert (len(offerit_sent), len(nats_sent)) == (300, refused)

    fan.clear_logs()
    fan.refuse_nats_key(False)
    status, _ = await post_form(fan.client, path + "/resume", token_from=path)
    assert status == 200
    run = (await wait_for_status(fan.client, path))["run"]
    assert run["status"] == "finished" and run["counts"] == {"ok": 600}
    offerit_sent, nats_sent = fan.logs()
    assert (len(offerit_sent), len(nats_sent)) == (0, 300)  # nats' rows: none was ok there


async def test_done_counts_errors_and_downloads_per_installation(fan: Fan) -> None:
    data = await sent(fan, UNLOCKS, "u.csv", "offerit", "nats")
    path, run = run_path(data), data["run"]
    assert [(t["name"], t["counts"]) for t in run["installations"]] == [
        ("nats", {"ok": 4, "failed": 2}),
        ("offerit", {"ok": 5, "failed": 1}),
    ]
    assert [(g["installation"], g["count"], g["rows"]) for g in run["errors"]] == [
        ("nats", 2, [5, 6]),
        ("offerit", 1, [6]),
    ]
    page = await (await fan.client.get(path)).text()
    assert (
        "<tr><td>nats</td><td>failed</td><td>HTTP 404: customer not found (customer_id=…)</td>"
    ) in page

    whole = await fan.client.get(path + "/results.csv")
    results = pl.read_csv(io.BytesIO(await whole.read()), infer_schema=False)
    assert results.columns[:2] == ["installation", "row"] and results.height == 12
    nats = await fan.client.get(path + "/results.csv?installation=nats")
    assert "u.nats.results.csv" in nats.headers["Content-Disposition"]
    mine = pl.read_csv(io.BytesIO(await nats.read()), infer_schema=False)
    assert mine.columns[0] == "installation"
    assert mine.select("installation", "row", "status").rows() == [
        *(("nats", str(i), "ok") for i in range(1, 5)),
        ("nats", "5", "failed"),
        ("nats", "6", "failed"),
    ]
    book = await fan.client.get(path + "/failed.xlsx?installation=offerit")
    assert "u.offerit.failed.xlsx" in book.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(await book.read())).active
    assert sheet is not None
    assert [(r[0], r[1], r[2]) for r in sheet.values] == [
        ("installation", "row", "status"),
        ("offerit", 6, "failed"),
    ]
    excel = await fan.client.get(path + "/results.xlsx?installation=nats")
    assert excel.status == 200 and "u.nats.results.xlsx" in excel.headers["Content-Disposition"]
    assert (await fan.client.get(path + "/results.csv?installation=prod")).status == 404
    assert (await fan.client.get(path + "/plan.csv?installation=nats")).status == 404
    for name in ("nats", "offerit"):
        assert f">Download the results of {name} (CSV)</a>" in page


async def test_the_failed_rows_go_again_each_to_its_own_installation(fan: Fan) -> None:
    first = run_path(await sent(fan, UNLOCKS, "u.csv", "offerit", "nats"))
    page = await (await fan.client.get(first)).text()
    assert ">Send the 3 failed rows again</button>" in page
    assert ">Send the 2 failed rows to nats again</button>" in page
    assert ">Send the 1 failed row to offerit again</button>" in page
    fan.clear_logs()

    await post_form(fan.client, first + "/retry-failed", token_from=first)
    (again,) = (await run_json(fan.client, first))["run"]["retried_in"]
    retry = f"/runs/{again}"
    data = await wait_for_status(fan.client, retry)
    assert [t["name"] for t in data["run"]["installations"]] == ["nats", "offerit"]
    page = await (await fan.client.get(retry)).text()
    assert "2 rows to nats, 1 row to offerit: 3 in all" in page
    assert ">Send 3 rows to 2 installations</button>" in page
    assert fan.logs() == ([], [])  # nothing is sent before someone sends the new run
    await post_form(fan.client, retry + "/send", token_from=retry)
    await wait_for_status(fan.client, retry)
    offerit_sent, nats_sent = fan.logs()
    assert (offerit_sent, sorted(nats_sent)) == (["6"], ["5", "6"])
    page = await (await fan.client.get(first)).text()
    assert f'action="{first}/retry-failed"' not in page  # every failed row is sent again


async def test_one_installations_failed_rows_go_again_to_it_alone(fan: Fan) -> None:
    first = run_path(await sent(fan, UNLOCKS, "u.csv", "offerit", "nats"))
    fan.clear_logs()
    status, _ = await post_form(
        fan.client, first + "/retry-failed", {"installation": "nats"}, token_from=first
    )
    assert status == 200
    (again,) = (await run_json(fan.client, first))["run"]["retried_in"]
    data = await wait_for_status(fan.client, f"/runs/{again}")
    assert [t["name"] for t in data["run"]["installations"]] == ["nats"]
    assert data["run"]["plan"] == {
        "total": 6,
        "valid": 2,
        "invalid": 0,
        "by_operation": {"unlock": 2},
        "preset": {"skipped": 4},
    }
    await post_form(fan.client, f"/runs/{again}/send", token_from=f"/runs/{again}")
    await wait_for_status(fan.client, f"/runs/{again}")
    assert fan.logs() == ([], ["5", "6"])

    page = await (await fan.client.get(first)).text()
    assert ">Send the 1 failed row again</button>" in page  # offerit's, not sent again yet
    assert "to nats again</button>" not in page
    status, page = await post_form(
        fan.client, first + "/retry-failed", {"installation": "nats"}, token_from=first
    )
    assert status == 409 and "The failed rows of this run are already being sent again." in page
    fan.clear_logs()
    await post_form(fan.client, first + "/retry-failed", token_from=first)
    second = (await run_json(fan.client, first))["run"]["retried_in"][1]
    data = await wait_for_status(fan.client, f"/runs/{second}")
    assert [t["name"] for t in data["run"]["installations"]] == ["offerit"]
    await post_form(fan.client, f"/runs/{second}/send", token_from=f"/runs/{second}")
    await wait_for_status(fan.client, f"/runs/{second}")
    assert fan.logs() == (["6"], [])


async def test_approval_is_needed_when_any_installations_rule_asks(fan: Fan) -> None:
    assert fan.config.config_path is not None
    with fan.config.config_path.open("a") as config:
        config.write(profile("strict", fan.nats, NATS_KEY, 'approval = "forget"'))
    add_user(fan.config.data_dir, "bob", "approver")
    forgets = csv_bytes("operation,customer_id", "forget,1", "lock,2")
    _, path, page = await upload(fan.client, forgets, "f.csv", installation=["offerit", "strict"])
    assert "This run needs a second person's approval: strict: it has 1 forget row." in page
    assert ">Send " not in page.split("The plan", 1)[1]
    await post_form(fan.client, path + "/request-approval", token_from=path)
    locks = csv_bytes("operation,customer_id", "lock,2")
    _, _, page = await upload(fan.client, locks, "l.csv", installation=["offerit", "strict"])
    assert ">Send 2 rows to 2 installations</button>" in page  # no forget: no approval

    await sign_in_as(fan.client, "bob")
    page = await (await fan.client.get(path)).text()
    assert "This file has forget rows for offerit (<strong>1</strong>) and strict" in page
    status, _ = await post_form(
        fan.client, path + "/approve", {"confirm_forget": "yes"}, token_from=path
    )
    assert status == 200
    assert (await wait_for_status(fan.client, path))["run"]["counts"] == {"ok": 4}
    lines = [
        (e["user"], e["action"], e["installation"])
        for e in AuditLog(fan.config.audit_path).entries()
        if e.get("run") == path.rsplit("/", 1)[1]
    ]
    assert lines == [
        ("alice", "check", "offerit, strict"),
        ("alice", "request approval", "offerit, strict"),
        ("bob", "approve", "offerit, strict"),
    ]


async def test_runs_list_names_the_installations_and_filters_by_one(fan: Fan) -> None:
    await sent(fan, UNLOCKS, "both.csv", "offerit", "nats")
    await sent(fan, UNLOCKS, "three.csv", "offerit", "nats", "trackfinity")
    await sent(fan, UNLOCKS, "one.csv", "offerit")
    page = await (await fan.client.get("/runs")).text()
    assert '<td data-label="Installation">nats, offerit</td>' in page
    assert (
        '<td data-label="Installation"><abbr title="nats, offerit, trackfinity">'
        "3 installations</abbr></td>"
    ) in page
    data = await (await fan.client.get("/runs.json?installation=nats")).json()
    assert [r["file_name"] for r in data["runs"]] == ["three.csv", "both.csv"]
    assert data["installations"] == ["nats", "offerit", "trackfinity"]
    assert data["filters"]["installation"] == "nats"
    assert '<option value="nats" selected>nats</option>' in (
        await (await fan.client.get("/runs?installation=nats")).text()
    )


async def test_a_run_recorded_for_one_installation_before_fanout_still_loads(fan: Fan) -> None:
    runs_dir = fan.config.runs_dir
    seed_runs(runs_dir, fan.nats.base_url, [("old.csv", "alice", "finished")])
    (meta_path,) = runs_dir.glob("*/meta.json")
    meta = json.loads(meta_path.read_text())
    del meta["installations"]  # as a server before fan-out wrote it
    meta |= {"installation": "nats", "base_url": fan.nats.base_url, "unsent": 0}
    meta["sends"][0].pop("aborted")
    meta_path.write_text(json.dumps(meta))
    async with TestClient(TestServer(make_app(fan.config))) as client:
        assert await sign_in(client) == 200
        page = await (await client.get(f"/runs/{meta_path.parent.name}")).text()
        run = (await run_json(client, f"/runs/{meta_path.parent.name}"))["run"]
        listed = await (await client.get("/runs.json?installation=nats")).json()
    assert f"<dt>Installation</dt><dd>nats ({fan.nats.base_url})</dd>" in page
    assert (run["installation"], run["base_url"]) == ("nats", fan.nats.base_url)
    assert [(t["name"], t["counts"]) for t in run["installations"]] == [("nats", {"ok": 10})]
    assert [r["file_name"] for r in listed["runs"]] == ["old.csv"]
    assert run_folder(fan.config.data_dir, f"/runs/{meta_path.parent.name}").is_dir()


async def test_simulate_offers_two_simulators_to_try_sending_to_several(tmp_path: Path) -> None:
    config = WebConfig(
        data_dir=tmp_path / "data", config_path=tmp_path / "none.toml", simulate=True
    )
    Users(config.users_path).add("alice", "correct horse battery")
    async with TestClient(TestServer(make_app(config))) as client:
        assert await sign_in(client) == 200
        offered = (await (await client.get("/.json")).json())["installations"]
        assert [i["name"] for i in offered] == ["Simulator", "Simulator 2"]
        assert offered[0]["label"] != offered[1]["label"]  # each its own, at its own address
        content = csv_bytes("operation,customer_id", "lock,1", "lock,2")
        _, path, page = await upload(
            client, content, "try.csv", installation=["Simulator", "Simulator 2"]
        )
        assert ">Send 4 rows to 2 installations</button>" in page
        await post_form(client, path + "/send", token_from=path)
        run = (await wait_for_status(client, path))["run"]
    assert [(t["name"], t["counts"]) for t in run["installations"]] == [
        ("Simulator", {"ok": 2}),
        ("Simulator 2", {"ok": 2}),
    ]


async def test_a_label_that_is_not_a_line_of_text_is_not_shown(fan: Fan) -> None:
    assert fan.config.config_path is not None
    with fan.config.config_path.open("a") as config:
        config.write(profile("odd", fan.nats, NATS_KEY, "label = 7"))
    page = await (await fan.client.get("/")).text()
    assert (
        "[profiles.odd] label is not a line of text of at most 60 characters — the page "
        "names it odd until it is fixed"
    ) in page
    _, _, page = await upload(fan.client, UNLOCKS, "u.csv", installation="odd")
    assert ">Send 6 rows to odd</button>" in page
