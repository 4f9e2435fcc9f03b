"""The ``simulate`` command: the customer API, stateful and with faults, on this machine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from batchtool.cli.output import fail
from batchtool.errors import BatchtoolError, UsageError


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; loopback unless you mean otherwise.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--customers",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Seed customers 1..N (subscription_id S<id>, orderid 100000+<id>).",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    help="JSON file to load the customers from and save them back to on exit.",
)
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--jitter-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--rate-429", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--retry-after", "retry_after_s", type=click.FloatRange(0), default=1.0, show_default=True
)
@click.option("--rate-500", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--rate-502", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--rate-503", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--drop-before",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Rate of connections dropped before the change is applied.",
)
@click.option(
    "--drop-after",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Rate of connections dropped after the change is applied (answer lost).",
)
@click.option("--slow-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--slow-s", type=click.FloatRange(0), default=60.0, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1),
    help="Work on at most K requests at a time (each takes --latency-ms); default: no limit.",
)
@click.option(
    "--queue",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Requests that may wait for a worker; the rest get 503 at once (needs --workers).",
)
@click.option("--seed", type=int, help="Makes the faults reproducible.")
@click.option("--api-username", help="The api-username it accepts (default: sim_admin).")
@click.option("--api-key", help="The api-key it accepts (default: a fixed, not secret key).")
@click.option("--no-log", is_flag=True, help="Keep no request log (benchmarks).")
@click.option("--log-limit", type=click.IntRange(1), help="Keep only the newest N log entries.")
@click.option(
    "--ready-line",
    is_flag=True,
    help="Print only 'READY <base URL>' once listening (for scripts and test harnesses).",
)
def simulate(
    host: str,
    port: int,
    customers: int,
    state_path: Path | None,
    latency_ms: float,
    jitter_ms: float,
    rate_429: float,
    retry_after_s: float,
    rate_500: float,
    rate_502: float,
    rate_503: float,
    drop_before: float,
    drop_after: float,
    slow_rate: float,
    slow_s: float,
    workers: int | None,
    queue: int,
    seed: int | None,
    api_username: str | None,
    api_key: str | None,
    no_log: bool,
    log_limit: int | None,
    ready_line: bool,
) -> None:
    """Serve the customer API on this machine, with a stateful store and optional faults.

    The simulator's request log is at GET /_sim/log, a customer at GET /_sim/customers/ID and
    the answers counted by status at GET /_sim/stats: paths for tests only, which the real API
    does not have.
    """
    # Imported here: aiohttp.web is not needed by `batchtool run`.
    from batchtool.simulator import (
        DEFAULT_API_KEY,
        DEFAULT_API_USERNAME,
        FaultConfig,
        Simulator,
        serve,
    )

    username = api_username or DEFAULT_API_USERNAME
    key = api_key or DEFAULT_API_KEY

    try:
        faults = FaultConfig(
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            rate_429=rate_429,
            retry_after_s=retry_after_s,
            rate_500=rate_500,
            rate_502=rate_502,
            rate_503=rate_503,
            drop_before=drop_before,
            drop_after=drop_after,
            slow_rate=slow_rate,
            slow_s=slow_s,
            seed=seed,
        )
    except (ValueError, UsageError) as exc:
        fail(str(exc))

    def ready(base_url: str) -> None:
        if ready_line:
            click.echo(f"READY {base_url}")
            sys.stdout.flush()
            return
        click.echo(f"simulator listening on {base_url} (Ctrl-C to stop)")
        click.echo(f"  export BATCHTOOL_BASE_URL={base_url}")
        click.echo(f"  export BATCHTOOL_API_USERNAME={username}")
        click.echo(f"  export BATCHTOOL_API_KEY={key}")

    try:
        simulator = Simulator(
            host=host,
            port=port,
            customers=customers,
            state_path=state_path,
            faults=faults,
            api_username=username,
            api_key=key,
            log_requests=not no_log,
            log_limit=log_limit,
            workers=workers,
            queue=queue,
        )
        serve(simulator, on_ready=ready)
    except BatchtoolError as exc:
        fail(str(exc), exc.exit_code)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} — choose another --port")
