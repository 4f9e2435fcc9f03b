"""Sign-in under pressure, without real waiting: the hashing queue (an executor the test
drives), the throttles and sessions (a fake clock), and who the client is."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from web_support import PASSWORD, FakeClock, request_from, wait_until

from batchtool.web import Users
from batchtool.web.security import client_address
from batchtool.web.sessions import SIGN_IN_FORM_TTL_S, Sessions, SignInForms
from batchtool.web.signin import (
    FAILURE_WINDOW_S,
    MAX_ADDRESS_FAILURES,
    MAX_FAILURES,
    MIN_SAMPLES,
    SAMPLE_EVERY_S,
    Busy,
    HashQueue,
    SignInThrottle,
    check_password,
)


class ManualExecutor(concurrent.futures.Executor):
    """Runs nothing until the test says: ``finish()`` runs the oldest started work."""

    def __init__(self) -> None:
        self.started: list[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.started.append((functools.partial(fn, *args, **kwargs), future))
        return future

    async def finish(self) -> None:
        work, future = self.started.pop(0)
        future.set_result(work())
        for _ in range(5):  # the result crosses to the loop, the next work is started
            await asyncio.sleep(0)


def job(done: list[str], name: str) -> Callable[[], str]:
    def work() -> str:
        done.append(name)
        return name

    return work


async def test_hashing_takes_addresses_in_turn_not_in_arrival_order() -> None:
    executor = ManualExecutor()
    queue = HashQueue(workers=1, executor=executor)
    done: list[str] = []
    first = asyncio.create_task(queue.run("10.0.0.9", job(done, "x1"), failing=False))
    await asyncio.sleep(0)
    waiting = [
        asyncio.create_task(queue.run(address, job(done, name), failing=False))
        for address, name in [
            ("10.0.0.1", "a1"),
            ("10.0.0.1", "a2"),
            ("10.0.0.2", "b1"),
            ("10.0.0.3", "c1"),
        ]
    ]
    await asyncio.sleep(0)
    assert len(executor.started) == 1  # one worker: the others wait
    for _ in range(5):
        await executor.finish()
    assert await asyncio.gather(first, *waiting) == ["x1", "a1", "a2", "b1", "c1"]
    assert done == ["x1", "a1", "b1", "c1", "a2"]
    assert queue.pending == 0


async def test_a_full_queue_answers_at_once_without_hashing() -> None:
    executor = ManualExecutor()
    queue = HashQueue(workers=1, executor=executor)
    done: list[str] = []
    tasks = [
        asyncio.create_task(queue.run("10.0.0.1", job(done, "a"), failing=False)) for _ in range(2)
    ]
    await asyncio.sleep(0)
    with pytest.raises(Busy) as caught:
        await queue.run("10.0.0.1", job(done, "a3"), failing=False)
    assert str(caught.value) == (
        "Too many sign-ins at once from your address — try again in a moment."
    )
    # Addresses whose sign-ins failed lately share a small part of the queue ...
    failing = [
        asyncio.create_task(queue.run(f"10.1.0.{i}", job(done, "f"), failing=True))
        for i in range(2)
    ]
    await asyncio.sleep(0)
    with pytest.raises(Busy, match="The server is busy with other sign-ins"):
        await queue.run("10.1.0.9", job(done, "f3"), failing=True)
    # ... the rest is still open to everyone else, up to the global cap.
    others = [
        asyncio.create_task(queue.run(f"10.2.0.{i}", job(done, "o"), failing=False))
        for i in range(4)
    ]
    await asyncio.sleep(0)
    assert queue.pending == 8
    with pytest.raises(Busy) as caught:
        await queue.run("10.3.0.1", job(done, "late"), failing=False)
    assert str(caught.value) == "The server is busy with other sign-ins — try again in a moment."
    assert caught.value.retry_after_s == 2
    while executor.started:
        await executor.finish()
    await asyncio.gather(*tasks, *failing, *others)
    assert "a3" not in done and "f3" not in done and "late" not in done
    assert queue.pending == 0


async def test_a_sign_in_given_up_while_waiting_is_never_hashed() -> None:
    executor = ManualExecutor()
    queue = HashQueue(workers=1, executor=executor)
    done: list[str] = []
    first = asyncio.create_task(queue.run("10.0.0.1", job(done, "first"), failing=False))
    gone = asyncio.create_task(queue.run("10.0.0.2", job(done, "gone"), failing=False))
    await asyncio.sleep(0)
    gone.cancel()  # the browser closed the connection
    await asyncio.sleep(0)
    await executor.finish()
    assert await first == "first"
    assert executor.started == [] and done == ["first"] and queue.pending == 0


def test_failures_lock_out_a_name_and_an_address_for_the_window() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock)
    for i in range(MAX_ADDRESS_FAILURES):
        throttle.failed("alice" if i < MAX_FAILURES else f"random-{i}", "203.0.113.7")
        clock.now += 1
    assert throttle.name_wait_s("ALICE") == FAILURE_WINDOW_S - MAX_ADDRESS_FAILURES
    assert throttle.address_wait_s("203.0.113.7") == FAILURE_WINDOW_S - MAX_ADDRESS_FAILURES
    assert throttle.address_wait_s("198.51.100.9") == 0
    assert throttle.failing("203.0.113.7") and not throttle.failing("198.51.100.9")
    clock.now += FAILURE_WINDOW_S
    assert throttle.name_wait_s("alice") == 0
    assert throttle.address_wait_s("203.0.113.7") == 0
    assert not throttle.failing("203.0.113.7")


def test_a_sign_in_clears_the_name_not_the_address() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock)
    for _ in range(MAX_FAILURES):
        throttle.failed("alice", "203.0.113.7")
    throttle.succeeded("alice")
    assert throttle.name_wait_s("alice") == 0
    clock.now += 10
    for _ in range(MAX_FAILURES):
        throttle.failed("alice", "203.0.113.7")
    # The first failures leave the window; the later ones, recorded after the sign-in, stay.
    clock.now += FAILURE_WINDOW_S - 5
    assert throttle.name_wait_s("alice") == 5
    assert throttle.failing("203.0.113.7")


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        pytest.param("127.0.0.1", "203.0.113.9", "203.0.113.9", id="proxy-on-this-machine"),
        pytest.param("::1", "2001:db8::7", "2001:db8::7", id="proxy-on-this-machine-ipv6"),
        pytest.param("127.0.0.1", "10.0.0.1, 203.0.113.9", "203.0.113.9", id="last-address"),
        pytest.param("127.0.0.1", "", "127.0.0.1", id="no-header-the-proxy-itself"),
        pytest.param("127.0.0.1", "not-an-address", "127.0.0.1", id="not-an-address"),
        pytest.param("203.0.113.5", "10.9.9.9", "203.0.113.5", id="anyone-else-is-not-believed"),
    ],
)
def test_the_client_address_comes_from_a_proxy_on_this_machine_only(
    peer: str, forwarded: str, address: str
) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    assert client_address(request_from(peer, "POST", "/login", headers)) == address


def test_sessions_expire_in_the_order_they_were_made() -> None:
    clock = FakeClock()
    sessions = Sessions(ttl_s=100, clock=clock)
    early = [sessions.sign_in(None, "alice", "s") for _ in range(3)]
    clock.now += 50
    late = [sessions.sign_in(None, "bob", "s") for _ in range(2)]
    clock.now += 50
    assert sessions.get(late[0].id) is late[0]
    assert len(sessions) == 2
    assert all(sessions.get(s.id) is None for s in early)
    clock.now += 50
    assert sessions.get(late[1].id) is None and len(sessions) == 0


def test_beyond_the_cap_the_oldest_session_ends() -> None:
    sessions = Sessions(ttl_s=100, clock=FakeClock(), max_sessions=3)
    made = [sessions.sign_in(None, f"user{i}", "s") for i in range(5)]
    assert len(sessions) == 3
    assert [sessions.get(s.id) is not None for s in made] == [False, False, True, True, True]


def test_a_sign_in_token_is_good_with_its_own_cookie_for_an_hour() -> None:
    clock = FakeClock()
    forms = SignInForms(clock=clock)
    nonce = forms.new_nonce()
    token = forms.token(nonce)
    assert forms.valid(nonce, token)
    assert not forms.valid(forms.new_nonce(), token)
    assert not forms.valid(nonce, None) and not forms.valid(None, token)
    assert not forms.valid(nonce, token.replace(".", "0.", 1))
    assert not SignInForms(clock=clock).valid(nonce, token)  # another server process
    clock.now += SIGN_IN_FORM_TTL_S
    assert not forms.valid(nonce, token)


async def test_a_name_nobody_has_costs_no_hashing(tmp_path: Path) -> None:
    users = Users(tmp_path / "users.json")
    users.add("alice", PASSWORD)
    executor = ManualExecutor()
    clock = FakeClock()
    slept: list[float] = []
    gate = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await gate.wait()

    queue = HashQueue(workers=1, executor=executor, sleep=sleep, clock=clock)
    for _ in range(MIN_SAMPLES):  # real checks, timed
        timed = asyncio.create_task(queue.run("10.0.0.1", lambda: None, failing=False))
        await wait_until(lambda: len(executor.started) == 1)
        await executor.finish()
        await timed

    async def check(name: str, password: str, address: str = "10.0.0.2") -> str | None:
        return await check_password(queue, users, address, name, password, failing=False)

    sampled = asyncio.create_task(check("mallory", "guess one"))  # timed for real, once
    await wait_until(lambda: len(executor.started) == 1)
    await executor.finish()
    assert await sampled is None
    stand_ins = [asyncio.create_task(check("mallory", "guess")) for _ in range(2)]
    await wait_until(lambda: len(slept) == 2)
    assert executor.started == []  # waited as long as a check takes, without one
    with pytest.raises(Busy):  # and counted against the address all the same
        await check("mallory", "guess three")
    gate.set()
    assert await asyncio.gather(*stand_ins) == [None, None]
    assert len(queue.took) == MIN_SAMPLES + 1 and set(slept) <= set(queue.took)

    known = asyncio.create_task(check("alice", PASSWORD))  # a real name: always checked
    await wait_until(lambda: len(executor.started) == 1)
    await executor.finish()
    assert await known == users.stamp("alice")
    clock.now += SAMPLE_EVERY_S  # time to time a check again
    resampled = asyncio.create_task(check("mallory", "guess four"))
    await wait_until(lambda: len(executor.started) == 1)
    await executor.finish()
    assert await resampled is None
