"""The nightly sync state of a run: the state file, and the run's two steps that use it.

With ``--changed-only``, before sending, rows that would change nothing are given the preset
status ``unchanged`` (:meth:`Sync.select`); after the run, the state takes in the rows that
ended ok (:meth:`Sync.take_in`). ``--full`` sends every row and rebuilds the state from the
run's ok rows. A run that may write the state holds its lock (``<state>.lock``) throughout.
What the state models, and the diff, is :mod:`batchtool.sync_diff`'s job.

The file is Parquet, one row per lookup, sorted by lookup hash; its metadata records the
format version, the hash check (polars may hash differently after an upgrade) and the input
layout (the lookup columns of the files it was kept for). A state of another format, hash or
layout is refused with a message offering ``--full``, never misread.

A run to several installations keeps one state for them all in the same file: one row per
installation and lookup, an ``installation`` column saying whose, and the metadata naming
them. Each installation's rows are diffed against its own customers only. A state kept for
runs to one installation cannot say whose its customers are, so a run to several refuses it
(and the other way round) with the same offer of ``--full``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import polars as pl

from batchtool import api, errors, model
from batchtool.atomic import check_writable, replace_file
from batchtool.lockfile import RunLock, lock_path
from batchtool.plan import preset
from batchtool.reader import ROW
from batchtool.sync_diff import (
    STATE_INSTALLATION,
    STATE_KEY,
    STATE_VALUE,
    empty_state,
    events_query,
    hash_check,
    sort_state,
    state_columns,
    state_schema,
    unchanged_rows_merged,
    updated_state,
)

STATE_FORMAT_VERSION: Final = 1
_FORMAT_KEY: Final = "batchtool_sync_state"
_LAYOUT_KEY: Final = "lookup_columns"
_HASH_CHECK_KEY: Final = "hash_check"
_UPDATED_KEY: Final = "updated"
_INSTALLATIONS_KEY: Final = "installations"

_SUFFIX: Final = ".state.parquet"
#: State rows diffed at a time. Measured on a 1M-row --changed-only dry run: 100,000 took
#: 0.5 s longer (each batch filters every event once), 200,000 cost ~25 MB more peak.
STATE_BATCH_ROWS: Final = 200_000
_FULL_HINT: Final = "run once with --full to rebuild it"
#: The results' error text of an unchanged row.
UNCHANGED_REASON: Final = "not sent: nothing changed since it was last applied (--changed-only)"


def default_state_path(results_path: Path) -> Path:
    """``<results path>.state.parquet``: a cron job with a fixed --results needs nothing more."""
    return results_path.with_name(results_path.name + _SUFFIX)


def lookup_layout(columns: Sequence[str]) -> tuple[str, ...]:
    """The lookup columns among an input's columns, in priority order: the input's layout."""
    present = set(columns)
    return tuple(k for k in api.LOOKUP_KEYS if k in present)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _names(layout: Sequence[str]) -> str:
    return ", ".join(layout) if layout else "no lookup column"


@dataclass(frozen=True)
class StateFile:
    """The sync state at ``path``, kept for inputs whose lookup columns are ``layout``.

    ``installations``: the run's, when it sends to several (the state then says whose each
    customer is); None for a run to one installation.
    """

    path: Path
    layout: tuple[str, ...]
    installations: tuple[str, ...] | None = None

    def check_writable(self) -> None:
        """Fail before anything is sent if the state could not be written at the end."""
        check_writable(self.path, "--state", "sync state")

    def check(self) -> None:
        """Raise SyncStateError unless the file is absent or a state this run can use.

        Cheap (the file's metadata only): done before the input is read, so that a bad state
        stops the run before anything is sent.
        """
        if not self.path.exists():
            return
        try:
            metadata = pl.read_parquet_metadata(self.path)
        except Exception as exc:  # polars raises several error types for a damaged file
            raise self._unreadable(exc) from exc
        version = metadata.get(_FORMAT_KEY)
        if version is None:
            raise errors.SyncStateError(
                f"{self.path} is not a batchtool sync state — move it away or choose another "
                "--state path"
            )
        if version != str(STATE_FORMAT_VERSION):
            raise errors.SyncStateError(
                f"sync state {self.path} was written by another version of batchtool "
                f"(state format {version}) — {_FULL_HINT}"
            )
        if metadata.get(_HASH_CHECK_KEY) != hash_check():
            raise errors.SyncStateError(
                f"sync state {self.path} was written with another polars version, which hashes "
                f"values differently — {_FULL_HINT}"
            )
        try:
            layout = tuple(str(name) for name in json.loads(metadata[_LAYOUT_KEY]))
        except (KeyError, TypeError, ValueError):
            raise errors.SyncStateError(
                f"sync state {self.path} is damaged (it does not say which lookup columns it "
                f"was kept for) — {_FULL_HINT}"
            ) from None
        if layout != self.layout:
            raise errors.SyncStateError(
                f"sync state {self.path} was kept for files looked up by {_names(layout)}, "
                f"this file by {_names(self.layout)} — a customer cannot be matched across "
                f"lookups; {_FULL_HINT} for this file, or choose another --state path"
            )
        kept = metadata.get(_INSTALLATIONS_KEY)
        if kept is None and self.installations is not None:
            raise errors.SyncStateError(
                f"sync state {self.path} was kept for runs to one installation, this run sends "
                f"to {', '.join(self.installations)} — it cannot tell whose each customer is; "
                f"{_FULL_HINT} for them, or choose another --state path"
            )
        if kept is not None and self.installations is None:
            raise errors.SyncStateError(
                f"sync state {self.path} was kept for runs to several installations "
                f"({', '.join(json.loads(kept))}), this run sends to one — {_FULL_HINT} for "
                "it, or choose another --state path"
            )

    def read(self, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """The state (only ``columns`` of it, those the file has), checked; empty if no file.

        Raises SyncStateError if the file cannot be read or is not a state this run can use.
        """
        if not self.path.exists():
            return empty_state()
        wanted = self._columns(columns)
        try:
            return pl.read_parquet(self.path, columns=wanted)
        except Exception as exc:  # polars raises several error types for a damaged file
            raise self._unreadable(exc) from exc

    def batches(
        self,
        columns: Sequence[str],
        rows: int = STATE_BATCH_ROWS,
        installation: str | None = None,
    ) -> Iterator[pl.DataFrame]:
        """The state's ``columns`` in consecutive slices of ``rows`` rows, in the file's order
        (lookup-hash order), checked as :meth:`read` checks it; nothing if there is no file.
        ``installation``: only that installation's customers (a state of several)."""
        if not self.path.exists():
            return
        wanted = self._columns(columns)
        scan = pl.scan_parquet(self.path)
        if installation is not None:
            scan = scan.filter(pl.col(STATE_INSTALLATION) == installation)
        try:
            yield from scan.select(wanted).collect_batches(chunk_size=rows)
        except Exception as exc:  # polars raises several error types for a damaged file
            raise self._unreadable(exc) from exc

    def _columns(self, columns: Sequence[str] | None) -> list[str]:
        """Which of ``columns`` (default: all) to read, once the file's metadata and column
        types are checked."""
        self.check()
        try:
            present = pl.read_parquet_schema(self.path)
            wanted = [c for c in (columns or present) if c in present]
            expected = state_schema(wanted)
        except KeyError as exc:
            raise errors.SyncStateError(
                f"sync state {self.path} is damaged (unknown column {exc}) — {_FULL_HINT}"
            ) from None
        except Exception as exc:  # polars raises several error types for a damaged file
            raise self._unreadable(exc) from exc
        missing = [c for c in (STATE_KEY, STATE_VALUE) if c not in wanted]
        wrong = [c for c, dtype in expected.items() if present[c] != dtype]
        if missing or wrong:
            raise errors.SyncStateError(
                f"sync state {self.path} is damaged (column {(missing or wrong)[0]!r} is "
                f"{'missing' if missing else 'of the wrong type'}) — {_FULL_HINT}"
            )
        return wanted

    def _unreadable(self, exc: BaseException) -> errors.SyncStateError:
        return errors.SyncStateError(
            f"sync state {self.path} cannot be read ({_first_line(exc)}) — {_FULL_HINT}"
        )

    def write(self, state: pl.DataFrame) -> None:
        """Replace the state file with ``state`` atomically (never half-written)."""
        metadata = {
            _FORMAT_KEY: str(STATE_FORMAT_VERSION),
            _LAYOUT_KEY: json.dumps(list(self.layout)),
            _HASH_CHECK_KEY: hash_check(),
            _UPDATED_KEY: datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if self.installations is not None:
            kept = state[STATE_INSTALLATION].unique(maintain_order=True).to_list()
            metadata[_INSTALLATIONS_KEY] = json.dumps(kept)
        replace_file(self.path, lambda tmp: state.write_parquet(tmp, metadata=metadata))


@dataclass(frozen=True)
class SyncOptions:
    """``--changed-only``, ``--full`` and ``--state``: which rows a nightly sync sends.

    ``full`` wins over ``changed_only`` (a weekly cron line may add --full to the nightly
    one). ``state_path`` defaults to ``<results path>.state.parquet``.
    """

    changed_only: bool = False
    full: bool = False
    state_path: Path | None = None

    @property
    def keeps_state(self) -> bool:
        return self.changed_only or self.full

    def check(self) -> None:
        if self.state_path is not None and not self.keeps_state:
            raise errors.UsageError(
                "--state is the sync state of --changed-only or --full — add one of them"
            )

    def log_options(self) -> dict[str, object]:
        """How rows are selected, for the run's logs."""
        return {"changed_only": self.changed_only and not self.full, "full": self.full}


class Sync:
    """The run's sync steps; a run without --changed-only or --full passes through them."""

    def __init__(self, options: SyncOptions, results_path: Path) -> None:
        options.check()
        self.options = options
        self.path = options.state_path or default_state_path(results_path)

    @property
    def diffs(self) -> bool:
        return self.options.changed_only and not self.options.full

    def outputs(self) -> tuple[tuple[str, Path, str], ...]:
        """The files this step writes, to keep apart from the input (what, path, option)."""
        if not self.options.keeps_state:
            return ()
        lock = ("lock file", lock_path(self.path), "--state")
        return (("sync state", self.path, "--state"), lock)

    def locked(self) -> contextlib.AbstractContextManager[object]:
        """Hold the state's lock for a run that may write it: two such runs at once (other
        results paths, one --state) would each write a state missing the other's rows.

        Raises SyncStateError naming the other run's pid. Nothing to hold without a state.
        """
        if not self.options.keeps_state:
            return contextlib.nullcontext()
        return RunLock.take(
            lock_path(self.path),
            what=f"the sync state {self.path}",
            option="--state",
            error=errors.SyncStateError,
        )

    def check_writable(self) -> None:
        if self.options.keeps_state:
            StateFile(self.path, ()).check_writable()

    def _state_file(self, planned: pl.LazyFrame, names: Sequence[str | None]) -> StateFile:
        layout = lookup_layout(planned.collect_schema().names())
        several = tuple(str(name) for name in names) if len(names) > 1 else None
        return StateFile(self.path, layout, several)

    def select(
        self, shares: Sequence[pl.LazyFrame], names: Sequence[str | None] = (None,)
    ) -> tuple[list[pl.LazyFrame], tuple[str, ...]]:
        """Each installation's rows (``shares``, in the order of ``names``) with those that
        would change nothing for it preset ``unchanged``, and notes.

        Collects what the diff needs in one pass over the input (once for installations
        sharing their rows); raises SyncStateError before anything is sent if the state
        cannot be used.
        """
        if not self.diffs:
            return list(shares), ()
        state_file = self._state_file(shares[0], names)
        notes: tuple[str, ...] = ()
        if not self.path.exists():
            notes = (
                f"no sync state at {self.path} yet: every customer is new, and the state "
                "starts with this run's ok rows",
            )
        state_file.check()  # before the pass over the input: a bad state fails fast
        events: dict[int, pl.DataFrame] = {}
        selected = []
        for planned, name in zip(shares, names, strict=True):
            if id(planned) not in events:
                events[id(planned)] = events_query(planned).collect(engine="streaming")
            found = events[id(planned)]
            batches = state_file.batches(
                state_columns(found),
                installation=name if state_file.installations is not None else None,
            )
            rows = unchanged_rows_merged(found, batches)
            # A mask indexed by row number, read by a gather: the row list turned into one bit
            # per row, looked up by the streaming passes that follow without a join.
            size = (int(rows[-1]) if rows.len() else 0) + 2  # the last slot stays False
            mask = pl.zeros(size, dtype=pl.Boolean, eager=True).scatter(rows, True)
            where = pl.lit(mask).gather(pl.col(ROW).clip(0, size - 1))
            selected.append(preset(planned, where, model.UNCHANGED, UNCHANGED_REASON))
        return selected, notes

    def take_in(
        self,
        shares: Sequence[pl.LazyFrame],
        outcomes: Sequence[pl.DataFrame],
        names: Sequence[str | None] = (None,),
    ) -> tuple[str, ...]:
        """Take each installation's ok ``outcomes`` into the state (with --full: rebuild it
        from them); ``shares`` are their rows, all three in the order of ``names``.

        ``outcomes`` are every outcome the run's journal holds, earlier runs' included, so a
        resumed run leaves the state an uninterrupted one would. Returns notes: a state that
        cannot be written costs nothing but resending (said as a warning), never the run.
        """
        if not self.options.keeps_state:
            return ()
        state_file = self._state_file(shares[0], names)
        try:
            before = empty_state() if self.options.full else state_file.read()
            if state_file.installations is None:
                state = updated_state(before, shares[0], _ok(outcomes[0]))
            else:
                state = _updated_each(before, shares, outcomes, state_file.installations)
            state_file.write(state)
        except (OSError, errors.SyncStateError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return (
                f"warning: the sync state {self.path} was not updated ({reason}) — the next "
                "--changed-only run sends this run's rows again",
            )
        return ()


def _ok(outcomes: pl.DataFrame) -> pl.DataFrame:
    return outcomes.filter(pl.col("status") == model.OK).select(ROW)


def _updated_each(
    before: pl.DataFrame,
    shares: Sequence[pl.LazyFrame],
    outcomes: Sequence[pl.DataFrame],
    names: Sequence[str],
) -> pl.DataFrame:
    """A state of several installations after each one's ok rows; the customers of
    installations this run did not send to are kept as they were."""
    whose = pl.col(STATE_INSTALLATION)
    if STATE_INSTALLATION not in before.columns:  # no state yet
        before = before.with_columns(pl.lit(None, dtype=pl.String).alias(STATE_INSTALLATION))
    parts = [before.filter(~whose.is_in(names))]
    for planned, done, name in zip(shares, outcomes, names, strict=True):
        own = before.filter(whose == name).drop(STATE_INSTALLATION)
        updated = updated_state(own, planned, _ok(done))
        parts.append(updated.with_columns(pl.lit(name).alias(STATE_INSTALLATION)))
    state = pl.concat(parts, how="diagonal_relaxed")
    return sort_state(state.select(STATE_INSTALLATION, pl.exclude(STATE_INSTALLATION)))
