"""What the page shows of engine messages and of file content: no server path or pid, and no
text longer than a page can hold.

The engine's messages are written for the CLI's user, who chose the paths they name. On the
page they reach people who did not and need not know the server's layout, so ``Telling``
turns each one into page text at the one boundary where engine messages become run messages
(``runs``): the stored upload becomes the name it was uploaded under, the run's own files
and the server's places become words, any other absolute path "(a path on the server)", a pid
disappears. The admin finds the message as it was in the server log.

Every text derived from a file (headers, sample requests, messages, errors, invalid rows'
reasons) is cut to a length with "…" (``cut``, ``cut_expr``); lists are bounded where they
are made.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import polars as pl

log = logging.getLogger("batchtool.web")

#: A message, an error, a sample request or an invalid row's reason, as stored and shown.
TEXT_CHARS: Final = 500
#: An unknown column's header; a longer one is no column name anyone means to map.
HEADER_CHARS: Final = 200
ELLIPSIS: Final = "…"
#: How much of the original message the log keeps.
LOG_CHARS: Final = 2000

#: " (pid 123)" and "pid 123": which process is the server's business.
_PID: Final = re.compile(r" ?\(pid [^)]*\)|\bpid \d+")
#: An absolute path: "/" plus a name, not inside a URL ("https://host/api") or a word ("rows/s").
_PATH: Final = re.compile(r"(?<![\w.:/~-])~?/[^\s'\"()<>,;]+")
_A_SERVER_FILE: Final = "(a path on the server)"
_SPACES: Final = re.compile(r"  +")


def cut(text: str, limit: int = TEXT_CHARS) -> str:
    """``text``, or its first characters and "…" when it is longer than ``limit``."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def cut_expr(column: str, limit: int = TEXT_CHARS) -> pl.Expr:
    """``cut`` for a column of text, in polars."""
    value = pl.col(column)
    return (
        pl.when(value.str.len_chars() > limit)
        .then(value.str.slice(0, limit - 1) + ELLIPSIS)
        .otherwise(value)
        .alias(column)
    )


class Telling:
    """Engine messages as page text; ``places`` names the server's own folders and files
    (a key may also be a path with the words messages put before it, "config file PATH")."""

    def __init__(self, places: Mapping[Path | str, str]) -> None:
        self._places = {str(place): words for place, words in places.items()}

    def say(
        self,
        message: str,
        *,
        files: Mapping[Path, str] | None = None,
        about_input: bool = False,
    ) -> str:
        """``message`` without server paths and pids, cut to ``TEXT_CHARS``.

        ``files``: a run's own files and the words for them. ``about_input``: the message
        is about the uploaded file (a reader's error), whose quoted cells may look like
        paths: only known places are replaced then.
        """
        told = message
        named = {**self._places, **{str(path): words for path, words in (files or {}).items()}}
        for place in sorted(named, key=len, reverse=True):
            told = told.replace(place, named[place])
        if not about_input:
            told = _SPACES.sub(" ", _PATH.sub(_A_SERVER_FILE, _PID.sub("", told)))
        if told != message:
            log.info("a message, shown as %r: %s", cut(told), cut(message, LOG_CHARS))
        return cut(told)
