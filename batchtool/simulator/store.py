"""The simulator's customer store: seeded customers, lookups, the API's changes, JSON state.

Seeding is deterministic. ``Store(customers=N)`` holds customers 1..N where, for id ``i``:

- ``customer_id`` is ``str(i)`` ("1".."N"),
- ``subscription_id`` is ``f"S{i}"`` ("S1".."SN"),
- ``orderid`` is ``str(100000 + i)`` ("100001".."1000N" – e.g. customer 191 has orderid "100191"),

plus plausible firstname, lastname, email, address, username, phone, shipping address and the
other fields ``forget`` knows, all derived from ``i`` alone (the same ``i`` always gives the same
customer, in any process). Lookups compare text exactly: ``"01"`` is not customer 1.

Seeded customers are materialised lazily, on first lookup, so a store of a million customers costs
only what the run touches. The state file holds the materialised customers and ``N``.

Passwords are never kept in clear: ``fields["password"]`` holds ``"sha256:<hex>"`` of the value
sent; use :meth:`Customer.password_matches` to check one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchtool import api

STATE_FORMAT = "batchtool-simulator-state"
STATE_VERSION = 1

#: ``keep`` names that are tables of rows rather than fields of the customer.
KEEP_TABLES: frozenset[str] = frozenset({"member_auth", "member_note"})

#: Fields ``forget`` clears (unless kept): the keepable fields, and email, which cannot be kept.
FORGET_FIELDS: tuple[str, ...] = (
    *(name for name in api.KEEP_NAMES if name not in KEEP_TABLES),
    "email",
)

ORDERID_OFFSET = 100000
SUBSCRIPTION_PREFIX = "S"

_FIRST_NAMES = (
    "Ada", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal",
    "Katja", "Luis", "Mei", "Nora", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tamar",
)  # fmt: skip
_LAST_NAMES = (
    "Abbott", "Becker", "Castro", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi",
    "Schmidt", "Tanaka", "Varga",
)  # fmt: skip
_STREETS = ("Main St", "Oak Ave", "Harbor Rd", "Mill Lane", "Elm St", "Park Blvd", "Lake Dr")
_PLACES = (  # (city, state, zip prefix, country): consistent with each other
    ("Springfield", "IL", "627", "US"),
    ("Portland", "OR", "972", "US"),
    ("Austin", "TX", "787", "US"),
    ("Toronto", "ON", "M5V", "CA"),
    ("Leeds", "West Yorkshire", "LS1", "GB"),
    ("Berlin", "BE", "101", "DE"),
)


def password_digest(password: str) -> str:
    """How the store keeps a password: a digest, so no state file or admin view shows it."""
    return "sha256:" + hashlib.sha256(password.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Customer:
    """One customer. ``fields`` maps field name to text; a removed or forgotten field is absent."""

    customer_id: str
    subscription_id: str
    orderid: str
    fields: dict[str, str] = field(default_factory=dict)
    tables: dict[str, list[str]] = field(default_factory=dict)
    locked: bool = False
    forgotten: bool = False

    def password_matches(self, password: str) -> bool:
        return self.fields.get("password") == password_digest(password)

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "subscription_id": self.subscription_id,
            "orderid": self.orderid,
            "locked": self.locked,
            "forgotten": self.forgotten,
            "fields": dict(self.fields),
            "tables": {name: list(rows) for name, rows in self.tables.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Customer:
        return cls(
            customer_id=str(data["customer_id"]),
            subscription_id=str(data["subscription_id"]),
            orderid=str(data["orderid"]),
            fields={str(k): str(v) for k, v in data.get("fields", {}).items()},
            tables={str(k): [str(r) for r in v] for k, v in data.get("tables", {}).items()},
            locked=bool(data.get("locked", False)),
            forgotten=bool(data.get("forgotten", False)),
        )

    # The three changes the API makes. Validation is the app's job; these only apply.

    def set_details(self, params: dict[str, str]) -> None:
        for name, value in params.items():
            if value == api.REMOVE:
                self.fields.pop(name, None)
            elif name == "password":
                self.fields[name] = password_digest(value)
            else:
                self.fields[name] = value

    def forget(self, keep: frozenset[str]) -> None:
        for name in FORGET_FIELDS:
            if name not in keep:
                self.fields.pop(name, None)
        for table in KEEP_TABLES:
            if table not in keep:
                self.tables[table] = []
        self.forgotten = True


def seed_customer(i: int) -> Customer:
    """Customer ``i`` as seeded: a pure function of ``i``."""
    # random.Random(int) is stable across processes and Python versions (unlike hash()).
    rng = random.Random(i)
    first = rng.choice(_FIRST_NAMES)
    last = rng.choice(_LAST_NAMES)
    city, state, zip_prefix, country = rng.choice(_PLACES)
    address1 = f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}"
    zip_code = f"{zip_prefix}{rng.randint(0, 99):02d}"
    username = f"{first}{last}{i}".lower()
    fields = {
        "firstname": first,
        "lastname": last,
        "email": f"{first}.{last}.{i}@example.com".lower(),
        "address1": address1,
        "city": city,
        "state": state,
        "zip": zip_code,
        "country": country,
        "phone": f"+1-555-{rng.randint(0, 9999):04d}",
        "username": username,
        "original_username": username,
        "password": password_digest(f"seed-password-{i}"),
        "cryptpass": f"$1$seed${rng.getrandbits(64):016x}",
        "token_hash": f"{rng.getrandbits(128):032x}",
        "session": f"{rng.getrandbits(64):016x}",
        "shipping_firstname": first,
        "shipping_lastname": last,
        "shipping_address1": address1,
        "shipping_city": city,
        "shipping_state": state,
        "shipping_zip": zip_code,
        "shipping_country": country,
    }
    if rng.random() < 0.3:
        fields["address2"] = f"Apt {rng.randint(1, 99)}"
        fields["shipping_address2"] = fields["address2"]
    return Customer(
        customer_id=str(i),
        subscription_id=f"{SUBSCRIPTION_PREFIX}{i}",
        orderid=str(ORDERID_OFFSET + i),
        fields=fields,
        tables={
            "member_auth": [f"login {username} from 192.0.2.{i % 250 + 1}"],
            "member_note": [f"customer {i} created by the simulator"],
        },
    )


def _canonical_int(text: str) -> int | None:
    """The int spelled by ``text`` in canonical decimal (no sign, no leading zero), else None."""
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        return None
    return int(text)


class Store:
    """Customers 1..``customers`` (seeded) plus any loaded from a state file; see the module doc."""

    def __init__(self, customers: int = 1000) -> None:
        if customers < 0:
            raise ValueError(f"customers must be 0 or more, not {customers}")
        self.customers = customers
        self._records: dict[str, Customer] = {}
        self._by_subscription: dict[str, str] = {}
        self._by_orderid: dict[str, str] = {}

    def find(self, key: str, value: str) -> Customer | None:
        """The customer whose ``key`` (one of ``api.LOOKUP_KEYS``) equals ``value``, or None."""
        if key == "customer_id":
            customer = self._records.get(value)
            if customer is not None:
                return customer
            return self._seeded(_canonical_int(value))
        if key == "subscription_id":
            index = self._by_subscription
            number = (
                _canonical_int(value[len(SUBSCRIPTION_PREFIX) :])
                if value.startswith(SUBSCRIPTION_PREFIX)
                else None
            )
        elif key == "orderid":
            index = self._by_orderid
            number = _canonical_int(value)
            number = None if number is None else number - ORDERID_OFFSET
        else:
            raise ValueError(f"not a lookup key: {key!r}")
        customer_id = index.get(value)
        if customer_id is not None:
            return self._records[customer_id]
        return self._seeded(number)

    def get(self, customer_id: str) -> Customer | None:
        """The customer with this ``customer_id``, or None."""
        return self.find("customer_id", customer_id)

    def _seeded(self, number: int | None) -> Customer | None:
        if number is None or not 1 <= number <= self.customers:
            return None
        if str(number) in self._records:
            # Materialised already, so its ids are indexed: the lookup that led here did not match.
            return None
        customer = seed_customer(number)
        self._add(customer)
        return customer

    def _add(self, customer: Customer) -> None:
        self._records[customer.customer_id] = customer
        self._by_subscription[customer.subscription_id] = customer.customer_id
        self._by_orderid[customer.orderid] = customer.customer_id

    def materialised(self) -> list[Customer]:
        """Customers touched so far (or loaded), in customer_id order where numeric."""
        return sorted(self._records.values(), key=_id_sort_key)

    # State file

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "customers": self.customers,
            "records": [c.to_json() for c in self.materialised()],
        }

    @classmethod
    def from_json(cls, data: Any, customers: int | None = None) -> Store:
        """A store from :meth:`to_json` output; ``customers``, if given, sets the seeded count."""
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError("not a batchtool simulator state file")
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {data.get('version')!r}")
        store = cls(int(data["customers"]) if customers is None else customers)
        for record in data["records"]:
            store._add(Customer.from_json(record))
        return store

    def save(self, path: Path) -> None:
        """Write the state atomically: a crash mid-save leaves the previous file intact."""
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(self.to_json(), fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, customers: int | None = None) -> Store:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
        return cls.from_json(data, customers)


def _id_sort_key(customer: Customer) -> tuple[int, int, str]:
    number = _canonical_int(customer.customer_id)
    return (0, number, "") if number is not None else (1, 0, customer.customer_id)
