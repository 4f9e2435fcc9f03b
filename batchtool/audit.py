"""The audit log: who did what to which run, and when, one JSON line per action in the ops
page's data dir (``audit.jsonl``), each line chained to the one before so that a change shows.

A line holds ``seq`` (1, 2, 3, …), ``at`` (UTC), ``user``, ``via`` (``page``, ``cli`` or
``server`` for what the server does by itself), ``action``, what the action was about where
it applies (``run``, ``file`` as uploaded, ``installation``, ``rows``: counts, ``detail``),
then ``prev``, the hash of the line before (``GENESIS`` for the first), and its own
``hash``: SHA-256 of the line's canonical JSON without ``hash``. So:

- a line edited no longer matches its own hash;
- a line edited and hashed again no longer matches the next line's ``prev``;
- a line removed leaves a gap in ``seq``; one inserted repeats or skips a number; lines
  moved come out of ``seq`` order.

``verify`` names the first line that does not fit and how. What a chain cannot show: the
newest lines cut off the end, or the whole file written anew, hashes and all, by someone
who can write it. ``verify`` prints the last line's hash, so an admin can keep it elsewhere
and compare later.

Never written: a cell's value, a password, a key. Callers hand over names, ids and counts.

Appends come from the server and from CLI commands at once: each takes an flock on the file
itself while it reads the last line and appends its own, and syncs it before returning.
"""

from __future__ import annotations

import csv
import fcntl
import getpass
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from batchtool.errors import UsageError
from batchtool.model import guard_formula

FILE_NAME: Final = "audit.jsonl"
#: ``batchtool audit --verify``'s exit code when a line does not fit the chain.
BROKEN_EXIT: Final = 1
#: What the first line's ``prev`` is.
GENESIS: Final = "0" * 64

PAGE: Final = "page"
CLI: Final = "cli"
SERVER: Final = "server"

# What a line's ``action`` says.
SIGN_IN: Final = "sign-in"
SIGN_IN_FAILED: Final = "sign-in failed"
CHECK: Final = "check"
REQUEST_APPROVAL: Final = "request approval"
APPROVE: Final = "approve"
REJECT: Final = "reject"
SEND: Final = "send"
STOP: Final = "stop"
RESUME: Final = "resume"
DOWNLOAD: Final = "download"
PURGE: Final = "purge"
USER_ADDED: Final = "user added"
USER_REMOVED: Final = "user removed"
ROLE_CHANGED: Final = "role changed"
PASSWORD_CHANGED: Final = "password changed"

#: The longest text kept of any value (a reason typed), and of a user name (one someone
#: tried to sign in with can be anything).
MAX_TEXT: Final = 1000
MAX_NAME: Final = 100
#: How much of the file's end is read at a time to find its last line.
_TAIL: Final = 64 * 1024

#: The CSV's columns; what else a line holds goes into ``detail`` as JSON.
CSV_COLUMNS: Final = ("seq", "at", "user", "via", "action", "run", "file", "installation", "rows")


def _canonical(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash a line must carry: of everything in it but ``hash``."""
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _cut(value: Any, most: int = MAX_TEXT) -> Any:
    if isinstance(value, str):
        return "".join(ch for ch in value if ch.isprintable())[:most]
    if isinstance(value, Mapping):
        return {str(k): _cut(v) for k, v in value.items()}
    return value


def _now() -> datetime:
    return datetime.now(UTC)


def local_user() -> str:
    """Who runs a CLI command: the account's name (its uid where it has no name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


@dataclass(frozen=True)
class Action:
    """One line to write: ``user`` did ``action`` ``via`` the page, the CLI or the server;
    ``about``: run, file, installation, rows, detail (None left out)."""

    action: str
    user: str | None
    via: str
    about: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: how many lines, the last hash, and the first break if any."""

    lines: int
    last_hash: str
    broken: str | None = None


class AuditLog:
    """The audit log of one data dir. ``clock`` gives the time of each line (UTC)."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = _now) -> None:
        self.path = path
        self._clock = clock

    def append(self, action: str, *, user: str | None, via: str, **about: Any) -> dict[str, Any]:
        """Append one line (``about``: run, file, installation, rows, detail; None left out)."""
        return self.append_all([Action(action, user, via, about)])[0]

    def append_all(self, actions: Sequence[Action]) -> list[dict[str, Any]]:
        """Append a line for each action, in order, under one lock and one sync.

        The server gathers what its requests did while the previous sync ran and writes it
        here in one go: a sync per line would let a flood of failed sign-ins queue
        everybody's lines behind a disk."""
        entries = [
            {
                "at": self._clock().astimezone(UTC).isoformat(timespec="milliseconds"),
                "user": _cut(done.user, MAX_NAME),
                "via": done.via,
                "action": done.action,
                **{k: _cut(v) for k, v in done.about.items() if v is not None},
            }
            for done in actions
        ]
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a+b") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
                seq, prev = _last(handle)
                lines = []
                for entry in entries:
                    seq += 1
                    entry["seq"], entry["prev"] = seq, prev
                    entry["hash"] = prev = entry_hash(entry)
                    lines.append(_canonical(entry) + b"\n")
                handle.write(b"".join(lines))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise UsageError(
                f"cannot write the audit log {self.path}: {exc.strerror or exc} — "
                "make it writable (and its folder) for this user"
            ) from None
        return entries

    def lines(self) -> list[bytes]:
        """The file's lines, without their newlines; none when there is no file yet."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise UsageError(
                f"cannot read the audit log {self.path}: {exc.strerror or exc}"
            ) from None
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        return lines

    def entries(self) -> list[dict[str, Any]]:
        """Every line that is an entry, in the file's order (``verify`` judges the others)."""
        return _entries(self.lines())

    def verify(self) -> Verdict:
        return verify_lines(self.lines())

    def read(self) -> tuple[list[dict[str, Any]], Verdict]:
        """``entries`` and ``verify`` from one reading of the file."""
        lines = self.lines()
        return _entries(lines), verify_lines(lines)


def _entries(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    return [entry for raw in lines if (entry := _parse(raw)) is not None]


def _last(handle: IO[bytes]) -> tuple[int, str]:
    """The last line's ``seq`` and ``hash``; (0, GENESIS) for an empty file.

    A last line cut off by a crash mid-write (no newline) was never a whole entry: it is
    dropped. A last line that is not an entry (someone edited it) is chained from its bytes,
    so writing goes on; ``verify`` reports it."""
    end = handle.seek(0, os.SEEK_END)
    start, tail = end, b""
    # Enough to hold the last whole line and the newline before it (and a torn end after).
    while start > 0 and tail.count(b"\n") < 3:
        start = max(0, start - _TAIL)
        handle.seek(start)
        tail = handle.read(end - start)
    if tail and not tail.endswith(b"\n"):
        cut = tail.rfind(b"\n") + 1
        os.ftruncate(handle.fileno(), start + cut)
        tail = tail[:cut]
    if not tail:
        return 0, GENESIS
    raw = tail[:-1].rsplit(b"\n", 1)[-1]
    entry = _parse(raw)
    if entry is None:
        return 0, hashlib.sha256(raw).hexdigest()
    return int(entry["seq"]), str(entry["hash"])


def _parse(raw: bytes) -> dict[str, Any] | None:
    """The entry on a line; None when the line is not one."""
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("seq"), int)
        or isinstance(entry.get("seq"), bool)
        or not isinstance(entry.get("prev"), str)
        or not isinstance(entry.get("hash"), str)
    ):
        return None
    return entry


def verify_lines(lines: list[bytes]) -> Verdict:
    """Walk the chain; the first line that does not fit is named, with how it does not."""
    entries = [_parse(raw) for raw in lines]
    where: dict[int, int] = {}  # seq -> the first line holding it
    for number, entry in enumerate(entries, 1):
        if entry is not None:
            where.setdefault(entry["seq"], number)
    prev_hash, prev_seq = GENESIS, 0
    for number, entry in enumerate(entries, 1):
        if entry is None:
            return Verdict(
                number - 1, prev_hash, f"line {number} is not an audit entry: edited or cut off"
            )
        seq = entry["seq"]
        if entry_hash(entry) != entry["hash"]:
            return Verdict(
                number - 1,
                prev_hash,
                f"line {number} (entry #{seq}) was edited: it no longer matches its own hash",
            )
        broken = _misfit(number, seq, entry["prev"], prev_seq, prev_hash, where)
        if broken:
            return Verdict(number - 1, prev_hash, broken)
        prev_hash, prev_seq = entry["hash"], seq
    return Verdict(len(entries), prev_hash)


def _misfit(
    number: int, seq: int, prev: str, prev_seq: int, prev_hash: str, where: Mapping[int, int]
) -> str | None:
    """How line ``number`` (entry ``seq``) fails to follow the line before; None if it does."""
    expected = prev_seq + 1
    if seq == expected:
        if prev == prev_hash:
            return None
        if number == 1:
            return "line 1 does not start the chain: the log's first lines were replaced"
        return (
            f"line {number} (entry #{seq}) does not follow line {number - 1}: line "
            f"{number - 1} was changed and hashed again, or put in another's place"
        )
    if seq > expected:
        later = where.get(expected)
        if later is not None and later > number:
            return f"line {number} is out of order: entry #{expected} comes later, at line {later}"
        gone = f"entry #{expected}" if seq == expected + 1 else f"entries #{expected} to #{seq - 1}"
        return f"{gone} {'was' if seq == expected + 1 else 'were'} removed before line {number}"
    first = where[seq]
    if first < number:
        return f"line {number} repeats entry #{seq} of line {first}: a line was inserted or copied"
    return f"line {number} is out of order: entry #{seq} comes after entry #{prev_seq}"


# --- reading it back ------------------------------------------------------------------------


def parse_since(text: str) -> datetime:
    """``--since``: an ISO date (``2026-11-28``) or date and time; UTC unless it says."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a date — use an ISO date or date and time, "
            "e.g. 2026-11-28 or 2026-11-28T14:00"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def select(
    entries: Iterable[dict[str, Any]],
    *,
    since: datetime | None = None,
    user: str | None = None,
    run: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The entries at or after ``since``, by ``user`` (in any case), about ``run``."""
    for entry in entries:
        if since is not None:
            try:
                if datetime.fromisoformat(str(entry.get("at"))) < since:
                    continue
            except ValueError:
                continue
        if user and str(entry.get("user") or "").casefold() != user.casefold():
            continue
        if run and entry.get("run") != run:
            continue
        yield entry


def to_jsonl(entries: Iterable[dict[str, Any]]) -> str:
    return "".join(_canonical(entry).decode() + "\n" for entry in entries)


def to_csv(entries: Iterable[dict[str, Any]]) -> str:
    """One row per entry; every text cell formula-guarded, as results files are."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "detail"])
    for entry in entries:
        cells = [_cell(entry.get(name)) for name in CSV_COLUMNS]
        rest = {k: v for k, v in entry.items() if k not in (*CSV_COLUMNS, "prev", "hash")}
        writer.writerow([*cells, _cell(rest or None)])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return guard_formula(str(value))
