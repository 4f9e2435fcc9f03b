"""What the ops page's scenarios share: ``batchtool serve`` started as a service per run."""

from __future__ import annotations

import re
from collections.abc import Callable

from harness import BENCH, PY, Ctx, Runs, ServiceSpec

PAGE = "batchtool serve"


def _server(ctx: Ctx) -> list[str]:
    return [PY, str(BENCH / "web_server.py"), ctx.url, str(ctx.workdir)]


def _listening(line: str) -> str | None:
    found = re.search(r"listening on (http://\S+)", line)
    return found.group(1) if found else None


#: A fresh data dir with one user (benchmarks/web_server.py), the page's URL in
#: ``ctx.services[PAGE]``, its pid in ``WORKDIR/server.pid``.
SERVICE = ServiceSpec(PAGE, _server, ready=_listening)


def reported(contestant: str, key: str) -> Callable[[Runs], float | None]:
    """The median over ``contestant``'s good runs of a number its driver reported."""
    return lambda runs: runs.median(contestant, lambda r: r.number(key))
