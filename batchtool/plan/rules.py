"""Validate every row: each rule a vectorised polars expression giving the reason it breaks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import polars as pl

from batchtool import api, errors
from batchtool.plan.columns import (
    ERROR,
    LOOKUP_KEY,
    LOOKUP_VALUE,
    PRESET_ERROR,
    PRESET_STATUS,
    SEPARATOR,
    VALID,
    WARNING,
)
from batchtool.plan.keep import BAD_KEEP, keep_reasons, unknown_keep_names
from batchtool.plan.numbers import damaged_lookups, damaged_values
from batchtool.plan.tables import table_of, translate
from batchtool.reader import (
    BOOKKEEPING_PREFIX,
    IGNORED_PREFIX,
    NUMBER_PREFIX,
    ROW,
    cut,
)
from batchtool.remedies import NO_OPERATION_FIX, ChooseOperation, IgnoreColumn

_NORMALISED: Final = "__plan_operation"

#: A column by name, or a null text literal when the input lacks it.
_ColumnGetter = Callable[[str], pl.Expr]

# Deliberately simple: catches the usual spreadsheet slips (missing @, missing domain, spaces)
# without rejecting unusual but real addresses; the server has the final word.
_EMAIL_PATTERN: Final = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Columns whose hidden frame columns are not input data: never sent, never checked.
_HIDDEN_PREFIXES: Final = (IGNORED_PREFIX, BOOKKEEPING_PREFIX, NUMBER_PREFIX)


def _or_list(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


_OPERATIONS_TEXT: Final = _or_list(api.OPERATIONS)
_OPERATION_TABLE: Final = table_of(api.OPERATION_ALIASES)


def normalise_operation(name: str) -> str | None:
    """The API name of an operation as a user may spell it, or None if it is not one."""
    return api.OPERATION_ALIASES.get(name.strip().lower())


def plan_frame(frame: pl.LazyFrame, *, default_operation: str | None = None) -> pl.LazyFrame:
    """Validate every row; add ``_valid``, ``_error``, ``_lookup_key`` and ``_lookup_value``.

    Raises InputError for file-level problems and UsageError for an unknown
    ``default_operation``, both before any data is read. Nothing is collected here.
    """
    default = _check_default(default_operation)
    schema = frame.collect_schema()
    names = schema.names()
    _check_columns(names, has_default=default is not None)

    # A column a reader left entirely empty may come through as Null; every value is text.
    untyped = [
        n
        for n in names
        if n != ROW and schema[n] != pl.String and not n.startswith(_HIDDEN_PREFIXES)
    ]
    if untyped:
        frame = frame.with_columns(pl.col(untyped).cast(pl.String))

    present = set(names)

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in present else pl.lit(None, dtype=pl.String)

    raw_op = col(api.OPERATION_COLUMN)
    if default is not None:
        raw_op = raw_op.fill_null(pl.lit(default))
    # Cells arrive trimmed from the reader; only case is left to fold.
    normalised = translate(raw_op.str.to_lowercase(), _OPERATION_TABLE)
    lookups = [k for k in api.LOOKUP_KEYS if k in present]
    lookup_key: pl.Expr = pl.lit(None, dtype=pl.String)
    for key in reversed(lookups):
        lookup_key = pl.when(pl.col(key).is_not_null()).then(pl.lit(key)).otherwise(lookup_key)

    # Intermediate results used by several rules are materialised as columns: polars does
    # not reliably share them across nested when/then, and recomputing a list expression
    # five times dominated the cost.
    helpers = {
        _NORMALISED: normalised,
        **({BAD_KEEP: unknown_keep_names(col(api.KEEP))} if api.KEEP in present else {}),
        **{
            _given_name(i): _given(col, refused)
            for i, (refused, _) in enumerate(_refused_details())
        },
    }
    reasons = [
        *_reasons(col, raw_op, has_keep=api.KEEP in present),
        *_masked_password(col, names),
        *damaged_lookups(present),
    ]
    error = pl.concat_str(reasons, separator=SEPARATOR, ignore_nulls=True)
    warnings = damaged_values(present)
    joined = pl.concat_str(warnings, separator=SEPARATOR, ignore_nulls=True)
    warning = pl.when(joined != "").then(joined) if warnings else pl.lit(None, dtype=pl.String)
    return (
        frame.with_columns(
            *(expr.alias(name) for name, expr in helpers.items()),
            pl.coalesce(normalised, raw_op).alias(api.OPERATION_COLUMN),
            lookup_key.alias(LOOKUP_KEY),
            pl.coalesce([pl.col(k) for k in lookups]).alias(LOOKUP_VALUE),
        )
        .with_columns(error.alias(ERROR))
        .select(
            *_output_columns(names),
            (pl.col(ERROR) == "").alias(VALID),
            pl.when(pl.col(ERROR) != "").then(pl.col(ERROR)).alias(ERROR),
            LOOKUP_KEY,
            LOOKUP_VALUE,
            pl.lit(None, dtype=pl.String).alias(PRESET_STATUS),
            pl.lit(None, dtype=pl.String).alias(PRESET_ERROR),
            warning.alias(WARNING),
        )
    )


def _output_columns(names: Sequence[str]) -> list[str]:
    """Input columns in input order, with ``operation`` added when only the default supplies it."""
    if api.OPERATION_COLUMN in names:
        return list(names)
    at = 1 if names and names[0] == ROW else 0
    return [*names[:at], api.OPERATION_COLUMN, *names[at:]]


def _check_default(default_operation: str | None) -> str | None:
    if default_operation is None:
        return None
    default = normalise_operation(default_operation)
    if default is None:
        raise errors.UsageError(
            f"unknown --operation {default_operation!r} — use {_OPERATIONS_TEXT}",
            problem=f"unknown operation {default_operation!r} — use {_OPERATIONS_TEXT}",
            remedy=ChooseOperation(),
        )
    return default


def _check_columns(names: Sequence[str], *, has_default: bool) -> None:
    if api.OPERATION_COLUMN not in names and not has_default:
        raise errors.InputError(
            "no 'operation' column — add one or pass --operation OP "
            "(one of set_customer_details, lock, unlock, forget)",
            problem="no 'operation' column — add one "
            "(one of set_customer_details, lock, unlock, forget)",
            remedy=ChooseOperation(),
        )
    if not any(k in names for k in api.LOOKUP_KEYS):
        raise errors.InputError(
            f"no lookup column — add a {_or_list(api.LOOKUP_KEYS)} column "
            "so each row says which customer to change"
        )
    known = set(api.KNOWN_COLUMNS) | {ROW}
    stray = [n for n in names if n not in known and not n.startswith(_HIDDEN_PREFIXES)]
    if stray:
        # The reader should have refused these; sending without them would drop data silently.
        raise errors.InputError(
            f"unknown column {stray[0]!r} — rename it to an API name or pass --ignore-column",
            problem=f"unknown column {stray[0]!r} — rename it to an API name",
            remedy=IgnoreColumn(stray[0]),
        )


def _reasons(col: _ColumnGetter, raw_op: pl.Expr, *, has_keep: bool) -> list[pl.Expr]:
    """One String expression per rule: the reason when the row breaks it, else null.

    Without a keep column no keep rule can break, so none is built (nor its lookup table).
    """
    op = pl.col(_NORMALISED)
    unknown_op = op.is_null()
    key = pl.col(LOOKUP_KEY)

    def when(condition: pl.Expr, *message: str | pl.Expr) -> pl.Expr:
        parts = [pl.lit(m) if isinstance(m, str) else m for m in message]
        return pl.when(condition).then(parts[0] if len(parts) == 1 else pl.concat_str(parts))

    def is_op(*operations: str) -> pl.Expr:
        return op.is_in(list(operations))

    # Content checks are skipped where the column is already reported as not allowed for
    # the operation: one actionable reason per problem, not two.
    def may_take(param: str) -> pl.Expr:
        takers = [o for o, params in api.OPERATION_PARAMS.items() if param in params]
        return unknown_op | is_op(*takers)

    reasons = [
        when(
            raw_op.is_null(),
            f"no operation — fill in {_OPERATIONS_TEXT}{NO_OPERATION_FIX}",
        ),
        when(
            unknown_op & raw_op.is_not_null(),
            "unknown operation '",
            cut(raw_op),
            f"' — use {_OPERATIONS_TEXT}",
        ),
        when(key.is_null(), f"no lookup key — fill {_or_list(api.LOOKUP_KEYS)}"),
    ]
    for operation, accepted in api.OPERATION_LOOKUPS.items():
        for refused in (k for k in api.LOOKUP_KEYS if k not in accepted):
            reasons.append(
                when(
                    (op == operation) & (key == refused),
                    f"{operation} cannot look up by {refused} — fill {_or_list(accepted)}",
                )
            )
    details = api.OPERATION_PARAMS[api.SET_CUSTOMER_DETAILS]
    reasons.append(
        when(
            (op == api.SET_CUSTOMER_DETAILS)
            & pl.all_horizontal([col(p).is_null() for p in details]),
            f"{api.SET_CUSTOMER_DETAILS} needs at least one field to change",
        )
    )

    reasons.append(
        when(
            may_take("password") & (col("password") == api.REMOVE),
            "password cannot be REMOVE — the API does not allow removing a password",
        )
    )
    if has_keep:
        reasons.extend(keep_reasons(col(api.KEEP), may_take(api.KEEP), op))
    reasons.extend(_misplaced_params(op))
    email = col("email")
    reasons.append(
        when(
            may_take("email") & (email != api.REMOVE) & ~email.str.contains(_EMAIL_PATTERN),
            "email '",
            cut(email),
            "' is not an email address",
        )
    )
    return reasons


def _masked_password(col: _ColumnGetter, names: Sequence[str]) -> list[pl.Expr]:
    """A password shown as *** (how a results file shows it) is never sent as the password."""
    if "password" not in names:
        return []
    where = (
        "in this results file"
        if any(n.startswith(BOOKKEEPING_PREFIX) for n in names)
        else "as in a results file"
    )
    # On an operation that takes no password, the misplaced-parameter reason says enough.
    takers = [o for o, params in api.OPERATION_PARAMS.items() if "password" in params]
    op = pl.col(_NORMALISED)
    return [
        pl.when((op.is_null() | op.is_in(takers)) & (col("password") == api.MASK)).then(
            pl.lit(f"password is masked ({api.MASK}) {where} — retype it or clear the cell")
        )
    ]


def _refused_details() -> list[tuple[tuple[str, ...], list[str]]]:
    """Detail parameters refused, each set with the operations that refuse exactly it."""
    by_refused: dict[tuple[str, ...], list[str]] = {}
    for operation, params in api.OPERATION_PARAMS.items():
        refused = tuple(p for p in api.DETAIL_PARAMS if p not in params)
        if refused:
            by_refused.setdefault(refused, []).append(operation)
    return list(by_refused.items())


def _given_name(index: int) -> str:
    return f"__plan_given_{index}"


def _given(col: _ColumnGetter, params: Sequence[str]) -> pl.Expr:
    """The names of the non-empty ``params``, comma-separated; "" when none is given."""
    return pl.concat_str(
        [pl.when(col(p).is_not_null()).then(pl.lit(p)) for p in params],
        separator=", ",
        ignore_nulls=True,
    )


def _misplaced_params(op: pl.Expr) -> list[pl.Expr]:
    """Reasons for detail parameters given to an operation that does not take them."""
    reasons: list[pl.Expr] = []
    for index, (_, operations) in enumerate(_refused_details()):
        given = pl.col(_given_name(index))
        several = given.str.contains(",", literal=True)
        pronoun = pl.when(several).then(pl.lit("them")).otherwise(pl.lit("it"))
        reasons.append(
            pl.when(op.is_in(operations) & (given != "")).then(
                pl.concat_str(
                    op,
                    pl.lit(" does not take "),
                    given,
                    pl.lit(" — remove "),
                    pronoun,
                    pl.lit(" or change the operation"),
                )
            )
        )
    return reasons
