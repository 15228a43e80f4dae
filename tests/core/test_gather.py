"""`StepContext.gather`: a hook's independent calls made at once on the engine's bounded pool,
their answers in order, errors and cancellation as a hook expects them."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import pytest

from labtui.catalog import Catalog
from labtui.gather import CallPool
from labtui.session import Session, SessionOptions
from labtui.step import Cancelled, Check, Step, StepContext, StepError, Verdict

TIMEOUT = 20.0


def _pool_gather(calls: list, cancelled: threading.Event | None = None) -> list:  # type: ignore[type-arg]
    pool = CallPool(4)
    try:
        return pool.gather(calls, cancelled or threading.Event())
    finally:
        pool.close()


def test_calls_are_made_at_once_and_answer_in_order() -> None:
    meet = threading.Barrier(3)

    def call(value: int) -> int:
        meet.wait(TIMEOUT)  # a call made after another had ended would wait here for ever
        return value * 10

    assert _pool_gather([partial(call, 1), partial(call, 2), partial(call, 3)]) == [10, 20, 30]


def test_every_call_ends_before_the_first_error_in_order_is_raised() -> None:
    ended: list[str] = []
    meet = threading.Barrier(3)

    def call(name: str) -> str:
        meet.wait(TIMEOUT)
        ended.append(name)
        if name != "fine":
            raise StepError(f"{name} failed")
        return name

    with pytest.raises(StepError, match=r"^first failed$"):
        _pool_gather([partial(call, "fine"), partial(call, "first"), partial(call, "second")])
    assert sorted(ended) == ["fine", "first", "second"]


def test_once_cancelled_no_call_is_made() -> None:
    cancelled = threading.Event()
    cancelled.set()
    made: list[int] = []
    with pytest.raises(Cancelled):
        _pool_gather([partial(made.append, 1), partial(made.append, 2)], cancelled)
    assert made == []


def test_a_gather_inside_a_gathered_call_runs_in_place_instead_of_waiting_for_ever() -> None:
    pool = CallPool(2)
    stop = threading.Event()

    def inner() -> list[int]:
        return pool.gather([lambda: 1, lambda: 2, lambda: 3], stop)

    try:
        # Both workers busy with calls that gather again: on the pool, they would wait for
        # workers that never come free.
        assert pool.gather([inner, inner], stop) == [[1, 2, 3], [1, 2, 3]]
    finally:
        pool.close()


def test_the_pool_is_bounded_by_a_setting_of_at_least_one() -> None:
    with pytest.raises(ValueError, match=r"at least 1 \(got 0\)"):
        CallPool(0)


class Gathering(Step):
    """A step whose verify reads two things at once."""

    id = "gathering"
    title = "gather"
    section = "Demo"

    def run(self, ctx: StepContext) -> None:
        raise StepError("not used")

    def verify(self, ctx: StepContext) -> Verdict:
        meet = threading.Barrier(2)

        def read(name: str) -> str:
            meet.wait(TIMEOUT)
            return f"{name} read by {ctx.step_id}"

        answers = ctx.gather(partial(read, "left"), partial(read, "right"))
        return Verdict.of(Check("reads", True, "; ".join(answers)))


def test_a_hook_gathers_on_the_engines_pool(tmp_path: Path) -> None:
    options = SessionOptions(workspace=tmp_path / "ws", environ={})
    with Session(options, catalog=Catalog([Gathering])) as session:
        [result] = session.engine.verify(session.catalog.units())
    assert result.outcome == "done", result.message
    assert result.checks[0].message == "left read by gathering; right read by gathering"


def test_a_context_without_a_pool_makes_the_calls_in_turn(tmp_path: Path) -> None:
    ctx = StepContext("x", None, {}, None, print, None, None, tmp_path)  # type: ignore[arg-type]
    assert ctx.gather(lambda: 1, lambda: 2) == [1, 2]
    ctx.cancelled.set()
    with pytest.raises(Cancelled):
        ctx.gather(lambda: 1)
