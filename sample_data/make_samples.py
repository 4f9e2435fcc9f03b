"""Regenerate the sample input files in this folder, byte for byte the same on every run.

    .venv/bin/python sample_data/make_samples.py

The simulator seeds customers 1..1000; every sample row targets one of them. In the files
that are meant to run cleanly, rows for one customer are ordered so each change is allowed
when it arrives: a locked customer refuses set_customer_details, so a lock is followed by its
unlock before that customer's next update.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import polars as pl
import xlsxwriter

HERE = Path(__file__).resolve().parent

# Fixed so the .xlsx does not change with the day it was generated on.
_CREATED = dt.datetime(2025, 1, 6, 9, 0, 0)

# --- ops_changes.xlsx: the demo; an ops person's sheet with human headers ------------------

OPS_HEADERS = (
    "Operation",
    "Customer ID",
    "Subscription ID",
    "First Name",
    "Last Name",
    "E-mail",
    "Address 1",
    "Address 2",
    "City",
    "State",
    "Zip",
    "Country",
    "Custom 1",
    "Keep",
)

# (operation, customer id, {header: value}); a date value becomes a real Excel date cell.
OPS_ROWS: tuple[tuple[str, int, dict[str, str | dt.date]], ...] = (
    ("Update", 101, {"First Name": "Maria", "Last Name": "Gonzalez",
                     "E-mail": "maria.gonzalez@example.com"}),
    ("Update", 102, {"City": "Boston", "State": "MA", "Zip": "02134", "Country": "US"}),
    ("Update", 103, {"E-mail": "j.smith@example.org"}),
    ("Lock", 250, {}),
    ("Lock", 251, {}),
    ("Lock", 252, {}),
    ("Unlock", 250, {}),
    ("Update", 250, {"Address 1": "12 Harbour Way", "City": "Leeds", "State": "West Yorkshire",
                     "Zip": "LS1 4AP", "Country": "GB"}),
    ("Update", 104, {"Address 2": "REMOVE"}),
    ("Update", 105, {"Custom 1": dt.date(2025, 1, 31)}),
    ("Forget", 400, {}),
    ("Forget", 401, {"Keep": "username,firstname,lastname"}),
    ("Forget", 402, {"Keep": "member_note"}),
    ("Unlock", 251, {}),
    ("Update", 106, {"City": "Amherst", "State": "MA", "Zip": "01002"}),
    ("Update", 107, {"Last Name": "REMOVE"}),
    ("Lock", 300, {}),
    ("Update", 108, {"First Name": "Zoë", "Last Name": "Brontë"}),
    ("Update", 109, {"E-mail": "  padded.cell@example.com  "}),
    ("Unlock", 252, {}),
    ("set_customer_details", 252, {"E-mail": "unlocked.then.updated@example.com"}),
    ("Forget", 403, {"Keep": "password,session"}),
    ("Update", 110, {"City": "Toronto", "State": "ON", "Zip": "M5V 2T6", "Country": "CA"}),
    ("Lock", 500, {}),
    ("Update", 112, {"First Name": "Jean-Luc", "Last Name": "Picard"}),
    ("Unlock", 300, {}),
    ("Update", 113, {"City": "São Paulo", "State": "SP", "Country": "BR"}),
    ("Forget", 404, {"Keep": "firstname,lastname,city,country"}),
    ("Update", 114, {"Address 1": "500 Elm St", "City": "Chicago", "State": "IL",
                     "Zip": "60601", "Custom 1": dt.date(2024, 12, 1)}),
    ("Update", 300, {"E-mail": "after.unlock@example.com"}),
)  # fmt: skip


def write_ops_xlsx(path: Path) -> None:
    workbook = xlsxwriter.Workbook(path)
    workbook.set_properties({"title": "Customer changes", "author": "Ops", "created": _CREATED})
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = workbook.add_format({"num_format": "@"})  # zip codes keep their leading zeros
    date = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet = workbook.add_worksheet("Changes")
    sheet.write_row(0, 0, OPS_HEADERS, bold)
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, 0, 20)
    sheet.set_column(1, 2, 14)
    sheet.set_column(3, len(OPS_HEADERS) - 1, 18)
    column = {header: i for i, header in enumerate(OPS_HEADERS)}
    for r, (operation, customer_id, values) in enumerate(OPS_ROWS, start=1):
        sheet.write_string(r, column["Operation"], operation)
        sheet.write_number(r, column["Customer ID"], customer_id)  # stored as a number
        for header, value in values.items():
            if isinstance(value, dt.date):
                sheet.write_datetime(r, column[header], value, date)
            else:
                sheet.write_string(r, column[header], value, text)
    sheet.autofilter(0, 0, len(OPS_ROWS), len(OPS_HEADERS) - 1)
    notes = workbook.add_worksheet("Notes")
    notes.write(0, 0, "Ticket OPS-1234: customer changes requested by support, January batch.")
    workbook.close()


# --- changes.*: every operation and lookup key, API-style headers ----------------------------

API_HEADERS = (
    "operation",
    "customer_id",
    "subscription_id",
    "orderid",
    "firstname",
    "lastname",
    "email",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    "custom1",
    "username",
    "password",
    "keep",
)

# The simulator gives customer i subscription id f"S{i}" and order id 100000 + i. Rows for one
# customer use one lookup key: rows reached by different keys may run in parallel.
CHANGES: tuple[dict[str, str], ...] = (
    {"operation": "set_customer_details", "customer_id": "191", "firstname": "Ann",
     "lastname": "Lee", "email": "ann.lee@example.com"},
    {"operation": "set", "customer_id": "192", "zip": "01234", "city": "Springfield",
     "state": "MA"},
    {"operation": "update", "subscription_id": "S193", "address1": "1 Main St",
     "address2": "REMOVE"},
    {"operation": "details", "customer_id": "194", "custom1": "gold", "username": "ann194"},
    {"operation": "set", "customer_id": "195", "password": "s3cret pass"},
    {"operation": "lock", "customer_id": "196"},
    {"operation": "lock", "orderid": "100197"},
    {"operation": "unlock", "customer_id": "196"},
    {"operation": "set", "customer_id": "196", "email": "back@example.com"},
    {"operation": "unlock", "orderid": "100197"},
    {"operation": "unlock", "subscription_id": "S201"},
    {"operation": "forget", "customer_id": "198"},
    {"operation": "forget", "customer_id": "199", "keep": "username,firstname,member_note"},
    {"operation": "FORGET", "orderid": "100200", "keep": "password"},
)  # fmt: skip


def _rows(records: tuple[dict[str, str], ...], headers: tuple[str, ...]) -> list[list[str]]:
    return [[record.get(h, "") for h in headers] for record in records]


def write_delimited(path: Path, records: tuple[dict[str, str], ...], headers: tuple[str, ...],
                    delimiter: str = ",") -> None:  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(_rows(records, headers))


def write_parquet(path: Path) -> None:
    columns: dict[str, pl.Series] = {}
    for header in API_HEADERS:
        values = [record.get(header) for record in CHANGES]
        if header == "customer_id":
            # Stored as numbers, the way a database export would: read back as "191".
            columns[header] = pl.Series(header, [int(v) if v else None for v in values], pl.Int64)
        else:
            columns[header] = pl.Series(header, values, pl.String)
    pl.DataFrame(columns).write_parquet(path, statistics=False)


def write_jsonl(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for record in CHANGES:
            out: dict[str, str | int] = dict(record)
            if "customer_id" in out:
                out["customer_id"] = int(record["customer_id"])  # a JSON number
            f.write(json.dumps(out, ensure_ascii=False) + "\n")


# --- mistakes.csv: row-level mistakes, each reported on its own row --------------------------

MISTAKES: tuple[dict[str, str], ...] = (
    {"operation": "lock", "customer_id": "301"},  # fine
    {"operation": "set", "firstname": "Nobody"},  # no lookup key
    {"operation": "set", "customer_id": "302", "password": "REMOVE"},  # password can't be removed
    {"operation": "forget", "customer_id": "303", "keep": "firstname,favourite_color"},  # bad keep
    {"operation": "lock", "customer_id": "304", "keep": "username"},  # keep on a lock row
    {"operation": "set", "customer_id": "305", "email": "not-an-email"},  # bad email
    {"operation": "delete", "customer_id": "306"},  # unknown operation
    {"operation": "set", "orderid": "100307", "city": "Austin"},  # set can't use orderid
    {"operation": "unlock", "customer_id": "308", "firstname": "Eve"},  # detail on unlock
    {"operation": "set", "customer_id": "309"},  # set with nothing to set
    {"operation": "set", "customer_id": "310", "city": "Portland"},  # fine
)
MISTAKE_HEADERS = ("operation", "customer_id", "orderid", "firstname", "email", "city",
                   "password", "keep")  # fmt: skip


# --- files as ops save them: a European Excel CSV, a sheet with a title above its header ------

EUROPEAN_HEADERS = ("Operation", "Customer ID", "First Name", "Last Name", "City", "Zip")
EUROPEAN_ROWS = (
    ("Update", "121", "Jürgen", "Müller", "Köln, Innenstadt", "50667"),
    ("Update", "122", "Françoise", "Lefèvre", "Paris", "75001"),
    ("Lock", "123", "", "", "", ""),
    ("Unlock", "123", "", "", "", ""),
    ("Update", "124", "", "", "Bruxelles, Ixelles", "01050"),
)


def write_european_csv(path: Path) -> None:
    """What Excel in most of Europe saves as "CSV UTF-8": ; between fields, a BOM, CRLF."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n")
        writer.writerow(EUROPEAN_HEADERS)
        writer.writerows(EUROPEAN_ROWS)


def write_titled_xlsx(path: Path) -> None:
    """An ops sheet with a title and a blank row above the header, which is on row 3."""
    workbook = xlsxwriter.Workbook(path)
    workbook.set_properties({"title": "Unlock requests", "author": "Ops", "created": _CREATED})
    sheet = workbook.add_worksheet("Week 48")
    sheet.write(0, 0, "Unlock requests, week 48", workbook.add_format({"bold": True}))
    sheet.write_row(2, 0, ("Operation", "Customer ID"), workbook.add_format({"bold": True}))
    for r, customer_id in enumerate((131, 132, 133, 134), start=3):
        sheet.write_string(r, 0, "Unlock")
        sheet.write_number(r, 1, customer_id)
    workbook.close()


def main() -> None:
    write_ops_xlsx(HERE / "ops_changes.xlsx")
    write_delimited(HERE / "changes.csv", CHANGES, API_HEADERS)
    write_delimited(HERE / "changes.tsv", CHANGES, API_HEADERS, delimiter="\t")
    write_parquet(HERE / "changes.parquet")
    write_jsonl(HERE / "changes.jsonl")
    write_delimited(HERE / "mistakes.csv", MISTAKES, MISTAKE_HEADERS)
    write_delimited(
        HERE / "typo_header.csv",
        ({"operation": "set", "customer_id": "311", "fristname": "Ann"},),
        ("operation", "customer_id", "fristname"),
    )
    write_european_csv(HERE / "european_excel.csv")
    write_titled_xlsx(HERE / "unlock_requests.xlsx")


if __name__ == "__main__":
    main()
