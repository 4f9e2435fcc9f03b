"""batchtool.plan: each validation rule of DESIGN §3, the lookup priority of §2, the wire form."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchtool import api, errors
from batchtool.model import Request
from batchtool.plan import PlanSummary, plan_frame, preset, requests_from, summarise, to_send

OPS_TEXT = "set_customer_details, lock, unlock or forget"
NO_LOOKUP = "no lookup key — fill customer_id, subscription_id or orderid"


def frame(rows: list[dict[str, str | None]], columns: list[str] | None = None) -> pl.LazyFrame:
    """A reader-shaped frame: ``row`` then text columns; absent cells are null."""
    names = columns or sorted({k for r in rows for k in r}, key=_column_order)
    data: dict[str, Any] = {"row": list(range(1, len(rows) + 1))}
    for name in names:
        data[name] = [r.get(name) for r in rows]
    schema = {"row": pl.Int64, **{n: pl.String for n in names}}
    return pl.DataFrame(data, schema=schema).lazy()


def _column_order(name: str) -> int:
    return api.KNOWN_COLUMNS.index(name) if name in api.KNOWN_COLUMNS else len(api.KNOWN_COLUMNS)


def plan(rows: list[dict[str, str | None]], **kwargs: Any) -> list[dict[str, Any]]:
    return plan_frame(frame(rows), **kwargs).collect().to_dicts()


def error_of(row: dict[str, str | None]) -> str | None:
    [planned] = plan([row])
    assert planned["_valid"] is (planned["_error"] is None)
    return planned["_error"]  # type: ignore[no-any-return]


def requests(rows: list[dict[str, str | None]], **kwargs: Any) -> list[Request]:
    return list(requests_from(plan_frame(frame(rows), **kwargs).collect()))


# --- DESIGN §3: one rule each ------------------------------------------------------------

INVALID = [
    pytest.param(
        {"operation": "delete", "customer_id": "1"},
        f"unknown operation 'delete' — use {OPS_TEXT}",
        id="unknown-operation",
    ),
    pytest.param(
        {"operation": "Delete Customer", "customer_id": "1"},
        f"unknown operation 'Delete Customer' — use {OPS_TEXT}",
        id="unknown-operation-keeps-what-was-typed",
    ),
    pytest.param(
        {"operation": None, "customer_id": "1"},
        f"no operation — fill in {OPS_TEXT} (or pass --operation OP)",
        id="empty-operation",
    ),
    pytest.param(
        {"operation": "lock", "customer_id": None, "subscription_id": None, "orderid": None},
        NO_LOOKUP,
        id="no-lookup-key",
    ),
    pytest.param(
        {"operation": "set", "orderid": "O-17", "firstname": "Ann"},
        "set_customer_details cannot look up by orderid — fill customer_id or subscription_id",
        id="set-by-orderid-only",
    ),
    pytest.param(
        {"operation": "set_customer_details", "customer_id": "191"},
        "set_customer_details needs at least one field to change",
        id="set-without-fields",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "191", "password": "REMOVE"},
        "password cannot be REMOVE — the API does not allow removing a password",
        id="password-remove",
    ),
    pytest.param(
        {"operation": "forget", "customer_id": "191", "keep": "fristname"},
        "keep: 'fristname' is not a field forget can keep — did you mean 'firstname'?",
        id="keep-typo-did-you-mean",
    ),
    pytest.param(
        {"operation": "forget", "customer_id": "191", "keep": "firstname,shoe_size"},
        "keep: 'shoe_size' is not a field forget can keep",
        id="keep-unknown-name-no-suggestion",
    ),
    pytest.param(
        {"operation": "forget", "customer_id": "191", "keep": "FirstName"},
        "keep: 'FirstName' is not a field forget can keep — did you mean 'firstname'?",
        id="keep-is-case-sensitive",
    ),
    pytest.param(
        {"operation": "forget", "customer_id": "191", "keep": "email"},
        "keep: 'email' is not a field forget can keep",
        id="keep-email-is-not-keepable",
    ),
    pytest.param(
        {"operation": "forget", "customer_id": "1", "keep": "fristname, lastnme,phone,city2,zzz"},
        "keep: 'fristname' is not a field forget can keep — did you mean 'firstname'?; "
        "keep: 'lastnme' is not a field forget can keep — did you mean 'lastname'?; "
        "keep: 'city2' is not a field forget can keep — did you mean 'city'?; "
        "keep: 'zzz' is not a field forget can keep",
        id="keep-several-unknown-names",
    ),
    pytest.param(
        {"operation": "forget", "customer_id": "191", "keep": "firstname,,lastname"},
        "keep: empty name in 'firstname,,lastname' — remove the extra comma",
        id="keep-empty-item",
    ),
    pytest.param(
        {"operation": "forget", "customer_id": "191", "keep": "firstname,"},
        "keep: empty name in 'firstname,' — remove the extra comma",
        id="keep-trailing-comma",
    ),
    pytest.param(
        {"operation": "forget", "customer_id": "191", "keep": ", phone"},
        "keep: empty name in ', phone' — remove the extra comma",
        id="keep-leading-comma",
    ),
    pytest.param(
        {"operation": "lock", "customer_id": "191", "keep": "firstname"},
        "keep is only for forget rows",
        id="keep-on-lock",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "191", "firstname": "Ann", "keep": "firstname"},
        "keep is only for forget rows",
        id="keep-on-set",
    ),
    pytest.param(
        {"operation": "lock", "customer_id": "191", "firstname": "Ann", "city": "Paris"},
        "lock does not take firstname, city — remove them or change the operation",
        id="details-on-lock",
    ),
    pytest.param(
        {"operation": "unlock", "subscription_id": "S9", "password": "pw"},
        "unlock does not take password — remove it or change the operation",
        id="detail-on-unlock",
    ),
    pytest.param(
        {"operation": "forget", "orderid": "O1", "email": "not an email", "keep": "phone"},
        "forget does not take email — remove it or change the operation",
        id="detail-on-forget-reported-once",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "191", "email": "bob@"},
        "email 'bob@' is not an email address",
        id="email-no-domain",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "191", "email": "bob@example"},
        "email 'bob@example' is not an email address",
        id="email-no-dot-in-domain",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "191", "email": "@example.com"},
        "email '@example.com' is not an email address",
        id="email-no-local-part",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "191", "email": "bob smith@example.com"},
        "email 'bob smith@example.com' is not an email address",
        id="email-with-space",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "191", "email": "bob@@example.com"},
        "email 'bob@@example.com' is not an email address",
        id="email-two-ats",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "191", "email": "remove"},
        "email 'remove' is not an email address",
        id="email-remove-is-case-sensitive",
    ),
    pytest.param(
        {"operation": "lock", "customer_id": None, "firstname": "Ann", "keep": "phone"},
        f"{NO_LOOKUP}; keep is only for forget rows; "
        "lock does not take firstname — remove it or change the operation",
        id="several-problems-joined",
    ),
    pytest.param(
        {"operation": "sett", "orderid": None, "email": "x"},
        f"unknown operation 'sett' — use {OPS_TEXT}; {NO_LOOKUP}; "
        "email 'x' is not an email address",
        id="unknown-operation-still-checks-cells",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "1", "password": "***"},
        "password is masked (***) as in a results file — retype it or clear the cell",
        id="masked-password",
    ),
    pytest.param(
        {"operation": "lock", "customer_id": "1", "password": "***"},
        "lock does not take password — remove it or change the operation",
        id="masked-password-where-none-is-taken",
    ),
    pytest.param(
        {"operation": "lock", "customer_id": "1.23457E+16"},
        "customer_id '1.23457E+16' is a number Excel wrote in scientific notation, without all "
        "its digits — format the column as text in Excel and retype it",
        id="scientific-notation-id",
    ),
    pytest.param(
        {"operation": "lock", "customer_id": "12345678901234570",
         "number:customer_id": "excel-rounded"},
        "customer_id '12345678901234570' was rounded by Excel, which keeps only 15 digits of a "
        "number — format the column as text and retype it",
        id="excel-rounded-id",
    ),
    pytest.param(
        {"operation": "lock", "subscription_id": "9007199254740994",
         "number:subscription_id": "float-rounded"},
        "subscription_id '9007199254740994' went through a floating-point number, which cannot "
        "hold all its digits — store the column as text and write it again",
        id="float-rounded-id",
    ),
    pytest.param(
        {"operation": "lock", "orderid": "191.5", "number:orderid": "fraction"},
        "orderid '191.5' is not a whole number — retype the id",
        id="fraction-id",
    ),
]


@pytest.mark.parametrize(("row", "reason"), INVALID)
def test_invalid_row_reason(row: dict[str, str | None], reason: str) -> None:
    assert error_of(row) == reason


VALID = [
    pytest.param({"operation": "lock", "customer_id": "191"}, id="lock-by-customer"),
    pytest.param({"operation": "unlock", "orderid": "O-1"}, id="unlock-by-orderid"),
    pytest.param({"operation": "forget", "subscription_id": "S9"}, id="forget-without-keep"),
    pytest.param(
        {"operation": "forget", "orderid": "O1", "keep": "firstname, lastname ,member_note"},
        id="keep-names-trimmed",
    ),
    pytest.param({"operation": "forget", "customer_id": "1", "keep": "phone"}, id="keep-one"),
    pytest.param(
        {"operation": "set", "customer_id": "1", "orderid": "O1", "zip": "01234"},
        id="set-orderid-present-but-customer-id-wins",
    ),
    pytest.param(
        {"operation": "set", "subscription_id": "S9", "email": "REMOVE"}, id="email-remove"
    ),
    pytest.param(
        {"operation": "set", "customer_id": "1", "email": "a.b+c@mail.example.co.uk"},
        id="email-plain",
    ),
    pytest.param(
        {"operation": "set", "customer_id": "1", "password": " REMOVE "}, id="password-not-remove"
    ),
    pytest.param({"operation": "UPDATE", "customer_id": "1", "city": "X"}, id="alias-uppercase"),
    pytest.param({"operation": "Details", "customer_id": "1", "city": "X"}, id="alias-details"),
    pytest.param({"operation": "LoCk", "customer_id": "1"}, id="operation-case-insensitive"),
    pytest.param({"operation": "lock", "customer_id": "1E5"}, id="an-id-that-only-looks-numeric"),
    pytest.param(
        {"operation": "set", "customer_id": "1", "zip": "1.5", "number:zip": "fraction"},
        id="a-fraction-outside-the-lookups",
    ),
    pytest.param(
        {"operation": "lock", "customer_id": "1", "result:status": "failed", "result:row": "4"},
        id="results-file-bookkeeping",
    ),
]


@pytest.mark.parametrize("row", VALID)
def test_valid_row(row: dict[str, str | None]) -> None:
    assert error_of(row) is None


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        pytest.param("set", "set_customer_details", id="set"),
        pytest.param("Update", "set_customer_details", id="update"),
        pytest.param("details", "set_customer_details", id="details"),
        pytest.param("SET_CUSTOMER_DETAILS", "set_customer_details", id="full-name-upper"),
        pytest.param("Forget", "forget", id="forget"),
        pytest.param("frogett", "frogett", id="unknown-kept-as-typed"),
    ],
)
def test_operation_is_normalised(typed: str, normalised: str) -> None:
    [planned] = plan([{"operation": typed, "customer_id": "1", "firstname": None}])
    assert planned["operation"] == normalised


# --- DESIGN §2: lookup priority ----------------------------------------------------------


@pytest.mark.parametrize(
    ("lookups", "expected"),
    [
        pytest.param(
            {"customer_id": "191", "subscription_id": "S9", "orderid": "O1"},
            ("customer_id", "191"),
            id="customer-id-first",
        ),
        pytest.param(
            {"customer_id": None, "subscription_id": "S9", "orderid": "O1"},
            ("subscription_id", "S9"),
            id="subscription-id-second",
        ),
        pytest.param(
            {"customer_id": None, "subscription_id": None, "orderid": "O1"},
            ("orderid", "O1"),
            id="orderid-last",
        ),
        pytest.param(
            {"customer_id": "191", "orderid": "O1"}, ("customer_id", "191"), id="skips-missing"
        ),
        pytest.param({"customer_id": None, "subscription_id": None}, (None, None), id="none"),
    ],
)
def test_lookup_priority(
    lookups: dict[str, str | None], expected: tuple[str | None, str | None]
) -> None:
    [planned] = plan([{"operation": "lock", **lookups}])
    assert (planned["_lookup_key"], planned["_lookup_value"]) == expected


def test_only_the_chosen_lookup_is_sent() -> None:
    [request] = requests(
        [{"operation": "unlock", "customer_id": "191", "subscription_id": "S9", "orderid": "O1"}]
    )
    assert request.lookup == ("customer_id", "191")
    assert request.form == (("customer_id", "191"),)


# --- file-level errors -------------------------------------------------------------------


def test_no_operation_column_and_no_default() -> None:
    with pytest.raises(errors.InputError) as caught:
        plan_frame(frame([{"customer_id": "1"}]))
    assert str(caught.value) == (
        "no 'operation' column — add one or pass --operation OP "
        "(one of set_customer_details, lock, unlock, forget)"
    )


def test_no_lookup_column() -> None:
    with pytest.raises(errors.InputError) as caught:
        plan_frame(frame([{"operation": "lock", "firstname": "x"}]))
    message = str(caught.value)
    assert message.startswith("no lookup column")
    assert all(key in message for key in api.LOOKUP_KEYS)


def test_unknown_default_operation_is_a_usage_error() -> None:
    with pytest.raises(errors.UsageError, match="unknown --operation 'delete'"):
        plan_frame(frame([{"operation": "lock", "customer_id": "1"}]), default_operation="delete")


def test_unexpected_column_is_refused_not_dropped() -> None:
    with pytest.raises(errors.InputError, match="unknown column 'fristname'"):
        plan_frame(frame([{"operation": "lock", "customer_id": "1", "fristname": "x"}]))


def test_file_level_checks_read_no_data() -> None:
    def explode(_: pl.Series) -> pl.Series:
        raise AssertionError("data was read")

    lazy = frame([{"customer_id": "1"}]).with_columns(
        pl.col("customer_id").map_batches(explode, return_dtype=pl.String)
    )
    with pytest.raises(errors.InputError):
        plan_frame(lazy)
    plan_frame(lazy, default_operation="lock")  # builds the plan without running it


def test_default_operation_creates_the_column() -> None:
    planned = plan_frame(frame([{"customer_id": "1"}]), default_operation="Unlock").collect()
    assert planned.columns[:3] == ["row", "operation", "customer_id"]
    assert planned["operation"].to_list() == ["unlock"]
    assert planned["_valid"].to_list() == [True]


def test_default_operation_fills_only_empty_cells() -> None:
    rows = plan(
        [
            {"operation": None, "customer_id": "1"},
            {"operation": "lock", "customer_id": "2"},
            {"operation": "bogus", "customer_id": "3"},
        ],
        default_operation="update",
    )
    assert [r["operation"] for r in rows] == ["set_customer_details", "lock", "bogus"]


def test_null_typed_columns_are_text() -> None:
    lazy = pl.DataFrame(
        {"row": [1], "operation": ["lock"], "customer_id": ["1"], "firstname": [None]}
    ).lazy()
    planned = plan_frame(lazy).collect()
    assert planned.schema["firstname"] == pl.String
    assert planned["_valid"].to_list() == [True]


# --- output shape ------------------------------------------------------------------------


def test_output_columns_rows_and_ignored_columns() -> None:
    lazy = pl.DataFrame(
        {
            "row": [1, 2, 3],
            "ignored:Notes": ["=1+1", "bob@", "REMOVE"],
            "operation": ["lock", "set", "forget"],
            "customer_id": ["3", None, "1"],
            "email": [None, "bob@", None],
        },
        schema={
            "row": pl.Int64,
            "ignored:Notes": pl.String,
            "operation": pl.String,
            "customer_id": pl.String,
            "email": pl.String,
        },
    ).lazy()
    planned = plan_frame(lazy)
    out = planned.collect()
    assert out.columns == [
        "row",
        "ignored:Notes",
        "operation",
        "customer_id",
        "email",
        "_valid",
        "_error",
        "_lookup_key",
        "_lookup_value",
        "_preset_status",
        "_preset_error",
        "_warning",
    ]
    assert dict(planned.collect_schema()) == dict(out.schema)
    assert out["row"].to_list() == [1, 2, 3]
    assert out["ignored:Notes"].to_list() == ["=1+1", "bob@", "REMOVE"]
    assert out["_valid"].to_list() == [True, False, True]
    assert out["_error"].to_list() == [
        None,
        f"{NO_LOOKUP}; email 'bob@' is not an email address",
        None,
    ]
    assert out.equals(planned.collect(engine="streaming"))


# --- requests_from: the wire form --------------------------------------------------------


def test_set_form_is_lookup_then_params_in_api_order() -> None:
    columns = ["password", "city", "orderid", "email", "firstname", "customer_id", "operation"]
    lazy = frame(
        [
            {
                "operation": "update",
                "customer_id": "0191",
                "orderid": "O1",
                "password": "  s3cret  ",
                "city": "REMOVE",
                "email": "ann@example.com",
                "firstname": "Ann",
            }
        ],
        columns=columns,
    ).with_columns(pl.lit("junk").alias("ignored:note"))
    [request] = requests_from(plan_frame(lazy).collect())
    assert request == Request(
        row=1,
        operation="set_customer_details",
        lookup=("customer_id", "0191"),
        form=(
            ("customer_id", "0191"),
            ("firstname", "Ann"),
            ("email", "ann@example.com"),
            ("city", "REMOVE"),
            ("password", "  s3cret  "),
        ),
    )


@pytest.mark.parametrize("field", [p for p in api.DETAIL_PARAMS if p != "password"])
def test_remove_is_sent_for_non_password_fields(field: str) -> None:
    [request] = requests([{"operation": "set", "subscription_id": "S9", field: "REMOVE"}])
    assert request.form == (("subscription_id", "S9"), (field, "REMOVE"))


@pytest.mark.parametrize(
    "password",
    [
        pytest.param(" leading", id="leading-space"),
        pytest.param("trailing\t", id="trailing-tab"),
        pytest.param(" both ", id="both"),
    ],
)
def test_password_whitespace_is_preserved(password: str) -> None:
    [request] = requests([{"operation": "set", "customer_id": "1", "password": password}])
    assert request.form[1] == ("password", password)


def test_lock_unlock_forget_forms() -> None:
    rows: list[dict[str, str | None]] = [
        {"operation": "lock", "orderid": "O1"},
        {"operation": "unlock", "subscription_id": "S2"},
        {"operation": "forget", "customer_id": "3"},
        {"operation": "forget", "customer_id": "4", "keep": "firstname , lastname,phone"},
    ]
    assert [r.form for r in requests(rows)] == [
        (("orderid", "O1"),),
        (("subscription_id", "S2"),),
        (("customer_id", "3"),),
        # Normalised so a server that splits on bare commas keeps every name.
        (("customer_id", "4"), ("keep", "firstname,lastname,phone")),
    ]


def test_requests_skip_invalid_rows_and_keep_row_order() -> None:
    rows: list[dict[str, str | None]] = [
        {"operation": "forget", "customer_id": "1"},
        {"operation": "set", "customer_id": "2", "firstname": "B"},
        {"operation": "delete", "customer_id": "3"},
        {"operation": "lock", "customer_id": "4"},
        {"operation": "set", "customer_id": "5"},
        {"operation": "set", "customer_id": "6", "lastname": "F"},
        {"operation": "unlock", "customer_id": "7"},
        {"operation": "lock", "customer_id": "8"},
    ]
    got = [(r.row, r.operation) for r in requests(rows)]
    assert got == [
        (1, "forget"),
        (2, "set_customer_details"),
        (4, "lock"),
        (6, "set_customer_details"),
        (7, "unlock"),
        (8, "lock"),
    ]


def test_requests_from_an_empty_or_all_invalid_batch() -> None:
    assert requests([{"operation": "nope", "customer_id": "1"}]) == []
    empty = plan_frame(frame([{"operation": "lock", "customer_id": "1"}])).collect().head(0)
    assert list(requests_from(empty)) == []


# --- summarise ---------------------------------------------------------------------------


def test_summarise() -> None:
    rows: list[dict[str, str | None]] = [
        {"operation": "lock", "customer_id": "1"},
        {"operation": "nope", "customer_id": "2"},
        {"operation": "lock", "customer_id": "3"},
        {"operation": "set", "customer_id": "4", "city": "X"},
        {"operation": "set", "customer_id": "5"},
        {"operation": "forget"},
    ]
    summary = summarise(plan_frame(frame(rows)), examples=2)
    assert summary == PlanSummary(
        total=6,
        valid=3,
        invalid=3,
        by_operation={"set_customer_details": 1, "lock": 2},
        invalid_examples=[
            (2, f"unknown operation 'nope' — use {OPS_TEXT}"),
            (5, "set_customer_details needs at least one field to change"),
        ],
        top_reasons=[
            ("no lookup key — fill customer_id, subscription_id or orderid", 1),
            ("set_customer_details needs at least one field to change", 1),
            (f"unknown operation 'nope' — use {OPS_TEXT}", 1),
        ],
    )


def test_summarise_counts_presets_and_their_reasons() -> None:
    rows: list[dict[str, str | None]] = [
        {"operation": "lock", "customer_id": str(i)} for i in range(1, 6)
    ]
    rows.append({"operation": "lock"})
    planned = plan_frame(frame(rows))
    planned = preset(planned, pl.col("customer_id").is_in(["1", "2"]), "unchanged")
    planned = preset(planned, pl.col("customer_id") == "3", "skipped", "ok in the earlier run")
    planned = preset(planned, pl.col("customer_id") == "1", "skipped", "first preset wins")
    summary = summarise(planned)
    assert (summary.valid, summary.invalid) == (2, 1)
    assert summary.preset == {"unchanged": 2, "skipped": 1}
    assert summary.top_reasons == [
        ("no lookup key — fill customer_id, subscription_id or orderid", 1),
        ("ok in the earlier run", 1),
    ]
    assert [r.row for r in requests_from(planned.filter(to_send()).collect())] == [4, 5]


def test_summarise_empty_input() -> None:
    empty = frame([{"operation": "lock", "customer_id": "1"}]).head(0)
    assert summarise(plan_frame(empty)) == PlanSummary(0, 0, 0, {}, [])


# --- property: whatever the input, a request is well-formed -----------------------------

_value = st.sampled_from(["REMOVE", "x", "a@b.co", "firstname", "phone, city", "FirstName", "a,,b"])
_operation = st.one_of(
    st.none(), st.sampled_from([*api.OPERATION_ALIASES, "LOCK", "Update", "delete", "x"])
)


@st.composite
def _row(draw: st.DrawFn) -> dict[str, str | None]:
    # Few parameters per row, as in real files, so that many generated rows are valid.
    row: dict[str, str | None] = dict.fromkeys(api.KNOWN_COLUMNS)
    row["operation"] = draw(_operation)
    for key in api.LOOKUP_KEYS:
        row[key] = draw(st.one_of(st.none(), st.from_regex(r"[0-9A-Z]{1,4}", fullmatch=True)))
    params = [*api.DETAIL_PARAMS, api.KEEP]
    for name in draw(st.lists(st.sampled_from(params), max_size=3, unique=True)):
        row[name] = draw(_value)
    return row


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_row(), min_size=1, max_size=12))
def test_every_request_has_one_lookup_and_only_its_parameters(
    rows: list[dict[str, str | None]],
) -> None:
    planned = plan_frame(frame(rows, columns=list(api.KNOWN_COLUMNS))).collect()
    sent = list(requests_from(planned))
    assert len(sent) == planned["_valid"].sum()
    assert [r.row for r in sent] == sorted(r.row for r in sent)
    for request in sent:
        source = rows[request.row - 1]
        keys = [name for name, _ in request.form]
        assert [k for k in keys if k in api.LOOKUP_KEYS] == [request.lookup[0]]
        assert request.form[0] == request.lookup
        assert request.lookup[0] in api.OPERATION_LOOKUPS[request.operation]
        first = next(k for k in api.LOOKUP_KEYS if source[k] is not None)
        assert request.lookup == (first, source[first])
        assert set(keys[1:]) <= set(api.OPERATION_PARAMS[request.operation])
        assert len(keys) == len(set(keys))
        assert all(value for _, value in request.form)
        if request.operation == api.SET_CUSTOMER_DETAILS:
            assert len(keys) > 1
            assert ("password", "REMOVE") not in request.form


# --- values that may not be what the user typed -----------------------------------------


def test_a_results_files_masked_password_says_so() -> None:
    [planned] = plan([{"operation": "set", "customer_id": "1", "password": "***",
                       "result:status": "ok"}])  # fmt: skip
    assert planned["_error"] == (
        "password is masked (***) in this results file — retype it or clear the cell"
    )


@pytest.mark.parametrize(
    ("customer_id", "valid"),
    [pytest.param("12345678901234570", False, id="unchanged"), pytest.param("7", True, id="fixed")],
)
def test_an_id_an_earlier_run_found_rounded_stays_invalid(customer_id: str, valid: bool) -> None:
    earlier = (
        "customer_id '12345678901234570' was rounded by Excel, which keeps only 15 digits of a "
        "number — format the column as text and retype it"
    )
    [planned] = plan([{"operation": "lock", "customer_id": customer_id, "result:row": "1",
                       "result:status": "invalid", "result:error": earlier}])  # fmt: skip
    assert planned["_valid"] is valid
    assert planned["_error"] == (None if valid else earlier)


def test_damaged_values_outside_the_lookups_are_warnings() -> None:
    rows: list[dict[str, str | None]] = [
        {"operation": "set", "customer_id": "1", "zip": "12345678901234570",
         "number:zip": "excel-rounded", "password": "12345678901234570",
         "number:password": "float-rounded"},
        {"operation": "set", "customer_id": "2", "zip": "1.5", "number:zip": "fraction"},
        {"operation": "set", "customer_id": "3", "zip": "12345678901234570",
         "number:zip": "excel-rounded"},
        {"operation": "nope", "customer_id": "4", "zip": "12345678901234570",
         "number:zip": "excel-rounded"},
    ]  # fmt: skip
    planned = plan(rows)
    first = (
        "zip '12345678901234570' was rounded by Excel, which keeps only 15 digits of a number — "
        "sent as it is; check it; password '***' went through a floating-point number, which "
        "cannot hold all its digits — sent as it is; check it"
    )
    assert [r["_warning"] for r in planned][:3] == [first, None, first.split("; password")[0]]
    assert [r["_valid"] for r in planned] == [True, True, True, False]
    summary = summarise(plan_frame(frame(rows)), examples=1)
    assert (summary.warned, summary.warnings) == (2, [(1, first)])
