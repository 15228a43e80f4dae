"""One engine call the app makes (an action on some units), as the app's worker runs it."""

from __future__ import annotations

from dataclasses import dataclass, field

from labtui.catalog import Unit


@dataclass(frozen=True)
class Job:
    """One engine call the app makes: an action on some units."""

    action: str
    units: tuple[Unit, ...]
    force: bool = False
    with_requires: bool = False
    solve_manual: bool = False
    """A run that fills in the reference answer of the manual steps it meets."""
    then_run: bool = field(default=False)
    """A plan shown before a run: when it succeeds, ask, then run."""
    act: str = ""
    """A person's action on the step (approve, reject: `labtui.actions`), with `inputs`."""
    inputs: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(unit.label for unit in self.units)
