"""Secrets kept in files: refuse a file other users can open, and read an api key from one.

The rule is ssh's for private keys: a file that holds a secret must be closed to group and
others (``chmod 600``), otherwise it is refused before anything is sent. ``check_private_file``
is the one place that rule lives; every file batchtool reads a secret from goes through it
(the config file when it holds ``api_key``, key files, client keys, the ops page's users);
``check_private_dir`` is the same rule for a folder of them (the ops page's data dir).

Key files follow the conventions of Docker/Kubernetes secrets and systemd credentials: the
key is the file's first line, without its line ending. A relative key file name is looked up
in ``$CREDENTIALS_DIRECTORY`` when systemd has set it (``LoadCredential=offerit-key:…`` in the
unit, ``api_key_file = "offerit-key"`` in the profile).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from batchtool.errors import UsageError

#: Set by systemd for a service with ``LoadCredential=`` / ``SetCredential=``.
ENV_CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"

#: Permission bits that let someone other than the owner read or change a file.
OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def check_private_file(path: Path, what: str) -> None:
    """Refuse ``path`` (described as ``what``, e.g. "key file") if group or others may open it.

    Raises :class:`UsageError` with the fix (``chmod 600 PATH``). A file that does not exist
    or cannot be examined is refused too, with its own message. Symbolic links are followed:
    what matters is the file the secret is read from (Kubernetes mounts secrets as links).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
    _refuse_open(path, what, mode, "holds a secret", "600")


def check_private_dir(path: Path, what: str) -> None:
    """Refuse the folder ``path`` (described as ``what``) if group or others may enter it.

    Raises :class:`UsageError` with the fix (``chmod 700 PATH``). Links are followed, as for
    files; a folder that does not exist is left to its caller to create.
    """
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise UsageError(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
    _refuse_open(path, what, mode, "holds secrets", "700")


def _refuse_open(path: Path, what: str, mode: int, holds: str, private: str) -> None:
    if os.name == "posix" and mode & OPEN_TO_OTHERS:
        raise UsageError(
            f"{what} {path} {holds} but other users can open it "
            f"(mode {stat.S_IMODE(mode):04o}) — run: chmod {private} {path}"
        )


def key_file_path(
    name: str | Path, environ: Mapping[str, str], *, relative_to: Path | None = None
) -> Path:
    """Where the key file ``name`` is: a relative name means a systemd credential when
    ``$CREDENTIALS_DIRECTORY`` is set, else a file in ``relative_to`` (a config file's folder)
    or the current one. ``~`` is expanded."""
    path = Path(name).expanduser()
    if path.is_absolute():
        return path
    credentials_dir = environ.get(ENV_CREDENTIALS_DIRECTORY)
    if credentials_dir:
        return Path(credentials_dir) / path
    return relative_to / path if relative_to is not None else path


def read_key_file(path: Path, what: str = "key file") -> str:
    """The key in ``path``: its first line without the line ending. The file must be private."""
    check_private_file(path, what)
    try:
        with path.open(encoding="utf-8") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"{what} {path} cannot be read ({reason})") from None
    key = first.rstrip("\r\n")
    if not key:
        raise UsageError(f"{what} {path} is empty — its first line must be the api key")
    return key
