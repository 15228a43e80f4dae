"""The local Databricks workspace's Git folders on disk: each is a bare clone of its repository
in the sandbox, fetched on create and on every update (as a Git folder pulls), from which the
notebooks inside the folder are read at the folder's head commit.

git runs without a terminal prompt and with a bound, and its messages reach the caller as one
line; no credential is ever put on its command line (the sandbox's repositories are local).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from labtui.targets.errors import NotFound, TargetError

GIT_TIMEOUT = 60.0


def _git(*args: str, git_dir: Path | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    command = ["git", *(["--git-dir", str(git_dir)] if git_dir is not None else []), *args]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetError(f"git {args[0]} failed: {exc}") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"git {args[0]} failed"])[-1]
        raise TargetError(reason)
    return done.stdout


class GitClone:
    """A bare clone at `path` of the repository at `url`."""

    def __init__(self, path: Path, url: str) -> None:
        self.path, self.url = path, url

    def fetch(self) -> None:
        """Create the clone if needed and bring every branch of the repository in."""
        try:
            if not (self.path / "HEAD").exists():
                _git("init", "-q", "--bare", str(self.path))
            _git("fetch", "-q", "--prune", self.url, "+refs/heads/*:refs/heads/*",
                 git_dir=self.path)
        except TargetError as exc:
            raise TargetError(f"cannot read the Git repository {self.url}: {exc}") from None

    def default_branch(self) -> str:
        """The branch the repository's HEAD names. Raises TargetError (empty repository)."""
        for line in _git("ls-remote", "--symref", self.url, "HEAD").splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line[len("ref: refs/heads/"):-len("\tHEAD")]
        raise TargetError(f"the Git repository {self.url} has no default branch (is it empty?)")

    def head(self, branch: str) -> str:
        """The commit `branch` points at in the clone. Raises NotFound."""
        try:
            return _git("rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}",
                        git_dir=self.path).strip()
        except TargetError:
            raise NotFound(f"branch {branch} does not exist in {self.url}") from None

    def read(self, commit: str, path: str) -> str | None:
        """The file at `path` in `commit`, or None if there is none."""
        try:
            return _git("show", f"{commit}:{path}", git_dir=self.path)
        except TargetError:
            return None
