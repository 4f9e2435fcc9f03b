"""The keep column's checks: empty names, and names forget does not know, with a did-you-mean."""

from __future__ import annotations

import functools
import string
from typing import Final

import polars as pl

from batchtool import api
from batchtool.plan.columns import SEPARATOR
from batchtool.plan.tables import Table, table_of, translate
from batchtool.reader import cut

#: The helper column ``plan_frame`` materialises from ``unknown_keep_names``.
BAD_KEEP: Final = "__plan_bad_keep"

#: Unknown keep names per row that get a did-you-mean; any further ones are just named.
_SUGGESTED_KEEP_NAMES: Final = 3
# An empty item anywhere in a comma list: leading, trailing or doubled comma.
_EMPTY_ITEM_PATTERN: Final = r"(^|,)\s*(,|$)"
_KEEP_NAME_PATTERN: Final = r"\s*(?:" + "|".join(api.KEEP_NAMES) + r")\s*"
# A keep cell made only of known names: the common case, recognised without splitting.
_KEEP_PATTERN: Final = rf"^{_KEEP_NAME_PATTERN}(?:,{_KEEP_NAME_PATTERN})*$"


def _keep_suggestions() -> dict[str, str]:
    """Lower-cased misspelling -> keep name, for every variant one edit away from exactly one name.

    Precomputed so the did-you-mean stays a vectorised lookup instead of a per-row distance.
    """
    alphabet = string.ascii_lowercase + string.digits + "_"
    found: dict[str, set[str]] = {}
    for name in api.KEEP_NAMES:
        splits = [(name[:i], name[i:]) for i in range(len(name) + 1)]
        variants = {name}
        variants.update(a + b[1:] for a, b in splits if b)
        variants.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
        variants.update(a + c + b[1:] for a, b in splits if b for c in alphabet)
        variants.update(a + c + b for a, b in splits for c in alphabet)
        for variant in variants:
            found.setdefault(variant, set()).add(name)
    unambiguous = {variant: names.pop() for variant, names in found.items() if len(names) == 1}
    # A right name in the wrong case ("FirstName") suggests itself, even if one edit from another.
    return unambiguous | {name: name for name in api.KEEP_NAMES}


@functools.cache
def _keep_table() -> Table:
    # Built on first use: it takes ~60 ms, and most files have no keep column to check.
    return table_of(_keep_suggestions())


def unknown_keep_names(keep: pl.Expr) -> pl.Expr:
    """The trimmed, non-empty names in ``keep`` that forget does not know, as a list.

    Case-sensitive: the cell is sent as typed and the vendor lists lower-case names only, so
    "FirstName" could be silently not kept (and forgotten); it is refused with a suggestion.
    """
    # List expressions cost far more than one regex, so only cells the regex rejects are split.
    suspect = pl.when(~keep.str.contains(_KEEP_PATTERN)).then(keep)
    item = pl.element().str.strip_chars()
    return suspect.str.split(",").list.eval(item.filter((item != "") & ~item.is_in(api.KEEP_NAMES)))


def keep_reasons(keep: pl.Expr, checked: pl.Expr, op: pl.Expr) -> list[pl.Expr]:
    """Reasons about ``keep``: empty items, names forget does not know, keep off a forget row."""
    bad = pl.col(BAD_KEEP)
    not_a_name = f"' is not a field {api.FORGET} can keep"

    def unknown(name: pl.Expr) -> pl.Expr:
        return pl.concat_str(pl.lit("keep: '"), cut(name), pl.lit(not_a_name))

    # Inside list.eval a lookup is rebuilt for every row (seconds per 100k rows), so
    # the did-you-mean is looked up on flat columns, for as many names as anyone mistypes.
    messages = []
    for index in range(_SUGGESTED_KEEP_NAMES):
        name = bad.list.get(index, null_on_oob=True)
        guess = translate(name.str.to_lowercase(), _keep_table())
        hint = pl.concat_str(pl.lit(" — did you mean '"), guess, pl.lit("'?"))
        messages.append(pl.concat_str(unknown(name), hint.fill_null("")))
    rest = bad.list.slice(_SUGGESTED_KEEP_NAMES)
    messages.append(
        pl.when(rest.list.len() > 0).then(
            rest.list.eval(unknown(pl.element())).list.join(SEPARATOR)
        )
    )
    return [
        pl.when(checked & keep.str.contains(_EMPTY_ITEM_PATTERN)).then(
            pl.concat_str(
                pl.lit("keep: empty name in '"), cut(keep), pl.lit("' — remove the extra comma")
            )
        ),
        pl.when(checked & (bad.list.len() > 0)).then(
            pl.concat_str(messages, separator=SEPARATOR, ignore_nulls=True)
        ),
        pl.when(op.is_not_null() & ~checked & keep.is_not_null()).then(
            pl.lit(f"keep is only for {api.FORGET} rows")
        ),
    ]
