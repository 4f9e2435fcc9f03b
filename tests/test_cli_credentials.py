"""The api key through the command line: key files, systemd credentials, which source wins,
and secret files other users can open refused with exit 2 and the fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import LoopThread

from batchtool.cli import main
from batchtool.simulator import Simulator


@pytest.fixture
def sim(loop_thread: LoopThread) -> Iterator[Simulator]:
    simulator = Simulator(customers=3)
    loop_thread.run(simulator.start())
    yield simulator
    loop_thread.run(simulator.stop())


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "unlock.csv"
    path.write_text("operation,customer_id\nunlock,1\nunlock,2\nunlock,3\n")
    return path


def private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def run(src: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        main,
        ["run", str(src), "--results", str(src.with_suffix(".results.csv")), *args],
        env={"BATCHTOOL_API_KEY": None, "BATCHTOOL_CONFIG": None, **(env or {})},
    )


def to(sim: Simulator) -> list[str]:
    return ["--base-url", sim.base_url, "--api-username", sim.api_username]


def test_key_file_option(sim: Simulator, src: Path, tmp_path: Path) -> None:
    key_file = private(tmp_path / "key", sim.api_key + "\n")
    result = run(src, *to(sim), "--api-key-file", str(key_file))
    assert result.exit_code == 0, result.output
    assert sim.api_key not in result.output


def test_key_file_option_wins_over_the_key_variable(
    sim: Simulator, src: Path, tmp_path: Path
) -> None:
    key_file = private(tmp_path / "key", sim.api_key + "\n")
    result = run(
        src,
        *to(sim),
        "--api-key-file",
        str(key_file),
        env={"BATCHTOOL_API_KEY": "stale-key-from-the-shell"},
    )
    assert result.exit_code == 0, result.output


def test_key_file_variable(sim: Simulator, src: Path, tmp_path: Path) -> None:
    key_file = private(tmp_path / "key", sim.api_key + "\n")
    result = run(src, *to(sim), env={"BATCHTOOL_API_KEY_FILE": str(key_file)})
    assert result.exit_code == 0, result.output


def test_systemd_credential_named_by_the_profile(sim: Simulator, src: Path, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    private(credentials / "offerit-key", sim.api_key)
    config = private(
        tmp_path / "config.toml",
        f'[profiles.offerit]\nbase_url = "{sim.base_url}"\n'
        f'api_username = "{sim.api_username}"\napi_key_file = "offerit-key"\n',
        mode=0o644,  # no key in it: it may be readable
    )
    result = run(
        src,
        "--profile",
        "offerit",
        "--config",
        str(config),
        env={"CREDENTIALS_DIRECTORY": str(credentials)},
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_key_file_others_can_read_is_refused(src: Path, tmp_path: Path, mode: int) -> None:
    key_file = private(tmp_path / "key", "k\n", mode)
    result = run(
        src,
        "--base-url",
        "https://a.example.com",
        "--api-username",
        "u",
        "--api-key-file",
        str(key_file),
    )
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"batchtool: error: api key file {key_file} holds a secret but other users can open it "
        f"(mode {mode:04o}) — run: chmod 600 {key_file}\n"
    )


def test_a_config_file_holding_a_key_that_others_can_read_is_refused(
    src: Path, tmp_path: Path
) -> None:
    config = private(
        tmp_path / "config.toml",
        '[profiles.p]\nbase_url = "https://a.example.com"\napi_username = "u"\napi_key = "k"\n',
        mode=0o604,
    )
    result = run(src, "--profile", "p", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"batchtool: error: config file {config} holds a secret but other users can open it "
        f"(mode 0604) — run: chmod 600 {config}\n"
    )


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        pytest.param(
            ["--api-key", "k"],
            "k2\n",
            "--api-key and --api-key-file both give the api key — choose one",
            id="two-options",
        ),
        pytest.param(
            [], "\n", "api key file {key} is empty — its first line must be the api key", id="empty"
        ),
    ],
)
def test_key_file_usage_errors(
    src: Path, tmp_path: Path, args: list[str], content: str, message: str
) -> None:
    key_file = private(tmp_path / "key", content)
    result = run(
        src,
        "--base-url",
        "https://a.example.com",
        "--api-username",
        "u",
        *args,
        "--api-key-file",
        str(key_file),
    )
    assert result.exit_code == 2, result.output
    assert result.output == f"batchtool: error: {message.format(key=key_file)}\n"
