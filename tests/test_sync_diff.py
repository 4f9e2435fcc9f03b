"""The nightly diff: which rows would change nothing on the model of what was last applied ok."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchtool.plan import plan_frame, preset
from batchtool.sync_diff import (
    empty_state,
    events_query,
    sort_state,
    unchanged_rows,
    unchanged_rows_merged,
    updated_state,
)

Row = tuple[str, str, dict[str, str]]  # operation, customer_id, other cells

COLUMNS = ("operation", "customer_id", "firstname", "email", "password", "keep")


def planned(rows: Sequence[Row]) -> pl.LazyFrame:
    cells = [
        {"operation": op, "customer_id": cid, **{c: other.get(c) for c in COLUMNS[2:]}}
        for op, cid, other in rows
    ]
    frame = pl.DataFrame(cells, schema=dict.fromkeys(COLUMNS, pl.String), orient="row")
    return plan_frame(frame.with_row_index("row", offset=1).cast({"row": pl.Int64}).lazy())


def applied(rows: Sequence[Row], ok: Sequence[int] | None = None) -> pl.DataFrame:
    """The state after ``rows`` (those numbered ``ok``, default all) ended ok on an empty one."""
    numbers = list(range(1, len(rows) + 1)) if ok is None else list(ok)
    return updated_state(empty_state(), planned(rows), pl.DataFrame({"row": numbers}))


def unchanged(state: pl.DataFrame, rows: Sequence[Row]) -> list[int]:
    events = events_query(planned(rows)).collect()
    return list(unchanged_rows(events, state)["row"])


def set_(cid: str, **cells: str) -> Row:
    return ("set", cid, cells)


def op(name: str, cid: str, **cells: str) -> Row:
    return (name, cid, cells)


CASES = [
    pytest.param([set_("1", firstname="Ann")], [set_("1", firstname="Ann")], [1], id="same-value"),
    pytest.param([set_("1", firstname="Ann")], [set_("1", firstname="Anne")], [], id="new-value"),
    pytest.param([set_("1", firstname="Ann")], [set_("2", firstname="Ann")], [], id="new-customer"),
    pytest.param(
        [set_("1", firstname="Ann", email="a@x.org")],
        [set_("1", firstname="Ann", email="b@x.org")],
        [],
        id="one-of-two-fields-differs",
    ),
    pytest.param(
        [set_("1", firstname="Ann", email="a@x.org")],
        [set_("1", email="a@x.org")],
        [1],
        id="subset-of-fields-same",
    ),
    pytest.param(
        [set_("1", firstname="Ann")],
        [set_("1", firstname="Ann", email="a@x.org")],
        [],
        id="field-never-set-before",
    ),
    pytest.param(
        [set_("1", email="a@x.org"), set_("1", firstname="Ann")],
        [set_("1", firstname="Ann", email="a@x.org")],
        [1],
        id="fields-from-two-earlier-rows",
    ),
    pytest.param([set_("1", email="REMOVE")], [set_("1", email="REMOVE")], [1], id="remove-twice"),
    pytest.param(
        [set_("1", email="REMOVE")], [set_("1", email="a@x.org")], [], id="value-after-remove"
    ),
    pytest.param(
        [set_("1", email="a@x.org")], [set_("1", email="REMOVE")], [], id="remove-a-value"
    ),
    pytest.param([op("lock", "1")], [op("lock", "1")], [1], id="lock-locked"),
    pytest.param([op("unlock", "1")], [op("lock", "1")], [], id="lock-unlocked"),
    pytest.param([op("unlock", "1")], [op("unlock", "1")], [1], id="unlock-unlocked"),
    pytest.param([set_("1", firstname="A")], [op("lock", "1")], [], id="lock-never-seen"),
    pytest.param(
        [op("lock", "1"), op("unlock", "1")], [op("unlock", "1")], [1], id="last-of-toggles-wins"
    ),
    pytest.param(
        [op("lock", "1")],
        [op("unlock", "1"), op("lock", "1")],
        [],
        id="toggle-in-file-both-sent",
    ),
    pytest.param(
        [op("lock", "1")],
        [op("lock", "1"), op("unlock", "1"), op("unlock", "1")],
        [1, 3],
        id="in-file-order",
    ),
    pytest.param(
        [],
        [set_("1", firstname="Ann"), set_("1", firstname="Ann")],
        [2],
        id="repeat-of-a-new-customer",
    ),
    pytest.param(
        [set_("1", firstname="Ann")],
        [set_("1", firstname="Bo"), set_("1", firstname="Ann")],
        [],
        id="back-and-forth-in-file",
    ),
    pytest.param(
        [op("forget", "1", keep="firstname,lastname")],
        [op("forget", "1", keep="lastname, firstname")],
        [1],
        id="forget-same-keep-any-order",
    ),
    pytest.param(
        [op("forget", "1", keep="firstname")],
        [op("forget", "1", keep="lastname")],
        [],
        id="forget-other-keep",
    ),
    pytest.param(
        [op("forget", "1")], [op("forget", "1", keep="firstname")], [], id="forget-keep-added"
    ),
    pytest.param(
        [op("forget", "1"), set_("1", email="a@x.org")],
        [op("forget", "1")],
        [],
        id="forget-after-a-set",
    ),
    pytest.param(
        [set_("1", firstname="Ann"), op("forget", "1")],
        [set_("1", firstname="Ann")],
        [],
        id="set-after-forget-cleared-it",
    ),
    pytest.param(
        [set_("1", firstname="Ann"), op("forget", "1", keep="firstname")],
        [set_("1", firstname="Ann")],
        [1],
        id="set-of-a-kept-field",
    ),
    pytest.param(
        [set_("1", firstname="Ann", password="s3cret")],
        [set_("1", firstname="Ann", password="s3cret")],
        [],
        id="password-always-sent",
    ),
    pytest.param(
        [set_("1", firstname="Ann", password="s3cret")],
        [set_("1", firstname="Ann")],
        [1],
        id="fields-beside-a-password-are-kept",
    ),
    pytest.param(
        [set_("1", firstname="Ann")],
        [set_("1", firstname="Bo", email="not-an-email"), set_("1", firstname="Ann")],
        [2],
        id="invalid-row-changes-nothing",
    ),
    pytest.param(
        [set_("1", firstname="Ann"), set_("1", firstname="Bo")],
        [set_("1", firstname="Ann")],
        [],
        id="last-value-wins",
    ),
]


@pytest.mark.parametrize(("last_night", "tonight", "expected"), CASES)
def test_unchanged_rows(last_night: list[Row], tonight: list[Row], expected: list[int]) -> None:
    assert unchanged(applied(last_night), tonight) == expected


def test_a_row_that_did_not_end_ok_is_not_in_the_state() -> None:
    last_night = [set_("1", firstname="Ann"), set_("2", firstname="Bo")]
    state = applied(last_night, ok=[2])
    assert unchanged(state, last_night) == [2]


def test_a_preset_row_is_not_listed_but_still_changes_the_model() -> None:
    tonight = planned([set_("1", firstname="Ann"), set_("1", firstname="Ann")])
    settled = preset(tonight, pl.col("row") == 1, "skipped", "settled by an earlier step")
    events = events_query(settled).collect()
    assert list(unchanged_rows(events, empty_state())["row"]) == [2]


def test_taking_in_the_same_rows_twice_changes_nothing() -> None:
    rows = [set_("1", firstname="Ann"), op("forget", "2", keep="firstname"), op("lock", "3")]
    once = applied(rows)
    twice = updated_state(once, planned(rows), pl.DataFrame({"row": [1, 2, 3]}))
    assert twice.equals(once)


def test_taking_in_more_ok_rows_later_equals_taking_them_at_once() -> None:
    rows = [set_("1", firstname="Ann"), set_("1", email="a@x.org"), op("unlock", "2")]
    first = applied(rows, ok=[1])
    resumed = updated_state(first, planned(rows), pl.DataFrame({"row": [1, 2, 3]}))
    assert resumed.equals(applied(rows))


def test_the_state_holds_no_value_in_clear() -> None:
    state = applied([set_("1", firstname="Ann", email="ann@x.org", password="s3cret")])
    assert "password_hash" not in state.columns
    cells = {str(v) for column in state.iter_columns() for v in column}
    assert not cells & {"Ann", "ann@x.org", "s3cret"}


def test_an_unsorted_state_is_searched_all_the_same() -> None:
    rows = [set_(str(i), firstname=f"n{i}") for i in range(1, 50)]
    state = sort_state(applied(rows)).reverse()
    assert unchanged(state, rows) == list(range(1, 50))


def test_other_lookup_keys_are_other_customers() -> None:
    state = applied([set_("7", firstname="Ann")])
    tonight = pl.DataFrame(
        {"row": [1], "operation": ["set"], "subscription_id": ["7"], "firstname": ["Ann"]}
    )
    events = events_query(plan_frame(tonight.lazy())).collect()
    assert unchanged_rows(events, state).is_empty()


_OPERATIONS = st.sampled_from(["set", "lock", "unlock", "forget"])
_CUSTOMERS = st.sampled_from([str(i) for i in range(1, 9)])


@st.composite
def _rows(draw: st.DrawFn) -> list[Row]:
    rows: list[Row] = []
    for _ in range(draw(st.integers(0, 14))):
        name, cid = draw(_OPERATIONS), draw(_CUSTOMERS)
        cells = {}
        if name == "set":
            cells["firstname"] = draw(st.sampled_from(["Ann", "Bob", "REMOVE"]))
        elif name == "forget" and draw(st.booleans()):
            cells["keep"] = "firstname"
        rows.append((name, cid, cells))
    return rows


@settings(max_examples=80, deadline=None, derandomize=True)
@given(last_night=_rows(), tonight=_rows(), batch_rows=st.integers(1, 4))
def test_the_state_read_in_batches_gives_the_same_diff(
    last_night: list[Row], tonight: list[Row], batch_rows: int
) -> None:
    # Tiny batches put batch edges, gaps between them and customers with several rows
    # tonight everywhere a real state's 100,000-row batches could put them.
    state = sort_state(applied(last_night))
    events = events_query(planned(tonight)).collect()
    batches = (state.slice(i, batch_rows) for i in range(0, state.height, batch_rows))
    merged = unchanged_rows_merged(events, batches)
    assert merged.to_list() == unchanged_rows(events, state)["row"].to_list()
