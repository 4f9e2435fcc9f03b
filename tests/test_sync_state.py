"""The sync state file: written atomically, read checked, refused (exit 2, nothing sent) when it
cannot be used — damaged, another format, another polars hash, another input layout — or
when another run that may write it holds its lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from batchtool.cli import main
from batchtool.errors import SyncStateError, UsageError
from batchtool.plan import plan_frame
from batchtool.sync_diff import empty_state, updated_state
from batchtool.sync_state import StateFile, Sync, SyncOptions, default_state_path

LAYOUT = ("customer_id",)


def a_state() -> pl.DataFrame:
    frame = pl.DataFrame(
        {"row": [1, 2], "operation": ["set", "lock"], "customer_id": ["1", "2"],
         "firstname": ["Ann", None]}
    )  # fmt: skip
    return updated_state(empty_state(), plan_frame(frame.lazy()), frame.select("row"))


def written(path: Path, layout: tuple[str, ...] = LAYOUT) -> StateFile:
    state_file = StateFile(path, layout)
    state_file.write(a_state())
    return state_file


def with_metadata(path: Path, **changes: str | None) -> None:
    metadata = pl.read_parquet_metadata(path)
    for key, value in changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    pl.read_parquet(path).write_parquet(path, metadata=metadata)


def test_written_state_reads_back(tmp_path: Path) -> None:
    state_file = written(tmp_path / "s.parquet")
    assert state_file.read().equals(a_state())
    assert state_file.read(["lookup_key", "lookup_value", "locked"]).columns == [
        "lookup_key",
        "lookup_value",
        "locked",
    ]


def test_no_state_file_is_an_empty_state(tmp_path: Path) -> None:
    assert StateFile(tmp_path / "none.parquet", LAYOUT).read().is_empty()


def test_write_leaves_no_temp_file_and_keeps_the_old_state_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.parquet"
    written(path)
    before = path.read_bytes()

    def full_disk(self: pl.DataFrame, file: object, **options: object) -> None:
        Path(str(file)).write_bytes(b"PAR1 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    with pytest.raises(OSError):
        StateFile(path, LAYOUT).write(a_state())
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["s.parquet"]


def test_state_is_readable_by_others_like_any_file_the_user_writes(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        path = written(tmp_path / "s.parquet").path
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        pytest.param(
            lambda p: p.write_bytes(b"not parquet at all"),
            "sync state {p} cannot be read (",
            id="not-parquet",
        ),
        pytest.param(
            lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
            "sync state {p} cannot be read (",
            id="truncated",
        ),
        pytest.param(
            lambda p: pl.DataFrame({"a": [1]}).write_parquet(p),
            "{p} is not a batchtool sync state — move it away or choose another --state path",
            id="other-parquet",
        ),
        pytest.param(
            lambda p: with_metadata(p, batchtool_sync_state="99"),
            "sync state {p} was written by another version of batchtool (state format 99) — "
            "run once with --full to rebuild it",
            id="other-format",
        ),
        pytest.param(
            lambda p: with_metadata(p, hash_check="1,2,3"),
            "sync state {p} was written with another polars version, which hashes values "
            "differently — run once with --full to rebuild it",
            id="other-hash",
        ),
        pytest.param(
            lambda p: with_metadata(p, lookup_columns=json.dumps(["subscription_id"])),
            "sync state {p} was kept for files looked up by subscription_id, this file by "
            "customer_id — a customer cannot be matched across lookups; run once with --full to "
            "rebuild it for this file, or choose another --state path",
            id="other-layout",
        ),
        pytest.param(
            lambda p: with_metadata(p, lookup_columns=None),
            "sync state {p} is damaged (it does not say which lookup columns it was kept for) — "
            "run once with --full to rebuild it",
            id="no-layout",
        ),
        pytest.param(
            lambda p: (
                a_state()
                .cast({"locked": pl.String})
                .write_parquet(p, metadata=pl.read_parquet_metadata(p))
            ),
            "sync state {p} is damaged (column 'locked' is of the wrong type) — run once with "
            "--full to rebuild it",
            id="wrong-type",
        ),
    ],
)
def test_unusable_state_is_refused_with_a_way_out(
    tmp_path: Path, spoil: object, message: str
) -> None:
    path = tmp_path / "s.parquet"
    written(path)
    spoil(path)  # type: ignore[operator]
    with pytest.raises(SyncStateError) as caught:
        StateFile(path, LAYOUT).read()
    text = str(caught.value)
    expected = message.format(p=path)
    assert text.startswith(expected) if expected.endswith("(") else text == expected


def test_state_option_needs_a_sync(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--state is the sync state of --changed-only or --full"):
        Sync(SyncOptions(state_path=tmp_path / "s.parquet"), tmp_path / "r.csv")


def test_default_state_path_is_beside_the_results() -> None:
    assert default_state_path(Path("/data/nightly.results.csv")) == Path(
        "/data/nightly.results.csv.state.parquet"
    )


def test_cli_stops_on_a_damaged_state_before_anything_is_read_or_sent(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("operation,customer_id,firstname\nset,1,Ann\n", encoding="utf-8")
    out = tmp_path / "in.results.csv"
    state = Path(f"{out}.state.parquet")
    state.write_bytes(b"garbage")
    result = CliRunner().invoke(
        main, ["run", str(src), "--results", str(out), "--changed-only", "--simulate"]
    )
    assert result.exit_code == 2, result.output
    assert f"batchtool: error: sync state {state} cannot be read (" in result.output
    assert "run once with --full to rebuild it" in result.output
    assert not out.exists()


def test_cli_full_replaces_a_damaged_state(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("operation,customer_id,firstname\nset,1,Ann\n", encoding="utf-8")
    out = tmp_path / "in.results.csv"
    state = Path(f"{out}.state.parquet")
    state.write_bytes(b"garbage")
    result = CliRunner().invoke(
        main, ["run", str(src), "--results", str(out), "--full", "--simulate", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert StateFile(state, LAYOUT).read()["lookup_value"].to_list() == ["1"]


def test_cli_refuses_a_state_path_that_is_the_input(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("operation,customer_id,firstname\nset,1,Ann\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["run", str(src), "--changed-only", "--state", str(src), "--dry-run"]
    )
    assert result.exit_code == 2, result.output
    assert f"the sync state {src} is the input file {src}" in result.output


@pytest.fixture
def state_lock_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another run holding the lock of ``tmp_path / "shared.state.parquet"``, as batchtool does."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from batchtool.errors import SyncStateError\n"
        "from batchtool.lockfile import RunLock\n"
        "lock = RunLock.take(Path(sys.argv[1]), what='x', option='--state', error=SyncStateError)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    lock = tmp_path / "shared.state.parquet.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_two_runs_on_one_state_with_other_results_paths_the_second_is_refused(
    tmp_path: Path, state_lock_holder: subprocess.Popen[str]
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("operation,customer_id,firstname\nset,1,Ann\n", encoding="utf-8")
    state = tmp_path / "shared.state.parquet"
    args = ["run", str(src), "--changed-only", "--state", str(state), "--simulate"]
    result = CliRunner().invoke(main, [*args, "--results", str(tmp_path / "second.results.csv")])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"batchtool: error: another batchtool run (pid {state_lock_holder.pid}) is writing the "
        f"sync state {state} — wait for it to finish or choose another --state path\n"
    )
    assert not state.exists() and not (tmp_path / "second.results.csv").exists()

    # A dry run writes no state: it reads it while the other run holds the lock.
    dry = CliRunner().invoke(main, [*args[:-1], "--dry-run", "--results", str(tmp_path / "d.csv")])
    assert dry.exit_code == 0, dry.output

    # The other run ends (even killed): the lock goes with it, and this run goes ahead.
    state_lock_holder.kill()
    state_lock_holder.wait(timeout=10)
    again = CliRunner().invoke(main, [*args, "--results", str(tmp_path / "second.results.csv")])
    assert again.exit_code == 0, again.output
    assert StateFile(state, LAYOUT).read()["lookup_value"].to_list() == ["1"]
    assert not (tmp_path / "shared.state.parquet.lock").exists()
