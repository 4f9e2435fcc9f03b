"""The journal: a durable, append-only record of finished rows, so an interrupted run can resume.

One run at a time per results path (an flock'ed ``<results>.lock``: :mod:`batchtool.lockfile`);
the journal itself is
``<results>.journal``, JSON Lines: a header naming the input's fingerprint and the options
that shape the plan, then one line per finished row (its outcome, when it finished and, in a
run to several installations, whose row it is); a run that ends with every row ok adds a
last header-shaped line marked ``complete``. A journal of another input, other reading
options or other installations is refused rather than mixed in, unless it is complete
(nothing left to resume).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import polars as pl

from batchtool import errors, model
from batchtool.lockfile import RunLock
from batchtool.lockfile import lock_path as lock_path  # the results path's run lock
from batchtool.remedies import Resume
from batchtool.results import JOURNAL_SCHEMA, last_outcome_per_row

JOURNAL_VERSION: Final = 1
_HEADER_KEY: Final = "batchtool_journal"
#: Marks the header-shaped last line of a journal whose run ended with every row ok.
_COMPLETE_KEY: Final = "complete"
_HEADER_PREFIX: Final = b'{"' + _HEADER_KEY.encode() + b'"'

#: fsync at least this often while records arrive: a power cut loses at most this much (a
#: crashed or killed process loses nothing, as every record is already in the OS's hands).
FSYNC_INTERVAL_S: Final = 0.5
FSYNC_EVERY_RECORDS: Final = 1000
#: Journal bytes parsed at a time when it is read: about 50,000 records.
_PARSE_CHUNK_BYTES: Final = 8 * 1024 * 1024


#: Option names that must never reach the journal (compared without case, ``_``, ``-``, spaces).
_SECRET_OPTION_WORDS: Final = ("password", "apikey")


def journal_path(results_path: Path) -> Path:
    """The journal beside the results file: ``<results path>.journal``."""
    return results_path.with_name(results_path.name + ".journal")


def _empty_outcomes() -> pl.DataFrame:
    return pl.DataFrame(schema=JOURNAL_SCHEMA)


def _encode_str(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def _encode_int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _encode(outcome: model.Outcome, installation: str | None) -> bytes:
    """One compact, ASCII-only JSON line; built by hand because json.dumps costs ~3x as much.

    ``finished_at`` is now, in milliseconds since the epoch: the row's final answer has just
    come. ``installation`` only in a run to several installations.
    """
    place = "" if installation is None else f',"installation":{_encode_str(installation)}'
    return (
        f'{{"row":{int(outcome.row)},"status":{_encode_str(outcome.status)},'
        f'"http_status":{_encode_int(outcome.http_status)},"attempts":{int(outcome.attempts)},'
        f'"error":{_encode_str(outcome.error)},"elapsed_ms":{_encode_int(outcome.elapsed_ms)},'
        f'"finished_at":{time.time_ns() // 1_000_000}{place}}}\n'
    ).encode("ascii")


def _write_all(fd: int, data: bytes) -> None:
    # A regular file takes all of it at once except on a full disk; never leave half a line.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_no_secrets(options: Mapping[str, object]) -> None:
    for name in options:
        key = "".join(ch for ch in name.casefold() if ch not in " _-")
        if any(word in key for word in _SECRET_OPTION_WORDS):
            raise ValueError(f"option {name!r} looks like a secret and must not be journalled")


def _read_journal(path: Path, *, repair: bool) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """Headers and outcomes (last record per row wins, sorted by row) of a journal file.

    ``repair`` cuts a torn last line (a crash mid-write) off the file itself, so appending
    after it starts on a fresh line. The file is streamed line by line and the records are
    parsed by polars, a chunk of the file at a time: a million-row journal never sits in
    memory as Python objects (that cost several hundred MB at the end of a big run).
    """
    headers: list[dict[str, Any]] = []
    records = 0
    clean = True  # only records, headers and a newline at the end: polars can read it as is
    end = 0
    with path.open("rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.endswith(b"\n"):
                break  # torn: left out, and cut off below when repairing
            end += len(line)
            if not line.strip(b" \t\r\n\x00"):
                clean = False  # blank, or zeros a power cut left in place of data
            elif line.startswith(_HEADER_PREFIX):
                try:
                    headers.append(json.loads(line))
                except ValueError:
                    raise _damaged(path, number) from None
            else:
                records += 1
    torn = end < path.stat().st_size
    if torn and repair:
        os.truncate(path, end)
    if records and not headers:
        raise errors.JournalError(
            f"{path} is not a batchtool journal — move it away or use --restart to start over"
        )
    if not records:
        return headers, _empty_outcomes()
    try:
        frame = _parse_records(path, end, clean=clean)
    except Exception as exc:  # polars raises several error types for malformed JSON
        raise errors.JournalError(
            f"{path} is damaged ({_first_line(exc)}) — use --restart to start over"
        ) from exc
    return headers, last_outcome_per_row(frame)


def _parse_records(path: Path, end: int, *, clean: bool) -> pl.DataFrame:
    """The records of the complete lines before ``end``, parsed by polars a few MB at a time:
    parsed at once, the whole file would sit in memory beside its frame (a run to three
    installations reads three times the records at its end, when memory peaks anyway).
    Blank lines, which a crash may leave (unless ``clean``), are left out."""
    frames: list[pl.DataFrame] = []
    with path.open("rb") as fh:
        left = end
        while left > 0:
            chunk = fh.read(min(_PARSE_CHUNK_BYTES, left))
            if not chunk.endswith(b"\n"):
                chunk += fh.readline()  # to the end of its line, which is before ``end``
            left -= len(chunk)
            if not clean:
                chunk = b"\n".join(ln for ln in chunk.splitlines() if ln.strip(b" \t\r\x00"))
            if chunk.strip():
                frame = pl.read_ndjson(chunk, schema=JOURNAL_SCHEMA)
                frames.append(frame.filter(pl.col("row").is_not_null()))  # not the headers
    return pl.concat(frames, rechunk=False) if frames else _empty_outcomes()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _damaged(path: Path, number: int) -> errors.JournalError:
    return errors.JournalError(f"{path} is damaged at line {number} — use --restart to start over")


def _same_run(header: dict[str, Any], input_fingerprint: str, options: dict[str, Any]) -> bool:
    """Whether ``header`` is of a run of this input, read with these options."""
    return header.get("fingerprint") == input_fingerprint and header.get("options") == options


def _option_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


#: The option that names a run's installations, recorded only for a run to several (so
#: journals of runs to one installation, written before it existed, still resume).
INSTALLATIONS_OPTION: Final = "installations"


def _sent_to(names: Sequence[str] | None) -> str:
    return ", ".join(names) if names else "one installation"


def _check_header(
    header: dict[str, Any],
    *,
    path: Path,
    results_path: Path,
    input_fingerprint: str,
    options: dict[str, Any],
) -> None:
    if header.get(_HEADER_KEY) != JOURNAL_VERSION:
        raise errors.JournalError(
            f"{path} was written by another version of batchtool "
            f"(journal format {header.get(_HEADER_KEY)!r}) — use --restart to start over"
        )
    if header.get("fingerprint") != input_fingerprint:
        raise errors.JournalError(
            f"{results_path}: the input file changed since the run being resumed "
            f"(journal {path}) — resuming would mix two files; use --restart to start over"
        )
    stored = header.get("options") or {}
    before, now = stored.get(INSTALLATIONS_OPTION), options.get(INSTALLATIONS_OPTION)
    if set(before or ()) != set(now or ()):
        raise errors.JournalError(
            f"{results_path}: the run being resumed sent to {_sent_to(before)}, this one to "
            f"{_sent_to(now)} — resume with the same installations or use --restart to start "
            "over"
        )
    changed = [
        f"{_option_flag(name)} was {json.dumps(stored.get(name))}, "
        f"now {json.dumps(options.get(name))}"
        for name in sorted(set(stored) | set(options))
        if name != INSTALLATIONS_OPTION and stored.get(name) != options.get(name)
    ]
    if changed:
        raise errors.JournalError(
            f"{results_path}: the run being resumed read the input differently "
            f"({'; '.join(changed)}) — resume with the same options or use --restart "
            "to start over"
        )


class Journal:
    """An open journal, holding the run lock until :meth:`close`."""

    def __init__(
        self,
        results_path: Path,
        *,
        lock: RunLock,
        fd: int,
        previous: pl.DataFrame,
        header: dict[str, Any],
    ) -> None:
        self.results_path = results_path
        self._header = header
        self.path = journal_path(results_path)
        self._lock: RunLock | None = lock
        self._fd: int | None = fd
        self._previous = previous
        self.recorded = 0  # records written by this run
        self._synced = 0
        self._stop = False
        self._wake = threading.Event()
        self._syncer = threading.Thread(
            target=self._sync_loop, name="batchtool-journal-fsync", daemon=True
        )
        self._syncer.start()

    @classmethod
    def open(
        cls,
        results_path: Path,
        *,
        input_fingerprint: str,
        options: Mapping[str, object],
        resume: bool,
        restart: bool,
    ) -> Journal:
        """Lock the results path and open its journal, fresh or resumed (see DESIGN §6).

        Raises JournalError when another run holds the lock, when a journal exists and
        neither ``resume`` nor ``restart`` says what to do with it, or when the journal
        being resumed belongs to another input or other reading options.
        """
        if resume and restart:
            raise errors.UsageError("--resume and --restart contradict each other — choose one")
        _check_no_secrets(options)
        # Stored and compared as JSON sees them: a tuple and a list of the same names are equal.
        stored_options: dict[str, Any] = json.loads(json.dumps(dict(options), default=str))
        path = journal_path(results_path)
        lock = RunLock.take(
            lock_path(results_path),
            what=str(results_path),
            option="--results",
            error=errors.JournalError,
        )
        try:
            previous = _empty_outcomes()
            resuming = False
            if path.exists():
                headers, found = _read_journal(path, repair=True)
                complete = bool(headers) and headers[-1].get(_COMPLETE_KEY) is True
                if restart or found.is_empty():
                    # Nothing recorded means nothing to resume and nothing to lose.
                    path.unlink()
                elif complete and not (
                    resume and _same_run(headers[-1], input_fingerprint, stored_options)
                ):
                    # A run that ended with every row ok has nothing left to resume and its
                    # results file says it all: tomorrow's run on this path starts afresh.
                    path.unlink()
                elif not resume:
                    raise errors.JournalError(
                        f"{results_path}: a journal from an earlier run exists "
                        f"({found.height} rows recorded) — add --resume to continue it "
                        "or --restart to start over"
                    )
                else:
                    for header in headers:
                        _check_header(
                            header,
                            path=path,
                            results_path=results_path,
                            input_fingerprint=input_fingerprint,
                            options=stored_options,
                        )
                    previous = found
                    resuming = True
            header = {
                _HEADER_KEY: JOURNAL_VERSION,
                "fingerprint": input_fingerprint,
                "options": stored_options,
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "resumed": resuming,
            }
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                _write_all(fd, (json.dumps(header, separators=(",", ":")) + "\n").encode())
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                raise
            if not resuming:
                _fsync_dir(path.parent)
        except BaseException:
            lock.release()
            raise
        return cls(results_path, lock=lock, fd=fd, previous=previous, header=header)

    def previous(self) -> pl.DataFrame:
        """Outcomes recorded by earlier runs of this journal (last per row and installation),
        sorted by installation and row."""
        return self._previous

    def record(self, outcome: model.Outcome, installation: str | None = None) -> None:
        """Append one outcome (of ``installation``'s row, in a run to several); it is in the
        OS's hands (safe from a crash) when this returns."""
        if self._fd is None:
            raise RuntimeError("journal is closed")
        try:
            _write_all(self._fd, _encode(outcome, installation))
        except OSError as exc:
            # Going on would send rows whose outcome nobody could record: stop here. What is
            # already written stays valid (a half-written last line is cut off on resume).
            problem = (
                f"cannot write the journal {self.path} ({exc.strerror or exc}) — the rows it "
                "holds are safe: free space or fix the folder"
            )
            raise errors.RunAborted(
                f"{problem}, then run again with --resume", problem=problem, remedy=Resume()
            ) from exc
        self.recorded += 1
        if self.recorded - self._synced >= FSYNC_EVERY_RECORDS:
            self._wake.set()

    def _sync_loop(self) -> None:
        # fsync runs here, off the caller's thread, so record() never waits for the disk.
        while not self._stop:
            self._wake.wait(FSYNC_INTERVAL_S)
            self._wake.clear()
            fd = self._fd
            written = self.recorded
            if fd is not None and written != self._synced:
                with contextlib.suppress(OSError):
                    os.fdatasync(fd)
                self._synced = written

    def outcomes(self) -> pl.DataFrame:
        """Every outcome recorded so far, earlier runs included (last per row and
        installation), sorted by installation and row."""
        return _read_journal(self.path, repair=False)[1]

    def close(self, *, complete: bool = False) -> None:
        """Sync and close the journal, then release the lock.

        ``complete``: every row of the input ended ok. The journal says so in a last line;
        ``--resume`` on it then sends nothing, and any other run on this results path
        replaces it instead of being refused.
        """
        if self._lock is None:
            return
        try:
            self._stop = True
            self._wake.set()
            self._syncer.join()
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    if complete:
                        line = {**self._header, _COMPLETE_KEY: True}
                        line["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
                        _write_all(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
        finally:
            lock, self._lock = self._lock, None
            lock.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
