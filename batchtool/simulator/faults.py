"""Fault injection for the simulator: what goes wrong with each request, reproducibly by seed.

One ``random.Random(seed)`` draws, for every API request in arrival order, exactly two numbers:
one picks the request's fault (the rates are mutually exclusive slices of 0..1, so they must sum
to at most 1), the other its latency jitter. The same config, seed and request order therefore
give the same faults, whatever the config's rates are.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from enum import StrEnum


class Fault(StrEnum):
    """What the simulator does instead of (or besides) answering normally."""

    RATE_LIMITED = "429"  # answer 429 with Retry-After, change not applied
    ERROR_500 = "500"  # answer 500, change not applied
    ERROR_502 = "502"  # answer 502 with an HTML page, as a proxy would; change not applied
    ERROR_503 = "503"  # answer 503, change not applied
    DROP_BEFORE = "drop_before"  # close the connection without answering; change not applied
    DROP_AFTER = "drop_after"  # apply the change, then close without answering (answer lost)
    SLOW = "slow"  # apply the change, then answer only after slow_s (outlasts client timeouts)


#: Config field holding each fault's probability, in the order their slices are laid out.
RATE_FIELDS: tuple[tuple[str, Fault], ...] = (
    ("rate_429", Fault.RATE_LIMITED),
    ("rate_500", Fault.ERROR_500),
    ("rate_502", Fault.ERROR_502),
    ("rate_503", Fault.ERROR_503),
    ("drop_before", Fault.DROP_BEFORE),
    ("drop_after", Fault.DROP_AFTER),
    ("slow_rate", Fault.SLOW),
)


@dataclass(frozen=True)
class FaultConfig:
    """Faults to inject. Rates are probabilities per request (0..1, summing to at most 1).

    ``latency_ms`` is added to every API request, plus a uniform jitter of ±``jitter_ms``
    (never below zero). ``retry_after_s`` is sent in the 429's Retry-After header: whole
    seconds as an integer, a fraction as a decimal (e.g. "0.2": not standard HTTP, but lets
    tests retry fast). ``seed`` None means a different sequence every run.
    """

    latency_ms: float = 0
    jitter_ms: float = 0
    rate_429: float = 0
    retry_after_s: float = 1
    rate_500: float = 0
    rate_502: float = 0
    rate_503: float = 0
    drop_before: float = 0
    drop_after: float = 0
    slow_rate: float = 0
    slow_s: float = 60
    seed: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError(f"seed must be an integer or None, not {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{f.name} must be a number, not {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{f.name} must be a finite number ≥ 0, not {value!r}")
        for name, _ in RATE_FIELDS:
            if getattr(self, name) > 1:
                raise ValueError(f"{name} is a probability: 0..1, not {getattr(self, name)!r}")
        total = sum(getattr(self, name) for name, _ in RATE_FIELDS)
        if total > 1 + 1e-9:
            raise ValueError(
                f"fault rates sum to {total:g}; each request gets at most one fault, "
                "so they must sum to 1 or less"
            )

    @property
    def active(self) -> bool:
        """Whether any fault or latency is configured (if not, the handler skips the draw)."""
        return (
            self.latency_ms > 0
            or self.jitter_ms > 0
            or any(getattr(self, name) > 0 for name, _ in RATE_FIELDS)
        )

    @property
    def retry_after_header(self) -> str:
        seconds = self.retry_after_s
        return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The fate of one request: a fault (or None) and the latency to add before handling it."""

    fault: Fault | None
    delay_s: float


NO_FAULT = Decision(None, 0.0)


class FaultInjector:
    """Draws a :class:`Decision` per request from one seeded generator."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.active = config.active
        self._rng = random.Random(config.seed)
        # Cumulative upper bounds of each fault's slice of 0..1, skipping zero rates.
        bounds: list[tuple[float, Fault]] = []
        upper = 0.0
        for name, fault in RATE_FIELDS:
            rate = float(getattr(config, name))
            if rate > 0:
                upper += rate
                bounds.append((upper, fault))
        self._bounds = tuple(bounds)

    def decide(self) -> Decision:
        if not self.active:
            return NO_FAULT
        pick = self._rng.random()
        jitter = self._rng.random()
        cfg = self.config
        delay_ms = max(0.0, cfg.latency_ms + cfg.jitter_ms * (2.0 * jitter - 1.0))
        for upper, fault in self._bounds:
            if pick < upper:
                return Decision(fault, delay_ms / 1000.0)
        return Decision(None, delay_ms / 1000.0)
