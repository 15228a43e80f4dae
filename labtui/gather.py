"""Independent port calls made together: what `StepContext.gather` runs them on.

On a cloud each port call is a round trip; a hook that reads sixteen secrets one after the
other waits sixteen times. A `CallPool` makes calls that do not need each other's answers at
once, on a bounded pool an engine owns (so a room of attendees does not start a thread per
call), and gives the answers back in order. A call made from inside a gathered call runs
where it is: waiting on the pool from one of its own threads could wait for ever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from labtui.step import Cancelled

DEFAULT_CALLS = 16
"""Port calls one engine has in flight at most."""

_inside = threading.local()


def gather_inline(calls: Sequence[Callable[[], Any]], cancelled: threading.Event) -> list[Any]:
    """The calls one after the other (what a context without a pool does)."""
    results = []
    for call in calls:
        if cancelled.is_set():
            raise Cancelled("cancelled")
        results.append(call())
    return results


class CallPool:
    """A bounded pool for the independent calls of every hook of one engine."""

    def __init__(self, workers: int = DEFAULT_CALLS) -> None:
        if workers < 1:
            raise ValueError(f"calls at once must be at least 1 (got {workers})")
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                                thread_name_prefix="labtui-call",
                                                initializer=_mark_inside)
            return self._pool

    def gather(self, calls: Sequence[Callable[[], Any]], cancelled: threading.Event
               ) -> list[Any]:
        """Make `calls` at once and return their results in order. Every call ends before
        this returns; if any raised, the first (in order) is raised. Once `cancelled` is set,
        calls not yet started are not made, and `Cancelled` is raised.
        """
        if len(calls) <= 1 or getattr(_inside, "pool", False) or self.workers == 1:
            return gather_inline(calls, cancelled)

        def guarded(call: Callable[[], Any]) -> Any:
            if cancelled.is_set():
                raise Cancelled("cancelled")
            return call()

        pool = self._executor()
        futures: list[Future[Any]] = [pool.submit(guarded, call) for call in calls]
        try:
            wait(futures)
        except BaseException:  # interrupted while waiting: the calls must not outlive it
            cancelled.set()
            wait(futures)
            raise
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error
        return [future.result() for future in futures]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _mark_inside() -> None:
    _inside.pool = True
