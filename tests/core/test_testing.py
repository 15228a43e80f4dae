"""labtui.testing: a plugin's steps run with the real context the engine gives them."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from labtui.state import Workspace
from labtui.step import Check, Step, StepContext, Verdict
from labtui.testing import StepLab


def demo_step(name: str) -> type[Step]:
    """A step class of the demo plugin (visible once the demo_plugin fixture ran)."""
    step: type[Step] = getattr(importlib.import_module("labtui_demo_steps"), name)
    return step


def test_a_plugins_step_runs_journals_and_rolls_back_in_a_real_workspace(
        demo_plugin: Path, tmp_path: Path) -> None:
    files = tmp_path / "files"
    demo_files = demo_step("DemoFiles")
    with StepLab(tmp_path / "ws", answers={"demo-dir": str(files), "demo-count": "2"}) as lab:
        ctx = lab.run(demo_files, None)

        assert sorted(p.name for p in files.iterdir()) == ["file-000.txt", "file-001.txt"]
        assert lab.lines == ["created file-000.txt", "created file-001.txt"]
        assert ctx.artifacts == tmp_path / "ws" / "artifacts" / "demo-files"
        assert ctx.artifacts.is_dir()
        # The journal is state.db's: another reader of the workspace sees it at once.
        with Workspace(lab.path, read_only=True) as reader:
            assert [e.ref for e in reader.journal_entries("demo-files", None)] == [
                str(files / "file-000.txt"), str(files / "file-001.txt")]

        lab.rollback(demo_files, None)
        assert list(files.iterdir()) == []
        assert lab.journal(demo_files, None) == []


def test_secrets_are_masked_in_the_log_and_kept_encrypted(
        demo_plugin: Path, tmp_path: Path) -> None:
    secret = "canary-Zq81-value"
    with StepLab(tmp_path / "ws", answers={"demo-secret": secret}) as lab:
        lab.run(demo_step("DemoCanary"), None)

        assert "raw: ***" in lab.lines and "generated: ***" in lab.lines
        assert not any(secret in line or secret[::-1] in line for line in lab.lines)
        assert f"gen-{secret[::-1]}" in lab.masker, "ctx.secret registers with the masker"
        assert lab.output("demo-canary", None, "echo") == secret
    stored = b"".join(p.read_bytes() for p in (tmp_path / "ws").glob("state.db*"))
    assert secret.encode() not in stored


def test_values_come_from_the_answers_as_they_are_now_and_the_defaults(
        demo_plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABTUI_DEMO_COUNT", "7")  # the tester's shell is not the lab's
    demo_files = demo_step("DemoFiles")
    with StepLab(tmp_path / "ws", answers={"demo-dir": str(tmp_path)}) as lab:
        assert lab.ctx(demo_files, None).value("demo-count") == "3"
        lab.answers["demo-count"] = "1"
        assert lab.ctx(demo_files, None).value("demo-count") == "1"


class NeverWritten(Step):
    """A step of a plugin that is not installed: its verify never holds."""

    id = "never-written"
    title = "Write nothing"
    section = "Demo"

    def run(self, ctx: StepContext) -> None:
        ctx.log("wrote nothing")

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("marker", False, "not written", "run it"))


def test_a_run_that_does_not_verify_names_its_failing_checks(tmp_path: Path) -> None:
    with StepLab(tmp_path / "ws", steps=[NeverWritten]) as lab:
        with pytest.raises(AssertionError) as failed:
            lab.run(NeverWritten, None)
        assert str(failed.value) == ("never-written does not verify after its run: "
                                     "marker: not written")
        assert lab.lines == ["wrote nothing"]


def test_closing_the_lab_releases_the_workspace(tmp_path: Path) -> None:
    with StepLab(tmp_path / "ws", steps=[NeverWritten]) as lab:
        lab.ctx(NeverWritten, None)
    with Workspace.open(tmp_path / "ws", command="labtui --step never-written --headless"):
        pass


def test_the_hooks_talk_to_the_target_given(tmp_path: Path) -> None:
    from labtui_steps.infrastructure import ResourceGroups

    from labtui.targets.local import LocalTarget

    elsewhere = LocalTarget(tmp_path / "elsewhere")
    with StepLab(tmp_path / "ws", answers={"prefix": "contoso7"}, target=elsewhere) as lab:
        lab.run(ResourceGroups, "dev")
        assert lab.target is elsewhere
    assert not (tmp_path / "ws" / "sandbox").exists(), "the default target was not opened"
    reopened = LocalTarget(tmp_path / "elsewhere")
    try:
        assert reopened.resource_groups.exists("contoso7-db-dev")
    finally:
        reopened.close()
