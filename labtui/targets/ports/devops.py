"""The Azure DevOps port: projects and their git repositories."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from labtui.targets.resources import DevOpsProject, GitRepository

if TYPE_CHECKING:
    pass


class DevOps(ABC):
    """Azure DevOps projects and their git repositories."""

    @abstractmethod
    def create_project(self, organization: str, name: str, *, process: str = "Agile",
                       description: str = "") -> DevOpsProject:
        """Create a Git project, or return it if it exists with the same process.

        Raises:
            Conflict: it exists with another process.
        """

    @abstractmethod
    def get_project(self, organization: str, name: str) -> DevOpsProject:
        """Raises NotFound."""

    @abstractmethod
    def delete_project(self, organization: str, name: str) -> bool:
        """Delete a project with its repositories; False if it did not exist."""

    @abstractmethod
    def create_repository(self, organization: str, project: str, name: str) -> GitRepository:
        """Create an empty repository, or return it if it exists. Raises NotFound (project)."""

    @abstractmethod
    def get_repository(self, organization: str, project: str, name: str) -> GitRepository:
        """Raises NotFound (project or repository)."""

    @abstractmethod
    def delete_repository(self, organization: str, project: str, name: str) -> bool:
        """Delete a repository; False if it did not exist."""

    @abstractmethod
    def branches(self, repository: GitRepository) -> dict[str, str]:
        """Branch name -> commit id on the server. Raises NotFound."""

    @abstractmethod
    def delete_branch(self, repository: GitRepository, branch: str) -> bool:
        """Delete a branch on the server; False if it did not exist."""


# --- the target ------------------------------------------------------------------------------
