"""The retry policy: how long to wait before repeating what a target answered with `Transient`.

One policy serves every front end (headless, the app, the proctor), because the engine applies
it. It tries a bounded number of times, waits an exponentially growing pause with jitter
(so a room of attendees throttled together does not come back together), waits at least what
the service asked for (`Transient.retry_after`), and stops waiting the moment the work is
cancelled. Only `Transient` is retried: any other error is the attendee's to act on.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from labtui.targets.base import Transient

T = TypeVar("T")


class RetryCancelled(Exception):
    """The work was cancelled while waiting to retry."""


def _wait(cancelled: threading.Event, seconds: float) -> bool:
    """Sleep `seconds` unless cancelled first; True when cancelled."""
    return cancelled.wait(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter.

    The pause before retry n (1, 2, …) is `first_delay * 2**(n-1)`, at most `max_delay`,
    spread by ±`jitter` (a fraction), and never shorter than the `retry_after` the target
    named. `random` and `wait` are injectable so tests neither sleep nor guess.
    """

    attempts: int = 4
    """Tries in all, the first included (1: never retry)."""
    first_delay: float = 1.0
    """Seconds before the first retry."""
    max_delay: float = 30.0
    """The longest backoff pause (a longer `retry_after` is still honoured)."""
    jitter: float = 0.25
    """How far (a fraction of the pause) each pause is moved at random, either way."""
    random: Callable[[], float] = field(default=random.random, repr=False)
    wait: Callable[[threading.Event, float], bool] = field(default=_wait, repr=False)
    """Sleep (event, seconds) -> whether the event was set meanwhile."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1 (got {self.attempts})")
        if self.first_delay < 0 or self.max_delay < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("delays must not be negative and jitter must be within 0..1")

    def delay(self, retry: int, error: Transient) -> float:
        """Seconds to wait before retry number `retry` (1 for the first) after `error`."""
        backoff = min(self.max_delay, self.first_delay * 2.0 ** (retry - 1))
        spread = backoff * self.jitter * (2 * self.random() - 1)
        pause = max(0.0, backoff + spread)
        if error.retry_after is not None:
            pause = max(pause, error.retry_after)
        return pause

    def call(
        self,
        action: Callable[[], T],
        *,
        cancelled: threading.Event | None = None,
        on_retry: Callable[[int, float, Transient], None] = lambda attempt, delay, error: None,
    ) -> T:
        """Call `action` until it returns, raises something other than `Transient`, or the
        attempts are used up (then the last `Transient` is raised). Before each retry,
        `on_retry(attempt, delay, error)` is told which attempt failed and the pause.

        Raises:
            RetryCancelled: `cancelled` was set during a pause.
        """
        stop = cancelled if cancelled is not None else threading.Event()
        attempt = 1
        while True:
            try:
                return action()
            except Transient as error:
                if attempt >= self.attempts:
                    raise
                pause = self.delay(attempt, error)
                on_retry(attempt, pause, error)
                if self.wait(stop, pause):
                    raise RetryCancelled(str(error)) from None
                attempt += 1
