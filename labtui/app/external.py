"""Handing a file or a folder to another program: the attendee's editor, the file manager.

The editor gets the terminal while it runs (`App.suspend`); a file manager runs beside the
app. When neither can be started, the caller says where the file or folder is instead.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

OPENERS: tuple[str, ...] = ("xdg-open", "open")
"""Programs that open a folder in the desktop's file manager (Linux, macOS)."""


def editor_command(environ: Mapping[str, str] | None = None) -> list[str] | None:
    """The attendee's editor as argv ($VISUAL, else $EDITOR; "code -w" works), or None."""
    environ = os.environ if environ is None else environ
    for name in ("VISUAL", "EDITOR"):
        words = shlex.split(environ.get(name, ""))
        if words:
            return words
    return None


def run_editor(command: Sequence[str], path: Path) -> str | None:
    """Run the editor on `path` in the foreground; None when it ended well, else why not."""
    try:
        done = subprocess.run([*command, str(path)], check=False)
    except OSError as exc:
        return f"cannot start the editor {command[0]!r}: {exc.strerror or exc}"
    if done.returncode != 0:
        return f"the editor {command[0]!r} exited with code {done.returncode}"
    return None


def open_folder(folder: Path) -> bool:
    """Show `folder` in the file manager, without waiting; False when there is none."""
    for name in OPENERS:
        program = shutil.which(name)
        if program is not None:
            subprocess.Popen([program, str(folder)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
            return True
    return False
