"""The Runs list: 50 a page, newest first, filtered by status, person and file name (page and
JSON twin alike, links keeping the filters), uploads never sent kept apart, counts live."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient, TestServer
from conftest import WebServer
from web_support import (
    WebClient,
    post_form,
    run_json,
    seed_runs,
    sending_slowly,
    sign_in,
    wait_for_live,
    wait_for_status,
    wait_until,
)

from batchtool.web import make_app


def seed(web: WebServer) -> None:
    """120 runs that sent (70 finished by alice, then 50 stopped by bob) and 6 never sent."""
    seed_runs(
        web.config.runs_dir,
        web.simulator.base_url,
        [
            *((f"week-{i}.csv", "alice", "finished") for i in range(70)),
            *((f"fix-{i}.csv", "bob", "stopped") for i in range(50)),
            *((f"draft-{i}.csv", "bob", "planned") for i in range(5)),
            ("broken.csv", "alice", "rejected"),
        ],
    )


async def runs_json(client: WebClient, query: str = "") -> dict[str, object]:
    response = await client.get("/runs.json" + query)
    assert response.status == 200
    data: dict[str, object] = await response.json()
    return data


def names(data: dict[str, object], key: str = "runs") -> list[str]:
    runs = data[key]
    assert isinstance(runs, list)
    return [r["file_name"] for r in runs]


async def test_runs_are_paged_and_filtered_with_links_that_keep_the_filters(
    web_server: WebServer,
) -> None:
    seed(web_server)
    async with TestClient(TestServer(make_app(web_server.config))) as client:
        assert await sign_in(client) == 200
        data = await runs_json(client)
        assert (data["total"], data["page"], data["pages"]) == (120, 1, 3)
        assert names(data)[:2] == ["fix-49.csv", "fix-48.csv"] and len(names(data)) == 50
        assert (data["previous_url"], data["next_url"]) == (None, "/runs?page=2")
        assert data["not_sent_count"] == 6 and names(data, "not_sent")[0] == "broken.csv"
        last = await runs_json(client, "?page=3")
        assert names(last)[-1] == "week-0.csv" and len(names(last)) == 20
        assert (last["previous_url"], last["next_url"]) == ("/runs?page=2", None)
        assert (await runs_json(client, "?page=99"))["page"] == 3
        assert (await runs_json(client, "?page=x"))["page"] == 1

        bob = await runs_json(client, "?person=bob")
        assert bob["total"] == 50 and set(names(bob)) == {f"fix-{i}.csv" for i in range(50)}
        assert sorted(names(bob, "not_sent")) == [f"draft-{i}.csv" for i in range(5)]
        some = await runs_json(client, "?status=stopped&person=bob&file=FIX-1")
        assert names(some) == [*(f"fix-{i}.csv" for i in range(19, 9, -1)), "fix-1.csv"]
        assert names(await runs_json(client, "?status=finished&person=bob")) == []
        drafts = await runs_json(client, "?status=not-sent&person=bob")
        assert names(drafts) == [f"draft-{i}.csv" for i in range(4, -1, -1)]
        assert names(drafts, "not_sent") == []

        page = await (await client.get("/runs?status=stopped&person=bob")).text()
        assert "<caption>Runs 1 to 50 of 50, newest first</caption>" in page
        assert '<option value="stopped" selected>Stopped</option>' in page
        assert '<option value="bob" selected>bob</option>' in page
        page = await (await client.get("/runs?person=alice&page=2")).text()
        assert "<caption>Runs 51 to 70 of 70, newest first</caption>" in page
        assert '<a href="/runs?person=alice" rel="prev">Newer runs</a>' in page
        assert "<span>Page 2 of 2</span>" in page
        page = await (await client.get("/runs?file=week")).text()
        assert '<a href="/runs?file=week&amp;page=2" rel="next">Older runs</a>' in page
        assert "<summary>6 uploads checked, not sent</summary>" not in page  # none match
        page = await (await client.get("/runs")).text()
        assert "<summary>6 uploads checked, not sent</summary>" in page


async def test_while_a_run_sends_the_list_and_both_json_twins_count_live(web: WebServer) -> None:
    path = await sending_slowly(web, "live.csv", rows=300, latency_ms=100)
    await post_form(web.client, path + "/stop", token_from=path)
    stopped = (await wait_for_status(web.client, path, leaving=("sending",)))["run"]
    assert set(stopped["counts"]) == {"ok", "skipped"}
    ok_before = stopped["counts"]["ok"]

    await post_form(web.client, path + "/resume", token_from=path)
    await wait_until(lambda: len(web.simulator.log) >= ok_before + 20)
    live = await wait_for_live(web.client, path)
    run = (await run_json(web.client, path))["run"]
    listed = (await runs_json(web.client))["runs"]
    assert isinstance(listed, list)
    page = await (await web.client.get("/runs")).text()
    assert run["status"] == listed[0]["status"] == "sending"
    for counts in (run["counts"], listed[0]["counts"]):
        # The rows sent so far, the earlier send's included: not the stopped state.
        assert list(counts) == ["ok"] and counts["ok"] >= live["done"] >= ok_before
    row = r'<td data-label="Rows" class="counts">\s*<span class="count">ok ([\d,]+)<'
    shown = re.search(row, page)
    assert shown and int(shown.group(1).replace(",", "")) >= ok_before
    await post_form(web.client, path + "/stop", token_from=path)
