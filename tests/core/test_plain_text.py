"""Lines a step logs reach every front end, the log files and state.db without escape codes."""

from __future__ import annotations

from pathlib import Path

from labtui.catalog import Catalog
from labtui.engine import Engine
from labtui.events import Event, LogLine
from labtui.plain_text import strip_escapes
from labtui.state import Workspace
from labtui.step import Check, Field, Step, StepContext, Verdict
from labtui.targets.local import LocalTarget
from labtui.values import Resolver

PIP_LINE = ("\x1b[1;31mERROR\x1b[0m: Could not fetch URL \x1b]8;;https://pypi.org\x1b\\"
            "https://pypi.org\x1b]8;;\x1b\\ \x1b[?25l(SSL: CERTIFICATE_VERIFY_FAILED)\x1b[K")
SECRET = "s3cr3t-value-1234"


class Colourful(Step):
    id = "colourful"
    title = "Logs like docker build and pip do"
    inputs = (Field("colour-secret", "A secret", kind="secret"),)

    def run(self, ctx: StepContext) -> None:
        ctx.log(PIP_LINE)
        # A secret split by a colour code is still a secret once the codes are gone.
        ctx.log(f"token \x1b[32m{SECRET[:6]}\x1b[0m{SECRET[6:]}")

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("ran", (ctx.artifacts / "never").exists()))


def test_strip_escapes_removes_colours_links_cursor_codes_and_controls() -> None:
    assert strip_escapes(PIP_LINE) == ("ERROR: Could not fetch URL https://pypi.org "
                                       "(SSL: CERTIFICATE_VERIFY_FAILED)")
    assert strip_escapes("bell\x07 and \x1b(Bcharset\tkept") == "bell and charset\tkept"
    assert strip_escapes("plain text stays") == "plain text stays"


def test_engine_keeps_and_emits_log_lines_without_escapes(tmp_path: Path) -> None:
    events: list[Event] = []
    with Workspace(tmp_path / "ws") as workspace:
        catalog = Catalog([Colourful])
        resolver = Resolver(catalog.fields(), environ={"LABTUI_COLOUR_SECRET": SECRET},
                            workspace=workspace)
        engine = Engine(catalog, workspace, lambda: LocalTarget(workspace.path), resolver,
                        listener=events.append)
        try:
            engine.run(catalog.units(["colourful"]), force=True)
        finally:
            engine.close()
        kept = workspace.last_run("colourful", None)
    assert kept is not None
    shown = [event.line for event in events if isinstance(event, LogLine)]
    for lines in (shown, list(kept.lines)):
        text = "\n".join(lines)
        assert "\x1b" not in text, lines
        assert "ERROR: Could not fetch URL https://pypi.org (SSL: CERTIFICATE_VERIFY_FAILED)" \
            in lines
        assert "token ***" in lines and SECRET not in text
