"""The ops page: users, signing in and out, the throttle, sessions and their cookie."""

from __future__ import annotations

import asyncio
import html
import os
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from conftest import WebServer
from test_web_signin import ManualExecutor
from web_support import PASSWORD, WebClient, csrf_of, request_from, sign_in, wait_until

from batchtool.cli import main
from batchtool.errors import UsageError
from batchtool.web import Users, make_app
from batchtool.web.keys import SESSIONS
from batchtool.web.security import is_https
from batchtool.web.sessions import Sessions
from batchtool.web.signin import FAILURE_WINDOW_S, MAX_ADDRESS_FAILURES, HashQueue
from batchtool.web.users import SCRYPT_N, hash_password, verify_password

#: Browsers opening the sign-in page, each without a cookie (a few seconds' worth).
ANONYMOUS_VISITS = 1000


def test_users_file_is_private_and_holds_only_scrypt_hashes(tmp_path: Path) -> None:
    users = Users(tmp_path / "data" / "users.json")
    users.add("alice", PASSWORD)
    users.add("bob", PASSWORD)
    mode = stat.S_IMODE(users.path.stat().st_mode)
    assert mode == 0o600
    text = users.path.read_text()
    assert PASSWORD not in text
    assert text.count(f"scrypt${SCRYPT_N}$8$1$") == 2
    assert users.verify("alice", PASSWORD)
    assert not users.verify("alice", PASSWORD + "x")
    assert not users.verify("nobody", PASSWORD)


def test_the_same_password_hashes_differently_each_time() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second  # a random salt each time
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD, "scrypt$garbage")


def test_a_users_file_others_can_read_is_refused(tmp_path: Path) -> None:
    users = Users(tmp_path / "users.json")
    users.add("alice", PASSWORD)
    os.chmod(users.path, 0o644)
    with pytest.raises(UsageError) as caught:
        Users(users.path).verify("alice", PASSWORD)
    assert str(caught.value) == (
        f"users file {users.path} holds a secret but other users can open it "
        f"(mode 0644) — run: chmod 600 {users.path}"
    )


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        pytest.param(
            "a b",
            PASSWORD,
            "user name 'a b' is not allowed — use 1 to 64 letters, digits and . _ @ -, "
            "starting with a letter or digit",
            id="space-in-name",
        ),
        pytest.param(
            "alice",
            "short",
            "the password is too short — use at least 10 characters",
            id="short-password",
        ),
    ],
)
def test_bad_names_and_passwords_are_refused(
    tmp_path: Path, name: str, password: str, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        Users(tmp_path / "users.json").add(name, password)
    assert str(caught.value) == message


async def test_every_page_but_sign_in_needs_a_signed_in_user(web_server: WebServer) -> None:
    client = web_server.client
    response = await client.get("/runs", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/runs"
    for path in ("/.json", "/runs.json"):
        response = await client.get(path)
        assert response.status == 401
        assert await response.json() == {"error": "Sign in first: this needs a signed-in user."}
    # Form posts without a signed-in session go nowhere either.
    response = await client.post("/check", data={"csrf_token": "x"})
    assert response.status == 401
    assert (await client.get("/login")).status == 200
    assert (await client.get("/static/app.js")).status == 200


async def test_signing_in_goes_back_to_the_page_asked_for(web_server: WebServer) -> None:
    client = web_server.client
    login = await client.get("/runs")  # redirected to /login?next=/runs
    assert login.url.path == "/login"
    response = await client.post(
        "/login",
        data={
            "csrf_token": csrf_of(await login.text()),
            "username": "alice",
            "password": PASSWORD,
            "next": "/runs",
        },
    )
    assert response.status == 200
    assert response.url.path == "/runs"
    assert "<h1>Runs</h1>" in await response.text()


@pytest.mark.parametrize(
    ("asked", "location"),
    [
        pytest.param("/runs", "/runs", id="a-page-of-this-site"),
        pytest.param("/runs/x?a=1&b=/c", "/runs/x?a=1&b=/c", id="with-a-query"),
        pytest.param("//evil.example/", "/", id="another-site-without-scheme"),
        pytest.param("/\t/evil.example", "/", id="tab-then-slash"),
        pytest.param("/\t\t/evil.example", "/", id="tabs"),
        pytest.param("/\n/evil.example", "/", id="newline"),
        pytest.param("/\r", "/", id="carriage-return"),
        pytest.param("/\r\nSet-Cookie: x=1", "/", id="header-injection"),
        pytest.param("/\x00/evil.example", "/", id="nul"),
        pytest.param("/\x7f", "/", id="delete"),
        pytest.param("/\u2028/evil.example", "/", id="unicode-line-separator"),
        pytest.param("/\\evil.example", "/", id="backslash"),
        pytest.param("\\\\evil.example", "/", id="two-backslashes"),
        pytest.param("/\\/evil.example", "/", id="slash-backslash-slash"),
        pytest.param("https://evil.example/", "/", id="absolute-url"),
        pytest.param("javascript:alert(1)", "/", id="javascript"),
        pytest.param("evil.example", "/", id="no-leading-slash"),
        pytest.param("///evil.example", "/", id="three-slashes"),
        pytest.param("", "/", id="empty"),
        pytest.param("/" + "a" * 3000, "/", id="too-long"),
    ],
)
async def test_sign_in_goes_only_to_a_path_of_this_site(
    web_server: WebServer, asked: str, location: str
) -> None:
    client = web_server.client
    page = await client.get("/login", params={"next": asked})
    assert f'name="next" value="{html.escape(location)}"' in await page.text()
    response = await client.post(
        "/login",
        data={
            "csrf_token": csrf_of(await page.text()),
            "username": "alice",
            "password": PASSWORD,
            "next": asked,
        },
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == location


async def test_a_wrong_password_says_so_and_signs_nobody_in(web_server: WebServer) -> None:
    client = web_server.client
    assert await sign_in(client, password="not the password") == 401
    page = await (await client.get("/login")).text()
    assert await sign_in(client, password="not the password") == 401
    response = await client.post(
        "/login",
        data={"csrf_token": csrf_of(page), "username": "alice", "password": "wrong"},
    )
    assert "Wrong username or password." in await response.text()
    assert (await client.get("/.json")).status == 401


async def test_five_failures_in_five_minutes_lock_that_username_out(
    web_server: WebServer,
) -> None:
    client, clock = web_server.client, web_server.clock
    Users(web_server.config.users_path).add("bob", PASSWORD)
    for _ in range(5):
        assert await sign_in(client, password="wrong password") == 401
        clock.now += 10
    # Even the right password is not tried now, for this username (in any case) only.
    assert await sign_in(client, "ALICE", PASSWORD) == 429
    assert await sign_in(client, "alice", PASSWORD) == 429
    token = csrf_of(await (await client.get("/login")).text())
    response = await client.post(
        "/login", data={"csrf_token": token, "username": "alice", "password": PASSWORD}
    )
    assert response.status == 429
    assert "Too many failed sign-ins for this username — try again in 5 minutes." in (
        await response.text()
    )
    assert int(response.headers["Retry-After"]) == FAILURE_WINDOW_S - 50
    assert await sign_in(client, "bob", PASSWORD) == 200

    clock.now += FAILURE_WINDOW_S - 50  # the first failure leaves the window
    assert await sign_in(client, "alice", PASSWORD) == 200


async def test_sessions_expire(web: WebServer) -> None:
    assert (await web.client.get("/.json")).status == 200
    web.clock.now += web.config.session_ttl_s
    assert (await web.client.get("/.json")).status == 401


async def test_signing_in_replaces_the_session_id(web: WebServer) -> None:
    client = web.client
    jar = client.session.cookie_jar
    before = jar.filter_cookies(client.make_url("/"))["batchtool_session"].value
    assert await sign_in(client) == 200  # again, in the same browser
    after = jar.filter_cookies(client.make_url("/"))["batchtool_session"].value
    assert before != after
    for session_id, status in ((before, 401), (after, 200)):  # the old id is worthless
        jar.clear()
        jar.update_cookies({"batchtool_session": session_id}, response_url=client.make_url("/"))
        assert (await client.get("/.json")).status == status


async def test_the_cookies_are_httponly_and_same_site_strict(web_server: WebServer) -> None:
    client = web_server.client
    response = await client.get("/login")
    sign_in_cookie = response.cookies["batchtool_sign_in"]
    token = csrf_of(await response.text())
    response = await client.post(
        "/login",
        data={"csrf_token": token, "username": "alice", "password": PASSWORD},
        allow_redirects=False,
    )
    session_cookie = response.cookies["batchtool_session"]
    for cookie in (sign_in_cookie, session_cookie):
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Strict"
        assert not cookie["secure"]  # plain http on loopback: a Secure cookie would never return
    client.session.cookie_jar.clear()
    behind_proxy = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert behind_proxy.cookies["batchtool_sign_in"]["secure"] is True


@pytest.mark.parametrize(
    ("peer", "header", "https"),
    [
        pytest.param("127.0.0.1", "https", True, id="proxy-on-this-machine"),
        pytest.param("::1", "https", True, id="proxy-on-this-machine-ipv6"),
        pytest.param("203.0.113.9", "https", False, id="anyone-else-is-not-believed"),
        pytest.param("127.0.0.1", "", False, id="plain-http"),
    ],
)
def test_https_is_believed_from_a_proxy_on_this_machine_only(
    peer: str, header: str, https: bool
) -> None:
    headers = {"X-Forwarded-Proto": header} if header else {}
    assert is_https(request_from(peer, "GET", "/", headers)) is https


async def test_signing_out_ends_the_session(web: WebServer) -> None:
    page = await (await web.client.get("/")).text()
    response = await web.client.post("/logout", data={"csrf_token": csrf_of(page)})
    assert response.url.path == "/login"
    assert (await web.client.get("/.json")).status == 401


async def test_a_removed_user_is_signed_out_at_once(web: WebServer) -> None:
    Users(web.config.users_path).remove("alice")
    assert (await web.client.get("/.json")).status == 401


def test_removing_a_user_who_does_not_exist_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        Users(tmp_path / "users.json").remove("carol")
    assert str(caught.value) == "no user 'carol' — 'batchtool users list' shows who exists"


async def test_opening_the_sign_in_page_stores_no_session(web_server: WebServer) -> None:
    sessions = web_server.client.app[SESSIONS]
    # Each time as a new browser: no cookie to come back with.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as anonymous:
        for i in range(ANONYMOUS_VISITS):
            path = "/login.json" if i % 2 else "/login"
            async with anonymous.get(web_server.client.make_url(path)) as page:
                assert page.status == 200
    assert len(sessions) == 0
    assert await sign_in(web_server.client) == 200
    assert len(sessions) == 1


async def test_beyond_the_session_cap_the_oldest_is_signed_out(
    web_server: WebServer,
) -> None:
    config = web_server.config
    app = make_app(config)
    app[SESSIONS] = Sessions(ttl_s=config.session_ttl_s, clock=config.clock, max_sessions=2)
    async with (
        TestClient(TestServer(app)) as first,
        TestClient(TestServer(app)) as second,
        TestClient(TestServer(app)) as third,
    ):
        for client in (first, second, third):
            assert await sign_in(client) == 200
        assert [(await c.get("/.json")).status for c in (first, second, third)] == [401, 200, 200]
        page = await first.get("/runs")
        assert page.url.path == "/login" and "<h1>Sign in</h1>" in await page.text()


def _users_command(data_dir: Path, *args: str) -> None:
    result = CliRunner().invoke(
        main, ["users", *args, "--data-dir", str(data_dir)], input=PASSWORD + "2\n"
    )
    assert result.exit_code == 0, result.output


async def test_a_new_password_ends_that_users_sessions_at_once(web: WebServer) -> None:
    Users(web.config.users_path).add("bob", PASSWORD)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(web.client.make_url("/"), cookie_jar=jar) as bob:
        login = await (await bob.get("/login")).text()
        await bob.post(
            "/login", data={"csrf_token": csrf_of(login), "username": "bob", "password": PASSWORD}
        )
        assert (await bob.get("/.json")).status == 200
        _users_command(web.data_dir, "add", "alice", "--password-stdin")
        assert (await web.client.get("/.json")).status == 401  # alice: signed out
        assert (await bob.get("/.json")).status == 200  # bob: not his password
    assert await sign_in(web.client, "alice", PASSWORD) == 401
    assert await sign_in(web.client, "alice", PASSWORD + "2") == 200


async def test_a_removed_user_added_again_gets_no_old_session_back(web: WebServer) -> None:
    _users_command(web.data_dir, "remove", "alice")
    assert (await web.client.get("/.json")).status == 401
    _users_command(web.data_dir, "add", "alice", "--password-stdin")
    assert (await web.client.get("/.json")).status == 401
    assert (await web.client.get("/runs")).url.path == "/login"


async def _sign_in_from(
    client: WebClient, address: str, user: str, password: str
) -> aiohttp.ClientResponse:
    token = csrf_of(await (await client.get("/login")).text())
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": user, "password": password},
        headers={"X-Forwarded-For": address},
        allow_redirects=False,
    )


async def test_failures_from_one_address_lock_that_address_out(web_server: WebServer) -> None:
    client, clock = web_server.client, web_server.clock
    for i in range(MAX_ADDRESS_FAILURES):
        answer = await _sign_in_from(client, "203.0.113.7", f"guess{i}", "wrong password")
        assert answer.status == 401
        clock.now += 1
    # Even alice's right password is not tried from there, while the window lasts ...
    answer = await _sign_in_from(client, "203.0.113.7", "alice", PASSWORD)
    assert answer.status == 429
    assert "Too many failed sign-ins from your address — try again in 5 minutes." in (
        await answer.text()
    )
    assert int(answer.headers["Retry-After"]) == FAILURE_WINDOW_S - MAX_ADDRESS_FAILURES
    # ... but from anywhere else.
    assert (await _sign_in_from(client, "198.51.100.9", "alice", PASSWORD)).status == 303
    clock.now += FAILURE_WINDOW_S
    assert (await _sign_in_from(client, "203.0.113.7", "alice", PASSWORD)).status == 303


async def test_sign_ins_beyond_what_may_wait_are_answered_at_once(
    web_server: WebServer,
) -> None:
    executor = ManualExecutor()
    app = make_app(web_server.config, hashing=HashQueue(workers=1, executor=executor))
    async with TestClient(TestServer(app)) as client:
        waiting = [
            asyncio.create_task(_sign_in_from(client, "203.0.113.7", "alice", PASSWORD))
            for _ in range(2)
        ]
        await wait_until(lambda: len(executor.started) == 1)
        refused = await _sign_in_from(client, "203.0.113.7", "alice", PASSWORD)
        assert refused.status == 429
        assert refused.headers["Retry-After"] == "2"
        assert "Too many sign-ins at once from your address — try again in a moment." in (
            await refused.text()
        )
        for _ in waiting:  # one hashing thread: one check after the other
            await wait_until(lambda: len(executor.started) == 1)
            await executor.finish()
        assert [answer.status for answer in await asyncio.gather(*waiting)] == [303, 303]
