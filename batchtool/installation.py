"""Where a run sends: installations as values, and each one's share of the run (``Lane``).

A run sends one plan to a tuple of installations, in the order given. A run to one
installation is what batchtool always did: named after its profile, or unnamed when its
credentials came without one. With several, each installation is exactly its profile, and
whatever may differ between them is kept per installation, as data that flows through the
run's steps: which of its rows are still to send (a ``Lane``), its connection, concurrency,
rate limit and abort (the send step), its group of the results file (the finish step).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from batchtool.config import CREDENTIAL_VARIABLES, Credentials, resolve_credentials
from batchtool.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

    from batchtool.plan import PlanSummary


@dataclass(frozen=True)
class Installation:
    """An installation a run sends to: its name (its profile's) and how to reach it.

    ``credentials`` may be None where nothing is sent (a dry run) or a simulator stands in
    (``simulate=True``). Their ``repr`` never shows the key.
    """

    name: str | None
    credentials: Credentials | None = None


def installations_of(
    credentials: Credentials | None,
    installations: Sequence[Installation] | Mapping[str, Credentials | None] | None,
) -> tuple[Installation, ...]:
    """The run's installations, in order, from ``run_batch``'s ``credentials=`` (one unnamed
    installation) or ``installations=`` (a sequence, or a mapping name -> credentials)."""
    if installations is None:
        return (Installation(None, credentials),)
    if credentials is not None:
        raise UsageError(
            "give credentials= (one installation) or installations= (one or several), not both"
        )
    if isinstance(installations, Mapping):
        found = tuple(Installation(name, creds) for name, creds in installations.items())
    else:
        found = tuple(installations)
    if not found:
        raise UsageError("installations= names no installation — give at least one")
    if len(found) > 1 and any(not i.name for i in found):
        raise UsageError(
            "with several installations each needs a name (its profile's), for the results "
            "and the journal to say whose each row is"
        )
    seen: set[str | None] = set()
    for installation in found:
        if installation.name in seen:
            raise UsageError(f"installation '{installation.name}' is given twice — give it once")
        seen.add(installation.name)
    return found


def resolve_installations(
    profiles: Sequence[str],
    *,
    config_path: Path | None = None,
    allow_insecure_http: bool = False,
    ca_bundle: str | Path | None = None,
    proxy: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Installation, ...]:
    """One installation per profile, each exactly its profile: the ``BATCHTOOL_*`` variables
    that would send them all to one installation, or with one key, are not read.

    ``ca_bundle`` and ``proxy`` are the machine's (a company CA, the company proxy): they
    apply to every installation, before its profile's, as they do to one.
    """
    env = os.environ if environ is None else environ
    own = {name: value for name, value in env.items() if name not in CREDENTIAL_VARIABLES}
    return tuple(
        Installation(
            name,
            resolve_credentials(
                profile=name,
                config_path=config_path,
                allow_insecure_http=allow_insecure_http,
                ca_bundle=ca_bundle,
                proxy=proxy,
                environ=own,
            ),
        )
        for name in profiles
    )


@contextlib.asynccontextmanager
async def simulated(
    installations: Sequence[Installation],
) -> AsyncIterator[tuple[Installation, ...]]:
    """``installations``, each sending to a simulator of its own started in this process."""
    # Imported here: the simulator (aiohttp.web) is not needed by ordinary runs.
    from batchtool.simulator import Simulator

    async with contextlib.AsyncExitStack() as stack:
        found = []
        for installation in installations:
            sim = await stack.enter_async_context(Simulator())
            creds = Credentials(sim.base_url, sim.api_username, sim.api_key)
            found.append(replace(installation, credentials=creds))
        yield tuple(found)


@dataclass(frozen=True)
class Lane:
    """One installation's share of a run: its rows as planned for it, and their summary
    (None in a dry run, which takes it from its results file).

    The plan is the same for every installation; a lane's rows differ from another's only
    where a selection step decides per installation (``unchanged`` under --changed-only, the
    rows of a results file that are this installation's under --only-failed).
    """

    installation: Installation
    planned: pl.LazyFrame
    plan: PlanSummary | None = None

    @property
    def name(self) -> str | None:
        return self.installation.name
