"""The docs stand on their own and keep up with the code: every command documented, every
module's job in docs/design.md, no link that leaves the repository or leads nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from batchtool.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DESIGN = ROOT / "docs" / "design.md"
DOCS = ("README.md", "docs/design.md", "CHANGELOG.md")


def commands() -> list[tuple[str, click.Command]]:
    """Every command a user can type, as ``batchtool NAME [SUBNAME]``, groups' commands too."""
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(main.commands.items()):
        found.append((f"batchtool {name}", command))
        if isinstance(command, click.Group):
            found.extend(
                (f"batchtool {name} {sub}", subcommand)
                for sub, subcommand in sorted(command.commands.items())
            )
    return found


@pytest.mark.parametrize(("line", "command"), [pytest.param(*c, id=c[0]) for c in commands()])
def test_every_command_has_help_and_is_in_the_readme(line: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"'{line}' has no help text"
    assert re.search(rf"{re.escape(line)}\b", README), f"the README never shows '{line}'"


def test_the_readme_points_at_nothing_outside_the_repository() -> None:
    assert "../shared" not in README
    assert "](docs/design.md)" in README


@pytest.mark.parametrize("doc", DOCS)
def test_links_lead_to_files_in_the_repository(doc: str) -> None:
    path = ROOT / doc
    targets = re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8"))
    local = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:|#", t)]
    broken = [
        target
        for target in local
        if not (path.parent / target).exists()
        or not (path.parent / target).resolve().is_relative_to(ROOT)
    ]
    assert broken == []


def test_the_design_names_every_module() -> None:
    """A new module gets its one job in docs/design.md's table (or its package's row)."""
    design = DESIGN.read_text(encoding="utf-8")
    unnamed = sorted(
        str(module.relative_to(ROOT))
        for module in (ROOT / "batchtool").rglob("*.py")
        if module.stem not in ("__init__", "__main__") and f"`{module.stem}`" not in design
    )
    assert unnamed == []
