"""Roles on the ops page: the table of who may do what, enforced by the server on every
request (a hidden button is not a rule), every route declaring what it needs, and the roles
in the users file and the ``users`` commands."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from conftest import WebServer
from web_support import (
    PASSWORD,
    WebClient,
    add_profile,
    add_user,
    csv_bytes,
    post_form,
    run_json,
    sign_in,
    sign_in_as,
    upload,
    wait_for_status,
)

from batchtool.cli import main
from batchtool.web import Users, make_app
from batchtool.web.permissions import PUBLIC, Action, declared
from batchtool.web.security import PUBLIC_PATHS

pytestmark = pytest.mark.usefixtures("cheap_hashes")

ROLES = ("viewer", "operator", "approver", "admin")

#: The README's table, written out here on its own: what each role may do.
MAY = {
    "viewer": {"view"},
    "operator": {"view", "download", "check", "send"},
    "approver": {"view", "download", "check", "send", "approve"},
    "admin": {"view", "download", "check", "send", "approve", "audit"},
}

LOCKS = csv_bytes("operation,customer_id,email", "lock,1,", "set,2,roles@example.com")


async def _with_roles(web: WebServer) -> None:
    for role in ROLES:
        add_user(web.data_dir, role, role)
    add_user(web.data_dir, "requester", "operator")
    add_profile(
        web.config.config_path or Path(),
        "guarded",
        web.simulator.base_url,
        web.simulator.api_username,
        'approval = "always"',
    )


async def _planned(client: WebClient, installation: str = "staging") -> str:
    await sign_in_as(client, "admin")
    _, path, _ = await upload(client, LOCKS, "locks.csv", installation=installation)
    return path


# Each probe sets up what its action needs as another user, then signs in as ``role`` and
# tries it: the answer's status.
Probe = Callable[[WebClient, str], Awaitable[int]]


async def _view(client: WebClient, role: str) -> int:
    path = await _planned(client)
    await sign_in_as(client, role)
    statuses = [(await client.get(p)).status for p in ("/runs.json", path + ".json", path)]
    return 403 if 403 in statuses else statuses[0]


async def _download(client: WebClient, role: str) -> int:
    path = await _planned(client)
    await post_form(client, path + "/send", token_from=path)
    await wait_for_status(client, path)
    await sign_in_as(client, role)
    statuses = [
        (await client.get(path + name)).status
        for name in ("/plan.csv", "/results.csv", "/results.xlsx")
    ]
    return 403 if 403 in statuses else statuses[0]


async def _check(client: WebClient, role: str) -> int:
    await sign_in_as(client, role)
    status, _, _ = await upload(client, LOCKS, "mine.csv")
    return status


async def _send(client: WebClient, role: str) -> int:
    path = await _planned(client)
    await sign_in_as(client, role)
    status, _ = await post_form(client, path + "/send", token_from=path)
    return status


async def _approve(client: WebClient, role: str) -> int:
    await sign_in_as(client, "requester")
    _, path, _ = await upload(client, LOCKS, "guarded.csv", installation="guarded")
    await post_form(client, path + "/request-approval", token_from=path)
    await sign_in_as(client, role)
    status, _ = await post_form(client, path + "/approve", token_from=path)
    return status


async def _audit(client: WebClient, role: str) -> int:
    await sign_in_as(client, role)
    return (await client.get("/audit.json")).status


PROBES: dict[str, Probe] = {
    "view": _view,
    "download": _download,
    "check": _check,
    "send": _send,
    "approve": _approve,
    "audit": _audit,
}


@pytest.mark.parametrize("action", [pytest.param(a, id=a) for a in PROBES])
async def test_each_role_may_do_what_the_table_says_and_nothing_else(
    web_server: WebServer, action: str
) -> None:
    await _with_roles(web_server)
    answers = {role: await PROBES[action](web_server.client, role) for role in ROLES}
    allowed = {role for role, status in answers.items() if status != 403}
    assert allowed == {role for role in ROLES if action in MAY[role]}, answers
    assert all(status == 200 for role, status in answers.items() if role in allowed), answers


async def test_a_viewer_posting_send_or_fetching_results_is_refused_in_words(
    web_server: WebServer,
) -> None:
    web = web_server
    await _with_roles(web)
    path = await _planned(web.client)
    await sign_in_as(web.client, "viewer")
    status, page = await post_form(web.client, path + "/send", token_from=path)
    assert status == 403
    assert "<h1>Refused</h1>" in page
    assert "Your role (viewer) cannot send runs — ask an admin." in page
    response = await web.client.post(
        path + "/send",
        data={"csrf_token": "irrelevant"},
        headers={"Accept": "application/json"},
    )
    assert response.status == 403
    assert await response.json() == {"error": "Your role (viewer) cannot send runs — ask an admin."}
    assert (await run_json(web.client, path))["run"]["status"] == "planned"
    assert web.simulator.log == []

    await sign_in_as(web.client, "admin")
    await post_form(web.client, path + "/send", token_from=path)
    await wait_for_status(web.client, path)
    await sign_in_as(web.client, "viewer")
    response = await web.client.get(path + "/results.csv")
    assert response.status == 403
    assert "Your role (viewer) cannot download customer data — ask an admin." in (
        await response.text()
    )
    response = await web.client.get("/audit.json")
    assert await response.json() == {
        "error": "Your role (viewer) cannot see the audit log — ask an admin."
    }


async def test_a_viewer_sees_runs_without_buttons_or_the_rows_own_values(
    web_server: WebServer,
) -> None:
    web = web_server
    await _with_roles(web)
    content = csv_bytes("operation,customer_id,email", "set,1,bad-address", "set,2,v@example.com")
    await sign_in_as(web.client, "admin")
    _, path, page = await upload(web.client, content, "values.csv")
    assert ">Send 1 row to staging</button>" in page and "v@example.com" in page
    await sign_in_as(web.client, "viewer")
    page = await (await web.client.get(path)).text()
    assert "<caption>2 rows read</caption>" in page  # the counts are there
    for hidden in ("Send 1 row", "Download plan", "v@example.com", "bad-address", "Audit<"):
        assert hidden not in page, hidden
    assert ">viewer (viewer)</span>" in page
    data = await run_json(web.client, path)
    assert data["run"]["samples"] == [] and data["invalid_rows"] == []
    assert data["can"] == {
        "view": True,
        "download": False,
        "check": False,
        "send": False,
        "approve": False,
        "audit": False,
    }
    runs = await (await web.client.get("/runs.json")).text()
    assert "v@example.com" not in runs
    new = await (await web.client.get("/")).text()
    assert 'action="/check"' not in new
    assert "Your role (viewer) can see" in new

    await sign_in_as(web.client, "admin")
    unknown = csv_bytes("operation,customer_id,Notes", "lock,1,x")
    _, columns, page = await upload(web.client, unknown, "columns.csv")
    assert f'action="{columns}/columns"' in page
    await sign_in_as(web.client, "viewer")
    page = await (await web.client.get(columns)).text()
    assert "Unknown columns" in page and f'action="{columns}/columns"' not in page


async def test_a_new_role_applies_at_the_next_request(web: WebServer) -> None:
    _, path, _ = await upload(web.client, LOCKS, "a.csv")
    Users(web.config.users_path).set_role("alice", "viewer")
    status, _ = await post_form(web.client, path + "/send", token_from=path)
    assert status == 403
    Users(web.config.users_path).set_role("alice", "admin")
    assert (await web.client.get("/audit.json")).status == 200


def test_every_route_declares_what_it_needs(tmp_path: Path) -> None:
    from batchtool.web import WebConfig

    app = make_app(WebConfig(data_dir=tmp_path))
    undeclared, public = [], set()
    for route in app.router.routes():
        if isinstance(route.resource, web.StaticResource):
            continue
        path = route.resource.canonical if route.resource else "?"
        rule = declared(route.handler)
        if rule is None:
            undeclared.append(f"{route.method} {path}")
        elif rule is PUBLIC:
            public.add(path)
        else:
            assert isinstance(rule, Action)
    assert undeclared == []
    assert public == PUBLIC_PATHS  # open without signing in: the same pages for both rules


async def test_a_route_that_declares_nothing_is_refused(web_server: WebServer) -> None:
    async def forgotten(request: web.Request) -> web.Response:
        return web.Response(text="should never be seen")

    app = make_app(web_server.config)
    app.router.add_get("/forgotten", forgotten)
    async with TestClient(TestServer(app)) as client:
        assert await sign_in(client) == 200
        response = await client.get("/forgotten")
        assert response.status == 403
        assert "This page declares no permission, so nobody may use it." in await response.text()


# --- the users file and the users commands ---------------------------------------------------


def test_users_of_a_file_from_before_roles_are_admins(tmp_path: Path) -> None:
    users = Users(tmp_path / "users.json")
    users.add("old", PASSWORD)
    data = json.loads(users.path.read_text())
    del data["users"]["old"]["role"]  # as every users.json written before roles
    users.path.write_text(json.dumps(data))
    users.path.chmod(0o600)
    assert Users(users.path).role("old") == "admin"
    Users(users.path).add("new", PASSWORD)
    assert [(u.name, u.role) for u in Users(users.path).names()] == [
        ("new", "operator"),
        ("old", "admin"),
    ]
    Users(users.path).add("old", PASSWORD + "2")  # a new password keeps the role
    assert Users(users.path).role("old") == "admin"


def test_users_add_with_a_role_set_role_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]

    def run(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(main, [*args, *data], input=stdin)
        assert result.exit_code == 0, result.output
        return result.output

    assert run("users", "add", "ann", "--password-stdin", stdin=PASSWORD + "\n") == (
        f"added ann, operator ({tmp_path / 'users.json'})\n"
    )
    run("users", "add", "bea", "--role", "approver", "--password-stdin", stdin=PASSWORD + "\n")
    assert run("users", "set-role", "ann", "viewer") == "ann is now a viewer\n"
    assert run("users", "set-role", "bea", "admin") == "bea is now an admin\n"
    again = run("users", "add", "ann", "--password-stdin", stdin=PASSWORD + "x\n")
    assert again == f"new password for ann, viewer ({tmp_path / 'users.json'})\n"
    listed = [line.split("\t")[:2] for line in run("users", "list").splitlines()]
    assert listed == [["ann", "viewer"], ["bea", "admin"]]

    result = runner.invoke(main, ["users", "set-role", "ann", "boss", *data])
    assert result.exit_code == 2
    assert result.output == (
        "batchtool: error: role 'boss' is not one of viewer, operator, approver, admin\n"
    )
    result = runner.invoke(main, ["users", "add", "cy", "--role", "root", *data], input="x\n")
    assert result.exit_code == 2 and "role 'root' is not one of" in result.output
    assert not Users(tmp_path / "users.json").exists("cy")


def test_a_role_the_file_does_not_know_is_refused_in_one_line(tmp_path: Path) -> None:
    add_user(tmp_path, "ann", "viewer")
    path = tmp_path / "users.json"
    path.write_text(path.read_text().replace('"viewer"', '"boss"'))
    result = CliRunner().invoke(main, ["users", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == (
        f"batchtool: error: users file {path}: ann has the role 'boss', which is not one of "
        'viewer, operator, approver, admin — correct its "role" in the file\n'
    )
