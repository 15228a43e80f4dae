"""The engine has the target confirm where it works before any hook runs, once: a target that
names a wrong place (the azure one: a wrong subscription) stops a run, verify, plan, solve or
rollback before a step is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.catalog import Catalog
from labtui.engine import Engine
from labtui.state import Workspace
from labtui.step import Check, Step, StepContext, Verdict
from labtui.targets.base import TargetError
from labtui.targets.local import LocalTarget
from labtui.values import Resolver

TOUCHED: list[str] = []


class Touch(Step):
    id = "touch"
    title = "Records each hook that runs"

    def run(self, ctx: StepContext) -> None:
        TOUCHED.append("run")

    def verify(self, ctx: StepContext) -> Verdict:
        TOUCHED.append("verify")
        return Verdict.of(Check("touched", "run" in TOUCHED))


class WrongPlace(LocalTarget):
    checks = 0
    ok = False

    def check(self) -> None:
        WrongPlace.checks += 1
        if not WrongPlace.ok:
            raise TargetError("subscription 1111 (tenant 2222) was not found")


@pytest.mark.parametrize("action", ["run", "verify", "plan", "rollback"])
def test_a_target_that_fails_its_check_stops_the_engine_before_any_hook(
    tmp_path: Path, action: str
) -> None:
    TOUCHED.clear()
    WrongPlace.checks, WrongPlace.ok = 0, False
    with Workspace(tmp_path / "ws") as workspace:
        catalog = Catalog([Touch])
        engine = Engine(catalog, workspace, WrongPlace(workspace.path),
                        Resolver(catalog.fields(), environ={}, workspace=workspace))
        try:
            with pytest.raises(TargetError, match=r"^subscription 1111 \(tenant 2222\)"):
                getattr(engine, action)(catalog.units(["touch"]))
        finally:
            engine.close()
    assert TOUCHED == []


def test_the_check_is_made_once_per_engine(tmp_path: Path) -> None:
    TOUCHED.clear()
    WrongPlace.checks, WrongPlace.ok = 0, True
    with Workspace(tmp_path / "ws") as workspace:
        catalog = Catalog([Touch])
        engine = Engine(catalog, workspace, WrongPlace(workspace.path),
                        Resolver(catalog.fields(), environ={}, workspace=workspace))
        try:
            engine.run(catalog.units(["touch"]))
            engine.verify(catalog.units(["touch"]))
        finally:
            engine.close()
    assert WrongPlace.checks == 1
    assert TOUCHED[:2] == ["verify", "run"]
