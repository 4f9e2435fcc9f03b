"""The Done page's way forward: errors grouped by reason, "Send the N failed rows again",
"Download failed rows (Excel)" to fix and upload again."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import WebServer
from web_support import (
    csv_bytes,
    post_form,
    run_json,
    seed_runs,
    sign_in,
    upload,
    wait_for_status,
)

from batchtool.simulator import Simulator
from batchtool.web import make_app, tables

# Customers 1..1000 exist in the simulator; 5001 and up do not (404).
MIXED = csv_bytes(
    "operation,customer_id,email,password",
    "set,1,one@example.com,",
    "lock,5001,,",
    "lock,5002,,",
    "lock,5003,,",
    "lock,5004,,",
    "set,7,not-an-email,",
    "set,8,also wrong,",
    "set,9,,NewPassw0rd!",  # customer 9 is locked: 409 until unlocked
    "forget,5005,,",
)


def lock(simulator: Simulator, customer: str, locked: bool = True) -> None:
    found = simulator.store.get(customer)
    assert found is not None
    found.locked = locked


async def sent_run(web: WebServer, content: bytes, name: str) -> str:
    _, path, _ = await upload(web.client, content, name)
    await post_form(web.client, path + "/send", {"confirm_forget": "yes"}, token_from=path)
    await wait_for_status(web.client, path)
    return path


async def test_errors_are_grouped_by_reason_with_example_rows(web: WebServer) -> None:
    lock(web.simulator, "9")
    path = await sent_run(web, MIXED, "mixed.csv")
    run = (await run_json(web.client, path))["run"]
    assert run["counts"] == {"ok": 1, "failed": 6, "invalid": 2}
    assert run["errors"] == [
        {
            "status": "failed",
            "http_status": 404,
            "reason": "HTTP 404: customer not found (customer_id=…)",
            "count": 5,
            "rows": [2, 3, 4],
            "places": ["line 3", "line 4", "line 5"],
        },
        {
            "status": "invalid",
            "http_status": None,
            "reason": "email '…' is not an email address",
            "count": 2,
            "rows": [6, 7],
            "places": ["line 7", "line 8"],
        },
        {
            "status": "failed",
            "http_status": 409,
            "reason": "HTTP 409: customer is locked; unlock it before editing",
            "count": 1,
            "rows": [8],
            "places": ["line 9"],
        },
    ]
    assert run["error_groups"] == 3
    page = await (await web.client.get(path)).text()
    assert "<caption>Errors, grouped by reason</caption>" in page
    assert (
        "<tr><td>failed</td><td>HTTP 404: customer not found (customer_id=…)</td>"
        '<td class="number">5</td>\n    <td>rows 2 (line 3), 3 (line 4), 4 (line 5)</td></tr>'
    ) in page
    assert '<td class="number">1</td>\n    <td>row 8 (line 9)</td></tr>' in page


async def test_the_page_says_when_not_every_group_is_shown(
    web: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "ERROR_GROUPS_SHOWN", 1)
    rows = [f"lock,{5000 + i}" for i in range(1, 1201)]
    path = await sent_run(web, csv_bytes("operation,customer_id", *rows, "lock,"), "many.csv")
    run = (await run_json(web.client, path))["run"]
    assert [(g["reason"], g["count"]) for g in run["errors"]] == [
        ("HTTP 404: customer not found (customer_id=…)", 1200)
    ]
    assert run["error_groups"] == 2
    page = await (await web.client.get(path)).text()
    assert (
        "<caption>Errors, grouped by reason: the 1 biggest of 2 groups "
        "(every row is in the downloads)</caption>"
    ) in page
    assert ">Send the 1,200 failed rows again</button>" in page


async def test_the_failed_rows_go_again_as_a_linked_run_through_the_plan(web: WebServer) -> None:
    lock(web.simulator, "9")
    first = await sent_run(web, MIXED, "mixed.csv")
    page = await (await web.client.get(first)).text()
    assert ">Send the 6 failed rows again</button>" in page
    lock(web.simulator, "9", locked=False)
    web.simulator.clear_log()

    status, page = await post_form(web.client, first + "/retry-failed", token_from=first)
    assert status == 200
    data = await run_json(web.client, first)
    (again,) = data["run"]["retried_in"]
    retry = f"/runs/{again}"
    data = await wait_for_status(web.client, retry)
    assert data["run"]["retry_of"] == first.rsplit("/", 1)[1]
    # Exactly the failed rows; the ok row is skipped, the invalid rows are invalid again.
    assert data["run"]["plan"] == {
        "total": 9,
        "valid": 6,
        "invalid": 2,
        "by_operation": {"set_customer_details": 1, "lock": 4, "forget": 1},
        "preset": {"skipped": 1},
    }
    page = await (await web.client.get(retry)).text()
    link = f'<a href="{first}">mixed.csv, checked'
    assert f"<dt>Sends again</dt><dd>the failed rows of {link}" in page
    assert "<td>1 done in the earlier run</td>" in page
    assert ">Send 6 rows to staging</button>" in page and "I understand that forget erases" in page
    page = await (await web.client.get(first)).text()
    assert f'The failed rows are sent again in <a href="{retry}">mixed.csv, checked' in page
    assert "failed rows again</button>" not in page
    status, page = await post_form(web.client, first + "/retry-failed", token_from=first)
    assert status == 409 and "The failed rows of this run are already being sent again." in page
    assert web.simulator.log == []  # nothing is sent before someone sends the new run

    status, page = await post_form(web.client, retry + "/send", token_from=retry)
    assert status == 400 and "Tick “I understand that forget erases customer data”" in page
    await post_form(web.client, retry + "/send", {"confirm_forget": "yes"}, token_from=retry)
    data = await wait_for_status(web.client, retry)
    sent = sorted(int(e.form["customer_id"]) for e in web.simulator.log)
    assert sent == [9, 5001, 5002, 5003, 5004, 5005]
    customer = web.simulator.store.get("9")
    assert customer is not None and customer.password_matches("NewPassw0rd!")  # as typed
    assert data["run"]["counts"] == {"ok": 1, "failed": 5, "invalid": 2, "skipped": 1}
    page = await (await web.client.get(retry)).text()
    assert ">Send the 5 failed rows again</button>" in page


async def test_failed_rows_download_as_excel_to_fix_and_upload_again(web: WebServer) -> None:
    content = csv_bytes(
        "operation,customer_id,email", "set,1,one@example.com", "lock,5001,", "set,2,nope"
    )
    path = await sent_run(web, content, "fixes.csv")
    download = await web.client.get(path + "/failed.xlsx")
    assert download.status == 200
    assert "fixes.failed.xlsx" in download.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(await download.read()))
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.values)
    assert rows[0] == (
        "row", "status", "operation", "http_status", "attempts", "error", "elapsed_ms",
        "finished_at", "customer_id", "email",
    )  # fmt: skip
    assert [(r[0], r[1], r[8], r[9]) for r in rows[1:]] == [
        (2, "failed", "5001", None),
        (3, "invalid", "2", "nope"),
    ]
    # What a person does in Excel: fix the two rows, save, upload as a new batch.
    sheet.cell(row=2, column=9).value = "11"
    sheet.cell(row=3, column=10).value = "two@example.com"
    fixed = io.BytesIO()
    book.save(fixed)
    _, again, _ = await upload(web.client, fixed.getvalue(), "fixes.failed.xlsx")
    data = await run_json(web.client, again)
    assert data["run"]["plan"]["valid"] == 2 and data["run"]["plan"]["invalid"] == 0
    await post_form(web.client, again + "/send", token_from=again)
    data = await wait_for_status(web.client, again)
    assert data["run"]["counts"] == {"ok": 2}


async def test_a_run_recorded_before_errors_had_groups_still_shows(web_server: WebServer) -> None:
    runs_dir = web_server.config.runs_dir
    seed_runs(runs_dir, web_server.simulator.base_url, [("old.csv", "alice", "finished")])
    (meta_path,) = runs_dir.glob("*/meta.json")
    meta = json.loads(meta_path.read_text())
    meta["errors"] = [["HTTP 404: customer not found (customer_id=5001)", 3]]  # as written then
    meta_path.write_text(json.dumps(meta))
    async with TestClient(TestServer(make_app(web_server.config))) as client:
        assert await sign_in(client) == 200
        page = await client.get(f"/runs/{meta_path.parent.name}")
        assert page.status == 200
        text = await page.text()
    assert "<td>HTTP 404: customer not found (customer_id=5001)</td>" in text
