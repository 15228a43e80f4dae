"""Journal records: each kind is a typed value that owns its undo, registered apart from the
steps, so what a step made stays removable when the step is no longer installed; state.db keeps
kind + ref + a JSON object as it always did, and an entry that does not fit its kind is named
with its way out."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from labtui_steps.devloop.records import Model
from labtui_steps.devops.records import (
    Branch,
    DevOpsRepository,
    GitProvider,
    NotebookLink,
    WorkingCopy,
)
from labtui_steps.infrastructure.records import (
    ClusterAutotermination,
    FileSystem,
    ResourceGroup,
    RoleAssignment,
)

from labtui.catalog import Catalog
from labtui.engine import Outcome
from labtui.journal import DamagedRecord, Record, RecordKindError, UnknownKind, decode
from labtui.state import Workspace, WorkspaceError
from labtui.step import Check, Field, Step, StepContext, Verdict
from tests.conftest import DEMO_PLUGIN, LabtuiRunner, labtui_env

LEGACY_ROWS = [
    # (kind, ref, undo JSON) exactly as labtui wrote them before records were typed.
    ("resource-group", "contoso7-db-dev", "{}", ResourceGroup("contoso7-db-dev")),
    ("file-system", "datalake", '{"account": "contoso7dldev"}',
     FileSystem("datalake", account="contoso7dldev")),
    ("cluster-autotermination", "0101-abc", '{"previous": "60", "workspace": "contoso7-db"}',
     ClusterAutotermination("0101-abc", workspace="contoso7-db", previous="60")),
    ("role-assignment", "Storage Blob Data Contributor on contoso7dldev",
     '{"principal": "p-1", "role": "Storage Blob Data Contributor", "scope": "/sub/x"}',
     RoleAssignment("Storage Blob Data Contributor on contoso7dldev", principal="p-1",
                            role="Storage Blob Data Contributor", scope="/sub/x")),
    ("devops-repository", "contoso7/lab/lab",
     '{"organization": "contoso7", "project": "lab", "repository": "lab"}',
     DevOpsRepository("contoso7", "lab", "lab")),
    ("working-copy", "/home/ada/repos/lab", '{"path": "/home/ada/repos/lab"}',
     WorkingCopy("/home/ada/repos/lab")),
    # git-integration's branch had no `before`; seed-repo's had one.
    ("branch", "ada-dev", '{"organization": "o", "project": "p", "repository": "r"}',
     Branch("ada-dev", organization="o", project="p", repository="r")),
    ("notebook-link", "/Shared/train_model",
     '{"previous": ["https://x/_git/r", "main", "a.py"], "workspace": "contoso7-db"}',
     NotebookLink("/Shared/train_model", workspace="contoso7-db",
                          previous=("https://x/_git/r", "main", "a.py"))),
    # git-integration's provider had no user name.
    ("git-provider", "contoso7-db", '{"previous": "gitHub"}',
     GitProvider("contoso7-db", previous="gitHub")),
    ("model", "contoso7-ml-dev/worst_regression",
     '{"name": "worst_regression", "workspace": "contoso7-ml-dev"}',
     Model("contoso7-ml-dev", "worst_regression")),
]


@pytest.mark.parametrize(("kind", "ref", "undo", "expected"), LEGACY_ROWS,
                         ids=[row[0] for row in LEGACY_ROWS])
def test_entries_an_older_labtui_wrote_read_as_their_records(
        tmp_path: Path, kind: str, ref: str, undo: str, expected: Record) -> None:
    workspace = Workspace.open(tmp_path / "ws", command="test")
    try:
        with sqlite3.connect(tmp_path / "ws" / "state.db") as db:
            db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) "
                       "VALUES ('s', 'dev', ?, ?, ?, ?)", (kind, ref, undo, time.time()))
        (entry,) = workspace.journal_entries("s", "dev")
        assert entry.record == expected
        assert (entry.kind, entry.ref) == (kind, ref)
        # Written back, it is stored as before: kind, ref, and the fields as a JSON object
        # (defaults written out; the ref not repeated).
        workspace.journal_forget(entry.seq)
        workspace.journal_record("s", "dev", entry.record)
        (row,) = workspace.journal_rows()
        older = {k: v for k, v in json.loads(undo).items() if v != ref}
        assert (row.kind, row.ref) == (kind, ref)
        assert older.items() <= json.loads(row.undo).items()
        assert decode(row.kind, row.ref, json.loads(row.undo)) == expected
    finally:
        workspace.close()


@pytest.mark.parametrize(("undo", "problem"), [
    ('{"vault": "contoso7-kv-dev", "size": 3}', "a field 'size' that a 'vault-secret' has not"),
    ("{}", "its field 'vault' is missing"),
    ('{"vault": 7}', "its field 'vault' holds a int, not a str"),
    ('["contoso7-kv-dev"]', "its undo record is not a JSON object"),
])
def test_an_entry_that_does_not_fit_its_kind_is_named_with_its_way_out(
        tmp_path: Path, undo: str, problem: str) -> None:
    workspace = Workspace.open(tmp_path / "ws", command="test")
    try:
        with sqlite3.connect(tmp_path / "ws" / "state.db") as db:
            db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) "
                       "VALUES ('secrets', 'dev', 'vault-secret', 'sp-app-id', ?, ?)",
                       (undo, time.time()))
        with pytest.raises(WorkspaceError) as raised:
            workspace.journal_entries("secrets", "dev")
        message = str(raised.value)
        assert "\n" not in message
        assert problem in message
        assert message.startswith("journal entry 1 (vault-secret sp-app-id) is damaged")
        assert message.endswith("`labtui journal forget 1`")
    finally:
        workspace.close()


def test_a_kind_claimed_twice_is_refused_naming_both_places() -> None:
    with pytest.raises(RecordKindError) as raised:
        @dataclass(frozen=True)
        class Impostor(Record):
            kind = "resource-group"
            name: str

            def undo(self, ctx: StepContext) -> None:
                raise AssertionError("never registered, never called")

    message = str(raised.value)
    assert "\n" not in message
    assert "'resource-group' is defined twice" in message
    assert "labtui_steps.infrastructure.records:ResourceGroup" in message
    assert f"{__name__}:" in message and "Impostor" in message
    assert type(decode("resource-group", "rg", {})) is ResourceGroup


def test_an_unknown_kind_is_not_taken_for_another() -> None:
    with pytest.raises(UnknownKind, match="no installed plugin knows the kind 'gizmo'"):
        decode("gizmo", "g-1", {})
    with pytest.raises(DamagedRecord):
        decode("model", "elsewhere/worst_regression",
               {"workspace": "contoso7-ml-dev", "name": "worst_regression"})


# --- a step that is no longer installed -----------------------------------------------------


def _plugin_variant(tmp_path: Path, name: str, *, steps: bool, records_module: str | None
                    ) -> Path:
    """The demo distribution as a later version might ship it: without its steps' entry
    points (`steps=False`), or with another records module; pip-installed into a folder."""
    source = tmp_path / f"src-{name}"
    shutil.copytree(DEMO_PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pyproject = source / "pyproject.toml"
    text = pyproject.read_text().replace('version = "1.0.0"', 'version = "2.0.0"')
    if not steps:
        start = text.index('[project.entry-points."labtui.steps"]')
        end = text.index("[project.entry-points.", start + 1)
        text = text[:start] + text[end:]
    pyproject.write_text(text)
    if records_module is not None:
        (source / "labtui_demo_steps" / "records.py").write_text(records_module)
    target = tmp_path / f"plugin-{name}"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True)
    return target


def _without_demo(labtui: LabtuiRunner, plugin: Path | None) -> LabtuiRunner:
    env = labtui_env([plugin] if plugin else [], HOME=labtui.env["HOME"],
                     DATABRICKS_CONFIG_FILE=labtui.env["DATABRICKS_CONFIG_FILE"], COLUMNS="200")
    return LabtuiRunner(labtui.workspace, env)


def _made(labtui: LabtuiRunner, files: Path) -> None:
    for args in (("--step", "demo-files"), ("--step", "demo-per-env", "--env", "dev")):
        ran = labtui(*args, "--headless", "--set", f"demo-dir={files}")
        assert ran.code == 0, ran.output
    assert len(list(files.iterdir())) == 4


def test_what_a_step_no_longer_installed_made_is_rolled_back(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    _made(labtui, files)
    upgraded = _without_demo(labtui, _plugin_variant(tmp_path, "v2", steps=False,
                                                     records_module=None))

    listed = upgraded("list")
    assert listed.code == 0, listed.output
    assert "demo-files" not in listed.stdout

    # Limited to an environment, as the installed steps are: demo-files runs in none.
    pipeline = upgraded("--all", "--headless", "--rollback", "--yes", "--env", "pipeline")
    assert pipeline.code == 0, pipeline.output
    assert [p.name for p in files.iterdir()] == ["marker-dev.txt"]

    ran = upgraded("--all", "--headless", "--rollback", "--yes")
    assert ran.code == 0, ran.output
    assert "Traceback" not in ran.output
    assert list(files.iterdir()) == [], "what the uninstalled steps made is gone"
    assert "demo-per-env (dev)" in ran.output
    journal = upgraded("journal", "--json")
    assert journal.code == 0 and journal.stdout == ""


def test_with_its_records_gone_too_the_rollback_names_the_way_out(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    _made(labtui, files)
    bare = _without_demo(labtui, None)

    ran = bare("--all", "--headless", "--rollback", "--yes")
    assert ran.code == 1
    assert "Traceback" not in ran.output
    assert "no installed plugin knows the kind 'file'" in ran.output
    assert "labtui journal forget" in ran.output
    assert len(list(files.iterdir())) == 4, "nothing is removed that cannot be undone"

    table = bare("journal")
    assert table.code == 0
    assert "no installed plugin knows this kind" in table.stdout
    entries = [json.loads(line) for line in bare("journal", "--json").stdout.splitlines()]
    assert [e["undo_readable"] for e in entries] == [False] * 4

    # Reinstalled, the same rollback goes through.
    again = labtui("--all", "--headless", "--rollback", "--yes")
    assert again.code == 0, again.output
    assert list(files.iterdir()) == []


def test_a_plugin_claiming_a_lab_kind_is_refused_at_load(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    clash = '''
from dataclasses import dataclass

from labtui.journal import Record


@dataclass(frozen=True)
class DemoFile(Record):
    kind = "resource-group"
    name: str

    def undo(self, ctx):
        pass
'''
    broken = _without_demo(labtui, _plugin_variant(tmp_path, "clash", steps=False,
                                                   records_module=clash))
    ran = broken("list")
    assert ran.code == 2, ran.output
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert "journal record kind 'resource-group' is defined twice" in lines[0]
    assert "labtui_steps.infrastructure.records:ResourceGroup" in lines[0]
    assert "labtui_demo_steps.records:DemoFile" in lines[0]


# --- record_once, through the engine's journal and the sandbox's mirror of it ----------------


@dataclass(frozen=True)
class Setting(Record):
    """A setting the step changed; `previous` is what it was, which the undo puts back."""

    kind = "test-setting"
    name: str
    previous: str

    def undo(self, ctx: StepContext) -> None:
        Path(self.name).write_text(self.previous)


class ChangeSetting(Step):
    """Sets a file's content to "ours", journaling what it held first — once."""

    id = "change-setting"
    title = "Change a setting"
    section = "Demo"
    inputs = (Field("setting-file", "Setting file", kind="path"),)

    def run(self, ctx: StepContext) -> None:
        path = Path(ctx.value("setting-file"))
        ctx.journal.record_once(Setting(str(path), previous=path.read_text()))
        path.write_text("ours")

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("setting", Path(ctx.value("setting-file")).read_text() == "ours"))


def test_record_once_keeps_what_was_there_first_in_state_db_and_the_sandbox(
        tmp_path: Path) -> None:
    from labtui.session import Session, SessionOptions

    setting = tmp_path / "setting.txt"
    setting.write_text("the attendee's own")
    options = SessionOptions(workspace=tmp_path / "ws", environ={},
                             set_values=(f"setting-file={setting}",))
    with Session(options, catalog=Catalog([ChangeSetting])) as session:
        engine = session.engine
        (unit,) = engine.catalog.units()
        assert [r.outcome for r in engine.run([unit])] == [Outcome.DONE]
        # A forced rerun finds "ours" there; the journal must still hold the attendee's.
        assert [r.outcome for r in engine.run([unit], force=True)] == [Outcome.DONE]
        (entry,) = session.workspace.journal_entries("change-setting", None)
        assert entry.record == Setting(str(setting), previous="the attendee's own")
        mirror = engine.target.journal_mirror()
        assert mirror is not None
        mirrored = [(e.kind, e.ref, json.loads(e.undo)) for e in mirror.entries()]
        assert mirrored == [("test-setting", str(setting), {"previous": "the attendee's own"})]

        assert [r.outcome for r in engine.rollback([unit])] == [Outcome.ROLLED_BACK]
    assert setting.read_text() == "the attendee's own"


def test_a_rollback_plan_lists_an_entry_it_cannot_undo_and_the_rollback_says_why(
        tmp_path: Path) -> None:
    from labtui.session import Session, SessionOptions

    options = SessionOptions(workspace=tmp_path / "ws", environ={},
                             set_values=(f"setting-file={tmp_path / 'setting.txt'}",))
    with Session(options, catalog=Catalog([ChangeSetting])) as session:
        with sqlite3.connect(tmp_path / "ws" / "state.db") as db:
            db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) "
                       "VALUES ('change-setting', '', 'gizmo', 'g-1', '{}', ?)", (time.time(),))
        engine = session.engine
        (unit,) = engine.catalog.units()
        assert [(c.action, c.kind, c.ref) for c in engine.rollback_plan(unit)] == [
            ("delete", "gizmo", "g-1")]
        (result,) = engine.rollback([unit])
    assert result.outcome == Outcome.FAILED
    assert "\n" not in result.message
    assert "no installed plugin knows the kind 'gizmo'" in result.message
    assert "`labtui journal forget 1`" in result.message
