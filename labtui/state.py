"""The workspace, under its first name: `labtui.workspace` holds it now, one module per part;
this module keeps every existing import working (the same names, the same objects)."""

from __future__ import annotations

from labtui import workspace as _workspace
from labtui.workspace import *  # noqa: F403 - the whole public surface, whatever it grows to

__all__ = _workspace.__all__
