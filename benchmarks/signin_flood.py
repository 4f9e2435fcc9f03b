"""Flood a running ops page with sign-ins while a real user signs in, and time the real user.

    signin_flood.py SERVER_URL SIGN_INS

The flood, in a process of its own: ``FLOOD_CLIENTS`` clients at once, each signing in
again and again with a random name and password, as fast as the answers come (an attacker
does not honour Retry-After). Half of them come from one address, the other half each from
an address of its own — as a reverse proxy on the server's machine reports them in
``X-Forwarded-For`` (the driver talks to the page over loopback, as that proxy would). It
runs at a lower priority (``FLOOD_NICE``): a real flood would not take the server's CPU.

Meanwhile, once the flood is under way, a real user signs in ``SIGN_INS`` times from another
address, one after another: the sign-in page, then the form with the right password. A
sign-in is timed from opening the page until signed in; a 429 is waited out as its
Retry-After says and tried again, inside the same timing (that is what the person waits).
The real user gives up after ``BUDGET_S`` in all. Prints one JSON line:
``{"rows": SIGN_INS, "ok": signed in, "p95_s": ..., ...}`` (times of the sign-ins done).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from multiprocessing.synchronize import Event as EventType
from typing import Any

import aiohttp
import requests
from web_driver import csrf_token
from web_server import PASSWORD, USER

FLOOD_CLIENTS = 400
#: The one address half the flood comes from, and the real user's own address.
FLOOD_ADDRESS = "203.0.113.7"
USER_ADDRESS = "198.51.100.9"
#: How long the flood runs before the real user starts, so it meets a full queue.
WARM_UP_S = 3.0
#: Between two sign-ins of the real user.
USER_PAUSE_S = 0.5
#: How long the real user keeps trying, all sign-ins together.
BUDGET_S = 240.0
#: The flood process's niceness (see ``_flood``).
FLOOD_NICE = 10


def _flood_address(client: int) -> str:
    if client % 2 == 0:
        return FLOOD_ADDRESS
    return f"10.{client // 256 % 256}.{client % 256}.{client // 65536 + 1}"


async def _attacker(
    http: aiohttp.ClientSession, url: str, client: int, counts: Counter[str]
) -> None:
    forwarded = {"X-Forwarded-For": _flood_address(client)}
    while True:
        try:
            # The page's cookie and token once; then the form again and again with them.
            async with http.get(f"{url}/login", headers=forwarded) as page:
                text = await page.text()
                cookies = "; ".join(f"{k}={m.value}" for k, m in page.cookies.items())
            form = {"csrf_token": csrf_token(text), "next": "/"}
            headers = {**forwarded, "Cookie": cookies}
            while True:
                form["username"] = secrets.token_hex(4)
                form["password"] = secrets.token_hex(8)
                async with http.post(
                    f"{url}/login", data=form, headers=headers, allow_redirects=False
                ) as answer:
                    await answer.read()
                    counts[str(answer.status)] += 1
                    if answer.status == 403:
                        break  # the form expired: fetch a fresh one
        except (aiohttp.ClientError, TimeoutError):
            counts["error"] += 1
            await asyncio.sleep(0.1)


async def _flood_main(url: str, stop: EventType, result: Any) -> None:
    counts: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=FLOOD_CLIENTS)
    timeout = aiohttp.ClientTimeout(total=BUDGET_S)
    jar = aiohttp.DummyCookieJar()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=jar) as http:
        tasks = [asyncio.create_task(_attacker(http, url, i, counts)) for i in range(FLOOD_CLIENTS)]
        await asyncio.to_thread(_until_stopped, stop, os.getppid())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    result.put(dict(counts))


def _until_stopped(stop: EventType, parent: int) -> None:
    # Ends with the driver, even one killed for taking too long.
    while not stop.wait(0.2) and os.getppid() == parent:
        pass


def _flood(url: str, stop: EventType, result: Any) -> None:
    # A real flood spends another machine's CPU; here it shares the server's cores, so it
    # yields them to the server (and the real user) when both want them.
    os.nice(FLOOD_NICE)
    asyncio.run(_flood_main(url, stop, result))


def _sign_in(url: str, timeout_s: float) -> tuple[float, int]:
    """One real sign-in: (seconds until signed in, 429s waited out on the way)."""
    forwarded = {"X-Forwarded-For": USER_ADDRESS}
    http = requests.Session()
    started = time.perf_counter()
    refused = 0
    while True:
        page = http.get(f"{url}/login", headers=forwarded, timeout=timeout_s)
        page.raise_for_status()
        answer = http.post(
            f"{url}/login",
            data={"csrf_token": csrf_token(page.text), "username": USER, "password": PASSWORD},
            headers=forwarded,
            timeout=timeout_s,
            allow_redirects=False,
        )
        if answer.status_code != 429:
            break
        refused += 1
        time.sleep(float(answer.headers.get("Retry-After", "1")))
    if answer.status_code != 303:
        raise SystemExit(f"the real user's sign-in answered {answer.status_code}: {answer.text}")
    return time.perf_counter() - started, refused


def main() -> None:
    url, sign_ins = sys.argv[1], int(sys.argv[2])
    stop = multiprocessing.Event()
    result: Any = multiprocessing.Queue()
    flood = multiprocessing.Process(target=_flood, args=(url, stop, result), daemon=True)
    flood.start()
    times: list[float] = []
    refused = 0
    try:
        time.sleep(WARM_UP_S)
        ends = time.perf_counter() + BUDGET_S
        for _ in range(sign_ins):
            try:
                took, waited = _sign_in(url, max(1.0, ends - time.perf_counter()))
            except requests.Timeout:
                break
            times.append(took)
            refused += waited
            if time.perf_counter() > ends:
                break
            time.sleep(USER_PAUSE_S)
    finally:
        stop.set()
        counts = result.get(timeout=60)
        flood.join(30)
    if not times:
        raise SystemExit(f"no sign-in got through within {BUDGET_S:g} s")
    p95 = statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) > 1 else times[0]
    print(
        json.dumps(
            {
                "rows": sign_ins,
                "ok": len(times),
                "p95_s": round(p95, 2),
                "median_s": round(statistics.median(times), 2),
                "max_s": round(max(times), 2),
                "times_s": [round(t, 2) for t in times],
                "user_429s": refused,
                "flood_requests": sum(counts.values()),
                "flood_statuses": counts,
            }
        )
    )


if __name__ == "__main__":
    main()
