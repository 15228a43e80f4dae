"""Secrets are registered with the masker in one place (the resolver, and a step's
`register_secret` for what it learns at run time), and nothing shows them: not the headless
JSON events, not the run logs kept in the workspace, not the proctor's output, not an export.

The step here logs every value it is given, the target's secret option among them, and fails
with them: the worst a step can do.
"""

from __future__ import annotations

import ast
import io
import json
import tarfile
from pathlib import Path

from labtui.catalog import Catalog
from labtui.console import JsonLines
from labtui.masking import Masker
from labtui.proctor.command import FleetJsonLines
from labtui.proctor.fleet import Fleet, FleetOptions
from labtui.proctor.roster import load_roster
from labtui.session import Session, SessionOptions, with_targets_options
from labtui.state import Workspace
from labtui.step import Check, Field, Step, StepContext, StepError, Verdict
from tests.conftest import ROOT

TOKEN = "demo_0123456789abcdef"
"""The demo target's secret option."""
CANARY = "leaky-canary-7d41c9"
"""A step input that is secret."""
LEARNT = "learnt-at-run-time-5e2b"
"""A secret the step only learns while it runs (a key it created)."""


class LeakEverything(Step):
    """Logs every value it has, keeps one as a secret output, and fails naming them."""

    id = "leak-everything"
    title = "Log every value"
    section = "Demo"
    inputs = (Field("leak-secret", "A secret", kind="secret"),)

    def run(self, ctx: StepContext) -> None:
        for name, value in sorted(ctx.values.items()):
            ctx.log(f"{name} = {value}")
        ctx.outputs.set("learnt", LEARNT, secret=True)
        ctx.log(f"learnt {LEARNT}")
        raise StepError(f"refused: token {ctx.values.get('demo-token')} "
                        f"secret {ctx.value('leak-secret')} learnt {LEARNT}")

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("never", False, f"learnt {ctx.outputs.get('learnt')}"))


def assert_no_secret(text: str, where: str) -> None:
    for secret in (TOKEN, CANARY, LEARNT):
        assert secret not in text, f"{secret} leaked in {where}"


def test_headless_events_and_kept_logs_show_no_secret(demo_target: Path, tmp_path: Path) -> None:
    stream = io.StringIO()
    masker = Masker()
    options = SessionOptions(workspace=tmp_path / "ws", target="demo", environ={
        "LABTUI_DEMO_TOKEN": TOKEN, "LABTUI_LEAK_SECRET": CANARY})
    catalog = Catalog([LeakEverything])
    with Session(options, catalog=catalog, masker=masker,
                 listeners=[JsonLines(masker, stream)]) as session:
        results = session.engine.run(catalog.units())
        assert results[0].message.startswith("refused: token *** secret *** learnt ***")
        session.engine.verify(catalog.units())
        kept = session.workspace.last_run("leak-everything", None, ("run",))
    events = stream.getvalue()
    assert "demo-token = ***" in events and "leak-secret = ***" in events
    assert_no_secret(events, "the JSON events")
    assert kept is not None and "learnt ***" in kept.lines
    assert_no_secret("\n".join(kept.lines), "the run log kept in the workspace")


def test_the_proctor_output_and_export_show_no_secret(demo_target: Path,
                                                     tmp_path: Path) -> None:
    catalog = Catalog([LeakEverything])
    roster = tmp_path / "roster.csv"
    roster.write_text("attendee,prefix,workspace,target,leak-secret\n"
                      "a1,contoso1,ws/a1,demo,A1_SECRET\n")
    environ = {"A1_SECRET": CANARY, "LABTUI_DEMO_TOKEN": TOKEN}
    fields = with_targets_options(catalog.fields(), ["demo"])
    masker = Masker()
    fleet = Fleet(load_roster(roster, fields, environ),
                  FleetOptions(environ=environ, retries=0, backoff=0.0),
                  catalog=catalog, masker=masker)
    stream = io.StringIO()
    out = FleetJsonLines(masker, stream)
    summary = fleet.provision("leak-everything", out)
    out.summary(summary)
    assert summary.attendees[0].message.startswith("refused: token *** secret ***")
    exported = fleet.export(tmp_path / "bundles", listener=out)
    assert exported.exit_code == 0
    lines = stream.getvalue()
    assert '"attendee": "a1"' in lines and "demo-token = ***" in lines
    assert_no_secret(lines, "the proctor's JSON lines")
    with tarfile.open(tmp_path / "bundles" / "a1.tar.gz") as tar:
        bundle = {member.name: tar.extractfile(member).read().decode()  # type: ignore[union-attr]
                  for member in tar.getmembers()}
    runs = [text for name, text in bundle.items() if "/runs/" in name]
    assert runs and any("leak-secret = ***" in text for text in runs)
    for name, text in bundle.items():
        assert_no_secret(text, name)
    summary_json = json.loads(bundle["a1/summary.json"])
    assert summary_json["runs"][0]["message"].startswith("refused: token ***")
    with Workspace(tmp_path / "ws" / "a1", read_only=True) as workspace:
        assert CANARY in workspace.secret_values()  # it was there to leak


def test_only_the_resolver_and_a_steps_register_secret_talk_to_the_masker() -> None:
    """`masker.register` has one home for values (`labtui.values`) and one for what a step
    learns (the engine's `register_secret`); the local target's notebook runner masks what
    its emulated `dbutils` hands a notebook, which is the target's own business."""
    callers = set()
    for path in sorted((ROOT / "labtui").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "register" and isinstance(
                    node.value, ast.Attribute | ast.Name):
                owner = node.value.attr if isinstance(node.value, ast.Attribute) else \
                    node.value.id
                if "masker" in owner:
                    callers.add(path.relative_to(ROOT).as_posix())
    assert callers == {"labtui/values.py", "labtui/engine.py",
                       "labtui/targets/local/notebooks.py"}
