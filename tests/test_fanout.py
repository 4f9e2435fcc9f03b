"""One list, every installation (issue 18): the same file sent to several installations in one
run, each on its own — its abort, its resume, its canary, its failed rows, its sync state —
into one results file grouped by installation. Against real simulators on 127.0.0.1."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import socket
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import pytest_asyncio

from batchtool import (
    Credentials,
    DispatchConfig,
    Installation,
    JournalError,
    SyncOptions,
    SyncStateError,
    UsageError,
    run_batch_async,
)
from batchtool.events import Event, RunProgress, RunStarted
from batchtool.simulator import Simulator

HEADER = ["operation", "customer_id", "firstname"]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
AUTH_REFUSED = (
    "authentication refused (HTTP 401): invalid api-username or api-key — check the api key "
    "and api username"
)


def fast(**options: Any) -> DispatchConfig:
    """Retries on a millisecond scale, so that an unreachable installation aborts quickly."""
    return DispatchConfig(backoff_base_s=0.005, backoff_max_s=0.02, **options)


def creds(sim: Simulator, *, key: str | None = None) -> Credentials:
    return Credentials(sim.base_url, sim.api_username, key or sim.api_key)


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def names_sent(sim: Simulator) -> list[str]:
    return [entry.form.get("firstname", "") for entry in sim.log]


def free_port() -> int:
    """A port nothing listens on (yet): an installation that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture
async def sims() -> AsyncIterator[tuple[Simulator, Simulator, Simulator]]:
    """Three installations: offerit, nats, trackfinity."""
    async with (
        Simulator(customers=50) as a,
        Simulator(customers=50) as b,
        Simulator(customers=50) as c,
    ):
        yield a, b, c


ROWS = [[("set" if i % 3 else "lock"), str(i), f"n{i}" if i % 3 else ""] for i in range(1, 13)]


async def test_one_results_file_grouped_by_installation_in_the_order_given(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path: Path
) -> None:
    a, b, c = sims
    rows = [*ROWS, ["set", "", "no lookup"]]
    src = write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "in.results.csv"
    before = datetime.now(UTC) - timedelta(seconds=1)
    report = await run_batch_async(
        src,
        installations=[
            Installation("trackfinity", creds(c)),
            Installation("offerit", creds(a)),
            Installation("nats", creds(b)),
        ],
        results_path=out,
    )
    assert report.exit_code == 1  # the invalid row, at each installation
    results = read_csv(out)
    assert list(results[0])[:2] == ["installation", "row"]
    assert list(results[0])[8:] == ["finished_at", "customer_id", "firstname"]
    # Every input row once per installation: grouped in the order given, each in input order.
    assert [(r["installation"], r["row"]) for r in results] == [
        (name, str(row)) for name in ("trackfinity", "offerit", "nats") for row in range(1, 14)
    ]
    assert [r["status"] for r in results] == (["ok"] * 12 + ["invalid"]) * 3
    for sim in (a, b, c):
        assert sorted(names_sent(sim), key=str) == sorted(r[2] for r in ROWS)
    stamps = [r["finished_at"] for r in results if r["status"] == "ok"]
    assert all(ISO_UTC.match(stamp) for stamp in stamps), stamps
    times = [datetime.fromisoformat(stamp) for stamp in stamps]
    assert before <= min(times) and max(times) <= datetime.now(UTC)
    assert [r["finished_at"] for r in results if r["status"] == "invalid"] == [""] * 3
    assert report.summary.counts == {"ok": 36, "invalid": 3}
    assert [(i.name, i.summary.counts, i.requests_sent) for i in report.installations] == [
        (name, {"ok": 12, "invalid": 1}, 12) for name in ("trackfinity", "offerit", "nats")
    ]
    assert report.requests_sent == 36


async def test_an_installation_refusing_the_key_is_aborted_alone(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path: Path
) -> None:
    a, b, c = sims
    src = write_csv(tmp_path / "in.csv", ROWS)
    out = tmp_path / "in.results.csv"
    report = await run_batch_async(
        src,
        installations={
            "offerit": creds(a),
            "nats": creds(b, key="wrong"),
            "trackfinity": creds(c),
        },
        results_path=out,
        dispatch_config=fast(concurrency=1),
    )
    assert report.exit_code == 3
    assert report.aborted == f"nats: {AUTH_REFUSED}"
    by_name = {i.name: i for i in report.installations}
    assert by_name["nats"].aborted == AUTH_REFUSED
    assert by_name["offerit"].aborted is None and by_name["trackfinity"].aborted is None
    results = read_csv(out)
    nats = [r for r in results if r["installation"] == "nats"]
    assert (nats[0]["status"], nats[0]["http_status"]) == ("failed", "401")
    assert {(r["status"], r["error"]) for r in nats[1:]} == {
        ("skipped", f"not sent: aborted for nats — {AUTH_REFUSED}")
    }
    others = [r for r in results if r["installation"] != "nats"]
    assert {r["status"] for r in others} == {"ok"} and len(others) == 24
    assert len(b.log) == 1 and len(a.log) == len(c.log) == 12


async def test_a_down_installation_is_aborted_and_resume_sends_only_its_rows(
    simulator: Simulator, tmp_path: Path
) -> None:
    port = free_port()
    down = Credentials(f"http://127.0.0.1:{port}", simulator.api_username, simulator.api_key)
    src = write_csv(tmp_path / "erasure.csv", [["forget", str(i), ""] for i in range(1, 21)])
    out = tmp_path / "erasure.results.csv"
    installations = {"offerit": creds(simulator), "nats": down}
    report = await run_batch_async(
        src, installations=installations, results_path=out, dispatch_config=fast(max_attempts=2)
    )
    assert report.exit_code == 3
    nats = next(i for i in report.installations if i.name == "nats")
    assert nats.aborted is not None and nats.aborted.startswith(
        "no answer from the server for the first 3 rows"
    )
    assert simulator.requests_served == 20
    assert any("add --resume" in note for note in report.notes)

    # nats is back, on the same address: --resume sends its 20 rows, and none to offerit.
    async with Simulator(port=port, customers=50) as back:
        report = await run_batch_async(
            src, installations=installations, results_path=out, resume=True, dispatch_config=fast()
        )
        assert back.requests_served == 20
    assert simulator.requests_served == 20
    assert report.exit_code == 0
    assert report.resumed_ok == 20
    assert [(i.name, i.resumed_ok, i.requests_sent) for i in report.installations] == [
        ("offerit", 20, 0),
        ("nats", 0, 20),
    ]
    assert {(r["installation"], r["status"]) for r in read_csv(out)} == {
        ("offerit", "ok"),
        ("nats", "ok"),
    }


async def test_each_installation_keeps_each_customers_rows_in_file_order(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path: Path
) -> None:
    a, b, _ = sims
    rows = [["set", str(1 + i % 3), f"v{i}"] for i in range(30)]
    src = write_csv(tmp_path / "in.csv", rows)
    await run_batch_async(
        src,
        installations={"offerit": creds(a), "nats": creds(b)},
        results_path=tmp_path / "in.results.csv",
        dispatch_config=fast(concurrency=8),
    )
    for sim in (a, b):
        for customer in ("1", "2", "3"):
            sent = [e.form["firstname"] for e in sim.log if e.form["customer_id"] == customer]
            assert sent == [r[2] for r in rows if r[1] == customer]
            stored = sim.store.get(customer)
            assert stored is not None and stored.fields["firstname"] == sent[-1]


async def test_canary_sends_n_rows_to_each_installation_and_resume_the_rest(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path: Path
) -> None:
    a, b, _ = sims
    src = write_csv(tmp_path / "in.csv", ROWS)
    out = tmp_path / "in.results.csv"
    installations = {"offerit": creds(a), "nats": creds(b)}
    report = await run_batch_async(
        src,
        installations=installations,
        results_path=out,
        canary=3,
        dispatch_config=fast(concurrency=1),
    )
    assert report.exit_code == 0
    assert names_sent(a) == names_sent(b) == ["n1", "n2", ""]
    canary = "not sent: canary — run again with --resume to send the rest"
    for name in ("offerit", "nats"):
        group = [r for r in read_csv(out) if r["installation"] == name]
        assert [r["status"] for r in group] == ["ok"] * 3 + ["skipped"] * 9
        assert {r["error"] for r in group[3:]} == {canary}
    assert any("canary: 18 row(s) not sent yet" in note for note in report.notes)

    report = await run_batch_async(
        src, installations=installations, results_path=out, resume=True
    )
    assert report.exit_code == 0
    assert len(a.log) == len(b.log) == 12  # each row once at each installation
    assert {r["status"] for r in read_csv(out)} == {"ok"}


async def test_only_failed_resends_each_row_to_its_own_installation(
    tmp_path: Path,
) -> None:
    # nats knows customers 1..4 only: 5 and 6 fail there, and nowhere else.
    async with Simulator(customers=10) as a, Simulator(customers=4) as b:
        src = write_csv(tmp_path / "in.csv", [["unlock", str(i), ""] for i in range(1, 7)])
        first = tmp_path / "in.results.csv"
        installations = {"offerit": creds(a), "nats": creds(b)}
        report = await run_batch_async(src, installations=installations, results_path=first)
        assert report.exit_code == 1
        assert [r["status"] for r in read_csv(first)] == ["ok"] * 6 + ["ok"] * 4 + ["failed"] * 2
        # Ops look the failed rows up and fix their ids in the results file.
        rows = read_csv(first)
        for record in rows:
            if record["status"] == "failed":
                record["customer_id"] = str(int(record["customer_id"]) - 4)
        with first.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        a.clear_log()
        b.clear_log()

        second = tmp_path / "fixed.results.csv"
        report = await run_batch_async(
            first, installations=installations, results_path=second, only_failed=True
        )
        assert report.exit_code == 0
        assert a.log == []
        assert sorted(e.form["customer_id"] for e in b.log) == ["1", "2"]
        results = read_csv(second)
        # One row per input row, each under its own installation, in input order.
        assert [(r["installation"], r["row"], r["status"]) for r in results] == [
            *(("offerit", str(i), "skipped") for i in range(1, 7)),
            *(("nats", str(i), "skipped") for i in range(7, 11)),
            ("nats", "11", "ok"),
            ("nats", "12", "ok"),
        ]
        assert results[0]["error"] == "ok in the earlier run"

        with pytest.raises(UsageError) as info:
            await run_batch_async(
                first,
                installations={"offerit": creds(a)},
                results_path=tmp_path / "x.results.csv",
                only_failed=True,
            )
    assert str(info.value) == (
        f"{first}: row 7 is for installation 'nats', which this run does not send to "
        "(offerit) — add --profile nats, or delete its rows"
    )


async def test_only_failed_with_several_needs_a_results_file_of_several(
    simulator: Simulator, tmp_path: Path
) -> None:
    src = write_csv(tmp_path / "in.results.csv", [["lock", "1", ""]], ["row", "status", *HEADER])
    with pytest.raises(UsageError, match="this one is of a run to one installation"):
        await run_batch_async(
            src,
            installations={"a": creds(simulator), "b": creds(simulator)},
            results_path=tmp_path / "again.results.csv",
            only_failed=True,
        )


async def test_changed_only_keeps_a_state_per_installation_in_one_file(
    simulator: Simulator, tmp_path: Path
) -> None:
    port = free_port()
    down = Credentials(f"http://127.0.0.1:{port}", simulator.api_username, simulator.api_key)
    src = write_csv(tmp_path / "sync.csv", [["set", str(i), f"n{i}"] for i in range(1, 9)])
    out = tmp_path / "sync.results.csv"
    nightly = SyncOptions(changed_only=True)
    report = await run_batch_async(
        src,
        installations={"offerit": creds(simulator), "nats": down},
        results_path=out,
        sync=nightly,
        dispatch_config=fast(max_attempts=1),
    )
    assert report.exit_code == 3
    state = pl.read_parquet(tmp_path / "sync.results.csv.state.parquet")
    assert state["installation"].unique().to_list() == ["offerit"]

    # The next night nats is back: it gets every row, offerit none (nothing changed there).
    async with Simulator(port=port, customers=50) as back:
        simulator.clear_log()
        report = await run_batch_async(
            src,
            installations={"offerit": creds(simulator), "nats": creds(back)},
            results_path=out,
            sync=nightly,
            restart=True,
        )
        assert len(back.log) == 8
    assert simulator.log == []
    assert report.exit_code == 0
    assert [(i.name, i.summary.counts) for i in report.installations] == [
        ("offerit", {"unchanged": 8}),
        ("nats", {"ok": 8}),
    ]
    state = pl.read_parquet(tmp_path / "sync.results.csv.state.parquet")
    assert sorted(state["installation"].to_list()) == ["nats"] * 8 + ["offerit"] * 8

    # That state is of several installations: a run to one cannot use it.
    with pytest.raises(SyncStateError) as info:
        await run_batch_async(
            src,
            credentials=creds(simulator),
            results_path=out,
            sync=nightly,
            restart=True,
        )
    assert "was kept for runs to several installations (" in str(info.value)
    assert "run once with --full to rebuild it" in str(info.value)


async def test_a_state_of_one_installation_is_refused_by_a_run_to_several(
    simulator: Simulator, tmp_path: Path
) -> None:
    src = write_csv(tmp_path / "sync.csv", [["set", "1", "a"]])
    out = tmp_path / "sync.results.csv"
    nightly = SyncOptions(changed_only=True)
    await run_batch_async(src, credentials=creds(simulator), results_path=out, sync=nightly)
    with pytest.raises(SyncStateError) as info:
        await run_batch_async(
            src,
            installations={"offerit": creds(simulator), "nats": creds(simulator)},
            results_path=out,
            sync=nightly,
        )
    assert str(info.value) == (
        f"sync state {out}.state.parquet was kept for runs to one installation, this run sends "
        "to offerit, nats — it cannot tell whose each customer is; run once with --full to "
        "rebuild it for them, or choose another --state path"
    )


async def test_resume_with_other_installations_is_refused(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path: Path
) -> None:
    a, b, c = sims
    src = write_csv(tmp_path / "in.csv", ROWS)
    out = tmp_path / "in.results.csv"
    report = await run_batch_async(
        src,
        installations={"offerit": creds(a), "nats": creds(b, key="wrong")},
        results_path=out,
    )
    assert report.exit_code == 3
    with pytest.raises(JournalError) as info:
        await run_batch_async(
            src,
            installations={"offerit": creds(a), "trackfinity": creds(c)},
            results_path=out,
            resume=True,
        )
    assert str(info.value) == (
        f"{out}: the run being resumed sent to offerit, nats, this one to offerit, "
        "trackfinity — resume with the same installations or use --restart to start over"
    )
    with pytest.raises(JournalError, match="this one to one installation"):
        await run_batch_async(src, credentials=creds(a), results_path=out, resume=True)


async def test_progress_tells_each_installation(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path: Path
) -> None:
    a, b, _ = sims
    src = write_csv(tmp_path / "in.csv", ROWS)
    seen: list[Event] = []
    await run_batch_async(
        src,
        installations={"offerit": creds(a), "nats": creds(b)},
        results_path=tmp_path / "in.results.csv",
        on_event=seen.append,
        progress_interval_s=1e-9,
    )
    started = next(e for e in seen if isinstance(e, RunStarted))
    assert started.to_send == 24 and dict(started.installations) == {"offerit": 12, "nats": 12}
    last = [e for e in seen if isinstance(e, RunProgress)][-1]
    assert [(p.installation, p.total) for p in last.installations] == [
        ("offerit", 12),
        ("nats", 12),
    ]
    assert last.done == sum(p.done for p in last.installations) and last.total == 24


async def test_one_stop_event_stops_every_installation(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path: Path
) -> None:
    a, b, _ = sims
    stop = asyncio.Event()
    stop.set()
    report = await run_batch_async(
        write_csv(tmp_path / "in.csv", ROWS),
        installations={"offerit": creds(a), "nats": creds(b)},
        results_path=tmp_path / "in.results.csv",
        stop=stop,
    )
    assert report.exit_code == 130 and report.interrupted
    assert a.log == [] and b.log == []
    assert report.summary.counts == {"skipped": 24}


async def test_a_dry_run_needs_the_names_only(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", [*ROWS, ["set", "", "x"]])
    out = tmp_path / "in.results.parquet"
    report = await run_batch_async(
        src,
        installations=[Installation("offerit"), Installation("nats")],
        dry_run=True,
        results_path=out,
    )
    assert report.exit_code == 1
    frame = pl.read_parquet(out)
    assert frame.columns[:2] == ["installation", "row"]
    assert frame["installation"].to_list() == ["offerit"] * 13 + ["nats"] * 13
    assert frame["finished_at"].null_count() == 26
    assert report.plan.total == 26 and report.plan.invalid == 2
    assert report.plan.invalid_examples == [(13, report.plan.invalid_examples[0][1])]
    assert [(i.name, i.summary.counts) for i in report.installations] == [
        ("offerit", {"valid": 12, "invalid": 1}),
        ("nats", {"valid": 12, "invalid": 1}),
    ]
    # Each installation's share as planned, as the ops page's plan shows it.
    assert [(i.name, i.plan and (i.plan.total, i.plan.valid)) for i in report.installations] == [
        ("offerit", (13, 12)),
        ("nats", (13, 12)),
    ]


async def test_simulate_starts_one_simulator_per_installation(tmp_path: Path) -> None:
    report = await run_batch_async(
        write_csv(tmp_path / "in.csv", ROWS),
        installations=[Installation("offerit"), Installation("nats")],
        results_path=tmp_path / "in.results.csv",
        simulate=True,
    )
    assert report.exit_code == 0
    assert [(i.name, i.summary.counts) for i in report.installations] == [
        ("offerit", {"ok": 12}),
        ("nats", {"ok": 12}),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"credentials": Credentials("http://127.0.0.1:1", "u", "k"), "installations": {}},
            "give credentials= (one installation) or installations= (one or several), not both",
            id="both",
        ),
        pytest.param(
            {"installations": []},
            "installations= names no installation — give at least one",
            id="none",
        ),
        pytest.param(
            {"installations": [Installation("a"), Installation(None)]},
            "with several installations each needs a name (its profile's), for the results "
            "and the journal to say whose each row is",
            id="unnamed",
        ),
        pytest.param(
            {"installations": [Installation("a"), Installation("a")]},
            "installation 'a' is given twice — give it once",
            id="twice",
        ),
    ],
)
async def test_installations_that_cannot_be_told_apart_are_refused(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError) as info:
        await run_batch_async(write_csv(tmp_path / "in.csv", ROWS), dry_run=True, **kwargs)
    assert str(info.value) == message


async def test_a_journal_written_before_finished_at_still_resumes(
    simulator: Simulator, tmp_path: Path
) -> None:
    src = write_csv(tmp_path / "in.csv", [["lock", str(i), ""] for i in range(1, 5)])
    out = tmp_path / "in.results.csv"
    canary = await run_batch_async(src, credentials=creds(simulator), results_path=out, canary=2)
    assert canary.exit_code == 0
    # As a batchtool of before left it: the same records without finished_at.
    journal = tmp_path / "in.results.csv.journal"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert all("finished_at" in line for line in lines if "row" in line)
    journal.write_text(
        "".join(
            json.dumps({k: v for k, v in line.items() if k != "finished_at"}) + "\n"
            for line in lines
        )
    )
    simulator.clear_log()
    report = await run_batch_async(
        src, credentials=creds(simulator), results_path=out, resume=True
    )
    assert report.exit_code == 0 and report.resumed_ok == 2
    assert sorted(e.form["customer_id"] for e in simulator.log) == ["3", "4"]
    results = read_csv(out)
    assert [r["finished_at"] == "" for r in results] == [True, True, False, False]


async def test_the_earlier_results_of_a_run_to_several_send_each_row_to_its_own(
    tmp_path: Path,
) -> None:
    # The ops page sends failed rows again from the first run's own input (passwords as
    # typed) and that run's results: each failed row must go back to its own installation.
    async with Simulator(customers=5) as a, Simulator(customers=4) as b:
        src = write_csv(tmp_path / "in.csv", [["unlock", str(i), ""] for i in range(1, 7)])
        first = tmp_path / "in.results.csv"
        installations = {"offerit": creds(a), "nats": creds(b)}
        await run_batch_async(src, installations=installations, results_path=first)
        failed = [(r["installation"], r["row"]) for r in read_csv(first) if r["status"] != "ok"]
        assert failed == [("offerit", "6"), ("nats", "5"), ("nats", "6")]
        a.clear_log()
        b.clear_log()

        report = await run_batch_async(
            src,
            installations=installations,
            results_path=tmp_path / "again.results.csv",
            only_failed=True,
            earlier_results=first,
        )
    assert [e.form["customer_id"] for e in a.log] == ["6"]
    assert sorted(e.form["customer_id"] for e in b.log) == ["5", "6"]
    assert [(i.name, i.plan and i.plan.valid) for i in report.installations] == [
        ("offerit", 1),
        ("nats", 2),
    ]
    again = read_csv(tmp_path / "again.results.csv")
    assert [(r["installation"], r["row"], r["status"]) for r in again] == [
        *(("offerit", str(i), "skipped") for i in range(1, 6)),
        ("offerit", "6", "failed"),
        *(("nats", str(i), "skipped") for i in range(1, 5)),
        ("nats", "5", "failed"),
        ("nats", "6", "failed"),
    ]


async def test_an_installation_aborted_is_told_at_once_not_at_the_next_interval(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path: Path
) -> None:
    a, b, _ = sims
    seen: list[Event] = []
    await run_batch_async(
        write_csv(tmp_path / "in.csv", ROWS),
        installations={"offerit": creds(a), "nats": creds(b, key="wrong")},
        results_path=tmp_path / "in.results.csv",
        on_event=seen.append,
        progress_interval_s=3600,  # no progress is due while the run lasts
        dispatch_config=fast(concurrency=1),
    )
    (told,) = [e for e in seen if isinstance(e, RunProgress)]
    assert [(p.installation, p.aborted) for p in told.installations] == [
        ("offerit", None),
        ("nats", AUTH_REFUSED),
    ]


async def test_a_resume_tells_the_rows_already_ok_at_each_installation(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path: Path
) -> None:
    a, b, _ = sims
    src = write_csv(tmp_path / "in.csv", ROWS)
    out = tmp_path / "in.results.csv"
    installations = {"offerit": creds(a), "nats": creds(b)}
    await run_batch_async(src, installations=installations, results_path=out, canary=3)
    seen: list[Event] = []
    await run_batch_async(
        src, installations=installations, results_path=out, resume=True, on_event=seen.append
    )
    started = next(e for e in seen if isinstance(e, RunStarted))
    assert (started.already_ok, dict(started.installations_ok)) == (6, {"offerit": 3, "nats": 3})
    assert dict(started.installations) == {"offerit": 9, "nats": 9}
