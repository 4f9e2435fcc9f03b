"""Running the simulator: the ``Simulator`` async context manager and the blocking ``serve``.

``Simulator`` is for code and tests in the same event loop; ``serve`` is for ``batchtool
simulate`` and for running it as its own process (``python -m batchtool.simulator``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final

from aiohttp import web

from batchtool.errors import UsageError
from batchtool.simulator.app import LogEntry, SimulatorApp
from batchtool.simulator.capacity import Capacity
from batchtool.simulator.faults import FaultConfig
from batchtool.simulator.store import Store

DEFAULT_API_USERNAME: Final = "sim_admin"
DEFAULT_API_KEY: Final = "sim-not-a-secret-key"

# How long stop() lets in-flight requests finish (handlers sleeping for latency or a slow fault
# are cancelled at once instead: a server going down does not answer them).
SHUTDOWN_GRACE_S: Final = 1.0


class Simulator:
    """The customer API on ``host:port`` (port 0: a free one), backed by an in-memory Store.

    ``state_path``: loaded here if the file exists, saved by :meth:`stop`. The seeded range is
    the larger of ``customers`` and the file's count, so reusing a state file loses no one.
    ``faults`` may be replaced while running (``sim.faults = FaultConfig(...)``); that restarts
    the seeded sequence. ``log_requests=False`` skips the request log (for benchmarks);
    ``log_limit`` keeps only the newest entries. ``ssl_context`` serves https with its
    certificate (tests of certificate handling, mutual TLS and proxies). ``workers``: at most
    that many requests are worked on at a time (each for the configured latency), ``queue``
    more wait for a worker and the rest are answered 503 at once (see ``capacity``); None: no
    limit.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        customers: int = 1000,
        state_path: Path | None = None,
        faults: FaultConfig = FaultConfig(),  # noqa: B008 - frozen, so sharing it is safe
        api_username: str = DEFAULT_API_USERNAME,
        api_key: str = DEFAULT_API_KEY,
        log_requests: bool = True,
        log_limit: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        workers: int | None = None,
        queue: int = 0,
    ) -> None:
        self.host = host
        self.port = port
        self.state_path = state_path
        # Public so an in-process client can be given the credentials this server accepts.
        self.api_username = api_username
        self.api_key = api_key
        store = Store(customers)
        if state_path is not None and state_path.exists():
            try:
                store = Store.load(state_path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise UsageError(
                    f"cannot read simulator state file {state_path}: {exc}; "
                    "delete it or pass another path"
                ) from exc
            store.customers = max(store.customers, customers)
        if workers is None and queue:
            raise UsageError("--queue needs --workers: requests wait in it for a worker")
        capacity = Capacity(workers, queue) if workers is not None else None
        self._app = SimulatorApp(
            store,
            faults=faults,
            api_username=api_username,
            api_key=api_key,
            log_requests=log_requests,
            log_limit=log_limit,
            capacity=capacity,
        )
        self._ssl_context = ssl_context
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def store(self) -> Store:
        return self._app.store

    @property
    def log(self) -> list[LogEntry]:
        """A snapshot of the request log, oldest first (empty if ``log_requests`` is False)."""
        return self._app.log

    def clear_log(self) -> None:
        self._app.clear_log()

    @property
    def requests_served(self) -> int:
        """API requests received so far, counted even when the log is off."""
        return self._app.requests_served

    @property
    def statuses(self) -> dict[int | str, int]:
        """Answers so far by HTTP status (or ``"dropped"``), counted even when the log is off."""
        return dict(self._app.statuses)

    @property
    def faults(self) -> FaultConfig:
        return self._app.faults

    @faults.setter
    def faults(self, config: FaultConfig) -> None:
        self._app.faults = config

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:43117`` (https with an ``ssl_context``); the installation
        root a client is given."""
        if self._base_url is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return self._base_url

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        # access_log=None: no per-request logging, which would cost more than the handler.
        runner = web.AppRunner(
            self._app.make_app(), access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self._ssl_context)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        self.port = port
        scheme = "https" if self._ssl_context is not None else "http"
        self._base_url = (
            f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
        )
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving and save the state file (if any). Safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        try:
            self._app.close()
            await runner.cleanup()
        finally:
            self._base_url = None
            if self.state_path is not None:
                self.store.save(self.state_path)

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def serve(simulator: Simulator, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``simulator`` until SIGINT or SIGTERM, then stop cleanly (saving state). Blocks.

    ``on_ready(base_url)`` is called once the server is listening.
    """
    asyncio.run(_serve(simulator, on_ready))


async def _serve(simulator: Simulator, on_ready: Callable[[str], None] | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    installed: list[signal.Signals] = []
    for sig in signals:
        # Not available on Windows' event loop: there Ctrl-C arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with simulator:
            if on_ready is not None:
                on_ready(simulator.base_url)
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
