"""A step's actions in the app: approve and reject show on the step's page and in the command
palette, ask for the name and a comment in a small form, and hand the act to the engine."""

from __future__ import annotations

from collections.abc import Mapping

from textual.widgets import Button, Input, Static

from labtui.actions import APPROVE, REJECT
from labtui.app.action_form import ActionForm
from labtui.catalog import Catalog
from labtui.step import Check, Step, StepContext, StepError, Verdict
from tests.app.conftest import AppFactory
from tests.app.test_app import detail_text, ready, settle, tree_line
from tests.app.test_palette_and_manual import notes, palette, palette_hits


class Review(Step):
    """Waits for a reviewer: approved it verifies, rejected it shows the comment."""

    id = "review"
    title = "A change under review"
    section = "Pipelines"
    actions = (APPROVE, REJECT)

    def run(self, ctx: StepContext) -> None:
        (ctx.artifacts / "asked").write_text("grace")

    def act(self, ctx: StepContext, action: str, inputs: Mapping[str, str]) -> None:
        if not (ctx.artifacts / "asked").exists():
            raise StepError("nothing to review yet: run this step first")
        comment = inputs.get("comment", "")
        (ctx.artifacts / "decision").write_text(f"{action}|{inputs['as']}|{comment}")

    def verify(self, ctx: StepContext) -> Verdict:
        decision = ctx.artifacts / "decision"
        if not decision.exists():
            return Verdict.of(Check("review", False, "waiting for grace", "approve it"))
        action, person, comment = decision.read_text().split("|")
        word = "approved" if action == "approve" else "rejected"
        return Verdict.of(Check("review", action == "approve",
                                f"{word} by {person}" + (f": {comment}" if comment else ""),
                                "fix it and ask again"))


async def test_approve_from_the_steps_page_asks_the_name_and_completes(
        make_app: AppFactory) -> None:
    app = make_app(focus="review", catalog=Catalog([Review]))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        detail = app.detail
        assert detail is not None
        buttons = [str(b.label) for b in detail.query(Button)]
        assert "Approve" in buttons and "Reject" in buttons
        app.lab.engine.run(list(app.lab.catalog.units(["review"])))
        await pilot.click("#do-act-approve")
        await pilot.pause()
        assert isinstance(app.screen, ActionForm)
        await pilot.click("#submit")  # no name yet: the form says so and stays
        await pilot.pause()
        problems = str(app.screen.query_one("#action-problems", Static).render())
        assert "Your name: needed" in problems
        app.screen.query_one("#input-as", Input).focus()
        await pilot.press(*"grace", "enter", "enter")  # the name, then past the comment
        await pilot.pause()
        assert not isinstance(app.screen, ActionForm), str(
            app.screen.query_one("#action-problems", Static).render())
        await settle(pilot)
        assert not isinstance(app.screen, ActionForm)
        assert "done" in tree_line(app, "review")
        assert "approved by grace" in detail_text(app)


async def test_reject_from_the_palette_needs_a_comment_and_shows_it(
        make_app: AppFactory) -> None:
    app = make_app(focus="review", catalog=Catalog([Review]))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.lab.engine.run(list(app.lab.catalog.units(["review"])))
        hits = await palette_hits(pilot, "reject")
        assert any(hit.startswith("Reject (review)") for hit in hits), hits
        await palette(pilot, "reject")
        assert isinstance(app.screen, ActionForm)
        await pilot.press(*"grace", "enter")  # Enter moves on to the comment
        await pilot.press("enter")  # … and submits: the comment is missing
        await pilot.pause()
        assert isinstance(app.screen, ActionForm)
        assert "Comment: needed" in str(app.screen.query_one("#action-problems",
                                                             Static).render())
        await pilot.press(*"no tests", "enter")
        await settle(pilot)
        assert "failed" in tree_line(app, "review")
        assert "rejected by grace: no tests" in notes(app)


async def test_escape_leaves_the_form_and_does_nothing(make_app: AppFactory) -> None:
    app = make_app(focus="review", catalog=Catalog([Review]))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.click("#do-act-reject")
        await pilot.pause()
        assert isinstance(app.screen, ActionForm)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ActionForm)
        assert app.lab.workspace.runs() == []
