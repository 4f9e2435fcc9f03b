"""The options of a dispatch (``DispatchConfig``), checked when built: a bad one fails at once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from batchtool import errors

#: Rows in the engine when DispatchConfig.buffer_rows is not given: per worker, plenty of
#: look-ahead past a customer's queued rows, and still only a few MB of Requests.
BUFFER_ROWS_PER_WORKER = 64
MIN_BUFFER_ROWS = 1024

#: ``DispatchConfig.concurrency`` that adapts to the server (the default).
AUTO: Final = "auto"
#: Requests in flight at most, when adaptive and ``max_concurrency`` is not given.
DEFAULT_MAX_CONCURRENCY: Final = 64


@dataclass(frozen=True)
class DispatchConfig:
    """How to send: concurrency, pacing, retries and the stop grace period.

    ``concurrency``: ``"auto"`` adapts the requests in flight between 1 and
    ``max_concurrency`` (default 64) to the server's answers; a whole number fixes it.
    """

    concurrency: int | Literal["auto"] = AUTO
    max_concurrency: int | None = None  # only with "auto"
    rate_limit: float | None = None  # requests started per second, retries included
    max_attempts: int = 5  # requests per row, the first included
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 300.0
    grace_s: float = 10.0  # after stop: how long in-flight requests may take to finish
    #: Rows pulled from the input but not final yet, at most; None: a default from concurrency.
    buffer_rows: int | None = None

    def __post_init__(self) -> None:
        if self.concurrency != AUTO:
            _whole(self.concurrency, "--concurrency", minimum=1, or_auto=True)
            if self.max_concurrency is not None:
                raise errors.UsageError(
                    f"--max-concurrency applies only to --concurrency auto, not to a fixed "
                    f"--concurrency {self.concurrency} — give one or the other"
                )
        elif self.max_concurrency is not None:
            _whole(self.max_concurrency, "--max-concurrency", minimum=1)
        _whole(self.max_attempts, "--max-attempts", minimum=1)
        if self.rate_limit is not None:
            _number(self.rate_limit, "--rate-limit", "requests per second", positive=True)
        _number(self.backoff_base_s, "backoff_base_s", "seconds")
        _number(self.backoff_max_s, "backoff_max_s", "seconds")
        _number(self.retry_after_max_s, "retry_after_max_s", "seconds")
        _number(self.grace_s, "grace_s", "seconds")
        if self.buffer_rows is not None:
            _whole(self.buffer_rows, "buffer_rows", minimum=1)

    @property
    def adaptive(self) -> bool:
        return self.concurrency == AUTO

    @property
    def max_in_flight(self) -> int:
        """Requests in flight at most: the fixed concurrency, or the adaptive limit's ceiling
        (what the HTTP connection pool must allow)."""
        if isinstance(self.concurrency, int):
            return self.concurrency
        return self.max_concurrency or DEFAULT_MAX_CONCURRENCY

    @property
    def effective_buffer_rows(self) -> int:
        if self.buffer_rows is not None:
            return self.buffer_rows
        return max(MIN_BUFFER_ROWS, BUFFER_ROWS_PER_WORKER * self.max_in_flight)


def _whole(value: object, name: str, *, minimum: int, or_auto: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        auto = f" or {AUTO}" if or_auto else ""
        raise errors.UsageError(
            f"{name} must be a whole number of at least {minimum}{auto}, not {value!r}"
        )


def _number(value: object, name: str, unit: str, *, positive: bool = False) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        need = "more than 0" if positive else "0 or more"
        raise errors.UsageError(f"{name} must be a number of {unit}, {need}, not {value!r}")
