"""The workspace moved to `labtui.workspace` (one module per part); `labtui.state` still
gives every caller what it gave before, the very same objects."""

from __future__ import annotations

from pathlib import Path

import labtui.state
import labtui.workspace


def test_the_old_name_gives_the_same_objects() -> None:
    for name in labtui.state.__all__:
        assert getattr(labtui.state, name) is getattr(labtui.workspace, name), name
    assert {"Workspace", "WorkspaceError", "WorkspaceLocked", "JournalRow", "RunRecord",
            "default_workspace", "describe_holder", "tighten_modes"} <= set(labtui.state.__all__)


def test_one_workspace_holds_every_part(tmp_path: Path) -> None:
    with labtui.workspace.Workspace.open(tmp_path / "ws", command="test") as workspace:
        workspace.set_value("prefix", None, "contoso7", secret=False)
        workspace.set_value("token", None, "s3cret-value", secret=True)
        workspace.set_status("demo", "dev", "done", "ok")
        run = workspace.start_run("demo", "dev", "run")
        workspace.add_log_lines(run, [(1.0, "info", "hello")])
        workspace.finish_run(run, "done", "")
        assert workspace.get_value("prefix", None) == "contoso7"
        assert workspace.secret_values() == ["s3cret-value"]
        assert workspace.run_log(run) == [(1.0, "info", "hello")]
        assert workspace.statuses()[("demo", "dev")].status == "done"
    with labtui.workspace.Workspace(tmp_path / "ws", read_only=True) as again:
        assert again.runs()[0].outcome == "done"
        assert b"s3cret-value" not in (tmp_path / "ws" / "state.db").read_bytes()
