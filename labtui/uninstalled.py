"""Steps the journal names but no installed plugin provides: they can only be rolled back.

When a plugin drops a step (or the step's entry point goes) after it created something, the
journal still lists what it made. Each record owns its undo and its kind is registered apart
from the step class, so the engine can still remove it: it rolls back a stand-in for the
missing step, which offers rollback and nothing else.
"""

from __future__ import annotations

from labtui.catalog import Unit
from labtui.step import Check, Step, StepContext, StepError, Verdict


class UninstalledStep(Step):
    """The stand-in for a step that is no longer installed: its journal can be rolled back."""

    title = "a step that is no longer installed"
    section = "No longer installed"
    summary = "Its plugin no longer provides it; what it created can still be rolled back."

    def run(self, ctx: StepContext) -> None:
        raise StepError(f"step {self.id!r} is no longer installed: it can only be rolled back")

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("installed", False, f"step {self.id!r} is no longer installed",
                                "install its plugin again, or roll it back"))


def uninstalled_unit(step_id: str, env: str | None) -> Unit:
    """A unit of the stand-in for `step_id` in `env`."""
    stand_in = type(f"Uninstalled<{step_id}>", (UninstalledStep,),
                    {"id": step_id, "per_environment": env is not None, "environment": env,
                     "__module__": __name__})
    return Unit(stand_in(), env)
