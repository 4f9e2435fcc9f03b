"""The ops page's runs: New batch, the plan, sending, stopping, resuming, done, the runs list."""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import openpyxl
import polars as pl
import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import WebServer
from web_support import (
    PASSWORD,
    csrf_of,
    csv_bytes,
    post_form,
    run_folder,
    run_json,
    sending_slowly,
    sign_in,
    upload,
    wait_for_live,
    wait_for_status,
)

from batchtool.errors import InputError
from batchtool.simulator import FaultConfig
from batchtool.web import Users, checking, make_app
from batchtool.web.runstore import display_name

PLAN_CSV = csv_bytes(
    "operation,customer_id,email,password",
    "set,1,a@example.com,hunter2hunter2",
    "set,2,not-an-email,",
    "lock,3,,",
)


async def test_new_batch_offers_each_profile_with_its_base_url(web: WebServer) -> None:
    data = await (await web.client.get("/.json")).json()
    assert data["installations"] == [
        {"name": "staging", "label": f"staging ({web.simulator.base_url})", "shown": "staging"}
    ]
    page = await (await web.client.get("/")).text()
    assert (
        '<input id="installation-0" name="installation" type="checkbox" value="staging" checked'
        " autofocus>"
        f'\n      <label for="installation-0">staging ({web.simulator.base_url})</label>'
    ) in page  # the only one: ticked already
    for label in (
        "<legend>Installation</legend>",
        'for="spreadsheet">Spreadsheet<',
        'for="sheet">Sheet<',
        'for="operation">Default operation<',
        ">Check</button>",
    ):
        assert label in page


async def test_the_plan_shows_counts_invalid_rows_and_masked_requests(web: WebServer) -> None:
    status, path, page = await upload(web.client, PLAN_CSV, "changes.csv")
    assert status == 200 and path.startswith("/runs/")
    assert "<caption>3 rows read</caption>" in page
    assert (
        '<tr><td>2</td><td class="place">line 3</td>'
        "<td>email &#39;not-an-email&#39; is not an email address</td></tr>"
    ) in page
    assert "password=***" in page and "hunter2hunter2" not in page
    assert ">Send 2 rows to staging</button>" in page
    assert "I understand that forget erases customer data" not in page
    data = await run_json(web.client, path)
    assert data["run"]["plan"] == {
        "total": 3,
        "valid": 2,
        "invalid": 1,
        "by_operation": {"set_customer_details": 1, "lock": 1},
        "preset": {},
    }
    assert data["invalid_rows"] == [[2, "email 'not-an-email' is not an email address"]]
    assert data["run"]["samples"][0] == (
        f"PATCH {web.simulator.base_url}/api/customer/set_customer_details  "
        "customer_id=1&email=a@example.com&password=***"
    )


async def test_the_page_shows_500_invalid_rows_and_the_plan_download_has_all(
    web: WebServer,
) -> None:
    rows = [f"set,{i}," for i in range(1, 601)]  # set_customer_details without a field
    _, path, page = await upload(
        web.client, csv_bytes("operation,customer_id,city", *rows), "x.csv"
    )
    assert "Invalid rows (the first 500; all of them are in the plan download)" in page
    assert page.count("needs at least one field to change") == 500
    assert "Send" not in page.split("The plan", 1)[1]  # nothing valid: no send button
    download = await web.client.get(path + "/plan.csv")
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=\"x.plan.csv\"; filename*=UTF-8''x.plan.csv"
    )
    plan = pl.read_csv(io.BytesIO(await download.read()), infer_schema=False)
    assert plan.height == 600
    assert plan["status"].unique().to_list() == ["invalid"]


async def test_forget_rows_need_the_confirmation_the_server_checks(web: WebServer) -> None:
    content = csv_bytes("operation,customer_id", "forget,5", "lock,6")
    _, path, page = await upload(web.client, content, "forget.csv")
    assert '<input id="confirm_forget" name="confirm_forget" type="checkbox" value="yes">' in page
    status, page = await post_form(web.client, path + "/send", token_from=path)
    assert status == 400
    assert "Tick “I understand that forget erases customer data” to send this file." in page
    assert (await run_json(web.client, path))["run"]["status"] == "planned"
    assert web.simulator.log == []

    status, _ = await post_form(
        web.client, path + "/send", {"confirm_forget": "yes"}, token_from=path
    )
    assert status == 200
    data = await wait_for_status(web.client, path)
    assert data["run"]["status"] == "finished"
    assert data["run"]["counts"] == {"ok": 2}
    assert {e.operation for e in web.simulator.log} == {"forget", "lock"}


async def test_a_sent_run_is_finished_with_its_results_to_download(web: WebServer) -> None:
    _, path, _ = await upload(web.client, PLAN_CSV, "changes.csv")
    await post_form(web.client, path + "/send", token_from=path)
    data = await wait_for_status(web.client, path)
    run = data["run"]
    assert run["status"] == "finished" and run["status_text"] == "Finished"
    assert run["counts"] == {"ok": 2, "invalid": 1}
    assert run["sent_by"] == "alice" and run["checked_by"] == "alice"
    assert run["errors"] == [
        {
            "status": "invalid",
            "http_status": None,
            "reason": "email '…' is not an email address",
            "count": 1,
            "rows": [2],
            "places": ["line 3"],
        }
    ]
    assert run["resumable"] is False
    page = await (await web.client.get(path)).text()
    assert '<h2 id="done-title">Finished</h2>' in page
    assert ">Download results (CSV)</a>" in page and ">Download results (Excel)</a>" in page
    assert ">Download failed rows (Excel)</a>" in page
    assert ">Resume</button>" not in page and "failed rows again" not in page

    results = await web.client.get(path + "/results.csv")
    assert results.headers["Content-Type"] == "text/csv; charset=utf-8"
    frame = pl.read_csv(io.BytesIO(await results.read()), infer_schema=False)
    assert frame.select("row", "status").rows() == [("1", "ok"), ("2", "invalid"), ("3", "ok")]
    assert frame["password"].to_list() == ["***", None, None]

    excel = await web.client.get(path + "/results.xlsx")
    assert excel.status == 200
    sheet = openpyxl.load_workbook(io.BytesIO(await excel.read())).active
    assert sheet is not None
    values = list(sheet.values)
    assert values[0][:2] == ("row", "status")
    assert [v[:2] for v in values[1:]] == [(1, "ok"), (2, "invalid"), (3, "ok")]


async def test_unknown_columns_are_mapped_or_ignored_and_remembered(web: WebServer) -> None:
    content = csv_bytes(
        "operation,customer_id,E-mail address,fristname,Notes,Ticket #",
        "set,7,seven@example.com,Sev,call back,T-1",
    )
    _, path, page = await upload(web.client, content, "ops.csv")
    assert '<h2 id="columns-title">Unknown columns</h2>' in page
    data = await run_json(web.client, path)
    assert data["run"]["status"] == "columns"
    assert [(c["header"], c["choice"]) for c in data["run"]["unknown_columns"]] == [
        ("E-mail address", "email"),
        ("fristname", "firstname"),
        ("Notes", ""),
        ("Ticket #", ""),
    ]
    # The person overrides one guess: Notes goes to custom1.
    choices = {"column-0": "email", "column-1": "firstname", "column-2": "custom1", "column-3": ""}
    status, page = await post_form(web.client, path + "/columns", choices, token_from=path)
    assert status == 200
    data = await run_json(web.client, path)
    assert data["run"]["status"] == "planned"
    assert data["run"]["samples"] == [
        f"PATCH {web.simulator.base_url}/api/customer/set_customer_details  "
        "customer_id=7&firstname=Sev&email=seven@example.com&custom1=call back"
    ]

    _, again, _ = await upload(web.client, content, "ops-again.csv")
    remembered = (await run_json(web.client, again))["run"]["unknown_columns"]
    assert [c["choice"] for c in remembered] == ["email", "firstname", "custom1", ""]


async def test_a_file_that_cannot_be_sent_says_why_naming_the_uploaded_file(
    web: WebServer,
) -> None:
    _, path, page = await upload(web.client, csv_bytes("operation,city", "set,Oslo"), "mine.csv")
    data = await run_json(web.client, path)
    assert data["run"]["status"] == "rejected"
    assert data["run"]["message"] == (
        "no lookup column — add a customer_id, subscription_id or orderid column "
        "so each row says which customer to change"
    )
    assert str(web.data_dir) not in page
    _, path, page = await upload(web.client, b"operation\xff,customer_id\n", "bad.csv")
    message = (await run_json(web.client, path))["run"]["message"]
    assert message.startswith("bad.csv: ") and str(web.data_dir) not in message


async def test_a_file_of_an_unknown_kind_is_refused_before_it_is_kept(web: WebServer) -> None:
    status, _, page = await upload(web.client, b"hello", "notes.pdf")
    assert status == 400
    assert (
        "notes.pdf: batchtool reads files ending in .csv, .tsv, .tab, .txt, .parquet, .pq, "
        ".xlsx, .xlsm, .xls, .jsonl, .ndjson — save the spreadsheet as one of these"
    ) in page
    assert not (web.data_dir / "runs").exists() or not list((web.data_dir / "runs").iterdir())


async def test_stop_asks_first_says_who_stopped_and_a_resume_keeps_the_totals(
    web: WebServer,
) -> None:
    # Slow enough answers that the run is still going when the test stops it, whatever the
    # adaptive concurrency grows to.
    path = await sending_slowly(web, "many.csv", rows=300, latency_ms=100)
    live = await wait_for_live(web.client, path)
    assert live["to_send"] == 300 and 0 < live["done"] < 300
    assert sum(live["counts"].values()) == live["done"]
    (send,) = live["installations"]
    assert send["installation"] == "staging" and send["concurrency"] >= 1
    assert send["rate"] > 0 and send["history"]
    page = await (await web.client.get(path)).text()
    assert re.search(
        r'role="progressbar" aria-label="Rows sent"\s+aria-valuemin="0" '
        r'aria-valuemax="300" aria-valuenow="\d+"',
        page,
    )
    # Stop opens its confirmation (a page of its own: no script needed); it stops nothing.
    assert f'<form method="get" action="{path}/stop">' in page and ">Stop</button>" in page
    confirm = await (await web.client.get(path + "/stop")).text()
    assert '<h3 id="confirm-stop-title">Stop sending?</h3>' in confirm
    assert f'<form method="post" action="{path}/stop">' in confirm
    assert f'<a href="{path}">Keep sending</a>' in confirm
    assert (await run_json(web.client, path))["run"]["status"] == "sending"

    status, _ = await post_form(web.client, path + "/stop", token_from=path)
    assert status == 200
    run = (await wait_for_status(web.client, path))["run"]
    assert run["status"] == "stopped" and run["resumable"] is True
    stopped = run["sends"][0]
    assert stopped["stopped_by"] == "alice" and stopped["ended"] == "stopped"
    at = datetime.fromisoformat(stopped["stopped_at"]).astimezone(UTC).strftime("%H:%M")
    assert run["status_text"] == f"Stopped by alice at {at}"
    unsent, ok_before = run["counts"]["skipped"], run["counts"]["ok"]
    assert run["unsent"] == unsent > 0 and run["errors"] == []  # not an error: not sent yet
    page = await (await web.client.get(path)).text()
    assert f'<h2 id="done-title">Stopped by alice at {at}</h2>' in page
    assert f"<strong>{unsent:,}</strong> rows not sent yet. Resume" in page
    assert ">Resume</button>" in page and "interrupted" not in page.lower()
    ended = await web.client.get(path + "/stop")  # nothing left to confirm: the run itself
    assert ended.status == 200 and ended.url.path == path

    await post_form(web.client, path + "/resume", token_from=path)
    live = await wait_for_live(web.client, path)
    assert live["to_send"] == 300 and live["done"] >= ok_before  # totals, not this send's
    page = await (await web.client.get(path)).text()
    shown = re.search(r'<span id="done">([\d,]+)</span> of\s*<span id="to-send">([\d,]+)<', page)
    assert shown and shown.group(2) == "300" and int(shown.group(1)) >= ok_before
    data = await wait_for_status(web.client, path)
    assert data["run"]["status"] == "finished"
    assert data["run"]["counts"] == {"ok": 300}
    assert [s["resume"] for s in data["run"]["sends"]] == [False, True]
    assert [(e["what"], e["by"]) for e in data["story"]] == [
        ("Checked", "alice"),
        ("Sent to staging", "alice"),
        ("Stopped", "alice"),
        ("Resumed", "alice"),
        ("Finished", None),
    ]
    assert re.fullmatch(r"\d+ s in 2 sends", data["sending_time"])
    sent = [e.lookup for e in web.simulator.log]
    assert len(sent) == len(set(sent)) == 300


async def test_a_run_cut_off_by_a_restart_is_interrupted_and_resumes(web: WebServer) -> None:
    path = await sending_slowly(web, "big.csv", rows=200, latency_ms=40)
    await post_form(web.client, path + "/stop", token_from=path)
    await wait_for_status(web.client, path)
    # What a crash leaves: meta.json still says sending, and no results file is written.
    folder = run_folder(web.data_dir, path)
    meta = json.loads((folder / "meta.json").read_text())
    meta["status"] = "sending"
    (folder / "meta.json").write_text(json.dumps(meta))
    (folder / "results.csv").unlink()
    sent_before = {e.lookup for e in web.simulator.log}
    web.simulator.faults = FaultConfig()

    async with TestClient(TestServer(make_app(web.config))) as client:
        assert await sign_in(client) == 200
        data = await run_json(client, path)
        assert data["run"]["status_text"] == "Interrupted"
        page = await (await client.get(path)).text()
        assert ">Resume</button>" in page and "Download results" not in page
        await post_form(client, path + "/resume", token_from=path)
        data = await wait_for_status(client, path)
    assert data["run"]["status"] == "finished" and data["run"]["counts"] == {"ok": 200}
    sent_after = [e.lookup for e in web.simulator.log][len(sent_before) :]
    assert not sent_before & set(sent_after)  # nothing already ok was sent again


async def test_runs_lists_runs_that_sent_and_keeps_uploads_never_sent_apart(
    web: WebServer,
) -> None:
    _, first, _ = await upload(web.client, PLAN_CSV, "first.csv")
    await post_form(web.client, first + "/send", token_from=first)
    await wait_for_status(web.client, first)
    Users(web.config.users_path).add("bob", PASSWORD)
    web.client.session.cookie_jar.clear()
    assert await sign_in(web.client, "bob") == 200
    await upload(web.client, PLAN_CSV, "second.csv")

    data = await (await web.client.get("/runs.json")).json()
    listed = [(r["file_name"], r["sent_by"], r["status_text"]) for r in data["runs"]]
    assert listed == [("first.csv", "alice", "Finished")]
    assert [(r["file_name"], r["checked_by"], r["status_text"]) for r in data["not_sent"]] == [
        ("second.csv", "bob", "Checked, not sent"),
    ]
    page = await (await web.client.get("/runs")).text()
    sent, apart = page.split('<details class="not-sent">')
    assert "first.csv" in sent and "second.csv" not in sent
    assert "<summary>1 upload checked, not sent</summary>" in apart and "second.csv" in apart
    assert '<span class="count">ok 2</span>, <span class="count">invalid 1</span>' in sent


async def test_every_user_sees_the_same_run(web: WebServer) -> None:
    _, path, _ = await upload(web.client, PLAN_CSV, "shared.csv")
    Users(web.config.users_path).add("bob", PASSWORD)
    jar = aiohttp.CookieJar(unsafe=True)  # the server is an IP address, 127.0.0.1
    async with aiohttp.ClientSession(web.client.make_url("/"), cookie_jar=jar) as bob:
        login = await (await bob.get("/login")).text()
        await bob.post(
            "/login",
            data={"csrf_token": csrf_of(login), "username": "bob", "password": PASSWORD},
        )
        data = await (await bob.get(path + ".json")).json()
    assert data["run"]["checked_by"] == "alice" and data["run"]["status"] == "planned"
    assert data == await run_json(web.client, path)


async def test_a_run_folder_holds_the_upload_plan_journal_results_and_meta(
    web: WebServer,
) -> None:
    _, path, _ = await upload(web.client, PLAN_CSV, "../../etc/changes.csv", operation="lock")
    await post_form(web.client, path + "/send", token_from=path)
    await wait_for_status(web.client, path)
    folder = run_folder(web.data_dir, path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "input.csv",
        "meta.json",
        "plan.csv",
        "results.csv",
        "results.csv.journal",
    ]
    assert (folder / "input.csv").read_bytes() == PLAN_CSV
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["file_name"] == "changes.csv"  # only ever shown, never a path
    assert meta["input_name"] == "input.csv"
    assert meta["installations"] == [
        {
            "name": "staging",
            "base_url": web.simulator.base_url,
            "label": "staging",
            "plan": {
                "total": 3,
                "valid": 2,
                "invalid": 1,
                "by_operation": {"set_customer_details": 1, "lock": 1},
                "preset": {},
            },
            "counts": {"ok": 2, "invalid": 1},
            "unsent": 0,
            "aborted": None,
        }
    ]
    assert meta["checked_by"] == "alice" and meta["sends"][0]["by"] == "alice"
    assert meta["options"] == {
        "sheet": None,
        "encoding": None,
        "delimiter": None,
        "header_row": None,
        "operation": "lock",
        "column_map": {},
        "ignore_columns": [],
    }


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        pytest.param("../../etc/passwd.csv", "passwd.csv", id="relative-folders"),
        pytest.param("C:\\Users\\ops\\fixes.xlsx", "fixes.xlsx", id="windows-path"),
        pytest.param("/abs/x.csv", "x.csv", id="absolute"),
        pytest.param("tab\there.csv", "tabhere.csv", id="control-characters"),
        pytest.param("..", "..", id="dots-only-shown-not-used"),
        pytest.param("", "upload", id="no-name"),
    ],
)
def test_an_uploaded_name_is_only_ever_shown(sent: str, shown: str) -> None:
    assert display_name(sent) == shown


async def test_each_installation_is_exactly_its_profile(
    web: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Meant for `batchtool run`; on the page they would send every profile to one place.
    monkeypatch.setenv("BATCHTOOL_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BATCHTOOL_API_KEY", "some-other-key")
    _, path, _ = await upload(web.client, csv_bytes("operation,customer_id", "lock,4"), "p.csv")
    await post_form(web.client, path + "/send", token_from=path)
    data = await wait_for_status(web.client, path)
    assert data["run"]["counts"] == {"ok": 1}
    assert data["run"]["samples"] == [
        f"PATCH {web.simulator.base_url}/api/customer/lock  customer_id=4"
    ]


def _meta_bytes(data_dir: Path, run_path: str) -> int:
    return (run_folder(data_dir, run_path) / "meta.json").stat().st_size


async def test_a_megabyte_header_is_cut_in_what_the_run_keeps_and_shows(web: WebServer) -> None:
    huge = "h" * 1_000_000
    content = csv_bytes(f"operation,customer_id,{huge}", "lock,1,x")
    _, path, page = await upload(web.client, content, "huge.csv")
    data = await run_json(web.client, path)
    assert data["run"]["status"] in ("columns", "rejected")
    # Refused by the reader's cell limit, or named as an unknown column: either way cut.
    assert len(data["run"]["message"]) <= 500 and "h" * 500 not in data["run"]["message"]
    assert _meta_bytes(web.data_dir, path) < 20_000
    assert len(page) < 50_000
    runs = await (await web.client.get("/runs.json")).read()
    assert len(runs) < 20_000


def test_a_csv_longer_than_a_spreadsheet_is_refused_by_the_page_check(tmp_path: Path) -> None:
    # The CLI streams any number of CSV rows; the page reads spreadsheets, within its memory.
    dump = tmp_path / "input.csv"
    dump.write_bytes(b"customer_id\n" + b"1\n" * 1_048_577)
    with pytest.raises(InputError) as refused:
        checking.check(
            dump, plan_path=tmp_path / "plan.csv", options={}, installations={"staging": None}
        )
    assert "has more than 1,048,576 rows, the most a spreadsheet holds" in str(refused.value)


async def test_thousands_of_unknown_columns_offer_a_hundred_with_a_note(
    web: WebServer,
) -> None:
    # Enough that a page offering them all would be megabytes (the size checks below).
    extra = [f"extra{i:05d}" for i in range(2_000)]
    content = csv_bytes(",".join(["operation", "customer_id", *extra]), "lock,1" + ",x" * 2_000)
    _, path, page = await upload(web.client, content, "wide.csv")
    assert page.count('<select id="column-') == 100
    assert (
        "This file has 2,000 columns the API\ndoes not know; the first 100 are shown. The other\n"
        "1,900 are ignored when you press Check: not sent, and still shown in the\nresults."
    ) in page
    data = await run_json(web.client, path)
    assert data["run"]["unknown_total"] == 2_000
    assert [c["header"] for c in data["run"]["unknown_columns"]] == extra[:100]
    assert len(data["run"]["message"]) <= 500
    assert _meta_bytes(web.data_dir, path) < 30_000
    assert len(page) < 200_000


async def test_columns_not_offered_are_ignored_when_the_person_goes_on(web: WebServer) -> None:
    extra = [f"extra{i:03d}" for i in range(150)]
    content = csv_bytes(
        ",".join(["operation", "customer_id", *extra]),
        "set,1," + ",".join(f"v{i}" for i in range(150)),
    )
    _, path, page = await upload(web.client, content, "wide.csv")
    assert "The other\n50 are ignored when you press Check" in page
    status, _ = await post_form(
        web.client, path + "/columns", {"column-3": "city"}, token_from=path
    )
    assert status == 200
    data = await run_json(web.client, path)
    assert data["run"]["status"] == "planned"
    assert data["run"]["samples"] == [
        f"PATCH {web.simulator.base_url}/api/customer/set_customer_details  customer_id=1&city=v3"
    ]
    meta = json.loads((run_folder(web.data_dir, path) / "meta.json").read_text())
    assert meta["options"]["column_map"] == {"extra003": "city"}
    assert len(meta["options"]["ignore_columns"]) == 99 and meta["options"]["ignore_unknown"]


async def test_no_message_names_a_server_path_or_a_pid(
    web: WebServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _, path, _ = await upload(web.client, csv_bytes("operation,customer_id", "lock,1"), "a.csv")
    lock = run_folder(web.data_dir, path) / "results.csv.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another run on this results path
        os.write(fd, f"{os.getpid()}\n".encode())
        await post_form(web.client, path + "/send", token_from=path)
        data = await wait_for_status(web.client, path)
    finally:
        os.close(fd)
    assert data["run"]["status"] == "aborted"
    assert data["run"]["message"] == (
        "another batchtool run is writing the results — wait for it to finish or choose "
        "another --results path"
    )
    page = await (await web.client.get(path)).text()
    assert "another batchtool run is writing the results" in page
    assert str(web.data_dir) in caplog.text  # the admin finds where, in the log

    config_path = web.config.config_path
    assert config_path is not None
    config_path.write_text("[profiles.staging\n")  # broken: cannot be parsed
    for new_batch in ("/", "/.json"):
        text = await (await web.client.get(new_batch)).text()
        assert "config file" in text
        for secret in (str(config_path), str(web.data_dir), f"pid {os.getpid()}"):
            assert secret not in text
    for seen in ("/runs", "/runs.json", path, path + ".json"):
        text = await (await web.client.get(seen)).text()
        assert str(web.data_dir) not in text and f"pid {os.getpid()}" not in text


async def test_a_check_that_runs_out_of_memory_is_refused_and_the_server_goes_on(
    web: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    with monkeypatch.context() as patched:
        patched.setattr("batchtool.web.checking.run_batch", out_of_memory)
        _, path, _ = await upload(web.client, PLAN_CSV, "giant.csv")
    data = await run_json(web.client, path)
    assert data["run"]["status"] == "rejected"
    assert data["run"]["message"] == (
        "giant.csv: checking this file needs more memory than the server has — split it into "
        "smaller files and upload them one at a time"
    )
    _, again, _ = await upload(web.client, PLAN_CSV, "small.csv")
    assert (await run_json(web.client, again))["run"]["status"] == "planned"
