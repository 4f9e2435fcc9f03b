"""The benchmark harness: what a scenario module in benchmarks/scenarios/ builds on.

A scenario module imports from here only, e.g.::

    from harness import Scenario, SimulatorSpec, Size, Target
    from harness import contestants

and defines ``SCENARIO = Scenario(...)`` (see benchmarks/README.md, "Adding a scenario").
The modules: ``model`` (the declarations and statistics), ``contestants`` (shared
contestants and checks), ``processes`` (measuring, servers), ``runner`` (the honesty rules),
``report`` (RESULTS.md), ``settings`` (paths, credentials, concurrency).
"""

from harness import contestants
from harness.model import (
    Column,
    Contestant,
    Ctx,
    Inputs,
    Run,
    Runs,
    Scenario,
    ServiceSpec,
    Setup,
    SimulatorSpec,
    Size,
    Target,
    csv_input,
    fmt,
    ready_line,
)
from harness.processes import get_json
from harness.settings import API_KEY, API_USERNAME, BATCHTOOL, BENCH, CONCURRENCY, MB, PY

__all__ = [
    "API_KEY",
    "API_USERNAME",
    "BATCHTOOL",
    "BENCH",
    "CONCURRENCY",
    "MB",
    "PY",
    "Column",
    "Contestant",
    "Ctx",
    "Inputs",
    "Run",
    "Runs",
    "Scenario",
    "ServiceSpec",
    "Setup",
    "SimulatorSpec",
    "Size",
    "Target",
    "contestants",
    "csv_input",
    "fmt",
    "get_json",
    "ready_line",
]
