"""What every labtui command shares: its exit codes, its one-line usage error, the workspace it
works in, how it names itself to the workspace's lock, and what Ctrl-C does.

`labtui.cli` parses the arguments; the subcommands (`journal`, `recover`, `proctor`) live in
modules of their own and take these from here, so none of them imports the command line back.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from types import FrameType

from labtui.state import Workspace, default_workspace
from labtui.targets import installed, not_installed_message


class ExitCode(IntEnum):
    """Exit codes of the headless runner and the proctor."""

    OK = 0
    FAILED = 1
    USAGE = 2
    DRIFT = 3
    LOCKED = 4
    INTERRUPTED = 130


class UsageError(Exception):
    """Bad arguments; the message is one line. `command` is the one whose --help explains."""

    def __init__(self, message: str, command: str = "labtui") -> None:
        super().__init__(message)
        self.command = command


def workspace_path(args: argparse.Namespace) -> Path:
    """The workspace a command works in: `--workspace`, or the user's default one."""
    path: Path | None = args.workspace
    return (path.expanduser() if path is not None else default_workspace()).absolute()


def command_line(argv: Sequence[str]) -> str:
    """The command, for the lock holder; --set values are dropped (they may be sensitive)."""
    shown, skip = ["labtui"], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--set":
            skip = True
            continue
        if arg.startswith("--set="):
            continue
        shown.append(arg)
    return " ".join(shown)


@contextmanager
def cancel_on_interrupt(cancel: Callable[[], None], say: Callable[[str], None]) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM) asks the running step to stop cleanly; the second stops now."""
    asked = {"count": 0}

    def handler(signum: int, frame: FrameType | None) -> None:
        asked["count"] += 1
        if asked["count"] > 1:
            raise KeyboardInterrupt
        say("cancelling at the next safe point (Ctrl-C again to stop at once)")
        cancel()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def open_for_reading(args: argparse.Namespace) -> Workspace | None:
    """The command's workspace opened read-only (no lock taken), or None when nothing has been
    done in it yet (every step is then not done)."""
    path = workspace_path(args)
    if not path.is_file() and not (path / "state.db").exists():
        return None
    return Workspace(path, read_only=True)


def target_argument(text: str) -> str:
    """`--target NAME`: an installed target's name (read from the installed distributions'
    metadata; no target module is imported)."""
    if text not in installed():
        raise argparse.ArgumentTypeError(not_installed_message(text))
    return text


def positive_count(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a count of things at once)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def say_error(message: str) -> None:
    """Tell the user what went wrong, in one line on stderr."""
    print(f"labtui: {message}", file=sys.stderr)
