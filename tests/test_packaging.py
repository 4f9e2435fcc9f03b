"""The package as a user installs it: every file it needs declared, its version from one place.

Building a wheel takes too long for every test run; `make wheel-smoke` (in CI) builds and uses
one. These check the declarations that smoke depends on, in milliseconds.
"""

from __future__ import annotations

import glob
import tomllib
from pathlib import Path

from click.testing import CliRunner

from batchtool.cli import main

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "batchtool"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def declared_package_data() -> set[Path]:
    """The files pyproject's package-data globs match, expanded as setuptools expands them."""
    declared = PYPROJECT["tool"]["setuptools"].get("package-data", {})
    matched: set[Path] = set()
    for package, patterns in declared.items():
        folder = ROOT.joinpath(*package.split("."))
        for pattern in patterns:
            matched.update(
                Path(name)
                for name in glob.glob(str(folder / pattern), recursive=True)
                if Path(name).is_file()
            )
    return matched


def test_every_file_of_the_package_but_python_is_package_data() -> None:
    not_python = {
        path
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".py"
    }
    undeclared = not_python - declared_package_data()
    assert sorted(str(path.relative_to(ROOT)) for path in undeclared) == []


def test_the_ops_page_files_and_the_typing_marker_are_shipped() -> None:
    shipped = {str(path.relative_to(PACKAGE)) for path in declared_package_data()}
    assert {
        "py.typed",
        "web/templates/base.html",
        "web/templates/login.html",
        "web/static/style.css",
        "web/static/app.js",
    } <= shipped


def test_version_is_pyprojects() -> None:
    result = CliRunner().invoke(main, ["--version"], prog_name="batchtool")
    assert result.output == f"batchtool, version {PYPROJECT['project']['version']}\n"
