"""The results file: statuses, input columns as written, masking, formula guard, atomic writes."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from batchtool import model, plan, results
from batchtool.errors import UsageError

SECRET = "hunter2-secret"

HEADERS = {
    "operation": "Operation",
    "customer_id": "Customer ID",
    "firstname": "First Name",
    "email": "E-mail",
    "password": "Password",
    "ignored:Error": "Error",
    "ignored:=SUM(A1)": "=SUM(A1)",
}


def planned() -> pl.LazyFrame:
    """What plan.py hands over: 4 rows, row 2 invalid."""
    return pl.LazyFrame(
        {
            "row": [1, 2, 3, 4],
            "operation": ["set_customer_details", "frobnicate", "lock", "set_customer_details"],
            "customer_id": ["191", "192", "-193", "194"],
            "firstname": ['=HYPERLINK("x")', "+1", "@me", None],
            "email": ["a@example.com", "\tb@example.com", "\rc", "d@example.com"],
            "password": [SECRET, None, None, SECRET],
            "ignored:Error": ["note 1", None, "note 3", "note 4"],
            "ignored:=SUM(A1)": ["x", "y", "z", "w"],
            "_valid": [True, False, True, True],
            "_error": [None, "operation 'frobnicate' is unknown", None, None],
            "_lookup_key": ["customer_id"] * 4,
            "_lookup_value": ["191", "192", "-193", "194"],
        },
        schema_overrides={"row": pl.Int64},
    ).pipe(no_presets)


def no_presets(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The preset columns plan_frame adds, with no selection step having set any."""
    return frame.with_columns(
        pl.lit(None, dtype=pl.String).alias(plan.PRESET_STATUS),
        pl.lit(None, dtype=pl.String).alias(plan.PRESET_ERROR),
    )


def live_outcomes() -> pl.DataFrame:
    return results.outcomes_frame(
        [
            model.Outcome(3, model.FAILED, 404, 1, "customer not found", 12),
            model.Outcome(1, model.FAILED, 503, 2, "busy", 30),
            model.Outcome(1, model.OK, 200, 3, None, 40),  # later record wins
            model.Outcome(2, model.OK, 200, 1, None, 5),  # an invalid row stays invalid
        ]
    )


def test_results_format_by_extension() -> None:
    assert results.results_format(Path("a.csv")) == "csv"
    assert results.results_format(Path("a.PARQUET")) == "parquet"
    assert results.results_format(Path("a.jsonl")) == "jsonl"
    assert results.results_format(Path("dir/a.b.xlsx")) == "xlsx"
    with pytest.raises(UsageError) as info:
        results.results_format(Path("x.txt"))
    assert str(info.value) == (
        "results file 'x.txt': unknown extension — use .csv, .parquet, .jsonl or .xlsx"
    )


def test_default_results_path(tmp_path: Path) -> None:
    assert results.default_results_path(Path("/data/in/changes.xlsx"), tmp_path) == (
        tmp_path / "changes.results.csv"
    )
    assert results.default_results_path(Path("x.csv")) == Path.cwd() / "x.results.csv"


def test_outcomes_frame_schema() -> None:
    empty = results.outcomes_frame([])
    assert empty.is_empty()
    assert dict(empty.schema) == results.OUTCOME_SCHEMA
    frame = results.outcomes_frame([model.Outcome(7, model.OK, 200, 1, None, 3)])
    assert frame.to_dicts() == [
        {
            "row": 7,
            "status": "ok",
            "http_status": 200,
            "attempts": 1,
            "error": None,
            "elapsed_ms": 3,
            "finished_at": None,
        }
    ]


def test_dry_run_columns_statuses_and_masking() -> None:
    frame = results.build_results(planned(), HEADERS, outcomes=None).collect()
    assert frame.columns == [
        *results.RESULT_COLUMNS,
        "Customer ID",
        "First Name",
        "E-mail",
        "Password",
        "input Error",
        "=SUM(A1)",
    ]
    assert frame["row"].to_list() == [1, 2, 3, 4]
    assert frame["status"].to_list() == ["valid", "invalid", "valid", "valid"]
    assert frame["error"].to_list() == [None, "operation 'frobnicate' is unknown", None, None]
    assert frame["operation"].to_list()[1] == "frobnicate"  # what the user typed when unknown
    assert frame["attempts"].to_list() == [0, 0, 0, 0]
    assert frame["http_status"].null_count() == 4
    assert frame["elapsed_ms"].null_count() == 4
    assert frame["Password"].to_list() == ["***", None, None, "***"]
    assert frame.schema["http_status"] == pl.Int64
    assert frame.schema["elapsed_ms"] == pl.Int64


def test_live_run_outcomes_invalid_and_skipped() -> None:
    frame = results.build_results(
        planned(), HEADERS, outcomes=live_outcomes(), unsent_reason="interrupted"
    ).collect()
    assert frame.select(results.RESULT_COLUMNS[:2] + results.RESULT_COLUMNS[3:7]).rows() == [
        (1, "ok", 200, 3, None, 40),
        (2, "invalid", None, 0, "operation 'frobnicate' is unknown", None),
        (3, "failed", 404, 1, "customer not found", 12),
        (4, "skipped", None, 0, "interrupted", None),
    ]


def test_input_order_kept_with_shuffled_outcomes() -> None:
    n = 20_000
    rows = list(range(1, n + 1))
    lazy = pl.LazyFrame(
        {
            "row": rows,
            "operation": ["lock"] * n,
            "customer_id": [str(r) for r in rows],
            "_valid": [True] * n,
            "_error": [None] * n,
        },
        schema_overrides={"row": pl.Int64, "_error": pl.String},
    ).pipe(no_presets)
    done = results.outcomes_frame(
        model.Outcome(r, model.OK, 200, 1, None, 1) for r in reversed(rows) if r % 3
    )
    frame = results.build_results(
        lazy, {"operation": "op", "customer_id": "id"}, outcomes=done
    ).collect()
    assert frame["row"].to_list() == rows
    assert frame["id"].to_list() == [str(r) for r in rows]
    assert frame.filter(pl.col("status") == "skipped").height == n // 3


def test_header_collisions_case_insensitive() -> None:
    lazy = pl.LazyFrame(
        {
            "row": [1],
            "operation": ["lock"],
            "customer_id": ["1"],
            "ignored:Status": ["x"],
            "ignored:row": ["y"],
            "_valid": [True],
            "_error": [None],
        },
        schema_overrides={"row": pl.Int64, "_error": pl.String},
    ).pipe(no_presets)
    headers = {"customer_id": "status", "ignored:Status": "Status", "ignored:row": "row"}
    frame = results.build_results(lazy, headers, outcomes=None).collect()
    assert frame.columns[len(results.RESULT_COLUMNS) :] == [
        "input status",
        "input input Status",  # "input Status" would read as the same as "input status"
        "input row",
    ]
    assert frame["input input Status"].to_list() == ["x"]


def _read_xlsx(path: Path) -> list[list[object]]:
    sheet = openpyxl.load_workbook(path).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def test_csv_is_formula_guarded_and_masked(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    results.write_results(results.build_results(planned(), HEADERS, outcomes=None), path)
    text = path.read_text()
    assert SECRET not in text
    back = pl.read_csv(path, infer_schema=False)
    assert back.columns[-1] == "'=SUM(A1)"
    assert back["First Name"].to_list() == ['\'=HYPERLINK("x")', "'+1", "'@me", None]
    assert back["E-mail"].to_list() == [
        "a@example.com",
        "'\tb@example.com",
        "'\rc",
        "d@example.com",
    ]
    assert back["Customer ID"].to_list() == ["191", "192", "'-193", "194"]
    assert back["Password"].to_list() == ["***", None, None, "***"]
    assert back["status"].to_list() == ["valid", "invalid", "valid", "valid"]
    assert back["attempts"].to_list() == ["0", "0", "0", "0"]


def test_xlsx_is_formula_guarded_text(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    results.write_results(results.build_results(planned(), HEADERS, outcomes=live_outcomes()), path)
    rows = _read_xlsx(path)
    header, first, second = rows[0], rows[1], rows[2]
    assert header[-1] == "'=SUM(A1)"
    record = dict(zip(header, first, strict=True))
    assert record["First Name"] == '\'=HYPERLINK("x")'
    assert record["Password"] == "***"
    assert record["status"] == "ok"
    assert record["http_status"] == 200
    assert dict(zip(header, second, strict=True))["E-mail"] == "'\tb@example.com"
    assert len(rows) == 5
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            assert SECRET.encode() not in archive.read(name)
            assert b"<f>" not in archive.read(name)  # no cell is a formula


def test_parquet_and_jsonl_unguarded(tmp_path: Path) -> None:
    lazy = results.build_results(planned(), HEADERS, outcomes=live_outcomes())
    parquet, jsonl = tmp_path / "out.parquet", tmp_path / "out.jsonl"
    results.write_results(lazy, parquet)
    results.write_results(lazy, jsonl)
    expected = lazy.collect()
    assert pl.read_parquet(parquet).equals(expected)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["row"] for line in lines] == [1, 2, 3, 4]
    assert lines[0]["First Name"] == '=HYPERLINK("x")'
    assert lines[0]["=SUM(A1)"] == "x"
    assert lines[1]["http_status"] is None
    for path in (parquet, jsonl):
        assert SECRET.encode() not in path.read_bytes()


@pytest.mark.parametrize("name", ["r.csv", "r.parquet", "r.jsonl", "r.xlsx"])
def test_write_is_atomic_and_leaves_no_temp(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("old")
    results.write_results(results.build_results(planned(), HEADERS, outcomes=None), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert path.read_bytes() != b"old"

    broken = planned().with_columns(pl.col("firstname").cast(pl.Int64, strict=True))
    with pytest.raises(pl.exceptions.PolarsError):
        results.write_results(results.build_results(broken, HEADERS, outcomes=None), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # old file kept, no temp


def test_summarise_results() -> None:
    summary = results.summarise_results(
        results.build_results(planned(), HEADERS, outcomes=live_outcomes())
    )
    assert summary.total == 4
    assert summary.counts == {"ok": 1, "failed": 1, "invalid": 1, "skipped": 1}
    assert list(summary.counts) == ["ok", "failed", "invalid", "skipped"]
    assert summary.top_errors == [
        ("customer not found", 1),
        ("not sent", 1),
        ("operation 'frobnicate' is unknown", 1),
    ]
    dry = results.summarise_results(results.build_results(planned(), HEADERS, outcomes=None))
    assert dry.counts == {"valid": 3, "invalid": 1}
    assert results.summarise_results(
        results.build_results(planned(), HEADERS, outcomes=live_outcomes()), top=1
    ).top_errors == [("customer not found", 1)]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("missing/r.csv", "folder '{tmp}/missing' does not exist", id="no-folder"),
        pytest.param("adir.csv", "is a folder", id="is-a-folder"),
        pytest.param("r.txt", "unknown extension", id="bad-extension"),
    ],
)
def test_unusable_results_path_is_refused_up_front(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "adir.csv").mkdir()
    with pytest.raises(UsageError, match=re.escape(message.format(tmp=tmp_path))):
        results.check_results_path(tmp_path / name)
    assert results.check_results_path(tmp_path / "r.parquet") == "parquet"


def test_a_guard_typed_by_the_user_is_guarded_too(tmp_path: Path) -> None:
    # So that reading the results back, which strips one guard, gives "'=x" as typed.
    lazy = pl.LazyFrame(
        {
            "row": [1, 2],
            "operation": ["lock", "lock"],
            "customer_id": ["1", "2"],
            "ignored:Note": ["'=x", "'x"],
            "_valid": [True, True],
            "_error": [None, None],
            "_preset_status": [None, None],
            "_preset_error": [None, None],
        },
        schema_overrides={
            "row": pl.Int64,
            "_error": pl.String,
            "_preset_status": pl.String,
            "_preset_error": pl.String,
        },
    )
    path = tmp_path / "out.csv"
    built = results.build_results(lazy, {"ignored:Note": "'@Note"}, outcomes=None)
    results.write_results(built, path)
    back = pl.read_csv(path, infer_schema=False)
    assert back.columns[-1] == "''@Note"
    assert back["''@Note"].to_list() == ["''=x", "'x"]
