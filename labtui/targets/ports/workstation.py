"""The workstation port: what lives on the attendee's machine whatever the target is.

The Databricks CLI profiles file and the git working copies of the lab's repositories are files
on the attendee's computer: a local sandbox and Azure write them the same way. Steps reach them
through `ctx.target.workstation` and never through a target's own folders.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.targets.resources import GitRepository, Profile

if TYPE_CHECKING:
    from labtui.targets.shared.git import WorkingCopy


class Workstation(ABC):
    """The attendee's machine: Databricks CLI profiles and git working copies."""

    @abstractmethod
    def write_profile(self, name: str, host: str, token: str) -> None:
        """Write a CLI profile `[name]` (host, token) to `.databrickscfg`; other sections stay.

        Raises:
            TargetError: the file is not INI or cannot be written (the file is left as it was).
        """

    @abstractmethod
    def read_profile(self, name: str) -> Profile:
        """Read a CLI profile. Raises NotFound, or TargetError if the file is not INI."""

    @abstractmethod
    def delete_profile(self, name: str) -> bool:
        """Remove a CLI profile; False if there was none."""

    @abstractmethod
    def profile_file(self) -> Path:
        """Where the CLI profiles are kept (DATABRICKS_CONFIG_FILE or ~/.databrickscfg)."""

    @abstractmethod
    def clone_folder(self, name: str) -> Path:
        """Where the attendee's clone of the repository `name` is kept (nothing is created):
        `repos/<name>` in the labtui workspace folder."""

    @abstractmethod
    def working_copy(self, repository: GitRepository, path: Path) -> WorkingCopy:
        """A clone of `repository` in the folder `path`: opened if it is there, cloned on
        first use; git authenticates to the repository's server as the target says.

        Raises:
            TargetError: git is missing or the clone failed (on first use).
        """
