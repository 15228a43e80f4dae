"""A step's actions (`labtui.actions`): a person's approve or reject, checked, recorded in the
run history like a run, and verified after."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from labtui.actions import APPROVE, REJECT, ActionError
from labtui.catalog import Catalog
from labtui.engine import Outcome
from labtui.session import Session, SessionOptions
from labtui.step import Check, Field, Step, StepContext, StepError, Verdict

FOLDER = Field("gate-dir", "Folder", kind="path")


class Gate(Step):
    """A change that waits for a person: approved, it verifies; rejected, it shows why."""

    id = "gate"
    title = "A gated change"
    section = "Pipelines"
    inputs = (FOLDER,)
    actions = (APPROVE, REJECT)

    def run(self, ctx: StepContext) -> None:
        (Path(ctx.value("gate-dir")) / "asked").write_text("grace")

    def act(self, ctx: StepContext, action: str, inputs: Mapping[str, str]) -> None:
        folder = Path(ctx.value("gate-dir"))
        if not (folder / "asked").exists():
            raise StepError("nothing to approve: run this step first")
        ctx.log(f"{inputs['as']} {action}s")
        (folder / "decision").write_text(f"{action}|{inputs['as']}|{inputs.get('comment', '')}")

    def verify(self, ctx: StepContext) -> Verdict:
        decision = Path(ctx.value("gate-dir")) / "decision"
        if not decision.exists():
            return Verdict.of(Check("review", False, "waiting for grace", "approve it"))
        action, person, comment = decision.read_text().split("|")
        said = f"{action.rstrip('e')}ed by {person}" + (f": {comment}" if comment else "")
        return Verdict.of(Check("review", action == "approve", said, "fix it and ask again"))


@pytest.fixture
def session(tmp_path: Path) -> Session:
    (tmp_path / "gate").mkdir()
    options = SessionOptions(workspace=tmp_path / "ws", environ={},
                             set_values=(f"gate-dir={tmp_path / 'gate'}",))
    return Session(options, catalog=Catalog([Gate]))


def test_an_approval_is_recorded_like_a_run_and_verified(session: Session) -> None:
    with session:
        engine = session.engine
        [unit] = engine.catalog.units(["gate"])
        assert engine.run([unit])[0].outcome == Outcome.FAILED  # waiting for the review
        result = engine.act(unit, "approve", {"as": "grace", "comment": ""})
        assert result.outcome == Outcome.DONE and result.action == "approve"
        assert engine.unit_state(unit) == "done"
        last = session.workspace.last_run("gate", None, ("approve",))
        assert last is not None and last.outcome == "done"
        assert "grace approves" in last.lines


def test_a_rejection_fails_with_what_verify_says(session: Session) -> None:
    with session:
        engine = session.engine
        [unit] = engine.catalog.units(["gate"])
        engine.run([unit])
        result = engine.act(unit, "reject", {"as": "grace", "comment": "no tests"})
        assert result.outcome == Outcome.FAILED
        assert result.message == "review: rejected by grace: no tests"
        assert engine.unit_state(unit) == "failed"


def test_an_action_that_cannot_be_done_yet_fails_in_one_line(session: Session) -> None:
    with session:
        engine = session.engine
        [unit] = engine.catalog.units(["gate"])
        result = engine.act(unit, "approve", {"as": "grace"})
        assert result.outcome == Outcome.FAILED
        assert result.message == "nothing to approve: run this step first"


@pytest.mark.parametrize("action, inputs, problem", [
    ("approve", {}, "--approve needs --as"),
    ("reject", {"as": "grace"}, "--reject needs --comment"),
    ("approve", {"as": "grace\nmallory"}, "--as"),
    ("approve", {"as": "grace", "reason": "x"}, "--approve takes no --reason"),
    ("merge", {"as": "grace"}, "gate offers no merge action (it offers: --approve, --reject)"),
])
def test_bad_inputs_are_refused_before_anything_is_done(
        session: Session, action: str, inputs: dict[str, str], problem: str) -> None:
    with session:
        engine = session.engine
        [unit] = engine.catalog.units(["gate"])
        with pytest.raises(ActionError) as refused:
            engine.act(unit, action, inputs)
        assert problem in str(refused.value)
        assert session.workspace.runs() == [], "nothing was recorded"
