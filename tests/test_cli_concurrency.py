"""``batchtool run --concurrency auto|N --max-concurrency N`` and ``simulate --workers --queue``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from batchtool.cli import main
from batchtool.dispatch import DispatchConfig
from batchtool.runner import run_batch

CSV = "operation,customer_id\nlock,1\nunlock,2\nlock,3\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "changes.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([], DispatchConfig(), id="default-auto"),
        pytest.param(["--concurrency", "AUTO"], DispatchConfig(), id="auto-any-case"),
        pytest.param(
            ["--max-concurrency", "3"], DispatchConfig(max_concurrency=3), id="auto-max-3"
        ),
        pytest.param(["--concurrency", "5"], DispatchConfig(concurrency=5), id="fixed-5"),
    ],
)
def test_concurrency_options_reach_the_engine(
    runner: CliRunner,
    src: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    expected: DispatchConfig,
) -> None:
    seen: list[DispatchConfig] = []

    def spy(*a: Any, **kw: Any) -> Any:
        seen.append(kw["dispatch_config"])
        return run_batch(*a, **kw)

    monkeypatch.setattr("batchtool.cli.run_command.run_batch", spy)
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["run", str(src), "--simulate", "--results", str(out), *args])
    assert result.exit_code == 0, result.output
    assert [(c.concurrency, c.max_concurrency) for c in seen] == [
        (expected.concurrency, expected.max_concurrency)
    ]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        pytest.param([], "concurrency: auto (avg ", id="auto"),
        pytest.param(["--concurrency", "5"], "concurrency: 5\n", id="fixed"),
    ],
)
def test_the_summary_shows_the_concurrency(
    runner: CliRunner, src: Path, tmp_path: Path, args: list[str], line: str
) -> None:
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["run", str(src), "--simulate", "--results", str(out), *args])
    assert result.exit_code == 0, result.output
    assert line in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--concurrency", "fast"],
            "Invalid value for '--concurrency': 'fast' is neither auto nor a whole number, "
            "e.g. 8",
            id="word",
        ),
        pytest.param(
            ["--concurrency", "0"],
            "Invalid value for '--concurrency': 0 is not auto or a number from 1 to 1024",
            id="zero",
        ),
        pytest.param(
            ["--concurrency", "5000"],
            "Invalid value for '--concurrency': 5000 is not auto or a number from 1 to 1024",
            id="too-many",
        ),
        pytest.param(
            ["--concurrency", "8", "--max-concurrency", "32"],
            "batchtool: error: --max-concurrency applies only to --concurrency auto, not to a "
            "fixed --concurrency 8 — give one or the other",
            id="max-with-fixed",
        ),
        pytest.param(
            ["--max-concurrency", "0"],
            "Invalid value for '--max-concurrency': 0 is not in the range 1<=x<=1024.",
            id="max-zero",
        ),
    ],
)
def test_bad_concurrency_is_a_usage_error(
    runner: CliRunner, src: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["run", str(src), "--simulate", "--results", str(out), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--queue", "2"],
            "batchtool: error: --queue needs --workers: requests wait in it for a worker",
            id="queue-without-workers",
        ),
        pytest.param(
            ["--workers", "0"],
            "Invalid value for '--workers': 0 is not in the range x>=1.",
            id="no-workers",
        ),
        pytest.param(
            ["--workers", "2", "--queue", "-1"],
            "Invalid value for '--queue': -1 is not in the range x>=0.",
            id="negative-queue",
        ),
    ],
)
def test_bad_simulator_capacity_is_a_usage_error(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(main, ["simulate", "--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
