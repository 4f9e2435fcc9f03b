"""Choosing how to read a file: its format (extension, --format, magic bytes), which options
apply to it, and its encoding (--encoding, or a byte order mark), all checked against the first
bytes before any reader touches the file; and those first bytes as text, for the delimited
reader to find its delimiter and header in."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Final

from batchtool.errors import InputError, UsageError
from batchtool.reader.formats import (
    DELIMITED_FORMATS,
    EXCEL_FORMATS,
    EXTENSIONS,
    FORMAT_ALIASES,
    FORMATS,
    TEXT_FORMATS,
    title,
)
from batchtool.reader.messages import explain_os

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

_MAGIC_ZIP: Final = b"PK\x03\x04"
_MAGIC_OLE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAGIC_PARQUET: Final = b"PAR1"

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
        raise UsageError(f"{name}: --sheet applies to Excel files only; this is {title(fmt)}")
    if delimiter is not None and fmt not in DELIMITED_FORMATS:
        raise UsageError(
            f"{name}: --delimiter applies to CSV and TSV files only; this is {title(fmt)}"
        )
    if header_row is not None and fmt not in DELIMITED_FORMATS | EXCEL_FORMATS:
        raise UsageError(
            f"{name}: --header-row applies to CSV, TSV and Excel files only; this is {title(fmt)}"
        )
    if header_row is not None and header_row < 1:
        raise UsageError(f"--header-row must be 1 or more (the header's line), not {header_row}")


def check_encoding(name: str, fmt: str, encoding: str | None) -> str | None:
    """The codec ``--encoding`` names, or None when it is not given."""
    if encoding is None:
        return None
    if fmt not in TEXT_FORMATS:
        raise UsageError(
            f"{name}: --encoding applies to CSV, TSV and JSON Lines only; "
            f"{title(fmt)} files carry their own encoding"
        )
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(
            f"unknown --encoding '{encoding}' — use a Python codec name such as "
            "utf-8, latin-1 or cp1252"
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
            f"{codec} — leave --encoding out"
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
    if head.startswith(_MAGIC_PARQUET):
        return "parquet"
    if head.startswith(_MAGIC_ZIP):
        return "xlsx"
    if head.startswith(_MAGIC_OLE):
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


def check_content(name: str, fmt: str, head: bytes, codec: str | None) -> str:
    """Refuse a file whose bytes are not ``fmt``; returns the format to read it with.

    ``codec``: what a text file is decoded with first (None: UTF-8).
    """
    kind = sniff(head if codec is None else head_text(head, codec).encode("utf-8"))
    if fmt in EXCEL_FORMATS:
        if kind in EXCEL_FORMATS:
            return kind  # calamine reads both; a misnamed workbook is still a workbook
        raise InputError(
            f"{name}: this is not an Excel workbook (it looks like {_looks_like(kind)}) — "
            f"rename it to its real extension or pass --format {_suggest(kind)}"
        )
    if fmt == "parquet":
        if kind != "parquet":
            raise InputError(
                f"{name}: this is not a Parquet file (it looks like {_looks_like(kind)}) — "
                f"rename it to its real extension or pass --format {_suggest(kind)}"
            )
        return fmt
    if kind in ("parquet", "xlsx", "xls"):
        raise InputError(
            f"{name}: this is not {title(fmt)} text (it looks like {_looks_like(kind)}) — "
            f"rename it to its real extension or pass --format {kind}"
        )
    if codec is None:
        _check_utf8_head(name, head)
    return fmt


def _suggest(kind: str) -> str:
    return kind if kind in FORMATS else "csv"


def _check_utf8_head(name: str, head: bytes) -> None:
    if b"\x00" in head:
        utf16 = _utf16_without_bom(head)
        if utf16:
            raise InputError(
                f"{name}: the file looks like {utf16.upper()} text without a byte order mark "
                f"— pass --encoding {utf16}"
            )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise InputError(not_utf8(name, head[exc.start], exc.start, head)) from None
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


def not_utf8(name: str, byte: int, offset: int, before: bytes) -> str:
    line = before[:offset].count(b"\n") + 1
    return (
        f"{name}: not valid UTF-8 (byte 0x{byte:02x} at offset {offset}, line {line}) — "
        "pass --encoding latin-1 (or the file's real encoding)"
    )


def line_ending(text: str) -> str:
    """ "\\r" for old Mac text (CR alone ends its lines), else "\\n" (CRLF included)."""
    return "\r" if "\r" in text and "\n" not in text else "\n"
