"""Targets: where the lab's resources live, found through the `labtui.targets` entry points.

The bundled `local` target registers itself through the same group as a third-party one.
`installed()` reads only the distributions' metadata, so `labtui --help` and `--target`
validation never import a target module; `target_class(name)` loads one when it is opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from labtui.step import Field
    from labtui.targets.base import Target

ENTRY_POINT_GROUP = "labtui.targets"
DEFAULT_TARGET = "local"


def _entry_points() -> dict[str, list[EntryPoint]]:
    """Entry points of the group by name; the same one found twice on sys.path counts once."""
    from importlib.metadata import entry_points

    found: dict[str, list[EntryPoint]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        same = found.setdefault(entry.name, [])
        if all(other.value != entry.value for other in same):
            same.append(entry)
    return found


def installed() -> list[str]:
    """The names of the installed targets, sorted; no target module is imported."""
    return sorted(_entry_points())


def not_installed_message(name: str) -> str:
    """One line saying `name` is not an installed target, and which are."""
    from labtui.catalog import did_you_mean

    names = installed()
    guess = did_you_mean(name, names)
    guessed = f"; did you mean {guess!r}?" if guess else ""
    shown = ", ".join(names) or "none"
    return f"target {name!r} is not installed{guessed} (installed: {shown})"


def target_class(name: str) -> type[Target]:
    """Load the class of the installed target `name` and check it keeps the contract.

    Raises:
        TargetError: no such target is installed (the message lists those that are), it is
            registered twice, or its plugin is broken; the message names the target.
    """
    from labtui.targets.base import Target, TargetError

    entries = _entry_points().get(name)
    if not entries:
        raise TargetError(not_installed_message(name))
    if len(entries) > 1:
        values = ", ".join(entry.value for entry in entries)
        raise TargetError(f"target {name!r} is registered twice ({values}): uninstall one")
    entry = entries[0]
    try:
        loaded = entry.load()
    except Exception as exc:  # a broken plugin: named in one line, whatever it raised
        raise TargetError(f"target {name!r} ({entry.value}) cannot be loaded: "
                          f"{type(exc).__name__}: {exc}") from None
    if not (isinstance(loaded, type) and issubclass(loaded, Target)):
        raise TargetError(f"target {name!r}: {entry.value} is not a subclass of "
                          "labtui.targets.base.Target")
    if getattr(loaded, "name", None) != name:
        raise TargetError(f"target {name!r}: entry point names {entry.value}, whose name is "
                          f"{getattr(loaded, 'name', None)!r}")
    _check_options(name, loaded.options)
    return loaded


def _check_options(name: str, options: tuple[Field, ...]) -> None:
    from labtui.step import Field
    from labtui.targets.base import TargetError
    from labtui.validation import AZURE_NAMING, FIELD_KINDS

    seen: set[str] = set()
    for option in options:
        if not isinstance(option, Field):
            raise TargetError(f"target {name!r}: option {option!r} is not a labtui Field")
        if option.name in seen:
            raise TargetError(f"target {name!r}: option {option.name!r} is declared twice")
        seen.add(option.name)
        if option.kind not in FIELD_KINDS:
            raise TargetError(f"target {name!r} option {option.name!r}: unknown kind "
                              f"{option.kind!r}")
        if option.kind == "azure-name" and option.resource not in AZURE_NAMING:
            raise TargetError(f"target {name!r} option {option.name!r}: no naming rule for "
                              f"resource type {option.resource!r}")


def option_fields(name: str) -> dict[str, Field]:
    """The options the target `name` declares, by name. Raises TargetError (see
    `target_class`)."""
    return {option.name: option for option in target_class(name).options}


def open_target(name: str, workspace: Path, values: Mapping[str, str] | None = None) -> Target:
    """Open the named target for a workspace and configure it with its option `values`
    (resolved like step inputs; an option left out takes its default).

    Raises:
        TargetError: the target is not installed, or an option is missing or breaks its rule.
    """
    target = target_class(name)(workspace)
    try:
        target.configure(values or {})
    except BaseException:
        target.close()
        raise
    return target
