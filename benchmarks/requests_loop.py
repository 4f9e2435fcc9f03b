"""The vendor's example, in a loop: ``requests.patch(url, data=payload, headers=headers)`` per row.

This is what the vendor's manual shows (one module-level ``requests.patch`` per call, so a new
connection per row, sequentially), made into a loop over the spreadsheet. It sends only the
first ``--limit`` rows: at 20 ms a row, the whole 10,000 would take minutes, and a sequential
loop's cost per row is flat, so the harness extrapolates from the slice (see run_all.py).

    BATCHTOOL_API_KEY=sim-not-a-secret-key .venv/bin/python benchmarks/requests_loop.py \
        benchmarks/data/set_details_10000.csv --base-url http://127.0.0.1:PORT --limit 300

Prints one JSON line: ``rows`` sent, ``ok``, ``loop_s`` (wall time of the loop alone),
``loop_cpu_s`` (this process's CPU during the loop) and ``rows_per_s``; exit 0 when all ok.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import time

import requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the vendor example's sequential loop")
    parser.add_argument("csv")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-username", default="sim_admin")
    parser.add_argument("--limit", type=int, default=300, help="send only the first N rows")
    args = parser.parse_args(argv)
    key = os.environ.get("BATCHTOOL_API_KEY")
    if not key:
        parser.error("set BATCHTOOL_API_KEY")

    base = args.base_url.rstrip("/")
    headers = {"api-key": key, "api-username": args.api_username}
    with open(args.csv, newline="", encoding="utf-8-sig") as f:
        rows = list(itertools.islice(csv.DictReader(f), args.limit))

    ok = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for row in rows:
        url = f"{base}/api/customer/{row.pop('operation')}"
        payload = {k: v for k, v in row.items() if v}
        try:
            # A timeout the vendor example lacks: a benchmark must stay bounded in time.
            res = requests.patch(url, data=payload, headers=headers, timeout=30)
            if res.status_code == 200 and res.json() is True:
                ok += 1
        except (requests.RequestException, ValueError):
            pass
    loop_s, loop_cpu_s = time.perf_counter() - t0, time.process_time() - c0

    print(
        json.dumps(
            {
                "rows": len(rows),
                "ok": ok,
                "loop_s": round(loop_s, 4),
                "loop_cpu_s": round(loop_cpu_s, 4),
                "rows_per_s": round(len(rows) / loop_s, 2) if loop_s else None,
            }
        )
    )
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
