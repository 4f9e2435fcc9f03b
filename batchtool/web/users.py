"""The ops page's users: names and scrypt password hashes in ``users.json`` (mode 0600).

Hashes are ``scrypt$N$r$p$salt$hash`` (stdlib ``hashlib.scrypt``, a random 16-byte salt per
password, base64 parts), compared in constant time. The file is read again whenever it
changes on disk, so ``batchtool users remove NAME`` takes effect in a running server at once.

Each user has a role (``permissions.ROLES``): a ``role`` field beside the hash. A user of a
file written before roles existed has none, and is an admin: nothing changes for them. A new
user is an operator unless told otherwise; a new password keeps the role.

A user's *stamp* is a digest of their stored hash: every new password has a new salt, so the
stamp changes with every password command (``users add NAME`` again) and no removed and
re-added user ever gets an old one back. A session keeps the stamp it signed in with and
ends when it no longer matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from batchtool.errors import UsageError
from batchtool.secret_files import check_private_file
from batchtool.web.files import make_private_dir, read_json, write_json
from batchtool.web.permissions import ADMIN, OPERATOR, ROLES, check_role

#: scrypt cost: 32 MiB and about 0.1 s per hash on a 2-core machine — dear for anyone
#: guessing from a stolen file, cheap for a person signing in. Each hash records its own
#: parameters, so raising them later needs no migration.
SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_HASH_BYTES: Final = 32

MIN_PASSWORD_LENGTH: Final = 10
USERS_FILE: Final = "users file"
_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_HASH_BYTES, maxmem=64 << 20
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; a malformed ``stored`` matches nothing."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


#: Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH: Final = hash_password(secrets.token_hex(16))


def check_name(name: str) -> str:
    if not _NAME_PATTERN.fullmatch(name):
        raise UsageError(
            f"user name {name!r} is not allowed — use 1 to 64 letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(
            f"the password is too short — use at least {MIN_PASSWORD_LENGTH} characters"
        )
    return password


@dataclass(frozen=True)
class User:
    name: str
    created: str
    role: str


class Users:
    """The users file of one data dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._hashes: dict[str, str] = {}
        self._created: dict[str, str] = {}
        self._roles: dict[str, str] = {}

    def _load(self) -> None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._hashes, self._created, self._roles = None, {}, {}, {}
            return
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if stamp == self._stamp:
            return
        # Hashes are secrets too: the rule every file batchtool reads a secret from follows.
        check_private_file(self.path, USERS_FILE)
        try:
            data = read_json(self.path) or {}
            users = data["users"]
            hashes = {str(name): str(entry["hash"]) for name, entry in users.items()}
            created = {str(name): str(entry.get("created", "")) for name, entry in users.items()}
            roles = {str(name): str(entry.get("role", ADMIN)) for name, entry in users.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(
                f"users file {self.path} is damaged ({exc}) — restore it from a backup or "
                "delete it and add the users again"
            ) from None
        for name, role in roles.items():
            if role not in ROLES:
                raise UsageError(
                    f"users file {self.path}: {name} has the role {role!r}, which is not one of "
                    f"{', '.join(ROLES)} — correct its \"role\" in the file"
                )
        self._stamp, self._hashes, self._created, self._roles = stamp, hashes, created, roles

    def names(self) -> list[User]:
        self._load()
        return [User(n, self._created[n], self._roles[n]) for n in sorted(self._hashes)]

    def exists(self, name: str) -> bool:
        self._load()
        return name in self._hashes

    def any(self) -> bool:
        self._load()
        return bool(self._hashes)

    def verify(self, name: str, password: str) -> bool:
        """Whether ``name`` exists and ``password`` is theirs, in about the same time either way."""
        return self.sign_in(name, password) is not None

    def sign_in(self, name: str, password: str) -> str | None:
        """``name``'s stamp if ``password`` is theirs, else None; in about the same time
        either way."""
        self._load()
        stored = self._hashes.get(name)
        matches = verify_password(password, stored or _DUMMY_HASH)
        return _stamp(stored) if stored is not None and matches else None

    def stamp(self, name: str) -> str | None:
        """What changes with every new password of ``name``; None when there is no such user."""
        self._load()
        stored = self._hashes.get(name)
        return _stamp(stored) if stored is not None else None

    def role(self, name: str) -> str | None:
        """``name``'s role; None when there is no such user."""
        self._load()
        return self._roles.get(name)

    def add(self, name: str, password: str, role: str | None = None) -> None:
        """Add ``name`` (an operator unless ``role`` says otherwise), or set a new password
        for them if they exist (keeping their role unless ``role`` is given)."""
        check_name(name)
        check_password(password)
        if role is not None:
            check_role(role)
        self._load()
        entry = {
            "hash": hash_password(password),
            "created": self._created.get(name) or _now(),
            "role": role or self._roles.get(name) or OPERATOR,
        }
        self._save({**self._entries(), name: entry})

    def set_role(self, name: str, role: str) -> None:
        check_role(role)
        self._load()
        if name not in self._hashes:
            raise UsageError(f"no user {name!r} — 'batchtool users list' shows who exists")
        entries = self._entries()
        entries[name]["role"] = role
        self._save(entries)

    def remove(self, name: str) -> None:
        self._load()
        if name not in self._hashes:
            raise UsageError(f"no user {name!r} — 'batchtool users list' shows who exists")
        entries = self._entries()
        del entries[name]
        self._save(entries)

    def _entries(self) -> dict[str, dict[str, str]]:
        return {
            n: {"hash": h, "created": self._created[n], "role": self._roles[n]}
            for n, h in self._hashes.items()
        }

    def _save(self, entries: dict[str, dict[str, str]]) -> None:
        make_private_dir(self.path.parent)
        write_json(self.path, {"users": entries})
        self._stamp = None


def _stamp(stored_hash: str) -> str:
    return hashlib.sha256(stored_hash.encode("utf-8")).hexdigest()[:32]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
