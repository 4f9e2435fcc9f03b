"""Choosing how to read a file: its format (extension, --format, magic bytes), which options
apply to it, and its encoding (--encoding, or a byte order mark), all checked against the first
bytes before any reader touches the file; and those first bytes as text, for the delimited
reader to find its delimiter and header in. A file that is no spreadsheet at all (an image,
a PDF, a Word document...) is named as what it is (``magic``)."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Final

from batchtool.errors import InputError, UsageError
from batchtool.reader import magic
from batchtool.reader.formats import (
    DELIMITED_FORMATS,
    EXCEL_FORMATS,
    EXTENSIONS,
    FORMAT_ALIASES,
    FORMATS,
    TEXT_FORMATS,
    title,
)
from batchtool.reader.messages import explain_os, not_utf8
from batchtool.remedies import (
    ChooseEncoding,
    ChooseHeaderRow,
    LeaveOut,
    NotASpreadsheet,
    Rename,
    SaveAs,
)

# Enough to hold any real header line, small enough to read eagerly on every run.
HEAD_BYTES: Final = 64 * 1024

_UTF8_NAMES: Final[frozenset[str]] = frozenset({"utf-8", "utf-8-sig"})

#: Byte order marks, longest first (a UTF-32 LE mark begins with the UTF-16 LE one), with the
#: codec they name (byte order explicit, so any chunk decodes alone) and the family a matching
#: --encoding belongs to. The decoded mark (U+FEFF) is dropped by whoever decodes.
_BOMS: Final[tuple[tuple[bytes, str, str], ...]] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)

#: Share of NUL bytes at odd (or even) offsets above which text is UTF-16 without its mark.
_UTF16_NUL_SHARE: Final = 0.4


def choose_format(path: Path, fmt: str | None) -> str:
    """The format ``--format`` names, else the one the extension names."""
    if fmt is not None:
        chosen = FORMAT_ALIASES.get(fmt.strip().lower().lstrip("."))
        if chosen is None:
            raise UsageError(f"unknown --format '{fmt}' — use one of: {', '.join(FORMATS)}")
        return chosen
    chosen = EXTENSIONS.get(path.suffix.lower())
    if chosen is None:
        what = f"extension '{path.suffix}'" if path.suffix else "no extension"
        raise InputError(
            f"{path}: cannot tell the file's format from {what} — "
            f"pass --format ({', '.join(FORMATS)})"
        )
    return chosen


def check_options(
    name: str,
    fmt: str,
    *,
    sheet: str | None,
    delimiter: str | None,
    header_row: int | None,
) -> None:
    """Refuse an option that does not apply to ``fmt`` rather than silently ignoring it."""
    if sheet is not None and fmt not in EXCEL_FORMATS:
        raise _not_for(name, fmt, "sheet", "--sheet", "Excel files")
    if delimiter is not None and fmt not in DELIMITED_FORMATS:
        raise _not_for(name, fmt, "delimiter", "--delimiter", "CSV and TSV files")
    if header_row is not None and fmt not in DELIMITED_FORMATS | EXCEL_FORMATS:
        raise _not_for(name, fmt, "header_row", "--header-row", "CSV, TSV and Excel files")
    if header_row is not None and header_row < 1:
        raise UsageError(
            f"--header-row must be 1 or more (the header's line), not {header_row}",
            problem=f"the header row must be 1 or more (the header's line), not {header_row}",
            remedy=ChooseHeaderRow(),
        )


_OPTION_WORDS: Final = {
    "sheet": "a sheet",
    "delimiter": "a delimiter",
    "header_row": "a header row",
    "encoding": "an encoding",
}


def _not_for(name: str, fmt: str, option: str, flag: str, formats: str) -> UsageError:
    """A reading option given for a file it does not apply to."""
    tail = f"applies to {formats} only; this is {title(fmt)}"
    return UsageError(
        f"{name}: {flag} {tail}",
        problem=f"{name}: {_OPTION_WORDS[option]} {tail}",
        remedy=LeaveOut(option),
    )


def check_encoding(name: str, fmt: str, encoding: str | None) -> str | None:
    """The codec ``--encoding`` names, or None when it is not given."""
    if encoding is None:
        return None
    if fmt not in TEXT_FORMATS:
        tail = (
            f"applies to CSV, TSV and JSON Lines only; {title(fmt)} files carry their own "
            "encoding"
        )
        raise UsageError(
            f"{name}: --encoding {tail}",
            problem=f"{name}: {_OPTION_WORDS['encoding']} {tail}",
            remedy=LeaveOut("encoding"),
        )
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(
            f"unknown --encoding '{encoding}' — use a Python codec name such as "
            "utf-8, latin-1 or cp1252",
            problem=f"unknown encoding '{encoding}'",
            remedy=ChooseEncoding(),
        ) from None


def text_codec(name: str, head: bytes, codec: str | None) -> str | None:
    """The codec to decode a text file with first, or None for polars' own UTF-8 reading.

    A byte order mark says the encoding without doubt, so it is followed without --encoding;
    an --encoding that contradicts it is refused rather than producing mojibake.
    """
    bom = next(((c, family) for mark, c, family in _BOMS if head.startswith(mark)), None)
    if bom is not None and codec is not None and _family(codec) != bom[1]:
        raise UsageError(
            f"{name}: the file starts with a {bom[1]} byte order mark but --encoding says "
            f"{codec} — leave --encoding out",
            problem=f"{name}: the file starts with a {bom[1]} byte order mark, which says its "
            f"encoding, but {codec} was chosen",
            remedy=LeaveOut("encoding"),
        )
    chosen = bom[0] if bom else codec
    # polars streams UTF-8 itself (BOM or not); only other encodings need decoding first.
    return None if chosen is None or chosen in _UTF8_NAMES else chosen


def _family(codec: str) -> str:
    for prefix in ("utf-32", "utf-16", "utf-8"):
        if codec.startswith(prefix):
            return prefix.upper()
    return codec


def read_head(data: Path, name: Path) -> bytes:
    """The first bytes of ``data``; messages name ``name`` (the file the user gave)."""
    try:
        with data.open("rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as exc:
        raise InputError(explain_os(name, exc)) from exc
    if not head:
        raise InputError(f"{name}: the file is empty (0 bytes) — is it the right file?")
    return head


def head_text(head: bytes, codec: str | None) -> str:
    """The first bytes as text, without a byte order mark; a character cut off at the end of
    a full head is left out. Undecodable bytes become U+FFFD: the full read reports them."""
    decoder = codecs.getincrementaldecoder(codec or "utf-8")(errors="replace")
    text = decoder.decode(head, final=len(head) < HEAD_BYTES)
    return text.removeprefix("\ufeff")


def sniff(head: bytes) -> str:
    """What the first bytes say the file is: a binary format's name, else "csv" or "jsonl"."""
    if head.startswith(magic.MAGIC_PARQUET):
        return "parquet"
    if head.startswith(magic.MAGIC_ZIP):
        return "xlsx"
    if head.startswith(magic.MAGIC_OLE):
        return "xls"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"


def _looks_like(kind: str) -> str:
    return {
        "parquet": "a Parquet file",
        "xlsx": "an Excel .xlsx workbook (or another zip file)",
        "xls": "an old Excel .xls workbook",
        "jsonl": "JSON Lines text",
        "csv": "text, such as CSV",
    }[kind]


def check_content(name: str, fmt: str, head: bytes, codec: str | None, data: Path) -> str:
    """Refuse a file whose bytes are not ``fmt``; returns the format to read it with.

    ``codec``: what a text file is decoded with first (None: UTF-8); ``data``: the file.
    """
    found = magic.other(head, data)
    if found is not None:
        raise _not_readable(name, found)
    kind = sniff(head if codec is None else head_text(head, codec).encode("utf-8"))
    if fmt in EXCEL_FORMATS:
        if kind in EXCEL_FORMATS:
            return kind  # calamine reads both; a misnamed workbook is still a workbook
        raise _misnamed(name, "an Excel workbook", kind, _suggest(kind))
    if fmt == "parquet":
        if kind != "parquet":
            raise _misnamed(name, "a Parquet file", kind, _suggest(kind))
        return fmt
    if kind in ("parquet", "xlsx", "xls"):
        raise _misnamed(name, f"{title(fmt)} text", kind, kind)
    if codec is None:
        _check_utf8_head(name, head, data)
    return fmt


def _not_readable(name: str, found: magic.Other) -> InputError:
    if found.spreadsheet:
        return InputError(
            f"{name}: this is {found.what}, which batchtool does not read — open it and save it "
            "as an Excel workbook (.xlsx) without a password, or as CSV",
            problem=f"{name}: this is {found.what}, which batchtool does not read",
            remedy=SaveAs(found.what),
        )
    return InputError(
        f"{name}: this is {found.what}, not a spreadsheet — is it the right file?",
        problem=f"{name}: this is {found.what}, not a spreadsheet",
        remedy=NotASpreadsheet(found.what),
    )


def _misnamed(name: str, expected: str, kind: str, real: str) -> InputError:
    problem = f"{name}: this is not {expected} (it looks like {_looks_like(kind)})"
    return InputError(
        f"{problem} — rename it to its real extension or pass --format {real}",
        problem=problem,
        remedy=Rename(_looks_like(kind)),
    )


def _suggest(kind: str) -> str:
    return kind if kind in FORMATS else "csv"


def _check_utf8_head(name: str, head: bytes, data: Path) -> None:
    if b"\x00" in head:
        utf16 = _utf16_without_bom(head)
        if utf16:
            problem = f"{name}: the file looks like {utf16.upper()} text without a byte order mark"
            raise InputError(
                f"{problem} — pass --encoding {utf16}",
                problem=problem,
                remedy=ChooseEncoding(utf16),
            )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        line = head[: exc.start].count(b"\n") + 1
        raise not_utf8(name, head[exc.start], exc.start, line, data) from None
    if b"\x00" in head:
        raise InputError(
            f"{name}: the file holds binary data (NUL bytes), not text — is it the right file?"
        )


def _utf16_without_bom(head: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" when every other byte is mostly NUL, as in mostly-ASCII
    UTF-16 text; None otherwise."""
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if odd > _UTF16_NUL_SHARE * pairs and even < odd / 10:
        return "utf-16-le"
    if even > _UTF16_NUL_SHARE * pairs and odd < even / 10:
        return "utf-16-be"
    return None


def line_ending(text: str) -> str:
    """ "\\r" for old Mac text (CR alone ends its lines), else "\\n" (CRLF included)."""
    return "\r" if "\r" in text and "\n" not in text else "\n"
