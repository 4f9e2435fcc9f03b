"""How many requests/s the simulator serves, so we know it is not what limits a client benchmark.

Starts ``python -m batchtool.simulator --no-log`` in its own process (zero latency, no faults),
then drives it from this process with a bare aiohttp client: ``--concurrency`` workers sharing
one session, ``--requests`` PATCHes in total (a mix of set_customer_details, lock and unlock over
``--customers`` customers), every answer checked to be 200 ``true``. Reports requests/s and the
CPU the server and the client each used: a server CPU share well under 100 % of wall time means
the client, not the simulator, was the limit.

    .venv/bin/python benchmarks/bench_simulator.py
    .venv/bin/python benchmarks/bench_simulator.py --requests 50000 --concurrency 128
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
USERNAME = "sim_admin"
API_KEY = "sim-not-a-secret-key"  # the simulator's published demo key, not a secret


def start_server(customers: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchtool.simulator",
            "--port",
            "0",
            "--customers",
            str(customers),
            "--no-log",
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"simulator did not get ready: {line!r}")
    return proc, line.split()[1]


def requests_for(customers: int) -> itertools.cycle[tuple[str, dict[str, str]]]:
    work: list[tuple[str, dict[str, str]]] = []
    for i in range(1, min(customers, 1000) + 1):
        cid = str(i)
        work.append(("unlock", {"customer_id": cid}))
        work.append(("set_customer_details", {"customer_id": cid, "city": f"City {i}"}))
        work.append(("lock", {"subscription_id": f"S{i}"}))
        work.append(("unlock", {"orderid": str(100000 + i)}))
    return itertools.cycle(work)


async def drive(base_url: str, total: int, concurrency: int, customers: int) -> tuple[float, int]:
    work = requests_for(customers)
    remaining = total
    failures = 0
    headers = {"api-username": USERNAME, "api-key": API_KEY}
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, failures
        while remaining > 0:
            remaining -= 1
            operation, form = next(work)
            url = f"{base_url}/api/customer/{operation}"
            async with session.patch(url, data=form, headers=headers) as resp:
                body = await resp.read()
            if resp.status != 200 or body != b"true":
                failures += 1

    async def warm_up(session: aiohttp.ClientSession, customer_id: int) -> None:
        url = f"{base_url}/api/customer/unlock"
        async with session.patch(url, data={"customer_id": str(customer_id)}, headers=headers):
            pass

    async with aiohttp.ClientSession(connector=connector) as session:
        # Open the connections before timing, so connection setup is not counted.
        await asyncio.gather(*(warm_up(session, i) for i in range(1, concurrency + 1)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()

    proc, base_url = start_server(args.customers)
    try:
        server = psutil.Process(proc.pid)
        me = psutil.Process(os.getpid())
        server_before, client_before = server.cpu_times(), me.cpu_times()
        elapsed, failures = asyncio.run(
            drive(base_url, args.requests, args.concurrency, args.customers)
        )
        server_after, client_after = server.cpu_times(), me.cpu_times()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    server_cpu = (server_after.user + server_after.system) - (
        server_before.user + server_before.system
    )
    client_cpu = (client_after.user + client_after.system) - (
        client_before.user + client_before.system
    )
    print(
        f"requests:        {args.requests} (concurrency {args.concurrency}), failures: {failures}"
    )
    print(f"wall time:       {elapsed:.2f} s")
    print(f"requests/s:      {args.requests / elapsed:,.0f}")
    print(f"server CPU:      {server_cpu:.2f} s ({server_cpu / elapsed:.0%} of one core)")
    print(f"client CPU:      {client_cpu:.2f} s ({client_cpu / elapsed:.0%} of one core)")
    print(
        f"server µs/req:   {server_cpu / args.requests * 1e6:.0f} (capacity ≈ "
        f"{args.requests / server_cpu:,.0f} requests/s of server CPU)"
    )
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
