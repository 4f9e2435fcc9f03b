"""``batchtool completion``: a script for each shell, and completions that complete."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchtool.cli import main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(
    ("shell", "registers"),
    [
        pytest.param("bash", "complete -o nosort -F _batchtool_completion batchtool", id="bash"),
        pytest.param("zsh", "compdef _batchtool_completion batchtool", id="zsh"),
        pytest.param("fish", "complete --no-files --command batchtool", id="fish"),
    ],
)
def test_prints_the_script_for_each_shell(runner: CliRunner, shell: str, registers: str) -> None:
    result = runner.invoke(main, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert "_batchtool_completion" in result.output
    assert registers in result.output
    # The script calls batchtool back with the variable click's main() answers to.
    assert f"_BATCHTOOL_COMPLETE={shell}_complete" in result.output


def test_an_unknown_shell_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["completion", "tcsh"])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for 'SHELL': 'tcsh' is not one of 'bash', 'zsh', 'fish'."
    )
    assert "Traceback" not in result.output


def complete(runner: CliRunner, words: str, shell: str = "bash") -> list[str]:
    """What batchtool answers the completion script for the command line ``words``."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    result = runner.invoke(
        main,
        prog_name="batchtool",
        env={
            "_BATCHTOOL_COMPLETE": f"{shell}_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        },
    )
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        pytest.param("batchtool r", ["plain,run"], id="command"),
        pytest.param("batchtool completion z", ["plain,zsh"], id="shell-name"),
        pytest.param("batchtool run --dry", ["plain,--dry-run"], id="option"),
    ],
)
def test_completes(runner: CliRunner, words: str, offered: list[str]) -> None:
    assert complete(runner, words) == offered


def test_offers_every_command(runner: CliRunner) -> None:
    offered = complete(runner, "batchtool ")
    assert offered == [f"plain,{name}" for name in sorted(main.commands)]


def test_the_bash_script_completes_in_bash(runner: CliRunner) -> None:
    """The whole round trip: bash runs the script, which asks the installed command."""
    bash = shutil.which("bash")
    command = Path(sys.executable).with_name("batchtool")
    if bash is None or not command.exists():
        pytest.skip("needs bash and the batchtool command beside this python")
    script = runner.invoke(main, ["completion", "bash"]).output
    line = "COMP_WORDS=(batchtool r); COMP_CWORD=1; _batchtool_completion batchtool"
    answer = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", f'{script}\n{line}; echo "${{COMPREPLY[@]}}"'],
        env={**os.environ, "PATH": f"{command.parent}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert answer.stdout == "run\n"
