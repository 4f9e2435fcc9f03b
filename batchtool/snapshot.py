"""One version of the input for the whole run, and an input that no output of the run can touch.

A run reads its input several times (checking, planning, sending in batches, echoing values
into the results). If an export job rewrites the file meanwhile, the server would receive one
version and the results would report another. So the run first copies the input's bytes into
a private folder beside its results, hashing them on the way (the journal's fingerprint is
that copy's), and reads only the copy from then on. The copy is removed when the run ends; a
copy left behind by a killed run is removed by the next run on the same results path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from batchtool.errors import InputError, UsageError

_CHUNK: Final = 1 << 20
#: Copies attempted while another program keeps rewriting the input, before giving up.
_ATTEMPTS: Final = 3
_FOLDER_TAG: Final = ".input-"


@dataclass(frozen=True)
class Snapshot:
    """The run's private copy of its input: where it is, and the fingerprint of its bytes."""

    path: Path
    fingerprint: str


def fingerprint(path: Path) -> str:
    """``blake2b:<hex digest>:<size>`` of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.blake2b(digest_size=20)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return _render(digest, size)


def _render(digest: hashlib.blake2b, size: int) -> str:
    return f"blake2b:{digest.hexdigest()}:{size}"


def check_outputs_apart(input_path: Path, outputs: Iterable[tuple[str, Path, str]]) -> None:
    """Refuse (UsageError) when an output of the run would be the input file itself.

    Compares files, not strings: a symlink or a hard link to the input is the input. Each
    output is ``(what, path, option)``, e.g. ``("results file", Path("in.csv"), "--results")``:
    the option is the one the message tells to change.
    """
    for what, output, option in outputs:
        if same_file(input_path, output):
            raise UsageError(
                f"the {what} {output} is the input file {input_path} — writing it would destroy "
                f"the input; choose another {option} path"
            )


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file (links followed), or ``b`` would be created as ``a``."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        # An output that does not exist yet is the input only if it would be created in its
        # place: same folder (links resolved) and same name.
        try:
            return a.resolve() == b.resolve()
        except (OSError, RuntimeError):
            return False


@contextlib.contextmanager
def taken(input_path: Path, results_path: Path) -> Iterator[Snapshot]:
    """Copy ``input_path`` into a private folder beside ``results_path`` for the run's duration.

    Messages name the input as the user gave it; the copy keeps its file name, so its
    extension still says its format.
    """
    _remove_abandoned(results_path)
    try:
        folder = Path(
            tempfile.mkdtemp(
                prefix=f".{results_path.name}{_FOLDER_TAG}{os.getpid()}-", dir=results_path.parent
            )
        )
    except OSError as exc:
        raise UsageError(
            f"cannot make a private folder beside the results file {results_path} "
            f"({exc.strerror or exc}) — choose another --results path"
        ) from exc
    try:
        copy = folder / input_path.name
        yield Snapshot(copy, _copy(input_path, copy))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy(source: Path, target: Path) -> str:
    """Copy and fingerprint in one pass; retry while the source changes under the copy."""
    for _ in range(_ATTEMPTS):
        try:
            with source.open("rb") as src:
                before = os.fstat(src.fileno())
                digest = hashlib.blake2b(digest_size=20)
                size = 0
                with target.open("wb") as dst:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
                        size += len(chunk)
                after = os.stat(source)
        except FileNotFoundError:
            raise InputError(f"{source}: no such file — check the path") from None
        except IsADirectoryError:
            raise InputError(
                f"{source}: is a directory — give the path of the input file inside it"
            ) from None
        except PermissionError:
            raise InputError(
                f"{source}: permission denied — make the file readable (chmod u+r) or copy it"
            ) from None
        except OSError as exc:
            raise InputError(
                f"{source}: cannot copy it for the run ({exc.strerror or exc}) — "
                "check the disk beside the results file"
            ) from None
        if _unchanged(before, after) and size == after.st_size:
            return _render(digest, size)
    raise InputError(
        f"{source}: the file kept changing while it was being read (another program is "
        "writing it) — wait until it is complete and run again"
    )


def _unchanged(before: os.stat_result, after: os.stat_result) -> bool:
    # A rewrite in place changes the size or the modification time; a replacement by rename
    # changes the inode the path points to.
    return (before.st_ino, before.st_size, before.st_mtime_ns) == (
        after.st_ino,
        after.st_size,
        after.st_mtime_ns,
    )


def _remove_abandoned(results_path: Path) -> None:
    """Remove private copies left by killed runs on this results path (their process is gone)."""
    prefix = f".{results_path.name}{_FOLDER_TAG}"
    with contextlib.suppress(OSError):
        for entry in results_path.parent.iterdir():
            if not entry.name.startswith(prefix) or not entry.is_dir():
                continue
            pid = entry.name[len(prefix) :].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
