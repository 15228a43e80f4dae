"""The bare repositories the local pipelines read: a branch's head, the default branch, a
file at a commit, and git itself (a run clones its sources from the bare repository)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from labtui.targets.errors import NotFound, TargetError
from labtui.targets.resources import GitRepository


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["git failed"])[-1]
        raise TargetError(f"git {args[0]}: {last}")
    return done.stdout


def bare(repository: GitRepository) -> Path:
    path = Path(repository.clone_url)
    if not (path / "HEAD").exists():
        raise NotFound(f"repository {repository.name} does not exist")
    return path


def head(repository: GitRepository, branch: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(bare(repository)), "rev-parse", "--verify",
                           "--quiet", f"refs/heads/{branch}^{{commit}}"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise NotFound(f"branch {branch} does not exist in repository {repository.name}")
    return done.stdout.strip()


def default_branch(repository: GitRepository) -> str | None:
    """The bare repository's default branch (what its HEAD names), None when it has none."""
    done = subprocess.run(["git", "--git-dir", str(bare(repository)), "symbolic-ref",
                           "--quiet", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None if done.returncode == 0 else None


def file_at(repository: GitRepository, ref: str, path: str) -> str | None:
    done = subprocess.run(["git", "--git-dir", str(bare(repository)), "show",
                           f"{ref}:{path}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None
