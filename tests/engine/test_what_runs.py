"""What a run takes on, what its plan offers and the order of a rollback: decided once, in the
engine; the CLI, the app and the fleet follow it."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.catalog import Catalog
from labtui.engine import NotManual, Outcome
from labtui.session import Session, SessionOptions
from labtui.step import Check, Field, Step, StepContext, Verdict


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


class Note(Step):
    """A manual step after demo-files: the attendee writes note.txt; solve writes it."""

    id = "note"
    title = "Write a note"
    section = "Demo"
    manual = True
    requires = ("demo-files",)
    inputs = (Field("demo-dir", "Demo folder", kind="path"),)

    def _path(self, ctx: StepContext) -> Path:
        return Path(ctx.value("demo-dir")) / "note.txt"

    def run(self, ctx: StepContext) -> None:
        ctx.log(f"write a note in {self._path(ctx)}, then verify")

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("note", self._path(ctx).is_file(), "the note"))

    def solve(self, ctx: StepContext) -> None:
        self._path(ctx).write_text("the reference note\n")


def _solve_session(tmp_path: Path) -> Session:
    from labtui_demo_steps import DemoFiles, DemoPerEnv

    options = SessionOptions(workspace=tmp_path / "ws", environ={},
                             set_values=(f"demo-dir={tmp_path / 'files'}",))
    return Session(options, catalog=Catalog([DemoFiles, DemoPerEnv, Note]))


def test_a_solve_of_steps_picked_one_by_one_solves_their_manual_ones_in_place(
        demo_plugin: Path, tmp_path: Path) -> None:
    with _solve_session(tmp_path) as session:
        engine = session.engine
        files, note = engine.catalog.units(["demo-files"]), engine.catalog.units(["note"])
        scope = engine.solve_scope([*files, *note])
        assert (scope.action, [u.id for u in scope.units]) == ("solve", ["note"])
        engine.run(files)
        results = engine.solve_request(scope)
        assert [(r.unit.id, r.action, r.outcome) for r in results] == [
            ("note", "solve", Outcome.DONE)]
    assert (tmp_path / "files" / "note.txt").read_text() == "the reference note\n"


def test_a_solve_of_steps_none_of_them_manual_is_refused_in_one_line(
        demo_plugin: Path, tmp_path: Path) -> None:
    with _solve_session(tmp_path) as session, pytest.raises(NotManual) as refused:
        session.engine.solve_scope(session.engine.catalog.units(["demo-files"]))
    assert str(refused.value) == (
        "demo-files is not a manual step: --solve is for manual steps (like write-test), "
        "or with --with-requires when one comes first")
    assert not (tmp_path / "files").exists()


def test_a_solve_with_requirements_or_of_a_whole_section_is_a_run_that_solves_on_its_way(
        demo_plugin: Path, tmp_path: Path) -> None:
    with _solve_session(tmp_path) as session:
        engine = session.engine
        note = engine.catalog.units(["note"])
        scope = engine.solve_scope(note, with_requires=True)
        assert (scope.action, [u.id for u in scope.units]) == ("run", ["demo-files", "note"])
        everything = engine.solve_scope(engine.catalog.units(), broad=True)
        assert everything.action == "run"
        assert everything.units == tuple(engine.catalog.units())
        results = engine.solve_request(scope)
    assert [(r.unit.id, r.outcome) for r in results] == [
        ("demo-files", Outcome.DONE), ("note", Outcome.DONE)], "solved, not just explained"
    assert (tmp_path / "files" / "note.txt").is_file()
