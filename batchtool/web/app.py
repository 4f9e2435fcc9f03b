"""The ops page's application object and the blocking ``serve`` behind ``batchtool serve``.

``make_app(config)`` is what tests drive in process; ``serve`` adds the refusals that
protect a first start (no users yet on a public address), listening, and signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

from aiohttp import web

from batchtool.audit import AuditLog
from batchtool.config import Credentials, is_loopback
from batchtool.errors import UsageError
from batchtool.web import (
    pages_approval,
    pages_audit,
    pages_auth,
    pages_batch,
    pages_runs,
    retention,
)
from batchtool.web.datadir import DataDirBusy, holding
from batchtool.web.files import make_private_dir
from batchtool.web.guard import permission_middleware
from batchtool.web.installations import Installations
from batchtool.web.keys import (
    AUDIT,
    CONFIG,
    INSTALLATIONS,
    RUNS,
    SESSIONS,
    TEMPLATES,
    THROTTLE,
    USERS,
)
from batchtool.web.mappings import ColumnMemory
from batchtool.web.render import errors_middleware, templates
from batchtool.web.runs import RunManager
from batchtool.web.runstore import RunStore
from batchtool.web.security import (
    add_security_headers,
    csrf_middleware,
    session_middleware,
    signed_in_middleware,
)
from batchtool.web.sessions import Sessions, SignInThrottle
from batchtool.web.settings import WebConfig
from batchtool.web.users import Users

log = logging.getLogger("batchtool.web")

#: Customers the built-in simulator knows (seeded lazily): enough for any file one tries.
SIMULATOR_CUSTOMERS: Final = 10_000_000
#: Room for the form's other fields beside the file in an upload.
_FORM_OVERHEAD_BYTES: Final = 64 * 1024
STATIC_DIR: Final = Path(__file__).with_name("static")


def make_app(config: WebConfig) -> web.Application:
    app = web.Application(
        middlewares=[
            errors_middleware,
            session_middleware,
            signed_in_middleware,
            permission_middleware,
            csrf_middleware,
        ],
        client_max_size=config.max_upload_bytes + _FORM_OVERHEAD_BYTES,
    )
    installations = Installations(config.config_path)
    app[CONFIG] = config
    app[USERS] = Users(config.users_path)
    app[SESSIONS] = Sessions(ttl_s=config.session_ttl_s, clock=config.clock)
    app[THROTTLE] = SignInThrottle(clock=config.clock)
    app[INSTALLATIONS] = installations
    app[RUNS] = RunManager(
        RunStore(config.runs_dir), installations, ColumnMemory(config.mappings_path)
    )
    app[TEMPLATES] = templates()
    app[AUDIT] = AuditLog(config.audit_path)
    app.router.add_routes(pages_auth.routes)
    app.router.add_routes(pages_batch.routes)
    app.router.add_routes(pages_runs.routes)
    app.router.add_routes(pages_approval.routes)
    app.router.add_routes(pages_audit.routes)
    app.router.add_static("/static/", STATIC_DIR)
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(_simulator)
    app.cleanup_ctx.append(_runs)
    app.cleanup_ctx.append(_retention)
    return app


async def _simulator(app: web.Application) -> AsyncIterator[None]:
    if not app[CONFIG].simulate:
        yield
        return
    # Imported here: only a server started with --simulate needs it.
    from batchtool.simulator import Simulator

    async with Simulator(customers=SIMULATOR_CUSTOMERS, log_requests=False) as sim:
        app[INSTALLATIONS].simulator = Credentials(sim.base_url, sim.api_username, sim.api_key)
        yield


async def _runs(app: web.Application) -> AsyncIterator[None]:
    manager = app[RUNS]
    manager.load()
    manager.resume_checks()
    yield
    await manager.shutdown()


async def _retention(app: web.Application) -> AsyncIterator[None]:
    """Purge at start-up, then daily, in the background (``--retention-days``; 0: never)."""
    days = app[CONFIG].retention_days
    if not days:
        yield
        return

    async def purge() -> None:
        await retention.purge_served(app[RUNS], app[AUDIT], days)

    task = asyncio.get_running_loop().create_task(retention.every_day(purge))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def check_bind(host: str, users: Users) -> str | None:
    """Refuse a public address while nobody can sign in; else a warning for one, or None."""
    if is_loopback(host):
        return None
    if not users.any():
        raise UsageError(
            f"refusing to listen on {host} while no user exists — add one first with "
            "'batchtool users add NAME', or listen on 127.0.0.1"
        )
    return (
        f"listening on {host}: put this page behind an HTTPS reverse proxy (see the README) — "
        "passwords and customer data would otherwise cross the network in clear"
    )


def serve(
    config: WebConfig,
    *,
    host: str,
    port: int,
    on_ready: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> None:
    """Serve the page until SIGINT or SIGTERM, then stop sending runs gracefully. Blocks.

    Raises UsageError before listening on a public address while no user exists (see
    ``check_bind``), or when the users file is open to others; ``on_warning`` hears why a
    public address needs care. ``on_ready(url)`` is called once it listens.
    """
    try:
        make_private_dir(config.data_dir)
    except OSError as exc:
        raise UsageError(
            f"cannot create the data dir {config.data_dir}: {exc.strerror or exc} — "
            "choose another --data-dir"
        ) from None
    try:
        with holding(config.data_dir):
            warning = check_bind(host, Users(config.users_path))
            if warning and on_warning is not None:
                on_warning(warning)
            asyncio.run(_serve(config, host, port, on_ready))
    except DataDirBusy as busy:
        raise UsageError(
            f"another batchtool process (pid {busy.pid}) is using the data dir "
            f"{config.data_dir} — stop it first, or choose another --data-dir"
        ) from None


async def _serve(
    config: WebConfig, host: str, port: int, on_ready: Callable[[str], None] | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    runner = web.AppRunner(make_app(config), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        if on_ready is not None:
            on_ready(f"http://{shown}:{bound_port}")
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
