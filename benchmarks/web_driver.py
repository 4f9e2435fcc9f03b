"""Drive a running ops page the way people do, and time what they would wait for.

    web_driver.py SERVER_URL WORKDIR CSV

Signs in, uploads CSV and times it until the plan page has arrived (``check_s``), presses
"Send", then, until the run is done, keeps asking for pages the way several watching tabs
would (the run's JSON twin, its page, the runs list, New batch) and times each answer
(``page_p95_ms``). Meanwhile it samples the server's RSS (pid in WORKDIR/server.pid): once
signed in, before any upload (``idle_rss_mb``), and the peak over the whole visit
(``peak_rss_mb``). Prints one JSON line: ``{"rows": N, "ok": K, ...}``.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil
import requests
from web_server import PASSWORD, USER

MB = 1_000_000
#: Seconds between page requests while the run sends: a few tabs polling twice a second.
PAGE_GAP_S = 0.05
RSS_EVERY_S = 0.1

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of a page's first form."""
    found = _CSRF.search(html)
    if not found:
        raise SystemExit("no CSRF token on the page")
    return found.group(1)


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.done = threading.Event()

    def now(self) -> int:
        return int(self.process.memory_info().rss)

    def run(self) -> None:
        while not self.done.wait(RSS_EVERY_S):
            self.peak = max(self.peak, self.now())


def main() -> None:
    url, workdir, csv = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    rss = PeakRss(int((workdir / "server.pid").read_text()))
    rss.start()
    http = requests.Session()
    login = http.get(f"{url}/login", timeout=30).text
    http.post(
        f"{url}/login",
        data={"csrf_token": csrf_token(login), "username": USER, "password": PASSWORD},
        timeout=30,
    ).raise_for_status()
    new_batch = http.get(f"{url}/", timeout=30).text
    idle = rss.now()

    started = time.perf_counter()
    with csv.open("rb") as handle:
        plan = http.post(
            f"{url}/check",
            data={"csrf_token": csrf_token(new_batch), "installation": "bench"},
            files={"spreadsheet": (csv.name, handle)},
            timeout=300,
        )
    check_s = time.perf_counter() - started
    plan.raise_for_status()
    run = plan.url.removeprefix(url)
    http.post(f"{url}{run}/send", data={"csrf_token": csrf_token(plan.text)}, timeout=30)

    pages = [f"{run}.json", run, "/runs", "/"]
    times: list[float] = []
    status = "sending"
    while status == "sending":
        for page in pages:
            t0 = time.perf_counter()
            answer = http.get(f"{url}{page}", timeout=30)
            times.append(time.perf_counter() - t0)
            answer.raise_for_status()
            if page == pages[0]:
                status = answer.json()["run"]["status"]
            time.sleep(PAGE_GAP_S)
    send_s = time.perf_counter() - started - check_s
    rss.done.set()
    final = http.get(f"{url}{run}.json", timeout=30).json()["run"]
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times)
    print(
        json.dumps(
            {
                "rows": final["plan"]["total"],
                "ok": final["counts"].get("ok", 0),
                "status": final["status"],
                "check_s": round(check_s, 3),
                "send_s": round(send_s, 1),
                "page_requests": len(times),
                "page_p95_ms": round(p95 * 1000, 1),
                "page_max_ms": round(max(times) * 1000, 1),
                "idle_rss_mb": round(idle / MB, 1),
                "peak_rss_mb": round(max(rss.peak, idle) / MB, 1),
            }
        )
    )
    if final["status"] != "finished":
        sys.exit(1)


if __name__ == "__main__":
    main()
