"""The attendee's machine, implemented once: `.databrickscfg` profiles and git working copies.

Every target offers it (`Target.workstation`); a target only says what differs for it: extra
settings its profiles need, and the environment git authenticates with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from labtui.targets.ports.workstation import Workstation
from labtui.targets.resources import GitRepository, Profile
from labtui.targets.shared.databrickscfg import ProfileFile
from labtui.targets.shared.git import WorkingCopy


class AttendeeWorkstation(Workstation):
    """Profiles in the file the Databricks tools read, clones through GitPython.

    Args:
        workspace: the labtui workspace folder; clones are kept under its `repos/`.
        profile_settings: written into every profile next to host and token (a local target
            shortens databricks-sdk's retries so a sandbox that is not served fails fast).
        git_env: the environment git runs with for a repository (credentials for HTTPS);
            none by default.
    """

    def __init__(self, workspace: Path, *, profile_settings: Mapping[str, str] | None = None,
                 git_env: Callable[[GitRepository], Mapping[str, str]] | None = None) -> None:
        self._repos = workspace / "repos"
        self._profile_settings = dict(profile_settings or {})
        self._git_env = git_env

    def write_profile(self, name: str, host: str, token: str) -> None:
        ProfileFile.default().write(name, host, token, self._profile_settings or None)

    def read_profile(self, name: str) -> Profile:
        return ProfileFile.default().read(name)

    def delete_profile(self, name: str) -> bool:
        return ProfileFile.default().delete(name)

    def profile_file(self) -> Path:
        return ProfileFile.default().path

    def clone_folder(self, name: str) -> Path:
        return self._repos / name

    def working_copy(self, repository: GitRepository, path: Path) -> WorkingCopy:
        env = self._git_env(repository) if self._git_env is not None else None
        return WorkingCopy(path, repository.clone_url, env=env)
