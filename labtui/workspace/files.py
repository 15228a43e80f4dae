"""The workspace folder on disk: where it is by default, and kept private (0700/0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

BACKUP_NAME = "state.db.bak"
"""The copy of state.db labtui keeps after each session that ran something."""

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Make every file and folder this process (and its children: Spark, git, MLflow) creates
    from now on private to the user: files 0600 at most, folders 0700."""
    os.umask(PRIVATE_UMASK)


def tighten_modes(root: Path) -> int:
    """Take group and other permissions off everything under `root` (files keep their own
    user bits, so a read-only git object stays read-only); return how many were changed.
    Symbolic links are not followed: what they point to is not the workspace's."""
    changed = 0
    for folder, dirs, files in os.walk(root):
        for name in (folder, *(os.path.join(folder, d) for d in dirs),
                     *(os.path.join(folder, f) for f in files)):
            try:
                mode = os.lstat(name).st_mode
            except FileNotFoundError:
                continue  # removed while we walked (a running step's temporary file)
            if stat.S_ISLNK(mode) or not mode & 0o077:
                continue
            os.chmod(name, stat.S_IMODE(mode) & 0o700)
            changed += 1
    return changed


def default_workspace() -> Path:
    """The workspace used when neither --workspace nor LABTUI_WORKSPACE is given."""
    env = os.environ.get("LABTUI_WORKSPACE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("labtui", appauthor=False)) / "workspace"
