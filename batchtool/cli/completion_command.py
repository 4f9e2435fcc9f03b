"""``completion``: the script that lets a shell complete batchtool's commands and options.

The script is click's own. On each TAB it calls ``batchtool`` back with
``_BATCHTOOL_COMPLETE`` set, and click answers with the candidates, so the script never goes
stale when a command or an option is added.
"""

from __future__ import annotations

import click
from click.shell_completion import BashComplete, FishComplete, ShellComplete, ZshComplete

#: The command the script completes: the one on PATH, however this one was started.
PROG_NAME = "batchtool"
#: The variable click's main() looks for, derived by click from the program's name.
COMPLETE_VAR = "_BATCHTOOL_COMPLETE"
SHELLS: dict[str, type[ShellComplete]] = {
    "bash": BashComplete,
    "zsh": ZshComplete,
    "fish": FishComplete,
}


@click.command()
@click.argument("shell", type=click.Choice(list(SHELLS)), metavar="SHELL")
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL. SHELL is bash, zsh or fish; the script
    asks batchtool for the candidates on each TAB, so it stays right after an upgrade.

    \b
    bash:  batchtool completion bash > ~/.batchtool-complete.bash
           and in ~/.bashrc: . ~/.batchtool-complete.bash
    zsh:   batchtool completion zsh > ~/.batchtool-complete.zsh
           and in ~/.zshrc, after compinit: . ~/.batchtool-complete.zsh
    fish:  batchtool completion fish > ~/.config/fish/completions/batchtool.fish
    """
    script = SHELLS[shell](ctx.find_root().command, {}, PROG_NAME, COMPLETE_VAR).source()
    click.echo(script, nl=False)
