"""The engine: sends a stream of requests (bounded concurrency and memory, per-customer order,
rate limit, retries, stop conditions) and reports one outcome per finished row.

How it is built (DESIGN §4):

- One feeder pulls rows from the (lazy, possibly huge) iterator only while fewer than
  ``buffer_rows`` rows are in the engine (pulled but not final), so memory is bounded
  whatever the file size.
- Rows sharing a lookup (key and value) form a chain: only its head is handed to the workers;
  the worker that finishes a row (after all its retries) continues with the next row of the
  same chain. So a customer's rows run one at a time in input order and different customers
  run in parallel. A hot customer with 10,000 rows keeps one worker busy; once its queued rows
  fill the buffer, the feeder waits for room, so memory stays bounded at the price of less
  look-ahead. ``customer_id=191`` and ``subscription_id=S9`` may be the same customer, but
  nothing here can know that: they are ordered independently.
- ``concurrency`` workers, each running one row at a time; retries are tenacity's, with
  waits that end early when the run stops. With ``concurrency="auto"`` there are
  ``max_concurrency`` workers and a gate: a request starts only while fewer than the
  limiter's current limit (``limiter.AdaptiveLimit``, fed every answer) are in flight. A row
  waiting for a retry holds its worker but no place at the gate. A fixed concurrency has no
  gate and no limiter: its hot path only checks that there is none.
- Stopping (401/403, the ``stop`` event, or the first UNREACHABLE_ROWS rows failing with no
  HTTP answer while none ever came) starts nothing more; requests in flight may finish.

The package's modules, one job each: ``config`` (the options, checked when built),
``engine`` (feeder, chains, workers, stop conditions, the report), ``pacing`` (the rate
limit and the gate) and ``retry`` (the waits between attempts, tenacity's loop).
"""

from batchtool.dispatch.config import AUTO, DEFAULT_MAX_CONCURRENCY, DispatchConfig
from batchtool.dispatch.engine import DispatchReport, Sender, dispatch

__all__ = [
    "AUTO",
    "DEFAULT_MAX_CONCURRENCY",
    "DispatchConfig",
    "DispatchReport",
    "Sender",
    "dispatch",
]
