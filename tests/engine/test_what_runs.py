"""What a run takes on, what its plan offers and the order of a rollback: decided once, in the
engine; the CLI, the app and the fleet follow it."""

from __future__ import annotations

from pathlib import Path

from labtui.catalog import Catalog
from labtui.engine import Outcome
from labtui.session import Session, SessionOptions


def _session(tmp_path: Path) -> Session:
    from labtui_demo_steps import DemoFiles, DemoPerEnv

    options = SessionOptions(workspace=tmp_path / "ws", environ={},
                             set_values=(f"demo-dir={tmp_path / 'files'}",))
    return Session(options, catalog=Catalog([DemoFiles, DemoPerEnv]))


def test_a_rollback_removes_what_was_built_on_a_step_before_the_step(
        demo_plugin: Path, tmp_path: Path) -> None:
    with _session(tmp_path) as session:
        engine = session.engine
        units = engine.catalog.units(env="dev")
        assert [r.outcome for r in engine.run(units)] == [Outcome.DONE, Outcome.DONE]
        assert [u.label for u in engine.rollback_order(units)] == [
            "demo-per-env (dev)", "demo-files"]
        results = engine.rollback(units)
    assert [(r.unit.label, r.outcome) for r in results] == [
        ("demo-per-env (dev)", Outcome.ROLLED_BACK), ("demo-files", Outcome.ROLLED_BACK)]
    assert list((tmp_path / "files").iterdir()) == []


def test_a_rollback_cancelled_before_it_starts_removes_nothing(
        demo_plugin: Path, tmp_path: Path) -> None:
    with _session(tmp_path) as session:
        engine = session.engine
        units = engine.catalog.units(env="dev")
        engine.run(units)
        engine.cancel()
        assert engine.rollback(units) == []
        assert [engine.unit_state(u) for u in units] == ["done", "done"]
    assert (tmp_path / "files" / "marker-dev.txt").is_file()


def test_the_plan_before_a_run_offers_only_the_requirements_not_yet_done(
        demo_plugin: Path, tmp_path: Path) -> None:
    with _session(tmp_path) as session:
        engine = session.engine
        files = engine.catalog.units(["demo-files"])
        marker = engine.catalog.units(["demo-per-env"], env="dev")
        assert [u.label for u in engine.units_to_plan(marker, with_requires=True)] == [
            "demo-files", "demo-per-env (dev)"]
        engine.run(files)
        assert [u.label for u in engine.units_to_plan(marker, with_requires=True)] == [
            "demo-per-env (dev)"]
        assert [u.label for u in engine.units_to_plan([*files, *marker])] == [
            "demo-files", "demo-per-env (dev)"], "what was chosen is offered, done or not"


def test_a_run_with_its_requirements_takes_them_on_first_and_reports_each(
        demo_plugin: Path, tmp_path: Path) -> None:
    with _session(tmp_path) as session:
        engine = session.engine
        marker = engine.catalog.units(["demo-per-env"], env="dev")
        scope = engine.run_scope(marker, with_requires=True)
        assert [u.label for u in scope] == ["demo-files", "demo-per-env (dev)"]
        assert engine.run_scope(marker) == marker
        results = engine.run(marker, with_requires=True)
    assert [r.unit for r in results] == scope
