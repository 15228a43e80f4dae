"""A local clone of a lab repository, through GitPython: clone, branch, commit, push.

Both targets hand steps a `WorkingCopy`; they differ only in the remote URL and how git
authenticates (a file path locally; HTTPS with a token from the environment on Azure DevOps).
GitPython is imported on first use.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from labtui.targets.errors import TargetError

AUTHOR_NAME = "labtui"
AUTHOR_EMAIL = "labtui@localhost"


class WorkingCopy:
    """A clone at `path` of the repository at `url`."""

    def __init__(self, path: Path, url: str, *, env: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.url = url
        self.env = dict(env or {})
        self._repo: Any = None

    @property
    def exists(self) -> bool:
        return (self.path / ".git").is_dir()

    def repo(self) -> Any:
        """The GitPython Repo, cloning first if needed.

        Raises:
            TargetError: git is missing or the clone failed.
        """
        if self._repo is not None:
            return self._repo
        try:
            import git
        except ImportError as exc:  # GitPython needs the git executable
            raise TargetError(f"git is not usable here: {exc}") from None
        try:
            if self.exists:
                self._repo = git.Repo(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._repo = git.Repo.clone_from(self.url, self.path, env=self.env or None)
        except git.GitError as exc:
            raise TargetError(f"cannot clone {self.url} into {self.path}: {_short(exc)}") from None
        with self._repo.config_writer() as config:
            config.set_value("user", "name", AUTHOR_NAME)
            config.set_value("user", "email", AUTHOR_EMAIL)
        return self._repo

    def _git(self, *args: str) -> str:
        import git

        try:
            return str(self.repo().git.execute(["git", *args], env=self.env or None))
        except git.GitCommandError as exc:
            raise TargetError(f"git {args[0]} failed in {self.path}: {_short(exc)}") from None

    def fetch(self) -> None:
        if self.repo().remotes:
            self._git("fetch", "--prune", "origin")

    def current_branch(self) -> str | None:
        repo = self.repo()
        return None if repo.head.is_detached else str(repo.active_branch.name)

    def checkout(self, branch: str, *, start: str | None = None) -> None:
        """Switch to `branch`, creating it from `start` (a local or origin/ ref) if it is new."""
        local = {head.name for head in self.repo().heads}
        if branch in local:
            self._git("checkout", branch)
        elif self.remote_head(branch):
            self._git("checkout", "-b", branch, "--track", f"origin/{branch}")
        elif start is not None:
            # No tracking of `start`: the branch tracks its own origin/<branch> once pushed.
            self._git("checkout", "--no-track", "-b", branch, start)
        else:
            self._git("checkout", "--orphan", branch)

    def remote_head(self, branch: str) -> str | None:
        """The commit id of `branch` on the remote, or None if it has no such branch."""
        out = self._git("ls-remote", "--heads", "origin", branch)
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def head(self) -> str | None:
        repo = self.repo()
        return None if not repo.head.is_valid() else str(repo.head.commit.hexsha)

    def copy_in(self, source: Path, names: Iterable[str]) -> None:
        """Copy the named files/folders of `source` into the working tree (replacing them)."""
        for name in names:
            src, dest = source / name, self.path / name
            if src.is_dir():
                shutil.copytree(src, dest, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)

    def commit_all(self, message: str) -> str | None:
        """Commit every change in the working tree; the new commit id, or None if clean."""
        self._git("add", "--all")
        if not self._git("status", "--porcelain"):
            return None
        self._git("commit", "-q", "-m", message)
        return self.head()

    def push(self, branch: str) -> bool:
        """Push `branch` to origin and make it track origin/<branch>, so the attendee's own
        `git pull` and `git push` work; False if the remote already had this commit."""
        head = self.head()
        if head is None:
            raise TargetError(f"nothing to push: {branch} has no commits in {self.path}")
        if self.remote_head(branch) == head:
            self._track(branch)
            return False
        self._git("push", "-q", "--set-upstream", "origin", f"{branch}:{branch}")
        return True

    def _track(self, branch: str) -> None:
        if branch in {head.name for head in self.repo().heads}:
            self._git("fetch", "-q", "origin", branch)
            self._git("branch", f"--set-upstream-to=origin/{branch}", branch)

    def files(self, ref: str) -> list[str]:
        """The files of `ref` (a branch, origin/branch or commit id)."""
        return self._git("ls-tree", "-r", "--name-only", ref).splitlines()

    def show(self, ref: str, path: str) -> str:
        """A file's text at `ref`."""
        return self._git("show", f"{ref}:{path}")


    def revert(self, commit: str, *, mainline: int | None = None) -> str:
        """Undo `commit` on the current branch with a new commit (`git revert`; a merge
        commit needs `mainline`, 1 for the branch it was merged into); the new commit's id."""
        args = ["revert", "--no-edit"]
        if mainline is not None:
            args += ["-m", str(mainline)]
        self._git(*args, commit)
        head = self.head()
        assert head is not None  # a revert made a commit
        return head

    def reverted(self, ref: str, commit: str) -> bool:
        """Whether the history of `ref` has a commit reverting `commit` (as `revert` writes)."""
        return bool(self._git("log", "--format=%H", "--fixed-strings",
                              f"--grep=This reverts commit {commit}", ref).strip())


def _short(exc: Exception) -> str:
    stderr = getattr(exc, "stderr", "") or ""
    text = str(stderr).strip().replace("stderr:", "").strip(" '\n") or str(exc)
    return text.splitlines()[-1] if text else type(exc).__name__
