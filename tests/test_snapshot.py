"""One version of the input per run, and outputs that can never be the input (issue 9, part 1)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from batchtool import snapshot
from batchtool.errors import InputError, UsageError


def test_fingerprint_content_and_size(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"x" * (3 * 1024 * 1024 + 5))  # several chunks
    b.write_bytes(b"x" * (3 * 1024 * 1024 + 5))
    assert snapshot.fingerprint(a) == snapshot.fingerprint(b)
    assert snapshot.fingerprint(a).endswith(f":{3 * 1024 * 1024 + 5}")
    b.write_bytes(b"x" * (3 * 1024 * 1024 + 4) + b"y")
    assert snapshot.fingerprint(a) != snapshot.fingerprint(b)


def test_the_copy_is_private_fingerprinted_and_removed_at_the_end(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"operation,customer_id\nlock,1\n")
    with snapshot.taken(source, tmp_path / "in.results.csv") as snap:
        assert snap.path.read_bytes() == source.read_bytes()
        assert snap.path.name == "in.csv"  # the extension still says the format
        assert snap.fingerprint == snapshot.fingerprint(source)
        assert os.stat(snap.path.parent).st_mode & 0o077 == 0
        source.write_bytes(b"operation,customer_id\nunlock,2\n")  # rewritten meanwhile
        assert snap.path.read_bytes() == b"operation,customer_id\nlock,1\n"
        folder = snap.path.parent
    assert not folder.exists()


def test_a_copy_left_by_a_killed_run_is_removed_by_the_next(tmp_path: Path) -> None:
    results = tmp_path / "in.results.csv"
    dead = tmp_path / ".in.results.csv.input-999999999-abc"  # no such process
    dead.mkdir()
    (dead / "in.csv").write_text("secret rows")
    source = tmp_path / "in.csv"
    source.write_text("operation,customer_id\nlock,1\n")
    with snapshot.taken(source, results):
        assert not dead.exists()


def test_a_file_that_keeps_changing_while_copied_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("operation,customer_id\nlock,1\n")
    real_stat = os.stat

    def stat_after_rewrite(path: object, *args: object, **kwargs: object) -> os.stat_result:
        # Every copy sees the file grow under it, as when an export job is still writing.
        if path == source:
            with source.open("a") as handle:
                handle.write("lock,2\n")
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat_after_rewrite)
    with pytest.raises(InputError) as caught, snapshot.taken(source, tmp_path / "r.csv"):
        pass
    assert str(caught.value) == (
        f"{source}: the file kept changing while it was being read (another program is "
        "writing it) — wait until it is complete and run again"
    )


def symlink_to(source: Path) -> Path:
    link = source.parent / "link.csv"
    link.symlink_to(source)
    return link


def hard_link_to(source: Path) -> Path:
    link = source.parent / "hard.csv"
    os.link(source, link)
    return link


@pytest.mark.parametrize(
    "make_output",
    [
        pytest.param(lambda src: src, id="same-path"),
        pytest.param(lambda src: src.parent / "." / src.name, id="same-file-other-spelling"),
        pytest.param(symlink_to, id="symlink"),
        pytest.param(hard_link_to, id="hard-link"),
    ],
)
def test_an_output_that_is_the_input_is_refused(
    tmp_path: Path, make_output: Callable[[Path], Path]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("operation,customer_id\nlock,1\n")
    output = make_output(source)
    with pytest.raises(UsageError) as caught:
        snapshot.check_outputs_apart(source, [("results file", output, "--results")])
    assert str(caught.value) == (
        f"the results file {output} is the input file {source} — writing it would destroy "
        "the input; choose another --results path"
    )


def test_outputs_beside_the_input_are_fine(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("x")
    snapshot.check_outputs_apart(
        source, [("results file", tmp_path / "in.results.csv", "--results")]
    )
