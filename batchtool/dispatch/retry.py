"""Retries of a row: tenacity, waiting the server's Retry-After or else a full-jitter backoff."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt

from batchtool import model
from batchtool.dispatch.config import DispatchConfig

_Row = TypeVar("_Row")


class RetryPolicy:
    """How a row whose answer is worth retrying is sent again: at most ``max_attempts``
    requests in all, each after ``sleep`` (the engine's, which ends early when the run stops)
    for the time :meth:`wait` says."""

    def __init__(
        self,
        config: DispatchConfig,
        *,
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random,
    ) -> None:
        self._config = config
        self._sleep = sleep
        self._rng = rng

    def retry(
        self, first: model.Attempt, send: Callable[[_Row], Awaitable[model.Attempt]], row: _Row
    ) -> Awaitable[model.Attempt]:
        """The row's final answer, ``first`` being the retryable answer to its first request:
        ``send(row)`` until an answer is not worth retrying or the attempts run out (then the
        last answer is final)."""
        # Tenacity's first call hands back the answer already in hand, so its attempt numbers
        # are the row's.
        replay = [first]

        async def attempt() -> model.Attempt:
            return replay.pop() if replay else await send(row)

        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=stop_after_attempt(self._config.max_attempts),
            wait=self.wait,
            retry=retry_if_result(_is_retryable),
            retry_error_callback=_last_result,
        )
        return retrying(attempt)

    def wait(self, state: RetryCallState) -> float:
        """Seconds before the next attempt: the server's Retry-After, else full-jitter backoff."""
        assert state.outcome is not None
        last: model.Attempt = state.outcome.result()
        config = self._config
        if last.retry_after is not None:
            return min(max(last.retry_after, 0.0), config.retry_after_max_s)
        exponent = min(state.attempt_number - 1, 64)  # 2**64 is beyond any sane cap already
        ceiling = min(config.backoff_max_s, config.backoff_base_s * 2**exponent)
        return self._rng.uniform(0.0, ceiling)


def _is_retryable(attempt: model.Attempt) -> bool:
    return attempt.retryable


def _last_result(state: RetryCallState) -> model.Attempt:
    # Out of attempts: the last answer is the row's answer (the caller says "gave up").
    assert state.outcome is not None
    result: model.Attempt = state.outcome.result()
    return result
