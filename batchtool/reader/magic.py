"""What a file is by its first bytes: one of the formats batchtool reads, or one of the files
people upload by mistake (an image, a PDF, a Word document, an archive, a web page...), named
as a person knows it.

A zip file is a workbook only when it holds ``xl/workbook.xml``; an old Office file (OLE)
only when it holds a workbook stream. Both are told apart by the names inside them, read
from the file without unpacking anything.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MAGIC_ZIP: Final = b"PK\x03\x04"
MAGIC_OLE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAGIC_PARQUET: Final = b"PAR1"


@dataclass(frozen=True)
class Other:
    """A file of no format batchtool reads: what it is, in words ("a PNG image"), and
    whether it is a spreadsheet all the same, which saved as a workbook can be read."""

    what: str
    spreadsheet: bool = False


#: Files that are no spreadsheet, by the bytes they start with.
_STARTS: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF-", "a PDF document"),
    (b"{\\rtf", "an RTF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)
#: ISO media files (``....ftyp<brand>``): the brands of still images; any other is a video.
_IMAGE_BRANDS: Final = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")

#: What a zip file is, by a member only it holds.
_ZIP_MEMBERS: Final[tuple[tuple[str, Other | None], ...]] = (
    ("xl/workbook.xml", None),  # a workbook: .xlsx, .xlsm
    ("xl/workbook.bin", Other("an Excel binary workbook (.xlsb)", spreadsheet=True)),
    ("word/document.xml", Other("a Word document")),
    ("ppt/presentation.xml", Other("a PowerPoint presentation")),
)
#: OpenDocument files name their kind in a first member called ``mimetype``.
_OPENDOCUMENT: Final[dict[str, Other]] = {
    "application/vnd.oasis.opendocument.spreadsheet": Other(
        "an OpenDocument spreadsheet (.ods)", spreadsheet=True
    ),
    "application/vnd.oasis.opendocument.text": Other("an OpenDocument text document (.odt)"),
}
_ZIP_ARCHIVE: Final = Other("a zip archive")

#: What an OLE file is, by the name of a stream in it (UTF-16 in the file's directory, ended
#: by a NUL unless it is a prefix).
_OLE_STREAMS: Final[tuple[tuple[str, Other | None], ...]] = (
    ("Workbook\0", None),  # an .xls (Excel 97 and later)
    ("Book\0", None),  # an .xls of Excel 5
    ("EncryptedPackage\0", Other("a password-protected Office file", spreadsheet=True)),
    ("WordDocument\0", Other("a Word document")),
    ("PowerPoint Document\0", Other("a PowerPoint presentation")),
    ("__substg1.0_", Other("an Outlook message")),
)
#: How much of an OLE file's directory is looked at: names of its first streams.
_OLE_DIRECTORY_BYTES: Final = 8192

_HTML: Final = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<(?:!doctype\s+html|html|table)\b", re.I)
_XML_SPREADSHEET: Final = b"urn:schemas-microsoft-com:office:spreadsheet"


def other(head: bytes, data: Path) -> Other | None:
    """What the file at ``data`` is when its first bytes ``head`` say it is no format
    batchtool reads; None when it may be one (a workbook, Parquet, text)."""
    for start, what in _STARTS:
        if head.startswith(start):
            return Other(what)
    if head[4:8] == b"ftyp":
        return Other("a photo (HEIC)" if head[8:12] in _IMAGE_BRANDS else "a video")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return Other("a WebP image")
    if head.startswith(MAGIC_ZIP):
        return _zip(data)
    if head.startswith(MAGIC_OLE):
        return _ole(head, data)
    if _HTML.match(head):
        return Other("a web page (HTML)")
    if head.lstrip().startswith(b"<?xml") and _XML_SPREADSHEET in head:
        return Other("an Excel 2003 XML spreadsheet", spreadsheet=True)
    return None


def _zip(data: Path) -> Other | None:
    try:
        with zipfile.ZipFile(data) as z:
            names = set(z.namelist())
            for member, found in _ZIP_MEMBERS:
                if member in names:
                    return found
            if "mimetype" in names:
                kind = z.read("mimetype")[:200].decode("ascii", "replace").strip()
                return _OPENDOCUMENT.get(kind, _ZIP_ARCHIVE)
    except (OSError, zipfile.BadZipFile, KeyError, RuntimeError, ValueError):
        return None  # a damaged workbook: its reader says what is wrong with it
    return _ZIP_ARCHIVE


def _ole(head: bytes, data: Path) -> Other | None:
    """An OLE file's kind from the stream names in its directory (and the first bytes)."""
    names = head
    if len(head) >= 0x34:
        shift = int.from_bytes(head[0x1E:0x20], "little")
        first = int.from_bytes(head[0x30:0x34], "little")
        if 7 <= shift <= 16:
            try:
                with data.open("rb") as f:
                    f.seek((first + 1) << shift)
                    names += f.read(_OLE_DIRECTORY_BYTES)
            except (OSError, OverflowError, ValueError):
                pass
    for stream, found in _OLE_STREAMS:
        if stream.encode("utf-16-le") in names:
            return found
    return None
