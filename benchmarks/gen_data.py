"""Deterministic benchmark inputs: set_customer_details CSVs of realistic text, made with polars.

Every file has the same columns: ``operation, customer_id, firstname, lastname, email, city,
zip`` (the operation plus a lookup key and five detail parameters). Row ``i`` (0-based) of an
``n``-row file targets customer ``(i * 7919) % n + 1``: a permutation of ``1..n``, so every
customer appears exactly once (no per-customer ordering stalls any contestant) and the
simulator only has to seed ``n`` customers. The content is a pure function of ``n``: the same
``n`` always gives byte-identical files, on any machine.

    .venv/bin/python benchmarks/gen_data.py              # the standard files
    .venv/bin/python benchmarks/gen_data.py --rows 5000  # one extra size

Files land in ``benchmarks/data/`` (git-ignored) as ``set_details_<n>.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

DATA_DIR = Path(__file__).resolve().parent / "data"

#: The sizes the issue asks for: throughput (10k), live memory (150k), dry run (1M).
STANDARD_SIZES = (10_000, 150_000, 1_000_000)

#: Multiplier of the customer-id permutation; prime and coprime with 2, 3 and 5, so
#: ``(i * STRIDE) % n`` is a permutation for every n made of those factors (10k, 150k, 1M...).
STRIDE = 7919

# (as written, ASCII form for the email address)
FIRST_NAMES = (
    ("James", "james"),
    ("Mary", "mary"),
    ("Robert", "robert"),
    ("Patricia", "patricia"),
    ("John", "john"),
    ("Jennifer", "jennifer"),
    ("Michael", "michael"),
    ("Linda", "linda"),
    ("David", "david"),
    ("Elizabeth", "elizabeth"),
    ("William", "william"),
    ("Barbara", "barbara"),
    ("Richard", "richard"),
    ("Susan", "susan"),
    ("Joseph", "joseph"),
    ("Jessica", "jessica"),
    ("Thomas", "thomas"),
    ("Sarah", "sarah"),
    ("Carlos", "carlos"),
    ("Karen", "karen"),
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("François", "francois"),
    ("Ángel", "angel"),
    ("Björn", "bjorn"),
    ("Siobhán", "siobhan"),
    ("Łukasz", "lukasz"),
    ("Mei", "mei"),
    ("Hiroshi", "hiroshi"),
    ("Aisha", "aisha"),
    ("Priya", "priya"),
    ("Olumide", "olumide"),
    ("Anne-Marie", "annemarie"),
    ("Jean-Luc", "jeanluc"),
    ("Noah", "noah"),
    ("Emma", "emma"),
    ("Liam", "liam"),
    ("Olivia", "olivia"),
    ("Mateo", "mateo"),
    ("Sofía", "sofia"),
    ("Ingrid", "ingrid"),
    ("Dmitri", "dmitri"),
    ("Fatima", "fatima"),
    ("Kwame", "kwame"),
    ("Chloé", "chloe"),
    ("Renée", "renee"),
    ("Søren", "soren"),
    ("Ngozi", "ngozi"),
)
LAST_NAMES = (
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Williams", "williams"),
    ("Brown", "brown"),
    ("Jones", "jones"),
    ("Garcia", "garcia"),
    ("Miller", "miller"),
    ("Davis", "davis"),
    ("Rodriguez", "rodriguez"),
    ("Martinez", "martinez"),
    ("Hernández", "hernandez"),
    ("López", "lopez"),
    ("Gonzalez", "gonzalez"),
    ("Wilson", "wilson"),
    ("Anderson", "anderson"),
    ("O'Brien", "obrien"),
    ("McDonald", "mcdonald"),
    ("Müller", "muller"),
    ("Schäfer", "schafer"),
    ("Nguyen", "nguyen"),
    ("Kowalski", "kowalski"),
    ("Novák", "novak"),
    ("Tanaka", "tanaka"),
    ("Okafor", "okafor"),
    ("Patel", "patel"),
    ("Van der Berg", "vanderberg"),
    ("De la Cruz", "delacruz"),
    ("Ó Súilleabháin", "osullivan"),
    ("Johansson", "johansson"),
    ("Rossi", "rossi"),
    ("Dubois", "dubois"),
    ("Kim", "kim"),
    ("Chen", "chen"),
    ("Ivanova", "ivanova"),
    ("Smith-Jones", "smithjones"),
    ("Fitzgerald", "fitzgerald"),
    ("Nakamura", "nakamura"),
    ("Mensah", "mensah"),
    ("Larsen", "larsen"),
    ("Costa", "costa"),
)
CITIES = (
    "New York",
    "Los Angeles",
    "Chicago",
    "Houston",
    "Phoenix",
    "Philadelphia",
    "San Antonio",
    "San Diego",
    "Dallas",
    "San José",
    "Austin",
    "Jacksonville",
    "Fort Worth",
    "Columbus",
    "Charlotte",
    "Indianapolis",
    "San Francisco",
    "Seattle",
    "Denver",
    "Washington, D.C.",
    "Boston",
    "Nashville",
    "Portland",
    "Las Vegas",
    "Coeur d'Alene",
    "St. Louis",
    "Winston-Salem",
    "Montréal",
    "Toronto",
    "London",
    "Saint-Étienne",
    "München",
    "Kraków",
    "São Paulo",
    "Zürich",
    "Reykjavík",
    "Dublin",
    "Amsterdam",
    "Lyon",
    "Melbourne",
)
DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
    "example.com",
    "example.org",
    "mail.example.net",
    "aol.com",
    "gmx.de",
    "web.de",
)


def _pick(values: tuple[str, ...], h: pl.Expr) -> pl.Expr:
    """Deterministically pick one of ``values`` per row from the integer expression ``h``."""
    return pl.lit(pl.Series(values, dtype=pl.String)).gather(h % len(values))


def _mix(i: pl.Expr, salt: int) -> pl.Expr:
    """A cheap, platform-independent integer hash of the row index (Knuth multiplicative)."""
    return ((i * 2_654_435_761 + salt * 40_503) % 4_294_967_296) // 977


def frame(n: int) -> pl.DataFrame:
    """The ``n``-row benchmark frame: every column is text, exactly as it will be written."""
    i = pl.int_range(0, n, dtype=pl.UInt64).alias("i")
    base = pl.select(i)
    first_ix = _mix(pl.col("i"), 1) % len(FIRST_NAMES)
    last_ix = _mix(pl.col("i"), 2) % len(LAST_NAMES)
    df = base.with_columns(
        pl.lit("set_customer_details").alias("operation"),
        ((pl.col("i") * STRIDE) % n + 1).cast(pl.String).alias("customer_id"),
        _pick(tuple(f for f, _ in FIRST_NAMES), first_ix).alias("firstname"),
        _pick(tuple(last for last, _ in LAST_NAMES), last_ix).alias("lastname"),
        pl.concat_str(
            _pick(tuple(a for _, a in FIRST_NAMES), first_ix),
            pl.lit("."),
            _pick(tuple(a for _, a in LAST_NAMES), last_ix),
            (pl.col("i") % 1000).cast(pl.String),
            pl.lit("@"),
            _pick(DOMAINS, _mix(pl.col("i"), 3)),
        ).alias("email"),
        _pick(CITIES, _mix(pl.col("i"), 4)).alias("city"),
        # US-style zip codes, zero-padded: "02139" must stay "02139".
        (_mix(pl.col("i"), 5) % 99_000 + 501).cast(pl.String).str.zfill(5).alias("zip"),
    )
    return df.drop("i")


MIXED_OPERATIONS = ("lock", "unlock", "forget")


def mixed_frame(n: int) -> pl.DataFrame:
    """Issue 9's dry-run file: 7 columns, every fourth row a ``set`` with every field, the
    others lock/unlock/forget with only the customer id (empty cells elsewhere)."""
    full = frame(n)
    i = pl.int_range(0, n, dtype=pl.UInt64)
    is_set = (i % 4) == 3
    detail = ("firstname", "lastname", "email", "zip")
    return full.with_columns(
        pl.when(is_set)
        .then(pl.lit("set"))
        .otherwise(_pick(MIXED_OPERATIONS, i))
        .alias("operation"),
        *(pl.when(is_set).then(pl.col(c)).alias(c) for c in detail),
        pl.when(is_set).then(pl.col("city")).alias("custom1"),
    ).select("operation", "customer_id", *detail, "custom1")


def mixed_path_for(n: int) -> Path:
    return DATA_DIR / f"mixed7_{n}.csv"


def ensure_mixed(n: int, *, force: bool = False) -> Path:
    """Write the ``n``-row mixed 7-column file unless it is already there."""
    return _ensure(mixed_path_for(n), n, mixed_frame, force=force)


#: Scenario 11: of the customers in last night's file, every this-many-th had another name.
SYNC_CHANGED_EVERY = 100


def sync_state_path_for(n: int) -> Path:
    return DATA_DIR / f"sync_state_{n}.parquet"


def ensure_sync_state(n: int, *, force: bool = False) -> Path:
    """The sync state a ``--changed-only`` run on the ``n``-row file finds: what last night's
    file applied ok, where every ``SYNC_CHANGED_EVERY``-th row had another first name (so
    tonight 1% of the rows changed). Made with batchtool's own functions; the same ``n``
    always gives the same state."""
    path = sync_state_path_for(n)
    if not force and path.exists() and pl.scan_parquet(path).select(pl.len()).collect().item() == n:
        return path
    # Imported here: only this generator needs batchtool itself.
    from batchtool.plan import plan_frame
    from batchtool.sync_diff import empty_state, updated_state
    from batchtool.sync_state import StateFile

    i = pl.int_range(0, n, dtype=pl.UInt64)
    last_night = frame(n).with_columns(
        pl.when(i % SYNC_CHANGED_EVERY == 0)
        .then(pl.lit("Formerly"))
        .otherwise(pl.col("firstname"))
        .alias("firstname")
    )
    rows = last_night.with_row_index("row", offset=1).cast({"row": pl.Int64})
    state = updated_state(empty_state(), plan_frame(rows.lazy()), rows.select("row"))
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    StateFile(path, ("customer_id",)).write(state)
    return path


def path_for(n: int) -> Path:
    return DATA_DIR / f"set_details_{n}.csv"


def ensure(n: int, *, force: bool = False) -> Path:
    """Write the ``n``-row file unless it is already there with the right row count."""
    return _ensure(path_for(n), n, frame, force=force)


def _ensure(
    path: Path, n: int, make: Callable[[int], pl.DataFrame], *, force: bool = False
) -> Path:
    if not force and path.exists() and _line_count(path) == n + 1:
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    make(n).write_csv(tmp)
    tmp.replace(path)
    return path


def _line_count(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=int,
        action="append",
        help="size to generate (repeatable); default: the standard sizes",
    )
    parser.add_argument("--force", action="store_true", help="rewrite even if present")
    args = parser.parse_args(argv)
    for n in args.rows or STANDARD_SIZES:
        t0 = time.perf_counter()
        path = ensure(n, force=args.force)
        print(f"{path}  {n:,} rows  {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
