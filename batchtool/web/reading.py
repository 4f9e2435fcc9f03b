"""The controls that stand for the command line's reading options, and the page's words for
what an error asks to be done.

Where ``batchtool run`` takes ``--sheet``, ``--encoding``, ``--header-row``, ``--delimiter`` or
``--operation``, the page offers a sheet picker, an encoding, the "Reading options" and a
default operation, and checks the kept upload again with what was chosen. This module holds
what each control offers (``ENCODINGS``, ``DELIMITERS``), reads a form's choices into a run's
options (``chosen``), says how a file was read (``read_as_facts``), and words an engine error
for the page from its problem and its remedy (``say``): the page never names an option.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from typing import Any, Final

from batchtool import api, remedies
from batchtool.errors import BatchtoolError
from batchtool.reader import MAX_ROWS

#: The encodings offered for text that is not UTF-8 (without a byte order mark, which says
#: its own): the ones a European office's exports come in. Codec -> what a person calls it.
ENCODINGS: Final[dict[str, str]] = {
    "cp1252": "Western European (Windows-1252)",
    "cp1250": "Central European (Windows-1250)",
    "cp1251": "Cyrillic (Windows-1251)",
    "cp1253": "Greek (Windows-1253)",
    "iso8859-15": "Western European (ISO 8859-15)",
    "mac-roman": "Western European (Mac)",
    "utf-16-le": "Unicode (UTF-16 little-endian)",
    "utf-16-be": "Unicode (UTF-16 big-endian)",
    "utf-8": "Unicode (UTF-8)",
}
#: The delimiters offered: form value -> (the character, what a person calls it).
DELIMITERS: Final[dict[str, tuple[str, str]]] = {
    "comma": (",", "Comma (,)"),
    "semicolon": (";", "Semicolon (;)"),
    "tab": ("\t", "Tab"),
    "pipe": ("|", "Pipe (|)"),
}
_DELIMITER_WORDS: Final = {char: words for char, words in DELIMITERS.values()}

#: Option names as a run's options (``meta.json``) record them.
SHEET: Final = "sheet"
ENCODING: Final = "encoding"
HEADER_ROW: Final = "header_row"
DELIMITER: Final = "delimiter"
OPERATION: Final = "operation"
#: The options that change which columns a file has: choosing one again asks the column
#: mapping again too.
_READING: Final = (SHEET, ENCODING, HEADER_ROW, DELIMITER)


class Refused(ValueError):
    """A form's choice the page cannot take; ``str`` says why, for the page."""


def chosen(fields: Mapping[str, str], *, sheets: tuple[str, ...] = ()) -> dict[str, Any]:
    """The reading options a form chose (every field optional; empty means "find it"):
    Refused when one is not a choice the page offers."""
    options: dict[str, Any] = {}
    sheet = fields.get(SHEET, "").strip()
    if sheets and sheet and sheet not in sheets:
        raise Refused("Choose a sheet from the list.")
    options[SHEET] = sheet or None
    encoding = fields.get(ENCODING, "").strip()
    if encoding and encoding not in ENCODINGS:
        raise Refused("Choose an encoding from the list.")
    options[ENCODING] = encoding or None
    delimiter = fields.get(DELIMITER, "").strip()
    if delimiter and delimiter not in DELIMITERS:
        raise Refused("Choose a delimiter from the list.")
    options[DELIMITER] = DELIMITERS[delimiter][0] if delimiter else None
    options[HEADER_ROW] = _header_row(fields.get(HEADER_ROW, "").strip())
    operation = fields.get(OPERATION, "").strip()
    if operation and operation not in api.OPERATIONS:
        raise Refused("Choose a default operation from the list.")
    options[OPERATION] = operation or None
    return options


def _header_row(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_ROWS:
        raise Refused(
            "Header row: give the number of the line or sheet row the column names are on, "
            "such as 3, or leave it empty."
        )
    return int(text)


def changes_columns(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether ``after`` reads the file otherwise than ``before`` (its columns may differ)."""
    return any(before.get(option) != after.get(option) for option in _READING)


def delimiter_field(char: str | None) -> str:
    """The form value of a delimiter character ("" for "find it")."""
    return next((name for name, (c, _) in DELIMITERS.items() if c == char), "")


def encoding_label(codec: str | None) -> str:
    """What a person calls the encoding of text decoded with ``codec`` (None: UTF-8)."""
    if codec is None:
        return ENCODINGS["utf-8"]
    name = codecs.lookup(codec).name
    for offered, label in ENCODINGS.items():
        if codecs.lookup(offered).name == name:
            return label
    return codec


def read_as_facts(read_as: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """How the file was read, as (what, how) pairs the plan shows: the sheet ("Unlocks (2 of
    3)"), the header's place when it is not the first, the delimiter, the encoding."""
    if not read_as:
        return []
    facts: list[tuple[str, str]] = []
    sheets = list(read_as.get("sheets") or [])
    sheet = read_as.get("sheet")
    if sheet is not None:
        at = f" ({sheets.index(sheet) + 1} of {len(sheets)})" if sheet in sheets else ""
        facts.append(("Sheet", f"{sheet}{at}"))
    header = int(read_as.get("header_row") or 1)
    if header != 1:
        facts.append(("Header", f"{'sheet row' if sheet is not None else 'line'} {header}"))
    delimiter = read_as.get("delimiter")
    if delimiter is not None:
        facts.append(("Delimiter", _DELIMITER_WORDS.get(delimiter, repr(delimiter))))
    if read_as.get("format") in ("csv", "tsv", "jsonl"):
        facts.append(("Encoding", encoding_label(read_as.get("encoding"))))
    return facts


#: The problems no reading option fixes: the file is not one batchtool reads.
_NOT_READABLE: Final = frozenset(
    {remedies.NotASpreadsheet.kind, remedies.SaveAs.kind, remedies.Rename.kind}
)


def offers_controls(remedy: Mapping[str, Any] | None) -> bool:
    """Whether reading the file otherwise may help with the problem ``remedy`` stands for."""
    return (remedy or {}).get("kind") not in _NOT_READABLE


def controls(
    options: Mapping[str, Any],
    *,
    fmt: str | None,
    sheets: Sequence[str],
    read_as: Mapping[str, Any] | None,
    remedy: Mapping[str, Any] | None,
    header_unsure: bool,
) -> dict[str, Any]:
    """What a run's "Check again" form offers, and its values: the sheet picker (a workbook
    of several sheets), the encoding (text that is not UTF-8, or was read with a chosen
    one), and behind "Reading options" the header row (delimited text and workbooks), the
    delimiter (delimited text) and the default operation, open when the problem is one of
    theirs. What the form does not offer, it checks again without."""
    kind = (remedy or {}).get("kind")
    fmt = (read_as or {}).get("format") or fmt
    # A sheet named at upload that the workbook lacks is not a choice: the first one is.
    sheet = next(
        (s for s in (options.get(SHEET), (read_as or {}).get("sheet")) if s in sheets),
        sheets[0] if sheets else "",
    )
    encoding = options.get(ENCODING) or (remedy or {}).get("suggested") or ""
    offers_encoding = fmt in _TEXT and (kind == remedies.ChooseEncoding.kind or bool(encoding))
    return {
        "sheets": list(sheets) if len(sheets) > 1 else [],
        "sheet": sheet,
        "encodings": ENCODINGS if offers_encoding else {},
        "encoding": encoding if encoding in ENCODINGS else "",
        "delimiters": {name: words for name, (_, words) in DELIMITERS.items()}
        if fmt in _DELIMITED
        else {},
        "delimiter": delimiter_field(options.get(DELIMITER)),
        "has_header_row": fmt in _DELIMITED or fmt in ("xlsx", "xls"),
        "header_row": options.get(HEADER_ROW) or "",
        "operations": list(api.OPERATIONS),
        "operation": options.get(OPERATION) or "",
        "open": kind in _OPENS or header_unsure,
    }


_TEXT: Final = frozenset({"csv", "tsv", "jsonl"})
_DELIMITED: Final = frozenset({"csv", "tsv"})
#: The problems whose control is behind "Reading options": it opens by itself for them.
_OPENS: Final = frozenset(
    {remedies.ChooseDelimiter.kind, remedies.ChooseHeaderRow.kind, remedies.ChooseOperation.kind}
)


# -- what an error asks to be done, in the page's words ----------------------------------------

_CHOICE: Final = {
    remedies.ChooseSheet.kind: "choose another sheet below and check again",
    remedies.ChooseEncoding.kind: "choose the file's encoding below and check again",
    remedies.ChooseDelimiter.kind: "choose the delimiter under Reading options and check again",
    remedies.ChooseHeaderRow.kind: (
        "give the line or sheet row the column names are on under Reading options"
    ),
    remedies.ChooseOperation.kind: "choose a default operation below and check again",
    remedies.IgnoreColumn.kind: "fix it in the file and upload it again, or ignore the column",
    remedies.MapColumns.kind: "map each column to a field, or ignore it",
}


def say(exc: BatchtoolError) -> str:
    """``exc`` for the page: its problem, and what to do with the page's controls."""
    remedy = exc.remedy
    if isinstance(remedy, remedies.NotASpreadsheet):
        return f"This is {remedy.what}, not a spreadsheet."
    if isinstance(remedy, remedies.Rename):
        return f"{exc.problem} — rename it to its real extension and upload it again"
    if isinstance(remedy, remedies.SaveAs):
        return (
            f"{exc.problem} — save it as an Excel workbook (.xlsx) or CSV, without a "
            "password, and upload it again"
        )
    if isinstance(remedy, remedies.LeaveOut):
        return f"{exc.problem} — check again to read it without one"
    if isinstance(remedy, remedies.MapColumns):
        return exc.problem
    if isinstance(remedy, remedies.Resume):
        return f"{exc.problem}, then Resume"
    if remedy is not None:
        # A problem that already says what to do in the file gets the control as the other way.
        joint = ", or " if " — " in exc.problem else " — "
        return f"{exc.problem}{joint}{_CHOICE[remedy.kind]}"
    return exc.problem


#: Fixes written into text that is data (see ``remedies``), as the page says them.
_IN_TEXT: Final = {
    remedies.NO_OPERATION_FIX: " (or choose a default operation under Reading options)",
    remedies.RESUME_FIX: "then Resume",
}


def in_text(text: str) -> str:
    """A row's reason or an abort's reason as the page says it."""
    for cli, page in _IN_TEXT.items():
        text = text.replace(cli, page)
    return text
