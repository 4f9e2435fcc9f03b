"""Property (issue 9): a damaged input file, whatever the damage, ends a dry run with exit 0, 1
or 2 and, when it fails, one line naming the problem: never a traceback, never an "internal
error".

Real files (the samples, and files as ops save them) are truncated, have bytes flipped, are
spliced into each other, get runs of NUL bytes. CI runs a fixed set of examples; for a longer,
random hunt run e.g. ``BATCHTOOL_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_input.py``.
"""

from __future__ import annotations

import codecs
import io
import os
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchtool.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"

_LONG_RUN = os.environ.get("BATCHTOOL_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(_LONG_RUN) if _LONG_RUN else 60,
    derandomize=_LONG_RUN is None,  # the same examples on every CI run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


def _titled_xlsx() -> bytes:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out)
    ws = workbook.add_worksheet("Week 48")
    ws.write("A1", "Unlock requests, week 48")
    ws.write_row("A3", ["Operation", "Customer ID", "Zip"])
    ws.write_row("A4", ["unlock", 191, "01234"])
    ws.write_row("A5", ["lock", 12345678901234567, 1.5])
    workbook.close()
    return out.getvalue()


def _float_parquet() -> bytes:
    out = io.BytesIO()
    pl.DataFrame({"operation": ["lock", None], "customer_id": [191.0, 1e17]}).write_parquet(out)
    return out.getvalue()


def _seeds() -> dict[str, bytes]:
    """Real files, by the name (and so the extension) they are run under."""
    seeds = {p.name: p.read_bytes() for p in sorted(SAMPLES.iterdir()) if p.suffix != ".py"}
    semicolon = 'Unlock requests\n\noperation;customer_id;city\nunlock;191;Köln\nlock;"7";\n'
    seeds["semicolon.csv"] = semicolon.encode()
    unicode_text = "Operation\tCustomer ID\r\nlock\t191\r\nunlock\t192\r\n"
    seeds["unicode.txt"] = codecs.BOM_UTF16_LE + unicode_text.encode("utf-16-le")
    seeds["mac.csv"] = b"operation,customer_id\rlock,1\runlock,2\r"
    seeds["titled.xlsx"] = _titled_xlsx()
    seeds["floats.parquet"] = _float_parquet()
    return seeds


SEEDS = _seeds()


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed file's name and its bytes after one to three kinds of damage."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = SEEDS[name]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["truncate", "flip", "splice", "nul", "repeat"]))
        if kind == "truncate":
            data = data[:at]
        elif kind == "flip":
            flips = draw(st.lists(st.integers(0, max(len(data) - 1, 0)), min_size=1, max_size=8))
            mutable = bytearray(data)
            for i in flips:
                if i < len(mutable):
                    mutable[i] ^= draw(st.integers(1, 255))
            data = bytes(mutable)
        elif kind == "splice":
            other = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
            data = data[:at] + other[draw(st.integers(0, len(other))) :]
        elif kind == "nul":
            data = data[:at] + b"\x00" * draw(st.integers(1, 600)) + data[at:]
        else:
            size = draw(st.integers(1, 200))
            data = data[:at] + data[at : at + size] * draw(st.integers(2, 5)) + data[at:]
    return name, data


@FUZZ
@given(case=damaged())
def test_a_damaged_file_ends_in_one_clear_line(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str, bytes]
) -> None:
    name, data = case
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / name
    path.write_bytes(data)
    result = CliRunner().invoke(
        main, ["run", str(path), "--dry-run", "--results", str(folder / "out.csv")]
    )
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    if result.exit_code == 2:
        lines = result.output.splitlines()
        assert len(lines) == 1, result.output
        assert lines[0].startswith("batchtool: error: "), result.output


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_undamaged_seed_reads(tmp_path: Path, name: str) -> None:
    # The damage must be what the property meets, not a seed that is already refused.
    path = tmp_path / name
    path.write_bytes(SEEDS[name])
    result = CliRunner().invoke(
        main, ["run", str(path), "--dry-run", "--results", str(tmp_path / "out.csv")]
    )
    assert result.exit_code in ((2,) if name == "typo_header.csv" else (0, 1)), result.output


# --- what the property found, pinned -----------------------------------------------------


def _dry_run_line(path: Path) -> str:
    result = CliRunner().invoke(
        main, ["run", str(path), "--dry-run", "--results", str(path.with_suffix(".out.csv"))]
    )
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    return result.output.removeprefix("batchtool: error: ").rstrip("\n")


def test_a_line_break_inside_a_header_stays_on_one_line(tmp_path: Path) -> None:
    # U+0085 (NEL) ends a line for Python's splitlines and for some terminals.
    text = "Operatio\x85\tCustomer ID\r\nlock\t191\r\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert _dry_run_line(path) == (
        f"{path}: unknown column 'Operatio\\x85' — did you mean 'operation'? Rename it, map it "
        'with --map "Operatio\\x85=operation", or skip it with --ignore-column '
        '"Operatio\\\\x85"'
    )


def test_a_parquet_footer_that_does_not_decode(tmp_path: Path) -> None:
    data = SEEDS["changes.parquet"]
    at = data.index(b"ARROW:schema") + 200  # inside the base64 schema
    path = tmp_path / "changes.parquet"
    path.write_bytes(data[:at] + b"@" + data[at + 1 :])
    assert _dry_run_line(path).startswith(
        f"{path}: cannot read it as Parquet (unable to decode the encoded schema"
    )


def test_a_quote_that_never_closes_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b'operation,"customer_id\nlock,1\n')
    assert _dry_run_line(path) == (
        f'{path}: line 1 opens a quoted value that never closes — close it, and write a " '
        'inside a quoted value as ""'
    )


def test_a_workbook_pythons_zipfile_refuses_is_refused_in_one_line(tmp_path: Path) -> None:
    # calamine would read it, but what it would cost calamine cannot be checked before it is
    # loaded (issue 19): a zip bomb could hide behind the odd version. Refused, in words.
    data = bytearray(SEEDS["titled.xlsx"])
    central = data.index(b"PK\x01\x02")
    data[central + 6] = 128  # "version needed to extract": 12.8, which zipfile does not know
    path = tmp_path / "titled.xlsx"
    path.write_bytes(bytes(data))
    assert _dry_run_line(path) == (
        f"{path}: cannot read it as an Excel workbook (zip file version 12.8) — check that it "
        "opens in Excel and save it again"
    )
