"""Targets: where the lab's resources live. Imported lazily so start-up stays fast."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labtui.targets.base import Target

TARGETS: dict[str, str] = {
    "local": "labtui.targets.local:LocalTarget",
}
"""Target name -> "module:Class"; the module is imported only when the target is opened.
The azure target (the real cloud through the official SDKs) is not built yet."""


def open_target(name: str, workspace: Path) -> Target:
    """Open the named target for a workspace.

    Raises:
        TargetError: the name is unknown or the target cannot be opened here.
    """
    from labtui.targets.base import TargetError

    if name not in TARGETS:
        raise TargetError(
            f"target {name!r} is not available (available: {', '.join(sorted(TARGETS))})"
        )
    module_name, _, class_name = TARGETS[name].partition(":")
    target_class: type[Target] = getattr(importlib.import_module(module_name), class_name)
    return target_class(workspace)
