"""What a step publishes (`ctx.publish`) is announced and remembered in the workspace: a front
end opened later, or after a restart, finds the same files; a rollback forgets them."""

from __future__ import annotations

import shutil
from pathlib import Path

from labtui.catalog import Catalog
from labtui.events import ArtifactReady, Event
from labtui.session import Session, SessionOptions
from labtui.state import Workspace
from labtui.step import Check, Step, StepContext, Verdict


class Publisher(Step):
    """Writes a report under a folder of its own and publishes it, as test-image does."""

    id = "publisher"
    title = "Publish a report"

    def run(self, ctx: StepContext) -> None:
        report = ctx.artifacts / "results" / "junit.xml"
        report.parent.mkdir(exist_ok=True)
        report.write_text("<testsuite tests='0'/>")
        ctx.publish("junit", report)

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("report", (ctx.artifacts / "results" / "junit.xml").exists()))


def session(workspace: Path, events: list[Event] | None = None) -> Session:
    return Session(SessionOptions(workspace=workspace, environ={}), catalog=Catalog([Publisher]),
                   listeners=[events.append] if events is not None else [])


def test_published_files_are_announced_and_remembered_across_restarts(tmp_path: Path) -> None:
    events: list[Event] = []
    with session(tmp_path / "ws", events) as first:
        [result] = first.engine.run(first.catalog.units(["publisher"]))
        assert result.ok, result.message
    expected = tmp_path / "ws" / "artifacts" / "publisher" / "results" / "junit.xml"
    [ready] = [e for e in events if isinstance(e, ArtifactReady)]
    assert (ready.name, Path(ready.path)) == ("junit", expected)

    with Workspace(tmp_path / "ws") as reopened:
        [(name, record)] = reopened.artifacts("publisher", None).items()
        assert name == "junit" and record.path == expected and record.path.is_file()

    # Kept relative to the workspace: a moved workspace still finds its reports.
    shutil.move(tmp_path / "ws", tmp_path / "moved")
    with Workspace(tmp_path / "moved") as moved:
        path = moved.artifacts("publisher", None)["junit"].path
        assert path == tmp_path / "moved" / "artifacts" / "publisher" / "results" / "junit.xml"
        assert path.is_file()


def test_rollback_forgets_what_was_published(tmp_path: Path) -> None:
    with session(tmp_path / "ws") as lab:
        units = lab.catalog.units(["publisher"])
        lab.engine.run(units)
        assert "junit" in lab.workspace.artifacts("publisher", None)
        [rolled] = lab.engine.rollback(units)
        assert rolled.ok, rolled.message
        assert lab.workspace.artifacts("publisher", None) == {}


def test_a_read_only_view_of_an_older_workspace_has_no_artifacts(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as made:
        made._db.execute("DROP TABLE artifacts")  # as an older labtui left it
    with Workspace(tmp_path / "ws", read_only=True) as old:
        assert old.artifacts("publisher", None) == {}
