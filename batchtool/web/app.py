"""The ops page's application object and the blocking ``serve`` behind ``batchtool serve``.

``make_app(config)`` is what tests drive in process; ``serve`` adds what protects the data
dir and a first start, listening, and signals:

- the data dir is private (0700; one open to other users is refused with the ``chmod``
  fix), and one server at a time holds it (an flock'ed ``serve.lock`` naming its pid, taken
  before anything is read: a second server would mark the first one's sending runs
  interrupted);
- every file the server creates is private: the engine creates its files (results, plan,
  journal, lock, snapshot, Excel copy) as any Unix tool does, 0666 less the umask, because a
  CLI user's results are often meant for colleagues; a run folder's files hold customer data
  that nobody but the server reads, so ``serve`` runs with umask 077 and the kernel makes
  each of them 0600 as it is created — those the engine may add later included;
- no public address while nobody can sign in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Final

from aiohttp import web

from batchtool.audit import AuditLog
from batchtool.config import Credentials, is_loopback
from batchtool.errors import UsageError
from batchtool.secret_files import check_private_dir
from batchtool.web import (
    pages_approval,
    pages_audit,
    pages_auth,
    pages_batch,
    pages_downloads,
    pages_runs,
    retention,
)
from batchtool.web.auditwriter import AuditWriter
from batchtool.web.datadir import DataDirBusy, holding
from batchtool.web.files import make_private_dir
from batchtool.web.forms import FORM_BYTES, body_limit_middleware
from batchtool.web.guard import permission_middleware
from batchtool.web.installations import SIMULATORS, Installations
from batchtool.web.keys import (
    AUDIT,
    AUDIT_WRITER,
    CONFIG,
    HASHING,
    INSTALLATIONS,
    RUNS,
    SESSIONS,
    SIGN_IN_FORMS,
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
from batchtool.web.sessions import Sessions, SignInForms
from batchtool.web.settings import WebConfig
from batchtool.web.shown import Telling
from batchtool.web.signin import HashQueue, SignInThrottle, hash_workers
from batchtool.web.users import Users

log = logging.getLogger("batchtool.web")

#: Customers the built-in simulator knows (seeded lazily): enough for any file one tries.
SIMULATOR_CUSTOMERS: Final = 10_000_000
STATIC_DIR: Final = Path(__file__).with_name("static")
DATA_DIR: Final = "data dir"
#: Files a process of this user creates while serving: owner only.
PRIVATE_UMASK: Final = 0o077


def make_app(config: WebConfig, *, hashing: HashQueue | None = None) -> web.Application:
    """The page; ``hashing`` is injectable for tests (default: threads of its own)."""
    app = web.Application(
        middlewares=[
            errors_middleware,
            session_middleware,
            signed_in_middleware,
            permission_middleware,
            body_limit_middleware,
            csrf_middleware,
        ],
        # What any route reads at most before body_limit_middleware gives it its own limit.
        client_max_size=FORM_BYTES,
    )
    installations = Installations(config.config_path)
    config_file = "the server's config file"
    telling = Telling(
        {
            config.data_dir: "the server's data dir",
            installations.config_path: config_file,
            f"config file {installations.config_path}": config_file,
        }
    )
    app[CONFIG] = config
    app[USERS] = Users(config.users_path)
    app[SESSIONS] = Sessions(ttl_s=config.session_ttl_s, clock=config.clock)
    app[SIGN_IN_FORMS] = SignInForms(clock=config.clock)
    app[THROTTLE] = SignInThrottle(clock=config.clock)
    app[HASHING] = hashing or HashQueue(workers=hash_workers())
    app[INSTALLATIONS] = installations
    app[RUNS] = RunManager(
        RunStore(config.runs_dir), installations, ColumnMemory(config.mappings_path), telling
    )
    app[TEMPLATES] = templates()
    app[AUDIT] = AuditLog(config.audit_path)
    app[AUDIT_WRITER] = AuditWriter(app[AUDIT])
    app.router.add_routes(pages_auth.routes)
    app.router.add_routes(pages_batch.routes)
    app.router.add_routes(pages_runs.routes)
    app.router.add_routes(pages_downloads.routes)
    app.router.add_routes(pages_approval.routes)
    app.router.add_routes(pages_audit.routes)
    app.router.add_static("/static/", STATIC_DIR)
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(_simulator)
    app.cleanup_ctx.append(_audit_writer)
    app.cleanup_ctx.append(_runs)
    app.cleanup_ctx.append(_retention)
    app.cleanup_ctx.append(_hashing)
    return app


async def _hashing(app: web.Application) -> AsyncIterator[None]:
    yield
    app[HASHING].close()


async def _simulator(app: web.Application) -> AsyncIterator[None]:
    if not app[CONFIG].simulate:
        yield
        return
    # Imported here: only a server started with --simulate needs it.
    from batchtool.simulator import Simulator

    offered = app[INSTALLATIONS].simulators
    async with contextlib.AsyncExitStack() as stack:
        # Two, each with a store of its own: sending to several can be tried without a config.
        for name in SIMULATORS:
            sim = await stack.enter_async_context(
                Simulator(customers=SIMULATOR_CUSTOMERS, log_requests=False)
            )
            offered[name] = Credentials(sim.base_url, sim.api_username, sim.api_key)
        yield


async def _audit_writer(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[AUDIT_WRITER].close()  # lines of the last requests reach the disk


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

    Raises UsageError when the data dir is open to others or another server holds it,
    before listening on a public address while no user exists (see ``check_bind``), or when
    the users file is open to others; ``on_warning`` hears why a public address needs care.
    ``on_ready(url)`` is called once it listens.
    """
    with _private_files(), _holding(config.data_dir):
        warning = check_bind(host, Users(config.users_path))
        if warning and on_warning is not None:
            on_warning(warning)
        asyncio.run(_serve(config, host, port, on_ready))


@contextlib.contextmanager
def _private_files() -> Iterator[None]:
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


@contextlib.contextmanager
def _holding(data_dir: Path) -> Iterator[None]:
    """The data dir, private and locked for this server; UsageError says why not."""
    check_private_dir(data_dir, DATA_DIR)
    try:
        make_private_dir(data_dir)
    except OSError as exc:
        raise UsageError(
            f"cannot create the {DATA_DIR} {data_dir}: {exc.strerror or exc} — "
            "choose another --data-dir"
        ) from None
    # Taken before anything is read: a second server would mark this one's runs interrupted,
    # and a purge would delete files this server still shows.
    try:
        with holding(data_dir):
            yield
    except DataDirBusy as busy:
        raise UsageError(
            f"another batchtool process (pid {busy.pid}) is using the {DATA_DIR} {data_dir} "
            "— stop it first, or choose another --data-dir"
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
