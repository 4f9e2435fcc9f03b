"""``python -m batchtool.simulator``: run the simulator as its own process (benchmarks, crashes).

Prints exactly one line, ``READY http://127.0.0.1:PORT``, on stdout once listening, then serves
until SIGTERM or SIGINT, and saves ``--state`` (if given) on the way out. Exit code 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from batchtool.errors import UsageError
from batchtool.simulator.faults import FaultConfig
from batchtool.simulator.server import DEFAULT_API_KEY, DEFAULT_API_USERNAME, serve


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m batchtool.simulator",
        description="Serve a simulated customer API on localhost.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--customers", type=int, default=1000, help="seed customers 1..N")
    p.add_argument("--state", type=Path, help="JSON state file: loaded if it exists, saved on exit")
    p.add_argument("--api-username", default=DEFAULT_API_USERNAME)
    p.add_argument("--api-key", default=DEFAULT_API_KEY)
    p.add_argument("--no-log", action="store_true", help="keep no request log (benchmarks)")
    p.add_argument("--log-limit", type=int, help="keep only the newest N log entries")
    f = p.add_argument_group("faults (rates are probabilities 0..1)")
    f.add_argument("--latency-ms", type=float, default=0)
    f.add_argument("--jitter-ms", type=float, default=0)
    f.add_argument("--rate-429", type=float, default=0)
    f.add_argument("--retry-after", type=float, default=1, help="seconds, for 429 answers")
    f.add_argument("--rate-500", type=float, default=0)
    f.add_argument("--rate-502", type=float, default=0)
    f.add_argument("--rate-503", type=float, default=0)
    f.add_argument("--drop-before", type=float, default=0)
    f.add_argument("--drop-after", type=float, default=0)
    f.add_argument("--slow-rate", type=float, default=0)
    f.add_argument("--slow-s", type=float, default=60)
    f.add_argument("--seed", type=int)
    return p


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = FaultConfig(
            latency_ms=args.latency_ms,
            jitter_ms=args.jitter_ms,
            rate_429=args.rate_429,
            retry_after_s=args.retry_after,
            rate_500=args.rate_500,
            rate_502=args.rate_502,
            rate_503=args.rate_503,
            drop_before=args.drop_before,
            drop_after=args.drop_after,
            slow_rate=args.slow_rate,
            slow_s=args.slow_s,
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))

    def ready(base_url: str) -> None:
        print(f"READY {base_url}", flush=True)

    try:
        serve(
            host=args.host,
            port=args.port,
            customers=args.customers,
            state_path=args.state,
            faults=faults,
            api_username=args.api_username,
            api_key=args.api_key,
            log_requests=not args.no_log,
            log_limit=args.log_limit,
            on_ready=ready,
        )
    except (UsageError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
