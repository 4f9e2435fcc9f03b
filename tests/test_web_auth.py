"""The ops page: users, signing in and out, the throttle, sessions and their cookie."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request
from conftest import WebServer
from web_support import PASSWORD, csrf_of, sign_in

from batchtool.errors import UsageError
from batchtool.web import Users
from batchtool.web.security import is_https
from batchtool.web.sessions import FAILURE_WINDOW_S
from batchtool.web.users import SCRYPT_N, hash_password, verify_password


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


async def test_sign_in_never_sends_anyone_to_another_site(web_server: WebServer) -> None:
    client = web_server.client
    token = csrf_of(await (await client.get("/login")).text())
    response = await client.post(
        "/login",
        data={
            "csrf_token": token,
            "username": "alice",
            "password": PASSWORD,
            "next": "//evil.example/",
        },
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/"


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


async def test_signing_in_replaces_the_session_id(web_server: WebServer) -> None:
    client = web_server.client
    await client.get("/login")
    before = client.session.cookie_jar.filter_cookies(client.make_url("/"))["batchtool_session"]
    await sign_in(client)
    after = client.session.cookie_jar.filter_cookies(client.make_url("/"))["batchtool_session"]
    assert before.value != after.value


async def test_the_session_cookie_is_httponly_and_same_site_strict(
    web_server: WebServer,
) -> None:
    response = await web_server.client.get("/login")
    cookie = response.cookies["batchtool_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # plain http on loopback: a Secure cookie would never come back
    web_server.client.session.cookie_jar.clear()
    behind_proxy = await web_server.client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert behind_proxy.cookies["batchtool_session"]["secure"] is True


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
    class Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return (peer, 40000) if name == "peername" else default

    headers = {"X-Forwarded-Proto": header} if header else {}
    request = make_mocked_request("GET", "/", headers=headers, transport=Transport())
    assert is_https(request) is https


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
