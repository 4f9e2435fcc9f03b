"""A text file in another encoding (UTF-16, latin-1...) copied as UTF-8, the only text polars
reads: streamed chunk by chunk into a private folder, so a big file is never held in memory
whole (decoding it in memory held the bytes, the text and the UTF-8 copy at once)."""

from __future__ import annotations

import atexit
import codecs
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Final

from batchtool.errors import InputError
from batchtool.reader.messages import LIKELY_ENCODING, decodes, explain_os
from batchtool.remedies import ChooseEncoding

_CHUNK_BYTES: Final = 1024 * 1024

_default_folder: Path | None = None


def scratch_folder() -> Path:
    """A private folder for this process's UTF-8 copies, removed when the process exits.

    Callers that read many files in one long process (the ops page) pass their own folder to
    ``read_input`` instead and remove it when the run is over.
    """
    global _default_folder
    if _default_folder is None or not _default_folder.is_dir():
        _default_folder = Path(tempfile.mkdtemp(prefix="batchtool-text-"))
        atexit.register(shutil.rmtree, _default_folder, ignore_errors=True)
    return _default_folder


def to_utf8(data: Path, name: Path, codec: str, folder: Path) -> Path:
    """A UTF-8 copy of ``data`` (decoded with ``codec``, byte order mark dropped) in ``folder``.

    A byte that ``codec`` cannot decode is an InputError naming its offset and line in the
    original file; no half-written copy is left behind.
    """
    fd, target = tempfile.mkstemp(prefix="input-", suffix=".utf8", dir=folder)
    try:
        with data.open("rb") as src, os.fdopen(fd, "wb") as dst:
            _copy(src, dst, name, codec)
    except _NotDecodable as bad:
        Path(target).unlink(missing_ok=True)
        likely = codec != LIKELY_ENCODING and decodes(data, LIKELY_ENCODING)
        other = LIKELY_ENCODING if likely else None
        raise InputError(
            f"{bad.problem} — pass the file's real encoding with --encoding",
            problem=bad.problem,
            remedy=ChooseEncoding(other),
        ) from None
    except OSError as exc:
        Path(target).unlink(missing_ok=True)
        raise InputError(explain_os(name, exc)) from exc
    except BaseException:
        Path(target).unlink(missing_ok=True)
        raise
    return Path(target)


def _copy(src: IO[bytes], dst: IO[bytes], name: Path, codec: str) -> None:
    decoder = codecs.getincrementaldecoder(codec)()
    consumed = 0  # bytes handed to the decoder so far
    lines = 0  # line breaks decoded so far
    eol: str | None = None  # "\r" in old Mac text, where CR alone ends a line
    while True:
        chunk = src.read(_CHUNK_BYTES)
        pending = _pending(decoder)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            start = consumed - pending
            raise _NotDecodable(_not_decodable(name, codec, exc, start, lines, eol)) from None
        if eol is None and text:
            text = text.removeprefix("\ufeff")
            eol = "\r" if "\r" in text and "\n" not in text else "\n"
        if eol is not None:
            lines += text.count(eol)
        dst.write(text.encode("utf-8"))
        consumed += len(chunk)
        if not chunk:
            return


def _pending(decoder: codecs.IncrementalDecoder) -> int:
    """Bytes the decoder holds back from earlier chunks (a character split between two)."""
    state = decoder.getstate()[0]
    return len(state) if isinstance(state, bytes) else 0


def _not_decodable(
    name: Path, codec: str, exc: UnicodeDecodeError, start: int, lines: int, eol: str | None
) -> str:
    buffer = bytes(exc.object)
    before = buffer[: exc.start].decode(codec, errors="replace")
    line = lines + before.count(eol or "\n") + 1
    what = f"byte 0x{buffer[exc.start]:02x}" if exc.start < len(buffer) else "a cut-off character"
    return f"{name}: not valid {codec} ({what} at offset {start + exc.start}, line {line})"


class _NotDecodable(Exception):
    """A byte the codec cannot decode; ``problem`` says where."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
