"""What goes wrong with a workspace: unusable, a secret the key cannot open, locked."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class WorkspaceError(Exception):
    """The workspace cannot be used (not writable, corrupt …); the message says why."""


class SealedValueError(WorkspaceError):
    """A stored secret cannot be decrypted (secret.key is missing or is another key).

    `name` is the value (an input name, or "output NAME of STEP") and `reason` says why, in
    words an attendee can act on."""

    def __init__(self, path: Path, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"workspace {path}: the stored {name} {reason}")


class WorkspaceLocked(WorkspaceError):
    """Another process holds the workspace; the message names it."""

    def __init__(self, path: Path, holder: Mapping[str, Any]) -> None:
        self.holder = dict(holder)
        started = holder.get("started")
        when = time.strftime("%H:%M:%S", time.localtime(started)) if started else "?"
        super().__init__(
            f"workspace {path} is in use by pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')} ({holder.get('command', '?')!s}, since {when}); "
            "wait for it, or use --force-unlock if that process is gone"
        )
