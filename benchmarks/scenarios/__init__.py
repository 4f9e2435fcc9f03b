"""The scenarios: one module each, defining ``SCENARIO``; ``discover`` finds them all.

Adding a scenario is adding a module here (see benchmarks/README.md). Modules whose name
starts with ``_`` are helpers shared by scenarios, not scenarios.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from harness.model import Scenario

_NAME = re.compile(r"[a-z][a-z0-9-]*")


class RegistryError(Exception):
    """A scenario module that breaks the rules: no SCENARIO, or a number or name taken."""


def discover(package: str = __name__) -> list[Scenario]:
    """Every scenario in ``package``, by number; RegistryError names the module at fault."""
    root = importlib.import_module(package)
    found: dict[str, Scenario] = {}
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        sc = getattr(module, "SCENARIO", None)
        if not isinstance(sc, Scenario):
            raise RegistryError(f"{module.__name__} defines no SCENARIO = Scenario(...)")
        if not _NAME.fullmatch(sc.name):
            raise RegistryError(
                f"{module.__name__}: name {sc.name!r} must be lowercase letters, digits and "
                "dashes, starting with a letter (it is typed after --only)"
            )
        for other_module, other in found.items():
            if other.number == sc.number or other.name == sc.name:
                clash = f"number {sc.number}" if other.number == sc.number else f"name {sc.name!r}"
                raise RegistryError(f"{module.__name__} and {other_module} both use {clash}")
        found[module.__name__] = sc
    return sorted(found.values(), key=lambda sc: sc.number)
