"""The workspace is private, as the README promises: folders 0700, files 0600 (or stricter),
whoever wrote them: labtui, git, MLflow, Spark (whose Hadoop file system sets modes of its
own) or a tar of a container's results."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from labtui.state import Workspace, tighten_modes
from tests.conftest import LabtuiRunner, require_lab_data


def _not_private(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        mode = os.lstat(path).st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(root)}")
    return found


def test_what_a_session_writes_is_private(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path / "ws", command="test")
    try:
        (workspace.path / "sandbox" / "repos").mkdir(parents=True)
        (workspace.path / "sandbox" / "repos" / "HEAD").write_text("ref: refs/heads/main\n")
    finally:
        workspace.close()
    assert _not_private(tmp_path / "ws") == []


def test_modes_set_by_other_writers_are_taken_back_after_a_run(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path / "ws", command="test")
    results = workspace.path / "artifacts" / "test-image" / "test_results"
    results.mkdir(parents=True)
    junit = results / "junit.xml"
    junit.write_text("<testsuites/>")
    read_only = results / "object"
    read_only.write_text("blob")
    os.chmod(results, 0o755)
    os.chmod(junit, 0o644)  # as tar extraction or Hadoop's local file system leave them
    os.chmod(read_only, 0o444)
    outside = tmp_path / "shared.txt"
    outside.write_text("not the workspace's")
    os.chmod(outside, 0o644)
    (results / "link").symlink_to(outside)
    workspace.close()
    assert _not_private(tmp_path / "ws") != [], "a session that ran nothing walks nothing"

    workspace = Workspace.open(tmp_path / "ws", command="test")
    run = workspace.start_run("demo", None, "run")
    workspace.finish_run(run, "done", "")
    workspace.close()
    assert _not_private(tmp_path / "ws") == []
    assert stat.S_IMODE(read_only.stat().st_mode) == 0o400, "read-only stays read-only"
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644, "a link's target is not ours"


def test_tighten_modes_counts_what_it_changed(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir(mode=0o755)
    (tmp_path / "a" / "f").write_text("x")
    os.chmod(tmp_path / "a" / "f", 0o664)
    os.chmod(tmp_path / "a", 0o755)
    os.chmod(tmp_path, 0o700)
    assert tighten_modes(tmp_path) == 2
    assert tighten_modes(tmp_path) == 0


@pytest.mark.slow
def test_the_lab_through_training_leaves_nothing_readable_by_others(
        tmp_path: Path, labtui: LabtuiRunner) -> None:
    """Infrastructure, Azure DevOps and train-model for real on the local target: the MLflow
    store, model files, Spark's output, the git repositories and the working copy."""
    answers = tmp_path / "answers.toml"
    answers.write_text('prefix = "contoso7"\n'
                       'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
                       'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
                       f'data-file = "{require_lab_data()}"\n')
    ran = labtui("--step", "train-model", "--with-requires", "--headless",
                 "--values", str(answers), timeout=900)
    assert ran.code == 0, ran.output[-3000:]
    files = [p for p in labtui.workspace.rglob("*") if p.is_file()]
    assert len(files) > 100, "the lab really ran"
    assert any("mlflow" in str(p) or p.suffix == ".db" for p in files)
    assert _not_private(labtui.workspace) == []
