"""Work through a graph of items concurrently: each starts once what it waits for has finished.

The engine runs units this way: on a cloud, most of a unit's time is waiting on round trips,
so units that do not depend on each other wait together. The schedule is bounded (`workers`),
starts ready items in the order given (with one worker it is the plain sequential loop), and
once `cancelled` is set starts nothing more while what runs finishes on its own (the engine's
hooks see the same event and stop at their next check).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T", bound=Hashable)
R = TypeVar("R")

DEFAULT_PARALLEL = 8
"""Units an engine runs or rolls back at once (their hooks mostly wait on the target's round
trips)."""

DEFAULT_VERIFY_PARALLEL = 24
"""Units an engine verifies at once unless told a number: a verify only reads and waits for no
other unit, so a whole section (Infrastructure has 21 units) is checked in one wave of round
trips rather than three."""


def schedule(
    items: Sequence[T],
    waits_for: Callable[[T], Iterable[T]],
    work: Callable[[T], R],
    *,
    workers: int,
    cancelled: threading.Event,
    proceed: Callable[[R], bool] = lambda result: True,
) -> dict[T, R]:
    """Call `work(item)` for each item once every item of `waits_for(item)` (those outside
    `items` are ignored) has finished with a result `proceed` accepts; an item one of whose
    prerequisites was not accepted (or was itself left out) is left out, and so are the
    items that wait for it. Returns the results of the items that ran.

    If the calling thread is interrupted (KeyboardInterrupt), `cancelled` is set, what runs
    is waited for, and the interruption is raised.
    """
    chosen = set(items)
    before = {item: [w for w in waits_for(item) if w in chosen and w != item] for item in items}
    results: dict[T, R] = {}
    left_out: set[T] = set()
    pending = list(items)

    def ready(item: T) -> bool | None:
        """True: can start; False: must wait; None: will never run."""
        for prerequisite in before[item]:
            if prerequisite in left_out:
                return None
            if prerequisite not in results:
                return False
            if not proceed(results[prerequisite]):
                return None
        return True

    def take_ready(limit: int) -> list[T]:
        taken: list[T] = []
        changed = True
        while changed:  # leaving one out may leave out those that wait for it
            changed = False
            for item in list(pending):
                state = ready(item)
                if state is None:
                    pending.remove(item)
                    left_out.add(item)
                    changed = True
        for item in list(pending):
            if len(taken) >= limit:
                break
            if ready(item):
                pending.remove(item)
                taken.append(item)
        return taken

    if workers <= 1 or len(items) <= 1:
        while pending and not cancelled.is_set():
            step = take_ready(1)
            if not step:
                break  # the rest wait for something left out (or a cycle: none here)
            results[step[0]] = work(step[0])
        return results

    # Imported here: the command line reads DEFAULT_PARALLEL and must start light.
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    running: dict[Future[R], T] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labtui-unit") as pool:
        try:
            while True:
                if not cancelled.is_set():
                    for item in take_ready(workers - len(running)):
                        running[pool.submit(work, item)] = item
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    results[running.pop(future)] = future.result()
        except BaseException:
            cancelled.set()  # start nothing more; the running hooks stop at their next check
            wait(running)
            raise
    return results
