"""The journal: durable records, resume rules, refusals, torn lines, and the one-run lock."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchtool import journal, model
from batchtool.errors import JournalError, RunAborted, UsageError
from batchtool.journal import Journal

OPTIONS = {"sheet": None, "map": ["E-mail address=email"], "operation": "lock"}


@pytest.fixture
def results_path(tmp_path: Path) -> Path:
    return tmp_path / "changes.results.csv"


def open_journal(
    results_path: Path,
    *,
    fp: str = "fp-1",
    options: dict[str, object] | None = None,
    resume: bool = False,
    restart: bool = False,
) -> Journal:
    return Journal.open(
        results_path,
        input_fingerprint=fp,
        options=OPTIONS if options is None else options,
        resume=resume,
        restart=restart,
    )


def ok(row: int) -> model.Outcome:
    return model.Outcome(row, model.OK, 200, 1, None, 10)


def failed(row: int, error: str = "server busy") -> model.Outcome:
    return model.Outcome(row, model.FAILED, 503, 5, error, 900)


def test_paths(results_path: Path) -> None:
    assert journal.journal_path(results_path).name == "changes.results.csv.journal"
    assert journal.lock_path(results_path).name == "changes.results.csv.lock"


def test_record_reopen_and_resume(results_path: Path) -> None:
    first = open_journal(results_path)
    assert first.previous().is_empty()
    first.record(failed(2))
    first.record(ok(1))
    first.record(ok(2))  # a later record of the same row wins
    first.record(failed(3, 'said "no" — ünïcode\nand more'))
    recorded = first.outcomes()
    assert recorded.drop("finished_at", model.INSTALLATION).rows() == [
        (1, "ok", 200, 1, None, 10),
        (2, "ok", 200, 1, None, 10),
        (3, "failed", 503, 5, 'said "no" — ünïcode\nand more', 900),
    ]
    assert recorded[model.INSTALLATION].null_count() == 3  # a run to one installation
    first.close()
    assert not journal.lock_path(results_path).exists()

    with pytest.raises(JournalError) as info:
        open_journal(results_path)
    assert str(info.value) == (
        f"{results_path}: a journal from an earlier run exists (3 rows recorded) — "
        "add --resume to continue it or --restart to start over"
    )

    second = open_journal(results_path, resume=True)
    assert second.previous()["row"].to_list() == [1, 2, 3]
    second.record(ok(3))
    second.record(ok(4))
    outcomes = second.outcomes()
    assert outcomes["status"].to_list() == ["ok"] * 4
    assert outcomes["row"].to_list() == [1, 2, 3, 4]
    second.close(complete=True)
    assert not journal.lock_path(results_path).exists()
    assert [p.name for p in results_path.parent.iterdir()] == [
        journal.journal_path(results_path).name
    ]


def complete_journal(results_path: Path, rows: int = 2) -> None:
    with open_journal(results_path) as jr:
        for row in range(1, rows + 1):
            jr.record(ok(row))
        jr.close(complete=True)


def test_resuming_a_complete_run_has_nothing_left_to_send(results_path: Path) -> None:
    complete_journal(results_path)
    with open_journal(results_path, resume=True) as again:
        assert again.previous()["status"].to_list() == ["ok", "ok"]


@pytest.mark.parametrize(
    ("fp", "resume"),
    [
        pytest.param("fp-1", False, id="same-input-plain-run"),
        pytest.param("fp-2", False, id="new-input-plain-run"),
        pytest.param("fp-2", True, id="new-input-with-resume"),
    ],
)
def test_a_complete_journal_never_blocks_the_next_run(
    results_path: Path, fp: str, resume: bool
) -> None:
    # Tomorrow's cron job on the same results path, with or without --resume in its command.
    complete_journal(results_path)
    with open_journal(results_path, fp=fp, resume=resume) as fresh:
        assert fresh.previous().is_empty()


def test_an_incomplete_journal_still_blocks_a_plain_run(results_path: Path) -> None:
    with open_journal(results_path) as jr:
        jr.record(ok(1))
        jr.record(failed(2))
        jr.close(complete=False)
    with pytest.raises(JournalError, match="add --resume"):
        open_journal(results_path, fp="fp-2")


def test_file_format(results_path: Path) -> None:
    before = time.time_ns() // 1_000_000
    with open_journal(results_path) as first:
        first.record(ok(1))
    with open_journal(results_path, resume=True) as second:
        second.record(failed(2))
    lines = [
        json.loads(line) for line in journal.journal_path(results_path).read_text().splitlines()
    ]
    headers = [line for line in lines if "batchtool_journal" in line]
    assert len(headers) == 2
    assert headers[0]["batchtool_journal"] == 1
    assert headers[0]["fingerprint"] == "fp-1"
    assert headers[0]["options"] == OPTIONS
    assert headers[0]["started"].endswith("+00:00")
    finished_at = lines[1].pop("finished_at")
    assert before <= finished_at <= time.time_ns() // 1_000_000
    assert lines[1] == {
        "row": 1,
        "status": "ok",
        "http_status": 200,
        "attempts": 1,
        "error": None,
        "elapsed_ms": 10,
    }


def test_changed_input_refused(results_path: Path) -> None:
    with open_journal(results_path) as first:
        first.record(ok(1))
    with pytest.raises(JournalError) as info:
        open_journal(results_path, fp="fp-2", resume=True)
    assert str(info.value) == (
        f"{results_path}: the input file changed since the run being resumed (journal "
        f"{journal.journal_path(results_path)}) — resuming would mix two files; "
        "use --restart to start over"
    )
    assert not journal.lock_path(results_path).exists()  # refusal released the lock


def test_changed_option_refused(results_path: Path) -> None:
    with open_journal(results_path) as first:
        first.record(ok(1))
    with pytest.raises(JournalError, match='--sheet was null, now "Sheet2"'):
        open_journal(results_path, options={**OPTIONS, "sheet": "Sheet2"}, resume=True)
    with pytest.raises(JournalError, match="--ignore-column"):
        open_journal(results_path, options={**OPTIONS, "ignore_column": ["x"]}, resume=True)
    # A tuple is the same option value as a list once stored.
    same: dict[str, object] = {**OPTIONS, "map": ("E-mail address=email",)}
    with open_journal(results_path, options=same, resume=True) as again:
        assert again.previous().height == 1


def test_restart_starts_over(results_path: Path) -> None:
    with open_journal(results_path) as first:
        first.record(failed(1))
    with open_journal(results_path, fp="other", restart=True) as second:
        assert second.previous().is_empty()
        assert second.outcomes().is_empty()
    text = journal.journal_path(results_path).read_text()
    assert '"fp-1"' not in text


def test_resume_without_journal_starts_fresh(results_path: Path) -> None:
    with open_journal(results_path, resume=True) as fresh:
        assert fresh.previous().is_empty()


def test_resume_and_restart_together_is_usage_error(results_path: Path) -> None:
    with pytest.raises(UsageError):
        open_journal(results_path, resume=True, restart=True)


def test_journal_with_nothing_recorded_is_replaced(results_path: Path) -> None:
    open_journal(results_path).close()
    with open_journal(results_path, fp="other") as again:
        assert again.previous().is_empty()


def test_torn_last_line_tolerated(results_path: Path) -> None:
    with open_journal(results_path) as first:
        first.record(ok(1))
        first.record(failed(2))
    path = journal.journal_path(results_path)
    with path.open("ab") as handle:
        handle.write(b'{"row":3,"status":"o')  # the crash hit mid-write
    with open_journal(results_path, resume=True) as second:
        assert second.previous()["row"].to_list() == [1, 2]
        second.record(ok(3))
        assert second.outcomes()["row"].to_list() == [1, 2, 3]
    for line in path.read_text().splitlines():
        json.loads(line)


def test_zeroed_lines_from_a_power_cut_are_skipped(results_path: Path) -> None:
    # After a power cut a file system may leave zeros where the last unsynced writes were.
    with open_journal(results_path) as first:
        first.record(ok(1))
    path = journal.journal_path(results_path)
    with path.open("ab") as handle:
        handle.write(b"\x00" * 40 + b"\n\n")
    with open_journal(results_path, resume=True) as second:
        assert second.previous()["row"].to_list() == [1]
        second.record(ok(2))
        assert second.outcomes()["row"].to_list() == [1, 2]


def test_damaged_middle_refused(results_path: Path) -> None:
    with open_journal(results_path) as first:
        first.record(ok(1))
    path = journal.journal_path(results_path)
    with path.open("ab") as handle:
        handle.write(b"garbage\n")
        handle.write(b'{"row":2,"status":"ok"}\n')
    with pytest.raises(JournalError, match="damaged"):
        open_journal(results_path, resume=True)


@pytest.fixture
def lock_holder(results_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the run lock the way a running batchtool does."""
    script = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "os.write(fd, f'{os.getpid()}\\n'.encode())\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(journal.lock_path(results_path))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_lock_held_by_another_process_refused(
    results_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(JournalError) as info:
        open_journal(results_path)
    assert str(info.value) == (
        f"another batchtool run (pid {lock_holder.pid}) is writing {results_path} — "
        "wait for it to finish or choose another --results path"
    )
    assert not journal.journal_path(results_path).exists()

    # The holder dies without cleaning up: its lock file stays, the flock goes with it.
    lock_holder.kill()
    lock_holder.wait(timeout=10)
    assert journal.lock_path(results_path).exists()
    with open_journal(results_path) as mine:
        mine.record(ok(1))


def test_second_open_in_same_process_refused(results_path: Path) -> None:
    with open_journal(results_path), pytest.raises(JournalError, match="another batchtool run"):
        open_journal(results_path)


def test_stale_lock_file_taken(results_path: Path) -> None:
    lock = journal.lock_path(results_path)
    lock.write_text("999999999\n")
    with open_journal(results_path):
        import os

        assert lock.read_text() == f"{os.getpid()}\n"
    assert not lock.exists()


def test_secrets_never_stored(results_path: Path) -> None:
    for name in ("api_key", "API-Key", "password"):
        with pytest.raises(ValueError, match="secret"):
            open_journal(results_path, options={**OPTIONS, name: "s3cr3t"})
    assert list(results_path.parent.iterdir()) == []
    with open_journal(results_path) as clean:
        clean.record(failed(1, "rejected"))
    text = journal.journal_path(results_path).read_text()
    assert "s3cr3t" not in text
    assert "password" not in text and "api_key" not in text


def test_record_is_cheap(results_path: Path) -> None:
    outcomes = [ok(row) for row in range(1, 20_001)]
    with open_journal(results_path) as log:
        start = time.perf_counter()
        for outcome in outcomes:
            log.record(outcome)
        per_record = (time.perf_counter() - start) / len(outcomes)
        assert log.outcomes().height == 20_000
    assert per_record < 50e-6  # budget is ~5 µs; generous for slow CI machines


def test_a_journal_that_cannot_be_written_stops_the_run(
    results_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with open_journal(results_path) as jr:
        jr.record(ok(1))
        monkeypatch.setattr(journal, "_write_all", disk_full)
        with pytest.raises(RunAborted, match=r"\(No space left on device\) .* --resume"):
            jr.record(ok(2))
    assert RunAborted.exit_code == 3
