"""Fan-out from the command line (issue 18): --profile several times and --all-profiles, what
the run says per installation (summary, JSON log, --summary-json, --metrics-file), and the
options that name one installation refused with several."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import LoopThread
from prometheus_client.parser import text_string_to_metric_families

from batchtool.cli import main
from batchtool.events import RunProgress, RunStarted
from batchtool.jsonlog import JsonLog
from batchtool.model import Outcome
from batchtool.progress import FanProgress, TextProgress, progress_line
from batchtool.simulator import Simulator

PROFILES = ("offerit", "nats", "trackfinity")
AUTH_REFUSED = (
    "authentication refused (HTTP 401): invalid api-username or api-key — check the api key "
    "and api username"
)


@pytest.fixture
def sims(loop_thread: LoopThread) -> Iterator[dict[str, Simulator]]:
    """One simulator per profile, serving while the CLI's own event loop runs."""
    found = {name: Simulator(customers=10) for name in PROFILES}
    for sim in found.values():
        loop_thread.run(sim.start())
    yield found
    for sim in found.values():
        loop_thread.run(sim.stop())


@pytest.fixture
def config(tmp_path: Path, sims: dict[str, Simulator]) -> Path:
    """A config file of three profiles, in the order offerit, nats, trackfinity."""
    path = tmp_path / "config.toml"
    path.write_text(
        "".join(
            f'[profiles.{name}]\nbase_url = "{sim.base_url}"\n'
            f'api_username = "{sim.api_username}"\napi_key_env = "{name.upper()}_KEY"\n\n'
            for name, sim in sims.items()
        )
    )
    return path


@pytest.fixture
def erasure(tmp_path: Path) -> Path:
    path = tmp_path / "erasure.csv"
    path.write_text("customer_id\n1\n2\n3\n4\n")
    return path


def keys(sims: dict[str, Simulator], **wrong: str) -> dict[str, str | None]:
    """Each profile's key variable, the right key unless ``wrong`` says otherwise."""
    env: dict[str, str | None] = {
        f"{name.upper()}_KEY": wrong.get(name, sim.api_key) for name, sim in sims.items()
    }
    return {**env, "BATCHTOOL_API_KEY": None, "BATCHTOOL_BASE_URL": None, "BATCHTOOL_CONFIG": None}


def run(src: Path, config: Path, *args: str, env: dict[str, str | None]) -> Result:
    results = src.with_name(src.stem + ".results.csv")
    return CliRunner().invoke(
        main,
        ["run", str(src), "--config", str(config), "--results", str(results), *args],
        env=env,
    )


def metrics(path: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_erasure_request_to_three_installations_one_refusing_the_key(
    sims: dict[str, Simulator], config: Path, erasure: Path, tmp_path: Path
) -> None:
    summary, prom = tmp_path / "summary.json", tmp_path / "batchtool.prom"
    result = run(
        erasure, config, "--operation", "forget",
        "--profile", "offerit", "--profile", "nats", "--profile", "trackfinity",
        "--concurrency", "1", "--summary-json", str(summary), "--metrics-file", str(prom),
        env=keys(sims, nats="wrong"),
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert f"batchtool: aborted for nats: {AUTH_REFUSED}\n" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("batchtool run finished: 12 rows in ")
    assert lines[1:] == [
        "  ok       8",
        "  failed   1",
        "  skipped  3",
        "by installation:",
        "  offerit      ok 4",
        "  nats         failed 1, skipped 3 (aborted)",
        "  trackfinity  ok 4",
        "most common errors:",
        f"  3  not sent: aborted for nats — {AUTH_REFUSED}",
        "  1  HTTP 401: invalid api-username or api-key",
        f"results: {tmp_path / 'erasure.results.csv'}",
        "concurrency: 1 at each installation",
    ]
    assert [len(sims[name].log) for name in PROFILES] == [4, 1, 4]

    record = json.loads(summary.read_text(encoding="utf-8"))
    assert record["exit_code"] == 3 and record["counts"] == {"ok": 8, "failed": 1, "skipped": 3}
    assert [
        (i["installation"], i["exit_code"], i["counts"], i["requests_sent"], i["aborted"])
        for i in record["installations"]
    ] == [
        ("offerit", 0, {"ok": 4}, 4, None),
        ("nats", 3, {"failed": 1, "skipped": 3}, 1, AUTH_REFUSED),
        ("trackfinity", 0, {"ok": 4}, 4, None),
    ]

    found = metrics(prom)
    for name, ok, code in (("offerit", 4, 0), ("nats", 0, 3), ("trackfinity", 4, 0)):
        labels = (("input", "erasure.csv"), ("installation", name))
        assert found["batchtool_rows"][(*labels, ("status", "ok"))] == ok
        assert found["batchtool_exit_code"][labels] == code
    assert found["batchtool_duration_seconds"][(("input", "erasure.csv"),)] > 0
    assert not any("profile" in dict(labels) for series in found.values() for labels in series)
    success = found["batchtool_last_success_timestamp_seconds"]
    assert set(success) == {
        (("input", "erasure.csv"), ("installation", "offerit")),
        (("input", "erasure.csv"), ("installation", "trackfinity")),
    }

    # The key fixed, --resume sends nats its 4 rows and nothing to the others; the others'
    # last success is kept, nats gets one of its own.
    resumed = run(
        erasure, config, "--operation", "forget", "--resume",
        "--profile", "offerit", "--profile", "nats", "--profile", "trackfinity",
        "--metrics-file", str(prom), env=keys(sims),
    )  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert [len(sims[name].log) for name in PROFILES] == [4, 5, 4]
    again = metrics(prom)["batchtool_last_success_timestamp_seconds"]
    assert len(again) == 3
    assert again[(("input", "erasure.csv"), ("installation", "offerit"))] >= success[
        (("input", "erasure.csv"), ("installation", "offerit"))
    ]


def test_all_profiles_sends_to_every_profile_in_file_order(
    sims: dict[str, Simulator], config: Path, erasure: Path, tmp_path: Path
) -> None:
    result = run(erasure, config, "--operation", "unlock", "--all-profiles", env=keys(sims))
    assert result.exit_code == 0, result.output
    results = (tmp_path / "erasure.results.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in results[1:]] == [
        name for name in PROFILES for _ in range(4)
    ]


def test_the_batchtool_key_variables_are_not_read_with_several(
    sims: dict[str, Simulator], config: Path, erasure: Path
) -> None:
    env = {**keys(sims), "BATCHTOOL_API_KEY": "would-be-refused", "BATCHTOOL_BASE_URL": "x"}
    result = run(
        erasure, config, "--operation", "unlock", "--profile", "offerit", "--profile", "nats",
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "batchtool: warning: $BATCHTOOL_BASE_URL, $BATCHTOOL_API_KEY not read: with several "
        "installations each is exactly its profile\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("--base-url", "https://x.example.com"),
            "--base-url is for a run to one installation; this one sends to offerit, nats, each "
            "exactly its profile — set base_url in its [profiles.NAME] table instead",
            id="base-url",
        ),
        pytest.param(
            ("--api-key", "k"),
            "--api-key is for a run to one installation; this one sends to offerit, nats, each "
            "exactly its profile — set api_key_env in its [profiles.NAME] table instead",
            id="api-key",
        ),
        pytest.param(
            ("--client-cert", "cert.pem"),
            "--client-cert is for a run to one installation; this one sends to offerit, nats, "
            "each exactly its profile — set client_cert in its [profiles.NAME] table instead",
            id="client-cert",
        ),
        pytest.param(
            ("--all-profiles",),
            "--all-profiles takes every profile of the config file — drop --profile, or name "
            "each installation with --profile instead",
            id="all-and-some",
        ),
        pytest.param(
            ("--profile", "nats"),
            "--profile nats is given twice — give each profile once",
            id="twice",
        ),
    ],
)
def test_options_for_one_installation_are_refused_with_several(
    sims: dict[str, Simulator],
    config: Path,
    erasure: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    result = run(
        erasure, config, "--operation", "unlock", "--profile", "offerit", "--profile", "nats",
        *args, env=keys(sims),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stderr == f"batchtool: error: {message}\n"
    assert all(sim.log == [] for sim in sims.values())


def test_a_dry_run_names_the_installations_without_their_keys(
    config: Path, erasure: Path, tmp_path: Path
) -> None:
    result = run(
        erasure, config, "--operation", "forget", "--dry-run", "--profile", "offerit",
        "--profile", "nats", env={"OFFERIT_KEY": None, "NATS_KEY": None},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"8 row(s) for 2 installations from {erasure}\n  forget                 8 valid\n"
    )
    assert "by installation:\n  offerit  valid 4\n  nats     valid 4\n" in result.stdout


def test_simulate_with_several_profiles_needs_no_config(erasure: Path, tmp_path: Path) -> None:
    result = run(
        erasure, tmp_path / "none.toml", "--operation", "lock", "--simulate",
        "--profile", "a", "--profile", "b", env={},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "by installation:\n  a  ok 4\n  b  ok 4\n" in result.stdout


def progress() -> RunProgress:
    parts = (
        RunProgress(3, 4, {"ok": 3}, 2.0, 1.5, 4, 4.0, installation="offerit"),
        RunProgress(1, 4, {"ok": 0, "failed": 1}, 2.0, 0.5, 2, 3.0, installation="nats"),
    )
    return RunProgress(4, 8, {"ok": 3, "failed": 1}, 2.0, 2.0, 6, 7.0, installations=parts)


def test_the_progress_line_shows_each_installation_compactly() -> None:
    assert progress_line(progress()) == (
        "batchtool: 4/8 rows (50%), 2 rows/s, ok 3, failed 1, concurrency 6 (avg 7.0)"
        " — offerit 3/4; nats 1/4, failed 1"
    )


def test_json_progress_records_carry_each_installation(tmp_path: Path) -> None:
    stream = (tmp_path / "log.jsonl").open("w+")
    JsonLog(stream)(progress())
    stream.seek(0)
    record = json.loads(stream.read())
    assert (record["event"], record["done"], record["total"]) == ("progress", 4, 8)
    assert [
        (p["installation"], p["done"], p["total"], p["counts"]) for p in record["installations"]
    ] == [("offerit", 3, 4, {"ok": 3}), ("nats", 1, 4, {"ok": 0, "failed": 1})]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_terminal_draws_a_bar_per_installation() -> None:
    clock = FakeClock()
    out = io.StringIO()
    text = TextProgress(out, tty=True, clock=clock)
    sizes = {"offerit": 4, "nats": 4}
    text(RunStarted(Path("in.csv"), Path("r.csv"), False, 8, 8, installations=sizes))
    fan = FanProgress([("offerit", 4), ("nats", 4)], sink=text, interval_s=0.1, clock=clock)
    for lane in fan.lanes:
        for _ in range(4):
            clock.now += 0.2
            lane.advance(Outcome(row=1, status="ok"))
    text.close()
    rendered = out.getvalue()
    assert "offerit" in rendered and "nats" in rendered
    assert rendered.count("4/4") >= 2


def test_json_log_start_and_summary_name_each_installation(erasure: Path, tmp_path: Path) -> None:
    result = run(
        erasure, tmp_path / "none.toml", "--operation", "unlock", "--simulate",
        "--profile", "a", "--profile", "b", "--log-format", "json", env={},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines()]
    start, summary = events[0], events[-1]
    assert start["event"] == "start" and start["to_send"] == 8
    assert start["installations"] == [
        {"installation": "a", "to_send": 4},
        {"installation": "b", "to_send": 4},
    ]
    assert start["options"]["installations"] == ["a", "b"]
    assert summary["event"] == "summary" and summary["counts"] == {"ok": 8}
    assert [(i["installation"], i["counts"]) for i in summary["installations"]] == [
        ("a", {"ok": 4}),
        ("b", {"ok": 4}),
    ]
