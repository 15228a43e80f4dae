"""The workspace lock: one process at a time, and it names itself to the others."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labtui.workspace.errors import WorkspaceLocked


class WorkspaceLock:
    """An exclusive, advisory lock on a workspace that names its holder.

    The kernel releases the lock when its holder dies (even by SIGKILL), so a stale lock file
    from a crashed process never blocks anyone; `force` takes a lock whose holder cannot be
    seen from here (another host) after checking it is not a live local process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.broken: dict[str, Any] | None = None
        """The holder whose lock `acquire(force=True)` broke, else None."""

    def holder(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self, command: str, *, force: bool = False) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            os.close(fd)
            if force and not is_local_live(holder):
                self.path.unlink(missing_ok=True)
                self.acquire(command)
                self.broken = holder
                return
            raise WorkspaceLocked(self.path.parent, holder) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "started": time.time()}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def describe_holder(holder: Mapping[str, Any]) -> str:
    """A lock holder in words: "pid 4242 on host-b (labtui --all --headless, since 09:12:03)"."""
    started = holder.get("started")
    when = (time.strftime("%H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float)) else "?")
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
            f"({holder.get('command', '?')!s}, since {when})")


def is_local_live(holder: Mapping[str, Any]) -> bool:
    """Whether `holder` is a process alive on this host."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
