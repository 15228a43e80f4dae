"""The catalogue: every installed step, discovered through the `labtui.steps` entry points.

The bundled lab registers its steps through the same group as third-party plugins. Loading
checks each step and fails with one line naming the step and the problem.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

from labtui.journal import RecordKindError, load_record_kinds
from labtui.step import SECTIONS, STEP_ID, Field, Step
from labtui.validation import AZURE_NAMING, FIELD_KINDS

ENTRY_POINT_GROUP = "labtui.steps"


class CatalogError(Exception):
    """A step plugin is broken; the message names the step and the problem."""


@dataclass(frozen=True)
class Unit:
    """One unit of work: a step, in one environment when it runs per environment."""

    step: Step
    env: str | None

    @property
    def id(self) -> str:
        return self.step.id

    @property
    def label(self) -> str:
        return f"{self.step.id} ({self.env})" if self.env else self.step.id


class Catalog:
    """The ordered, validated set of steps: sections in lab order, requires before dependents."""

    def __init__(self, steps: Iterable[type[Step]], origins: dict[str, str] | None = None):
        origins = origins or {}
        classes = list(steps)
        by_id: dict[str, type[Step]] = {}
        for cls in classes:
            _check_class(cls, origins.get(getattr(cls, "id", ""), ""))
            if cls.id in by_id and by_id[cls.id] is not cls:
                raise CatalogError(
                    f"step {cls.id!r}: defined twice ({_where(by_id[cls.id])} and {_where(cls)})"
                )
            by_id[cls.id] = cls
        for cls in by_id.values():
            for required in cls.requires:
                if required not in by_id:
                    raise CatalogError(f"step {cls.id!r}: requires unknown step {required!r}")
        self._steps = {step_id: by_id[step_id]() for step_id in _order(by_id)}
        self._check_shared_inputs()

    @classmethod
    def discover(cls) -> Catalog:
        """Load every step registered under the `labtui.steps` entry-point group."""
        from importlib.metadata import entry_points

        classes: list[type[Step]] = []
        origins: dict[str, str] = {}
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            loaded = _load(entry)
            if getattr(loaded, "id", entry.name) != entry.name:
                raise CatalogError(
                    f"step {entry.name!r}: entry point names {entry.value} whose id is "
                    f"{getattr(loaded, 'id', None)!r}"
                )
            if loaded in classes:
                continue
            origins[entry.name] = entry.value
            classes.append(loaded)
        try:
            # Loaded with the steps, so a kind claimed twice is refused now, not mid-rollback.
            load_record_kinds()
        except RecordKindError as exc:
            raise CatalogError(str(exc)) from None
        return cls(classes, origins)

    def __iter__(self) -> Iterator[Step]:
        return iter(self._steps.values())

    def __len__(self) -> int:
        return len(self._steps)

    def __contains__(self, step_id: object) -> bool:
        return step_id in self._steps

    def get(self, step_id: str) -> Step:
        """The step with this id.

        Raises:
            CatalogError: no such step; the message lists the known ids.
        """
        try:
            return self._steps[step_id]
        except KeyError:
            guess = did_you_mean(step_id, self._steps)
            if guess:
                raise CatalogError(f"unknown step {step_id!r}: did you mean {guess!r}? "
                                   "(labtui list shows every step)") from None
            known = ", ".join(self._steps) or "none installed"
            raise CatalogError(f"unknown step {step_id!r} (known: {known})") from None

    def sections(self) -> list[tuple[str, list[Step]]]:
        """Steps grouped by section, in catalogue order."""
        grouped: dict[str, list[Step]] = {}
        for step in self:
            grouped.setdefault(step.section, []).append(step)
        return list(grouped.items())

    def units(self, step_ids: Sequence[str] | None = None, env: str | None = None) -> list[Unit]:
        """The units of the given steps (all when None) in catalogue order, limited to `env`
        for per-environment steps when it is given."""
        wanted = set(step_ids) if step_ids is not None else None
        if wanted:
            for step_id in wanted:
                self.get(step_id)
        units = []
        for step in self:
            if wanted is not None and step.id not in wanted:
                continue
            for step_env in step.environments():
                if env is None or step_env is None or step_env == env:
                    units.append(Unit(step, step_env))
        return units

    def requirements(self, unit: Unit) -> list[Unit]:
        """The units that must be done before `unit`: same environment where both repeat per
        environment, every environment where only the requirement does; a requirement that
        runs once (in one environment, or in none) whatever environment `unit` runs in."""
        needed = []
        for required_id in unit.step.requires:
            required = self._steps[required_id]
            for env in required.environments():
                if not required.per_environment or env is None or unit.env is None \
                        or env == unit.env:
                    needed.append(Unit(required, env))
        return needed

    def dependents(self, unit: Unit) -> list[Unit]:
        """The units that need `unit`, directly or through others, in catalogue order."""
        found: set[tuple[str, str | None]] = set()
        frontier = [(unit.id, unit.env)]
        everything = self.units()
        while frontier:
            key = frontier.pop()
            for other in everything:
                other_key = (other.id, other.env)
                if other_key in found:
                    continue
                if key in {(r.id, r.env) for r in self.requirements(other)}:
                    found.add(other_key)
                    frontier.append(other_key)
        return [other for other in everything if (other.id, other.env) in found]

    def closure(self, units: Sequence[Unit]) -> list[Unit]:
        """`units` and everything they require, transitively, in catalogue order."""
        seen: set[tuple[str, str | None]] = set()
        pending = list(units)
        while pending:
            unit = pending.pop()
            key = (unit.id, unit.env)
            if key in seen:
                continue
            seen.add(key)
            pending.extend(self.requirements(unit))
        return [unit for unit in self.units() if (unit.id, unit.env) in seen]

    def fields(self, units: Iterable[Unit] | None = None) -> dict[str, Field]:
        """Every input the given units (all when None) declare, by name."""
        steps = [unit.step for unit in units] if units is not None else list(self)
        return {field.name: field for step in steps for field in step.inputs}

    def _check_shared_inputs(self) -> None:
        seen: dict[str, tuple[str, Field]] = {}
        for step in self:
            for field in step.inputs:
                if field.name in seen:
                    other_id, other = seen[field.name]
                    if (other.kind, other.is_secret) != (field.kind, field.is_secret):
                        raise CatalogError(
                            f"step {step.id!r} input {field.name!r}: declared as "
                            f"{field.kind} here but as {other.kind} by step {other_id!r}"
                        )
                    if other.per_environment != field.per_environment:
                        # One value, one scope: saved per environment for one step and shared
                        # for another, the two would never see the same value.
                        raise CatalogError(
                            f"step {step.id!r} input {field.name!r}: declared "
                            f"{_scope(field)} here but {_scope(other)} by step {other_id!r}"
                        )
                else:
                    seen[field.name] = (step.id, field)


def _scope(field: Field) -> str:
    return "per environment" if field.per_environment else "shared"


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate a misspelt `word` most likely meant, if any: the only one it begins
    (an abbreviation like "infra"), else the closest by difflib's ratio (0.6 or better)."""
    from difflib import get_close_matches

    names = list(candidates)
    starting = [name for name in names if name.lower().startswith(word.lower())]
    if len(starting) == 1 and word:
        return starting[0]
    matches = get_close_matches(word, names, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _load(entry: EntryPoint) -> type[Step]:
    try:
        loaded = entry.load()
    except Exception as exc:  # a plugin's import can fail in any way; name it and stop
        raise CatalogError(
            f"step {entry.name!r}: cannot load {entry.value} ({type(exc).__name__}: {exc})"
        ) from None
    if not (inspect.isclass(loaded) and issubclass(loaded, Step)):
        raise CatalogError(f"step {entry.name!r}: {entry.value} is not a labtui Step class")
    return loaded


def _check_class(cls: type[Step], origin: str) -> None:
    name = getattr(cls, "id", None) or _where(cls)
    where = f" ({origin})" if origin else ""
    if not (inspect.isclass(cls) and issubclass(cls, Step)):
        raise CatalogError(f"step {name!r}{where}: not a labtui Step class")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise CatalogError(f"step {name!r}{where}: does not implement {missing}")
    for attribute in ("id", "title"):
        if not isinstance(getattr(cls, attribute, None), str):
            raise CatalogError(f"step {name!r}{where}: has no {attribute}")
    if not STEP_ID.fullmatch(cls.id):
        raise CatalogError(f"step {cls.id!r}{where}: id must be kebab-case like 'secret-scope'")
    if not isinstance(cls.requires, tuple) or not all(isinstance(r, str) for r in cls.requires):
        raise CatalogError(f"step {cls.id!r}{where}: requires must be a tuple of step ids")
    names: set[str] = set()
    for field in cls.inputs:
        if not isinstance(field, Field):
            raise CatalogError(f"step {cls.id!r}{where}: input {field!r} is not a Field")
        if field.kind not in FIELD_KINDS:
            raise CatalogError(
                f"step {cls.id!r} input {field.name!r}: unknown kind {field.kind!r} "
                f"(kinds: {', '.join(sorted(FIELD_KINDS))})"
            )
        if field.kind == "azure-name" and field.resource not in AZURE_NAMING:
            raise CatalogError(
                f"step {cls.id!r} input {field.name!r}: no naming rule for resource "
                f"{field.resource!r} (rules: {', '.join(sorted(AZURE_NAMING))})"
            )
        if field.kind == "choice" and not field.choices:
            raise CatalogError(f"step {cls.id!r} input {field.name!r}: a choice without choices")
        if not STEP_ID.fullmatch(field.name):
            raise CatalogError(
                f"step {cls.id!r} input {field.name!r}: input names are kebab-case"
            )
        if field.name in names:
            raise CatalogError(f"step {cls.id!r} input {field.name!r}: declared twice")
        names.add(field.name)


def _order(by_id: dict[str, type[Step]]) -> list[str]:
    """Sections in lab order (unknown sections after, in discovery order), and within the
    whole list every step after the steps it requires. Raises on a cycle."""
    section_rank = {name: i for i, name in enumerate(SECTIONS)}
    modules: dict[str, int] = {}
    for cls in by_id.values():
        modules.setdefault(cls.__module__, len(modules))

    def rank(step_id: str) -> tuple[int, int, int, int]:
        # Within a section, steps keep their declared place, then the order their module
        # defines them in (the lab's order), whatever order the entry points are listed in.
        cls = by_id[step_id]
        line = getattr(getattr(cls.run, "__code__", None), "co_firstlineno", 0)
        return (section_rank.get(cls.section, len(SECTIONS)), cls.place,
                modules[cls.__module__], line)

    ordered: list[str] = []
    state: dict[str, str] = {}

    def visit(step_id: str, path: list[str]) -> None:
        if state.get(step_id) == "done":
            return
        if state.get(step_id) == "visiting":
            cycle = " -> ".join([*path[path.index(step_id):], step_id])
            raise CatalogError(f"step {step_id!r}: requires form a cycle ({cycle})")
        state[step_id] = "visiting"
        for required in sorted(by_id[step_id].requires, key=rank):
            visit(required, [*path, step_id])
        state[step_id] = "done"
        ordered.append(step_id)

    for step_id in sorted(by_id, key=rank):
        visit(step_id, [])
    return ordered
