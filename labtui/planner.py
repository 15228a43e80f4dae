"""The planner: what an action takes on and in what order, touching nothing.

Which units a run takes on (with their requirements), whether they may run, what a solve does
instead, the order a rollback undoes things in, what a reset of the whole lab takes on and what
a rollback would delete. It reads the catalog and the workspace's records; it knows nothing of
hooks, targets or threads (`labtui.engine` carries the plans out, `labtui.schedule` orders the
work), and an import-linter contract keeps it so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from labtui.catalog import Catalog, Unit
from labtui.outcomes import Status
from labtui.state import Workspace
from labtui.step import Change
from labtui.uninstalled import uninstalled_unit


class RequirementsError(Exception):
    """A unit's requirements are not done; `missing` names them."""

    def __init__(self, unit: Unit, missing: Sequence[Unit]) -> None:
        self.unit = unit
        self.missing = list(missing)
        names = ", ".join(repr(m.label) for m in missing)
        super().__init__(
            f"step {unit.label!r} needs {names} done first: run "
            f"{'it' if len(missing) == 1 else 'them'}, or add --with-requires"
        )


class NotManual(Exception):
    """A solve was asked of steps none of which is manual (and nothing comes first)."""

    def __init__(self, units: Sequence[Unit]) -> None:
        self.units = list(units)
        names = ", ".join(dict.fromkeys(unit.id for unit in units))
        these = "is not a manual step" if len(self.units) == 1 else "are not manual steps"
        super().__init__(f"{names} {these}: --solve is for manual steps (like write-test), "
                         "or with --with-requires when one comes first")


@dataclass(frozen=True)
class SolveScope:
    """What a solve takes on: `action` "solve" fills in the reference answer of `units` (the
    manual ones chosen) and verifies them; "run" runs `units` (with what they need) and
    solves each manual step it meets instead of showing its instructions."""

    action: Literal["solve", "run"]
    units: tuple[Unit, ...]
    """In the order the action takes them on (a summary names those it did not reach)."""


class Planner:
    """Scopes, orders and plans of units over one catalog and workspace (the engine is one)."""

    def __init__(self, catalog: Catalog, workspace: Workspace) -> None:
        self.catalog = catalog
        self.workspace = workspace

    def status(self, unit: Unit) -> Status:
        record = self.workspace.status(unit.id, unit.env)
        return Status(record.status) if record else Status.NOT_STARTED

    def check_requires(self, unit: Unit, planned: Sequence[Unit] = ()) -> None:
        """Raise RequirementsError unless every requirement is done (or runs before it)."""
        ahead = {(u.id, u.env) for u in planned}
        missing = [
            required for required in self.catalog.requirements(unit)
            if (required.id, required.env) not in ahead and self.status(required) != Status.DONE
        ]
        if missing:
            raise RequirementsError(unit, missing)

    def run_scope(self, units: Sequence[Unit], *, with_requires: bool = False) -> list[Unit]:
        """Every unit `run` takes on, in run order, without checking anything: `units`, and
        with `with_requires` what they need first. A summary names those a run did not reach."""
        return self.catalog.closure(units) if with_requires else list(units)

    def units_to_run(self, units: Sequence[Unit], *, with_requires: bool = False) -> list[Unit]:
        """The units a run takes on, in order: with `with_requires`, what they need first.

        Raises:
            RequirementsError: a requirement is not done and not about to run.
        """
        ordered = self.run_scope(units, with_requires=with_requires)
        for i, unit in enumerate(ordered):
            self.check_requires(unit, ordered[:i])
        return ordered

    def units_to_plan(self, units: Sequence[Unit], *, with_requires: bool = False) -> list[Unit]:
        """What the plan before a run shows, in run order: `units`, and (with
        `with_requires`) the requirements that are not done yet — a done one is verified and
        skipped by the run, so it is not offered as work.

        Raises:
            RequirementsError: a requirement is not done and not about to run.
        """
        chosen = set(units)
        return [unit for unit in self.units_to_run(units, with_requires=with_requires)
                if unit in chosen or self.status(unit) != Status.DONE]

    def solve_scope(self, units: Sequence[Unit], *, with_requires: bool = False,
                    broad: bool = False) -> SolveScope:
        """What a solve of `units` takes on (the CLI's --solve and the app's Solve ask this).
        Steps picked one by one are solved in place: their manual units, the others left
        out. With `with_requires`, or `broad` (a whole section, everything), it is a run that
        solves the manual steps on its way.

        Raises:
            NotManual: steps picked one by one, none of them manual.
        """
        if with_requires or broad:
            return SolveScope("run", tuple(self.run_scope(units, with_requires=with_requires)))
        manual = tuple(unit for unit in units if unit.step.manual)
        if not manual:
            raise NotManual(units)
        return SolveScope("solve", manual)

    def rollback_order(self, units: Sequence[Unit]) -> list[Unit]:
        """The order a rollback of `units` (given in run order) undoes them: newest first, so
        what was built on something is removed before it. Front ends list and count a
        rollback in this order; `rollback` follows it."""
        return list(reversed(units))

    def reset_scope(self, env: str | None = None) -> list[Unit]:
        """Every unit a rollback of the whole lab takes on, in run order: each installed unit
        (of `env` when given) and then those of steps no longer installed whose entries the
        journal still holds, so what they made is removed too (first, being newest)."""
        return [*self.catalog.units(env=env), *self.uninstalled_units(env)]

    def units_through(self, step_id: str) -> list[Unit]:
        """What a hot start through `step_id` runs: see `units_through`.

        Raises:
            CatalogError: no such step.
        """
        return units_through(self.catalog, step_id)

    def uninstalled_units(self, env: str | None = None) -> list[Unit]:
        """The units the journal holds entries of whose step is no longer installed (limited
        to `env` when given, as `Catalog.units` is), in the order they journaled: a rollback,
        which goes newest first, undoes the newest first. Add them to a rollback of
        everything, and what they made is removed too."""
        found: dict[tuple[str, str | None], None] = {}
        for row in self.workspace.journal_rows():
            if row.step not in self.catalog and (env is None or row.env in (None, env)):
                found.pop((row.step, row.env), None)
                found[(row.step, row.env)] = None
        return [uninstalled_unit(step, env) for step, env in found]

    def done_dependents(self, unit: Unit) -> list[Unit]:
        """The done units that need `unit`: rolling it back leaves them broken (drift)."""
        return [dependent for dependent in self.catalog.dependents(unit)
                if self.status(dependent) == Status.DONE]

    def rollback_plan(self, unit: Unit) -> list[Change]:
        """What a rollback of `unit` would delete, newest first (read from the journal as
        stored: an entry that does not fit its kind is listed too, and its rollback says
        the way out)."""
        rows = self.workspace.journal_rows()
        return [Change("delete", row.kind, row.ref) for row in reversed(rows)
                if row.step == unit.id and row.env == unit.env]


def units_through(catalog: Catalog, step_id: str) -> list[Unit]:
    """The lab as an attendee would have done it up to `step_id`: every unit of the sections
    involved (the step's and its requirements'), in the lab's order, up to and including the
    step, with what they require (so cli-profiles too, which nothing requires).

    Raises:
        CatalogError: no such step.
    """
    needed = catalog.closure(catalog.units([step_id]))
    everything = catalog.units()
    last = max(i for i, unit in enumerate(everything) if unit.id == step_id)
    sections = {unit.step.section for unit in needed}
    return catalog.closure([unit for unit in everything[:last + 1]
                            if unit.step.section in sections])
