"""The nightly sync's diff: which rows would change nothing, and the model after the ok rows.

The model of a customer (one per lookup, key and value) is what batchtool last applied to it
ok, as a frame with one row per lookup (the *state*):

- ``<field>_hash``: a 64-bit hash of the value last applied to each detail field (``REMOVE``
  included: removing twice changes nothing); null when unknown — never set, or cleared by a
  ``forget``. Values are hashed, not kept: the state tells whether a value changed, it is no
  copy of the customer table to leak.
- ``locked``: whether the last of lock/unlock applied was ``lock``; null when never seen.
- ``forgotten_keep_hash``: the hash of the keep names (sorted) of a ``forget`` with nothing
  set since; null otherwise.

Passwords are never modelled, so a row that sends one is always sent. A fast hash of a
password is an offline-guessing target in a file that lives for years beside the results,
and a slow salted one costs tens of milliseconds per row, hours on a big file. Setting a
password is a rare, one-off row: sending it every time costs little.

A row is *unchanged* when applying it, in file order, to the model of its lookup (the state,
then the earlier valid rows of the file for that lookup) would change nothing. Everything is
done on whole columns: one streamed pass turns the planned rows into *events* (what each row
does to the model, as hashes), a binary search finds each lookup in the state (kept sorted
by a hash of the lookup), and only lookups with several rows in the file are sorted to find
each row's predecessors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import polars as pl

from batchtool import api
from batchtool.plan import LOOKUP_KEY, LOOKUP_VALUE, PRESET_STATUS, VALID
from batchtool.reader import ROW

#: Fields whose values the state models: every detail field but the password (see above).
FIELDS: Final[tuple[str, ...]] = tuple(f for f in api.DETAIL_PARAMS if f not in api.SECRET_COLUMNS)

STATE_KEY: Final = "lookup_key"
STATE_VALUE: Final = "lookup_value"
#: In the state of runs to several installations: whose customer a row models.
STATE_INSTALLATION: Final = "installation"
LOCKED: Final = "locked"
FORGOTTEN: Final = "forgotten_keep_hash"

_SEED: Final = 0x62_61_74_63_68  # any fixed seed: it only has to stay the same
#: Event values no real hash takes (hashes are moved to 2 and up): a field left unknown by a
#: forget, and a forget marker reset by a set row.
_CLEARED: Final = 0
_SET_SINCE: Final = 1
#: Strings whose hashes a state file records: polars does not promise the same hash across
#: versions, so a state is read only where today's polars hashes these exactly alike. Short,
#: long, empty and non-ASCII, as hash functions take different paths for each.
_HASH_PROBES: Final[tuple[str, ...]] = (
    "",
    "REMOVE",
    "ada.1@example.com",
    "Zürich – 東京",
    "x" * 999,
)

_LOOKUP_HASH: Final = "__sync_lookup"
_LOOKUP_CHECK: Final = "__sync_lookup_check"
_KEEP: Final = "__sync_keep"
_LOCK: Final = "__sync_lock"
_FORGET: Final = "__sync_forget"
_PASSWORD: Final = "__sync_password"
_FREE: Final = "__sync_free"


def hash_column(field: str) -> str:
    """The state column that models ``field``."""
    return f"{field}_hash"


def _event(field: str) -> str:
    return f"__sync_{field}"


#: State column -> the event column that changes it.
_MODELLED: Final[dict[str, str]] = {
    LOCKED: _LOCK,
    FORGOTTEN: _FORGET,
    **{hash_column(f): _event(f) for f in FIELDS},
}


def _hash(value: pl.Expr) -> pl.Expr:
    hashed = value.hash(_SEED)
    return pl.when(hashed < 2).then(hashed + 2).otherwise(hashed)


def hash_check() -> str:
    """The hashes of fixed probe strings, as a state file records them (see ``_HASH_PROBES``)."""
    probes = pl.DataFrame({"p": _HASH_PROBES}, schema={"p": pl.String})
    return ",".join(str(h) for h in probes.select(_hash(pl.col("p")).alias("h"))["h"])


def _lookup_hash(key: pl.Expr, value: pl.Expr) -> pl.Expr:
    """One integer per lookup, to search the state by instead of two strings.

    Only a shortcut: :func:`_lookup_check` is compared too once found, so a collision of this
    one hash is never taken for a match.
    """
    return key.cast(pl.String).hash(_SEED).xor(value.hash(_SEED + 1))


def _lookup_check(key: pl.Expr, value: pl.Expr) -> pl.Expr:
    """A second lookup hash, seeded independently of :func:`_lookup_hash`: a lookup matches
    only when both agree (128 bits), so the diff needs no lookup strings in memory."""
    return key.cast(pl.String).hash(_SEED + 2).xor(value.hash(_SEED + 3))


def empty_state() -> pl.DataFrame:
    """A state that knows nothing: every lookup is new."""
    return pl.DataFrame(
        schema={STATE_KEY: pl.String, STATE_VALUE: pl.String, LOCKED: pl.Boolean,
                FORGOTTEN: pl.UInt64}
    )  # fmt: skip


def state_schema(columns: Sequence[str]) -> dict[str, pl.DataType]:
    """The types a state frame's ``columns`` must have; KeyError for a column no state has."""
    known: dict[str, pl.DataType] = {
        STATE_KEY: pl.String(),
        STATE_VALUE: pl.String(),
        STATE_INSTALLATION: pl.String(),
    }
    known.update({c: pl.Boolean() if c == LOCKED else pl.UInt64() for c in _MODELLED})
    return {c: known[c] for c in columns}


def sort_state(state: pl.DataFrame) -> pl.DataFrame:
    """The state in lookup-hash order: the order it is written, read and searched in."""
    return state.sort(_lookup_hash(pl.col(STATE_KEY), pl.col(STATE_VALUE)), maintain_order=True)


class _Events:
    """Expressions for what each planned row does to the model; null where it does nothing.

    ``__sync_<field>``: the hash a set row gives the field, or CLEARED where a forget does not
    keep it. ``__sync_lock``: true for lock, false for unlock. ``__sync_forget``: the hash of
    a forget's keep names, SET_SINCE for a set row.
    """

    def __init__(self, columns: Sequence[str]) -> None:
        self.present = set(columns)
        op = pl.col(api.OPERATION_COLUMN)
        valid = pl.col(VALID).fill_null(False)
        self.is_set = valid & (op == api.SET_CUSTOMER_DETAILS)
        self.is_forget = valid & (op == api.FORGET)
        self.is_lock = valid & (op == api.LOCK)
        self.is_unlock = valid & (op == api.UNLOCK)

    def _column(self, name: str) -> pl.Expr:
        return pl.col(name) if name in self.present else pl.lit(None, dtype=pl.String)

    def _keep(self) -> pl.Expr:
        """A forget's keep names as one comparable text: trimmed, unique, sorted, comma-joined."""
        if api.KEEP not in self.present:
            return pl.lit("")
        item = pl.element().str.strip_chars()
        names = pl.col(api.KEEP).str.split(",").list.eval(item.filter(item != ""))
        return names.list.unique().list.sort().list.join(",").fill_null("")

    def _field(self, name: str) -> pl.Expr:
        value = self._column(name)
        kept = pl.col(_KEEP).str.contains(rf"(?:^|,){name}(?:,|$)")
        return (
            pl.when(self.is_set & value.is_not_null())
            .then(_hash(value))
            .when(self.is_forget & ~kept)
            .then(pl.lit(_CLEARED, dtype=pl.UInt64))
        )

    def frame(self, planned: pl.LazyFrame, fields: Sequence[str]) -> pl.LazyFrame:
        """``row``, the lookup (and its hash) and the events of every valid row of ``planned``."""
        lock = pl.when(self.is_lock).then(pl.lit(True)).when(self.is_unlock).then(pl.lit(False))
        forget = (
            pl.when(self.is_forget)
            .then(_hash(pl.col(_KEEP)))
            .when(self.is_set)
            .then(pl.lit(_SET_SINCE, dtype=pl.UInt64))
        )
        return (
            planned.filter(pl.col(VALID))
            .with_columns(self._keep().alias(_KEEP))
            .select(
                ROW,
                _lookup_hash(pl.col(LOOKUP_KEY), pl.col(LOOKUP_VALUE)).alias(_LOOKUP_HASH),
                _lookup_check(pl.col(LOOKUP_KEY), pl.col(LOOKUP_VALUE)).alias(_LOOKUP_CHECK),
                LOOKUP_KEY,
                LOOKUP_VALUE,
                lock.alias(_LOCK),
                forget.alias(_FORGET),
                *(self._field(f).alias(_event(f)) for f in fields),
                (self.is_set & self._column("password").is_not_null()).alias(_PASSWORD),
                # A row an earlier selection step already settled still changes the model.
                pl.col(PRESET_STATUS).is_null().alias(_FREE),
            )
        )


def events_query(planned: pl.LazyFrame) -> pl.LazyFrame:
    """What each valid row of ``planned`` does to the model, to collect for :func:`unchanged_rows`.

    A query rather than a frame, so that a caller can collect it in the same pass over the
    input as its other queries (``pl.collect_all``).
    """
    names = planned.collect_schema().names()
    # The lookup's two hashes stand for it: its strings would be the biggest columns here.
    events = _Events(names).frame(planned, [f for f in FIELDS if f in names])
    return events.drop(LOOKUP_KEY, LOOKUP_VALUE)


def state_columns(events: pl.DataFrame) -> list[str]:
    """The state columns :func:`unchanged_rows` needs for these events (read only those)."""
    wanted = [STATE_KEY, STATE_VALUE]
    if events[_LOCK].null_count() < events.height:
        wanted.append(LOCKED)
    if (events[_FORGET] != _SET_SINCE).any():
        wanted.append(FORGOTTEN)
    wanted.extend(hash_column(f) for f in FIELDS if _event(f) in events.columns)
    return wanted


class _Lookups:
    """The event rows' lookup hashes in sorted order, which finding and grouping both need."""

    def __init__(self, events: pl.DataFrame) -> None:
        self.hashes = events[_LOOKUP_HASH]
        self.order = self.hashes.arg_sort()
        self.sorted = self.hashes.gather(self.order)

    def repeated(self) -> pl.Series:
        """The hashes that several rows share."""
        return self.sorted.filter(self.sorted == self.sorted.shift(1)).unique()


def _locate(
    events: pl.DataFrame, lookups: _Lookups, state: pl.DataFrame, known: pl.Series
) -> pl.Series:
    """For each event row, the index of its lookup in ``state``; null where the state has none.

    A binary search of the rows' lookup hashes in the state's (``known``, sorted like the
    state), the rows' taken in sorted order too, which keeps memory access in order: no hash
    table over a million state rows. The second, independent hash is compared as well, so a
    collision is never taken for a match; a hash the state holds twice is treated as not
    found (that row is simply sent).
    """
    if state.is_empty():
        return pl.repeat(None, events.height, dtype=pl.UInt32, eager=True)
    in_order = known.search_sorted(lookups.sorted, side="left")
    at = pl.zeros(events.height, dtype=in_order.dtype, eager=True).scatter(lookups.order, in_order)
    at = at.clip(upper_bound=state.height - 1)
    check = state.select(_lookup_check(pl.col(STATE_KEY), pl.col(STATE_VALUE))).to_series()
    found = (known.gather(at) == lookups.hashes) & (check.gather(at) == events[_LOOKUP_CHECK])
    twice = known == known.shift(1)
    if twice.any():
        found = found & ~(twice | twice.shift(-1)).fill_null(False).gather(at)
    return pl.select(pl.when(found).then(at)).to_series()


def _previous_events(events: pl.DataFrame, lookups: _Lookups) -> pl.DataFrame | None:
    """For each row, per event column, the last event of the earlier rows of its lookup.

    None when no lookup has two rows. Only such lookups need this, usually a small part of a
    file, so they alone are sorted (stably: file order within a lookup), not the whole file.
    """
    repeated = lookups.repeated()
    if repeated.is_empty():
        return None
    columns = [e for e in _MODELLED.values() if e in events.columns]
    position = pl.int_range(pl.len(), dtype=pl.Int64)
    same_lookup = (pl.col(_LOOKUP_HASH) == pl.col(_LOOKUP_HASH).shift(1)) & (
        pl.col(_LOOKUP_CHECK) == pl.col(_LOOKUP_CHECK).shift(1)
    )
    start = pl.when(~same_lookup.fill_null(False)).then(position).forward_fill()

    def previous(column: str) -> pl.Expr:
        last = pl.when(pl.col(column).is_not_null()).then(position).shift(1).forward_fill()
        return pl.when(last >= start).then(pl.col(column).gather(last.fill_null(0)))

    earlier = (
        events.filter(pl.col(_LOOKUP_HASH).is_in(repeated.implode()))
        .sort(_LOOKUP_HASH, _LOOKUP_CHECK, maintain_order=True)
        .select(ROW, *(previous(c).alias(c) for c in columns))
    )
    return events.select(ROW).join(earlier, on=ROW, how="left", maintain_order="left")


def unchanged_rows(events: pl.DataFrame, state: pl.DataFrame) -> pl.DataFrame:
    """The ``row`` of each row that would change nothing, in row order.

    Only rows no earlier selection step settled are listed. ``events`` is
    :func:`events_query` collected; ``state`` has (at least) the :func:`state_columns` of
    those events. Computed column by column, so that no more than a few columns of a million
    rows are alive at once.
    """
    known = state.select(_lookup_hash(pl.col(STATE_KEY), pl.col(STATE_VALUE))).to_series()
    if not known.is_sorted():
        # A state file is written sorted; a frame from elsewhere may not be.
        state, known = sort_state(state), known.sort()
    lookups = _Lookups(events)
    at = _locate(events, lookups, state, known)
    earlier = _previous_events(events, lookups)
    del lookups

    def model(column: str) -> pl.Series:
        event = _MODELLED[column]
        if column in state.columns:
            known = state[column].gather(at)
        else:
            known = pl.repeat(None, events.height, dtype=events.schema[event], eager=True)
        return known if earlier is None else earlier[event].fill_null(known)

    forget = events[_FORGET]
    is_set = (forget == _SET_SINCE).fill_null(False)
    unchanged = is_set & ~events[_PASSWORD]
    for f in FIELDS:
        if _event(f) in events.columns:
            sent = events[_event(f)]
            same = (model(hash_column(f)) == sent).fill_null(False)
            unchanged = unchanged & (sent.is_null() | same)
    lock = events[_LOCK]
    if lock.null_count() < lock.len():
        unchanged = unchanged | (lock == model(LOCKED)).fill_null(False)
    if (~is_set & forget.is_not_null()).any():
        unchanged = unchanged | (~is_set & (forget == model(FORGOTTEN))).fill_null(False)
    return events.filter(unchanged & events[_FREE]).select(ROW)


def unchanged_rows_merged(
    events: pl.DataFrame, state_batches: Iterable[pl.DataFrame]
) -> pl.Series:
    """:func:`unchanged_rows` against a state read in batches, as a merge: the ``row`` numbers.

    ``state_batches`` are consecutive slices of a state file, which is sorted by lookup hash.
    Each batch is diffed against the events whose hashes fall after the previous batch's
    last hash and up to its own, so only the events, one batch and that share of the diff are
    in memory at a time, never the whole state beside the whole diff. All the rows of a
    lookup share its hash, so they land in one share, where a filter keeps their file order.
    """
    hashes = pl.col(_LOOKUP_HASH)
    found: list[pl.Series] = []
    after: int | None = None  # the last hash of the batches done so far

    def diff(share: pl.Expr, state: pl.DataFrame) -> None:
        part = events.filter(share if after is None else share & (hashes > after))
        if not part.is_empty():
            found.append(unchanged_rows(part, state)[ROW])

    for batch in state_batches:
        if batch.is_empty():
            continue
        last = batch.select(_lookup_hash(pl.col(STATE_KEY), pl.col(STATE_VALUE)).max()).item()
        diff(hashes <= last, batch)
        after = last
    # Lookups beyond the state's last one are new: only their earlier rows in the file count.
    diff(pl.lit(True), empty_state())
    rows = pl.concat(found) if found else pl.Series(ROW, [], dtype=pl.Int64)
    return rows.sort()


def updated_state(
    state: pl.DataFrame, planned: pl.LazyFrame, ok_rows: pl.DataFrame
) -> pl.DataFrame:
    """``state`` after the ``ok_rows`` (a ``row`` column) of ``planned`` were applied in file order.

    Every modelled field counts (a forget clears fields this file does not have). Taking in
    the same ok rows twice gives the same state, so a resumed run that takes in every ok row
    of its journal leaves what an uninterrupted run would.
    """
    names = planned.collect_schema().names()
    ok = ok_rows.lazy().select(pl.col(ROW).cast(pl.Int64))
    applied = planned.join(ok, on=ROW, how="semi", maintain_order="left")
    touched = (
        _Events(names)
        .frame(applied, FIELDS)
        .group_by(
            pl.col(LOOKUP_KEY).cast(pl.String).alias(STATE_KEY),
            pl.col(LOOKUP_VALUE).alias(STATE_VALUE),
            maintain_order=True,
        )
        .agg(pl.col(e).drop_nulls().last().alias(c) for c, e in _MODELLED.items())
    )
    schema = state_schema(list(_MODELLED))
    earlier = state.lazy().select(
        STATE_KEY,
        STATE_VALUE,
        *(
            (pl.col(c) if c in state.columns else pl.lit(None, dtype=schema[c])).alias(c)
            for c in _MODELLED
        ),
    )
    # The last event of this run wins; where it has none, what the state knew stays.
    merged = (
        earlier.join(
            touched,
            on=[STATE_KEY, STATE_VALUE],
            how="full",
            coalesce=True,
            suffix="_new",
            maintain_order="left_right",
        )
        .select(
            STATE_KEY,
            STATE_VALUE,
            *(pl.coalesce(pl.col(f"{c}_new"), pl.col(c)).alias(c) for c in _MODELLED),
        )
        .with_columns(
            pl.when(pl.col(FORGOTTEN) != _SET_SINCE).then(pl.col(FORGOTTEN)),
            *(pl.when(pl.col(c) != _CLEARED).then(pl.col(c)) for c in map(hash_column, FIELDS)),
        )
        .collect()
    )
    # Fields never set are left out of the file rather than stored as columns of nulls.
    known = [c for c in map(hash_column, FIELDS) if merged[c].null_count() < merged.height]
    return sort_state(merged.select(STATE_KEY, STATE_VALUE, LOCKED, FORGOTTEN, *known))
