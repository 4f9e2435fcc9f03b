"""The ceiling for a Python client: a bare aiohttp + semaphore script.

No validation, no per-row ordering, no retries, no journal, no results file: read the CSV with
the csv module, one ``aiohttp.ClientSession`` with a connector sized to the concurrency, one
task per row behind an ``asyncio.Semaphore``, ``PATCH`` the row as a form, count the answers
that are HTTP 200 with a JSON body of exactly ``true``. It sends the same form body batchtool
sends for these files (the lookup key, then the row's non-empty cells, in column order).

    BATCHTOOL_API_KEY=sim-not-a-secret-key .venv/bin/python benchmarks/bare_aiohttp.py \
        benchmarks/data/set_details_10000.csv --base-url http://127.0.0.1:PORT

Prints one JSON line ``{"rows": N, "ok": K, "elapsed_s": S}``; exit 0 when every row was ok.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import time

import aiohttp


async def run(
    rows: list[dict[str, str]], base_url: str, username: str, key: str, concurrency: int
) -> int:
    """Send every row; return how many came back ok."""
    base = base_url.rstrip("/")
    sem = asyncio.Semaphore(concurrency)
    ok = 0

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    headers = {"api-key": key, "api-username": username}
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:

        async def one(row: dict[str, str]) -> None:
            nonlocal ok
            operation = row.pop("operation")
            form = {k: v for k, v in row.items() if v}
            async with sem:
                try:
                    async with session.patch(f"{base}/api/customer/{operation}", data=form) as resp:
                        body = await resp.read()
                        if resp.status == 200 and json.loads(body) is True:
                            ok += 1
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    pass

        await asyncio.gather(*(one(row) for row in rows))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bare aiohttp + semaphore ceiling")
    parser.add_argument("csv")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-username", default="sim_admin")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)
    key = os.environ.get("BATCHTOOL_API_KEY")
    if not key:
        parser.error("set BATCHTOOL_API_KEY")

    t0 = time.perf_counter()
    with open(args.csv, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    n = len(rows)
    ok = asyncio.run(run(rows, args.base_url, args.api_username, key, args.concurrency))
    elapsed = time.perf_counter() - t0
    print(json.dumps({"rows": n, "ok": ok, "elapsed_s": round(elapsed, 4)}))
    return 0 if ok == n else 1


if __name__ == "__main__":
    sys.exit(main())
