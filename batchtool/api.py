"""The vendor's customer API as data: operations, their lookup keys and parameters, keep names.

Everything else in batchtool reads these tables instead of spelling API names itself, so the
API is described once (from the vendor's pages in ``shared/seeds``).
"""

from __future__ import annotations

import unicodedata
from typing import Final

from batchtool.aliases import ALIASES, SIGN_IN_ALIASES

SET_CUSTOMER_DETAILS: Final = "set_customer_details"
LOCK: Final = "lock"
UNLOCK: Final = "unlock"
FORGET: Final = "forget"

OPERATIONS: Final[tuple[str, ...]] = (SET_CUSTOMER_DETAILS, LOCK, UNLOCK, FORGET)

#: Every spelling a user may put in the operation column (compared lower-cased, trimmed).
OPERATION_ALIASES: Final[dict[str, str]] = {
    "set_customer_details": SET_CUSTOMER_DETAILS,
    "set": SET_CUSTOMER_DETAILS,
    "update": SET_CUSTOMER_DETAILS,
    "details": SET_CUSTOMER_DETAILS,
    "lock": LOCK,
    "unlock": UNLOCK,
    "forget": FORGET,
}

#: Lookup keys in priority order: the first non-empty one is the one sent.
LOOKUP_KEYS: Final[tuple[str, ...]] = ("customer_id", "subscription_id", "orderid")

#: Lookup keys each operation accepts (set_customer_details cannot look up by orderid).
OPERATION_LOOKUPS: Final[dict[str, tuple[str, ...]]] = {
    SET_CUSTOMER_DETAILS: ("customer_id", "subscription_id"),
    LOCK: LOOKUP_KEYS,
    UNLOCK: LOOKUP_KEYS,
    FORGET: LOOKUP_KEYS,
}

#: Parameters of set_customer_details, in the order the vendor's page lists them.
DETAIL_PARAMS: Final[tuple[str, ...]] = (
    "firstname",
    "lastname",
    "email",
    "address1",
    "address2",
    "city",
    "state",
    "country",
    "zip",
    "custom1",
    "custom2",
    "custom3",
    "custom4",
    "custom5",
    "password",
    "username",
)

#: The literal value that removes a field (not allowed for password).
REMOVE: Final = "REMOVE"

#: Names ``forget``'s ``keep`` parameter accepts: fields, then tables.
KEEP_NAMES: Final[tuple[str, ...]] = (
    "username",
    "token_hash",
    "original_username",
    "password",
    "cryptpass",
    "session",
    "firstname",
    "lastname",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    "shipping_firstname",
    "shipping_lastname",
    "shipping_address1",
    "shipping_address2",
    "shipping_zip",
    "shipping_city",
    "shipping_state",
    "shipping_country",
    "phone",
    "member_auth",
    "member_note",
)

KEEP: Final = "keep"
OPERATION_COLUMN: Final = "operation"

#: Parameters each operation accepts besides its lookup key.
OPERATION_PARAMS: Final[dict[str, tuple[str, ...]]] = {
    SET_CUSTOMER_DETAILS: DETAIL_PARAMS,
    LOCK: (),
    UNLOCK: (),
    FORGET: (KEEP,),
}

#: Every column name an input file may have, after normalisation.
KNOWN_COLUMNS: Final[tuple[str, ...]] = (
    OPERATION_COLUMN,
    *LOOKUP_KEYS,
    *DETAIL_PARAMS,
    KEEP,
)

#: Values never written anywhere (results, journal, logs) in clear.
SECRET_COLUMNS: Final[frozenset[str]] = frozenset({"password"})
MASK: Final = "***"

#: Columns whose values keep their surrounding whitespace (a password is typed exactly).
UNTRIMMED_COLUMNS: Final[frozenset[str]] = frozenset({"password"})

API_PREFIX: Final = "/api/customer/"


def endpoint_url(base_url: str, operation: str) -> str:
    """The URL of ``operation`` under an installation root, with or without a trailing ``/api``."""
    base = base_url.rstrip("/")
    if base.endswith("/api"):
        base = base[: -len("/api")]
    return f"{base}{API_PREFIX}{operation}"


#: Characters a header's matching key leaves out (a BOM stuck to the first header included).
_NOT_COUNTED: Final = frozenset(" _-.\t\ufeff'’")


def normalise_column_name(name: str) -> str:
    """Column-name matching key: case, accents, spaces, ``_``, ``-``, ``.`` and apostrophes
    are ignored, and ``ß`` is ``ss`` ("Straße" and "STRASSE" are one key)."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    return "".join(
        ch for ch in folded if ch not in _NOT_COUNTED and not unicodedata.combining(ch)
    )


def _lookup() -> dict[str, str]:
    lookup = {normalise_column_name(c): c for c in KNOWN_COLUMNS}
    for column, spellings in ALIASES.items():
        for spelling in spellings:
            key = normalise_column_name(spelling)
            if lookup.setdefault(key, column) != column:
                raise ValueError(f"alias {spelling!r} of {column} already means {lookup[key]}")
    return lookup


#: normalised spelling -> API name: the API's own names ("firstname", "orderid") and the
#: headers that mean them in other languages (``aliases``: "vorname" -> "firstname").
COLUMN_LOOKUP: Final[dict[str, str]] = _lookup()
#: The API names a header may only be mapped to by a person: they change how a customer
#: signs in, so the ops page never preselects them on a guess.
SIGN_IN_COLUMNS: Final[frozenset[str]] = frozenset({"username", "password"})
#: Other languages' words for those (normalised) -> the API name, to name it as a hint only.
SIGN_IN_HINTS: Final[dict[str, str]] = {
    normalise_column_name(spelling): column
    for column, spellings in SIGN_IN_ALIASES.items()
    for spelling in spellings
}
