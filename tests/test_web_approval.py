"""Four-eyes approval on the ops page: a profile's rule, requesting, approving and sending,
rejecting with a reason, never one's own, the rule of the moment of sending, and an approval
bound to the exact file."""

from __future__ import annotations

import json

import pytest
from conftest import WebServer
from web_support import (
    PROFILE,
    add_user,
    csv_bytes,
    post_form,
    run_folder,
    run_json,
    sign_in_as,
    upload,
    wait_for_status,
    write_profile,
)

from batchtool.audit import AuditLog

pytestmark = pytest.mark.usefixtures("cheap_hashes")

FORGETS = csv_bytes("operation,customer_id", "forget,5", "lock,6", "lock,7")
LOCKS = csv_bytes("operation,customer_id", "lock,8", "lock,9", "lock,10")


def set_rule(web: WebServer, *lines: str) -> None:
    """The staging profile, with these approval lines."""
    assert web.config.config_path is not None
    write_profile(web.config.config_path, web.simulator.base_url, web.simulator.api_username)
    with web.config.config_path.open("a") as config:
        config.write("".join(line + "\n" for line in lines))


@pytest.fixture
async def team(web_server: WebServer) -> WebServer:
    """``web_server`` with olga (operator), bob (approver), ada (admin); olga signed in; the
    staging profile asks for approval of files with forget rows."""
    for name, role in (("olga", "operator"), ("bob", "approver"), ("ada", "admin")):
        add_user(web_server.data_dir, name, role)
    set_rule(web_server, 'approval = "forget"')
    await sign_in_as(web_server.client, "olga")
    return web_server


async def requested(web: WebServer, content: bytes = FORGETS, name: str = "f.csv") -> str:
    _, path, _ = await upload(web.client, content, name)
    status, _ = await post_form(web.client, path + "/request-approval", token_from=path)
    assert status == 200
    return path


async def test_a_file_with_forget_rows_waits_for_someone_else_to_approve_and_send(
    team: WebServer,
) -> None:
    web = team
    _, path, page = await upload(web.client, FORGETS, "forget.csv")
    assert ">Request approval</button>" in page and ">Send 3 rows to staging</button>" not in page
    assert "This run needs a second person's approval: it has 1 forget row." in page
    status, page = await post_form(web.client, path + "/send", token_from=path)
    assert status == 400
    assert (
        "This run needs a second person&#39;s approval (it has 1 forget row): request "
        "approval, then an approver or admin other than you sends it." in page
    )
    status, page = await post_form(web.client, path + "/request-approval", token_from=path)
    assert status == 200
    assert '<h2 id="approval-title">Waiting for approval</h2>' in page
    assert "You asked for it: another approver or admin approves or rejects it." in page
    assert "Approve and send" not in page
    listed = (await (await web.client.get("/runs.json")).json())["runs"]
    assert [(r["file_name"], r["status_text"]) for r in listed] == [
        ("forget.csv", "Waiting for approval")
    ]

    await sign_in_as(web.client, "bob")
    page = await (await web.client.get(path)).text()
    assert "<caption>3 rows read</caption>" in page  # the plan, as it would be sent
    assert ">Approve and send</button>" in page and ">Reject</button>" in page
    status, page = await post_form(web.client, path + "/approve", token_from=path)
    assert status == 409
    assert "Tick “I understand that forget erases customer data” to send this file." in page
    status, _ = await post_form(
        web.client, path + "/approve", {"confirm_forget": "yes"}, token_from=path
    )
    assert status == 200
    data = await wait_for_status(web.client, path)
    assert data["run"]["status"] == "finished" and data["run"]["counts"] == {"ok": 3}
    assert data["run"]["sent_by"] == "bob"
    assert [(e["what"], e["by"]) for e in data["story"]] == [
        ("Checked", "olga"),
        ("Approval requested: it has 1 forget row", "olga"),
        ("Approved", "bob"),
        ("Sent to staging", "bob"),
        ("Finished", None),
    ]
    meta = json.loads((run_folder(web.data_dir, path) / "meta.json").read_text())
    approval = meta["approval"]
    assert (approval["requested_by"], approval["decided_by"]) == ("olga", "bob")
    assert approval["decision"] == "approved" and approval["reason"] == "it has 1 forget row"
    assert approval["requested_at"] <= approval["decided_at"] == meta["sends"][0]["at"]
    assert approval["fingerprint"].startswith("blake2b:")
    assert {e.operation for e in web.simulator.log} == {"forget", "lock"}
    lines = [
        (e["user"], e["action"], e.get("rows"), e.get("detail"))
        for e in AuditLog(web.config.audit_path).entries()
        if e.get("run") == path.rsplit("/", 1)[1]
    ]
    assert lines == [
        ("olga", "check", {"read": 3, "valid": 3, "invalid": 0, "forget": 1, "lock": 2}, None),
        ("olga", "request approval", {"to_send": 3}, None),
        ("bob", "approve", {"to_send": 3}, {"requested_by": "olga"}),
    ]


async def test_the_requester_can_never_approve_even_as_an_admin(team: WebServer) -> None:
    web = team
    await sign_in_as(web.client, "ada")
    path = await requested(web)
    page = await (await web.client.get(path)).text()
    assert "Approve and send" not in page and ">Reject</button>" not in page
    for action in ("/approve", "/reject"):
        status, page = await post_form(
            web.client,
            path + action,
            {"confirm_forget": "yes", "reason": "mine"},
            token_from=path,
        )
        assert status == 403
        assert (
            "You asked for this run&#39;s approval: another approver or admin must approve or "
            "reject it." in page
        )
    assert (await run_json(web.client, path))["run"]["status"] == "waiting"
    assert web.simulator.log == []


async def test_an_operator_forging_the_approve_post_is_refused(team: WebServer) -> None:
    web = team
    await sign_in_as(web.client, "ada")
    path = await requested(web)
    await sign_in_as(web.client, "olga")
    page = await (await web.client.get(path)).text()
    assert "Approve and send" not in page
    status, page = await post_form(
        web.client, path + "/approve", {"confirm_forget": "yes"}, token_from=path
    )
    assert status == 403
    assert "Your role (operator) cannot approve runs — ask an admin." in page
    assert web.simulator.log == []


async def test_a_rejection_needs_a_reason_and_shows_it_on_the_run(team: WebServer) -> None:
    web = team
    path = await requested(web)
    await sign_in_as(web.client, "bob")
    status, page = await post_form(web.client, path + "/reject", {"reason": "  "}, token_from=path)
    assert status == 400
    assert "Say why you reject it: the reason is shown on the run." in page
    reason = "Customer 5 asked to stay,\nsee ticket 12"
    status, page = await post_form(
        web.client, path + "/reject", {"reason": reason}, token_from=path
    )
    assert status == 200
    shown = "Rejected by bob: Customer 5 asked to stay, see ticket 12"
    assert shown in page
    data = await run_json(web.client, path)
    assert data["run"]["status"] == "declined" and data["run"]["status_text"] == shown
    last = AuditLog(web.config.audit_path).entries()[-1]
    assert (last["user"], last["action"], last["detail"]) == (
        "bob",
        "reject",
        {"reason": "Customer 5 asked to stay, see ticket 12"},
    )
    assert data["story"][-1] == {
        "at": data["run"]["approval"]["decided_at"],
        "what": "Rejected: Customer 5 asked to stay, see ticket 12",
        "by": "bob",
    }
    status, page = await post_form(
        web.client, path + "/approve", {"confirm_forget": "yes"}, token_from=path
    )
    assert status == 409 and "This run is not waiting for approval." in page
    await sign_in_as(web.client, "olga")
    status, _ = await post_form(
        web.client, path + "/send", {"confirm_forget": "yes"}, token_from=path
    )
    assert status == 400
    assert web.simulator.log == []


async def test_a_waiting_run_is_judged_by_the_rule_when_it_is_sent(team: WebServer) -> None:
    web = team
    path = await requested(web)
    set_rule(web)  # no approval any more
    page = await (await web.client.get(path)).text()
    assert "no longer asks for approval of this run" in page
    assert ">Send 3 rows to staging</button>" in page
    status, _ = await post_form(
        web.client, path + "/send", {"confirm_forget": "yes"}, token_from=path
    )
    assert status == 200
    data = await wait_for_status(web.client, path)
    assert data["run"]["status"] == "finished" and data["run"]["sent_by"] == "olga"


async def test_a_planned_run_needs_approval_once_the_rule_asks_for_it(team: WebServer) -> None:
    web = team
    _, path, page = await upload(web.client, LOCKS, "locks.csv")
    assert ">Send 3 rows to staging</button>" in page
    set_rule(web, "approval_over_rows = 2")
    status, page = await post_form(web.client, path + "/send", token_from=path)
    assert status == 400
    assert "(it sends 3 rows, more than 2): request approval" in page
    assert ">Request approval</button>" in page and ">Send 3 rows to staging</button>" not in page
    set_rule(web, "approval_over_rows = 3")
    assert ">Send 3 rows to staging</button>" in await (await web.client.get(path)).text()
    set_rule(web, 'approval = "always"')
    page = await (await web.client.get(path)).text()
    assert "every run to this installation needs approval" in page
    assert web.simulator.log == []


async def test_a_file_changed_after_the_request_is_not_sent(team: WebServer) -> None:
    web = team
    path = await requested(web)
    stored = run_folder(web.data_dir, path) / "input.csv"
    stored.write_bytes(FORGETS.replace(b"forget,5", b"forget,6"))
    await sign_in_as(web.client, "bob")
    status, page = await post_form(
        web.client, path + "/approve", {"confirm_forget": "yes"}, token_from=path
    )
    assert status == 409
    assert (
        "The stored file changed after approval was requested, so it is not what the approver "
        "would send — nothing was sent; reject this run and upload the file again." in page
    )
    assert (await run_json(web.client, path))["run"]["status"] == "waiting"
    assert web.simulator.log == []


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        pytest.param(
            ['approval = "forgett"'],
            'approval = "forgett" is not "never", "forget" or "always"',
            id="approval-typo",
        ),
        pytest.param(
            ["approval_over_rows = -1"],
            "approval_over_rows = -1 is not a number of rows (0 or more)",
            id="negative-rows",
        ),
        pytest.param(
            ['approval_over_rows = "ten"'],
            'approval_over_rows = "ten" is not a number of rows (0 or more)',
            id="rows-as-text",
        ),
    ],
)
async def test_a_rule_that_cannot_be_read_refuses_to_send_saying_why(
    team: WebServer, lines: list[str], problem: str
) -> None:
    web = team
    set_rule(web, *lines)
    _, path, page = await upload(web.client, LOCKS, "locks.csv")
    message = (
        f"config file {web.config.config_path}: [profiles.{PROFILE}] {problem} — nothing is "
        f"sent to {PROFILE} until it is fixed"
    )
    data = await run_json(web.client, path)
    assert data["run"]["status"] == "planned"  # checking still works
    assert data["approval"]["problem"] == message
    assert data["can_send"] is False and data["approval"]["can_request"] is False
    status, page = await post_form(web.client, path + "/send", token_from=path)
    assert status == 400
    assert message.replace('"', "&#34;") in page
    assert web.simulator.log == []
