"""A sending run's live state (``web.live``) and how the page words it (``web.words``): totals
across a Resume, the time left from the recent pace, retries, why it slows down."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import WebServer
from web_support import WAIT_POLLS, csv_bytes, post_form, run_json, upload

from batchtool import model
from batchtool.events import RunProgress, RunStarted
from batchtool.simulator import FaultConfig
from batchtool.web import words
from batchtool.web.live import LiveRun


def started(to_send: int, already_ok: int = 0) -> RunStarted:
    return RunStarted(
        Path("input.csv"), Path("results.csv"), False, 20_000, to_send, already_ok=already_ok
    )


def progress(
    elapsed_s: float,
    done: int,
    total: int = 20_000,
    *,
    retries: int = 0,
    concurrency: int | None = None,
    slowdown: model.Slowdown | None = None,
    slowdown_at_s: float | None = None,
) -> RunProgress:
    counts = {model.OK: done - 8, model.FAILED: 8} if done >= 8 else {model.OK: done}
    return RunProgress(
        done,
        total,
        counts,
        elapsed_s,
        rate=0.0,
        concurrency=concurrency,
        retries=retries,
        slowdown=slowdown,
        slowdown_at_s=slowdown_at_s,
    )


def test_a_resumed_run_counts_the_whole_account() -> None:
    live = LiveRun.to(["staging"])
    live.apply(started(to_send=19_160, already_ok=840))
    live.apply(progress(10.0, 968, total=19_160))
    snap = live.snapshot()
    assert (snap["done"], snap["to_send"]) == (1_808, 20_000)  # not 968 of 19,160
    assert snap["counts"] == {"ok": 1_800, "failed": 8}
    assert snap["installations"][0]["counts"] == snap["counts"]


def test_no_estimate_until_there_is_a_pace() -> None:
    live = LiveRun.to(["staging"])
    live.apply(started(to_send=20_000))
    send = live.snapshot()["installations"][0]
    assert send["time_left_text"] is None and send["elapsed_text"] == "0 s"
    live.apply(progress(0.5, 0))  # nothing finished yet: still no pace
    assert live.snapshot()["installations"][0]["time_left_text"] is None


def test_the_time_left_follows_the_recent_pace_not_the_mean() -> None:
    live = LiveRun.to(["staging"])
    live.apply(started(to_send=20_000))
    live.apply(progress(10.0, 1_000))
    live.apply(progress(20.0, 2_000))
    send = live.snapshot()["installations"][0]
    # 100 rows/s; 18,000 left.
    assert (send["elapsed_text"], send["time_left_text"]) == ("20 s", "about 3 min left")
    for elapsed, done in ((40.0, 2_200), (50.0, 2_300), (60.0, 2_400)):
        live.apply(progress(elapsed, done))
    send = live.snapshot()["installations"][0]
    # 10 rows/s over the last 40 s (the mean since the start, 40 rows/s, would say 7 min).
    assert (send["elapsed_text"], send["time_left_text"]) == ("1 min 0 s", "about 29 min left")


def test_retries_and_the_last_slowdown_are_shown() -> None:
    live = LiveRun.to(["staging"])
    live.apply(started(to_send=20_000))
    busy = model.Slowdown(3, status=503)
    live.apply(progress(5.0, 100, retries=12, slowdown=busy, slowdown_at_s=4.2, concurrency=3))
    live.apply(progress(6.0, 150, retries=15, concurrency=4))  # grew back: the reason stays
    send = live.snapshot()["installations"][0]
    assert send["retries"] == 15 and send["concurrency"] == 4
    assert send["slowdown_text"] == (
        "the installation answered 503 (busy): slowing down to 3 at a time"
    )
    assert send["slowdown_at_s"] == 4.2


@pytest.mark.parametrize(
    ("seconds", "elapsed", "left"),
    [
        pytest.param(0.4, "0 s", "less than a minute left", id="nothing-yet"),
        pytest.param(59.9, "59 s", "less than a minute left", id="under-a-minute"),
        pytest.param(184, "3 min 4 s", "about 3 min left", id="minutes"),
        pytest.param(3_570, "59 min 30 s", "about 1 h left", id="rounds-up-to-an-hour"),
        pytest.param(4_830, "1 h 20 min", "about 1 h 20 min left", id="hours"),
    ],
)
def test_times_in_words(seconds: float, elapsed: str, left: str) -> None:
    assert (words.duration(seconds), words.time_left(seconds)) == (elapsed, left)


async def test_the_sending_page_says_why_it_slowed_down_and_counts_retries(
    web: WebServer,
) -> None:
    web.simulator.faults = FaultConfig(latency_ms=20, rate_503=0.2, seed=3)
    rows = [f"lock,{i}" for i in range(1, 1001)]
    _, path, _ = await upload(web.client, csv_bytes("operation,customer_id", *rows), "busy.csv")
    await post_form(web.client, path + "/send", token_from=path)
    send: dict[str, Any] = {}
    for _ in range(WAIT_POLLS):
        live = (await run_json(web.client, path))["live"]
        send = live["installations"][0] if live else {}
        if send.get("slowdown_text") and send.get("retries"):
            break
        await asyncio.sleep(0.02)
    said = send["slowdown_text"]
    busy = r"the installation answered 503 \(busy\): slowing down to \d+ at a time"
    assert re.fullmatch(busy, said)
    page = await (await web.client.get(path)).text()
    assert '<div><dt>Retries</dt><dd data-field="retries">' in page
    assert '<div class="slowdown" data-shows="slowdown_text">' in page  # not hidden
    assert 'data-field="slowdown_text" role="status">the installation answered 503 (busy)' in page
    assert re.search(r'<dt>Elapsed</dt><dd data-field="elapsed_text">\d+ (s|min)', page)
    await post_form(web.client, path + "/stop", token_from=path)
