"""What the app asks before it acts on many steps, rolls back or solves: each question's
title and lines, built from the lab's state (the app only shows them and acts on the answer)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.text import Text

from labtui.app.confirm import ConfirmScreen
from labtui.app.model import Lab, Selection, UnitKey
from labtui.catalog import Unit


def run_many_question(lab: Lab, units: Sequence[Unit], what: str, *,
                      running: Collection[UnitKey] = (), force: bool = False,
                      solve_manual: bool = False) -> ConfirmScreen:
    """Before a run of many steps (a section, the whole lab): which are to do, in order, and
    which are done (verified, then skipped)."""
    lines: list[Text | str] = []
    todo = 0
    for unit in units:
        word = lab.status_word(unit, running)
        if word == "done" and not force:
            lines.append(Text(f"= {unit.label}: done (verified, then skipped)", style="dim"))
            continue
        todo += 1
        note = " — its reference answer is filled in" if unit.step.manual and solve_manual \
            else ""
        lines.append(Text(f"+ {unit.label}: {word}{note}", style="green"))
    lines.insert(0, f"{todo} of {len(units)} to run, in this order; each is verified first "
                 "and skipped when done, and the run stops at the first that fails.")
    return ConfirmScreen(f"Run {what}?", lines, yes="Run")


def rollback_question(lab: Lab, label: str, units: Sequence[Unit],
                      dependents: Sequence[Unit]) -> ConfirmScreen:
    """Before a rollback: what will be deleted (newest first), and the done steps that need
    it — they will no longer be done (drift)."""
    lines: list[Text | str] = []
    plans = [(unit, lab.engine.rollback_plan(unit)) for unit in lab.engine.rollback_order(units)]
    # Under the unit they belong to when several have some: two environments' vaults hold
    # secrets of the same names, which would read as one list said twice.
    headed = sum(1 for _, changes in plans if changes) > 1
    for unit, changes in plans:
        if headed and changes:
            lines.append(Text(unit.label, style="bold"))
        for change in changes:
            lines.append(Text(f"- delete {change.kind} {lab.masker.redact(change.ref)}",
                              style="red"))
    if not lines:
        lines.append("Nothing is recorded as created by this step; rollback only resets "
                     "its status to not done.")
    else:
        lines.insert(0, "These will be deleted, newest first:")
    if dependents:
        lines.append(Text("These done steps need it, and will no longer be done (drift):",
                          style="bold"))
        lines += [Text(f"  ! {unit.label} — {unit.step.title}", style="yellow")
                  for unit in dependents]
    return ConfirmScreen(f"Roll back {label}?", lines, yes="Roll back", no="Keep them",
                         danger=True)


def solve_question(selection: Selection) -> ConfirmScreen:
    """Before a manual step gets the lab's reference answer."""
    return ConfirmScreen(
        f"Solve {selection.label}?",
        [f"This fills in the lab's reference answer for “{selection.step.title}” (what a "
         "proctor does for an attendee who is stuck), then verifies it."],
        yes="Solve")
