"""The command palette: every action of the app (run, verify, solve, open the artifacts …),
and every step, found by id or title."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from labtui.app.model import Selection

if TYPE_CHECKING:
    from labtui.app.app import LabApp


@dataclass(frozen=True)
class PaletteAction:
    """One entry: what it says, the app action it runs, and when it is offered."""

    name: str
    help: str
    action: str
    """An action of `LabApp` (`action_<name>`)."""
    arguments: tuple[object, ...] = ()
    manual_only: bool = False
    """Only for a manual step (solve, edit)."""
    idle_only: bool = True
    """Only while nothing runs."""


ACTIONS: tuple[PaletteAction, ...] = (
    PaletteAction("Run", "run the selected step or section (shows the plan first) · r", "run"),
    PaletteAction("Run again", "run it even if it is done · R", "run_again"),
    PaletteAction("Verify", "check, read-only, that the step's result is there · v", "verify"),
    PaletteAction("Plan", "what a run would create or change · p", "plan"),
    PaletteAction("Rollback", "remove what the step created (asks first) · u", "rollback"),
    PaletteAction("Solve", "fill in the reference answer of this manual step · s", "solve",
                  manual_only=True),
    PaletteAction("Edit in $EDITOR", "open the file this manual step asks you to write · e",
                  "edit", manual_only=True),
    PaletteAction("Run this section", "every step of the selected step's section, in order",
                  "run_section"),
    PaletteAction("Run everything", "the whole lab in order; done steps are skipped",
                  "run_everything"),
    PaletteAction("Run everything, solving manual steps",
                  "the whole lab, with the reference answer filled in for manual steps",
                  "run_everything", arguments=(True,)),
    PaletteAction("Open artifacts folder", "reports, metrics and the model of this step",
                  "open_artifacts", idle_only=False),
    PaletteAction("Show lab text", "the lab's own instructions for this step", "show_guide",
                  idle_only=False),
    PaletteAction("Cancel the running step", "it stops at its next safe point · c",
                  "cancel_step", idle_only=False),
    PaletteAction("Reset value to default", "the focused value goes back to its default · "
                  "ctrl+r", "reset_value", idle_only=False),
    PaletteAction("Focus the log", "arrows and Page keys scroll it; m maximises it · L",
                  "focus_log", idle_only=False),
    PaletteAction("Save the log", "to the workspace's logs folder · ctrl+s", "save_log",
                  idle_only=False),
    PaletteAction("Help", "keys and what they do · ?", "help", idle_only=False),
)


class ActionCommands(Provider):
    """The app's actions that apply now (a manual step's only on a manual step)."""

    def _offered(self) -> list[tuple[PaletteAction, Callable[[], object]]]:
        app: LabApp = self.app  # type: ignore[assignment]
        if app.lab.read_only:
            return [(entry, partial(app.palette_action, entry.action, *entry.arguments))
                    for entry in ACTIONS
                    if not entry.idle_only and entry.action != "cancel_step"]
        target = app.target
        manual = isinstance(target, Selection) and target.step.manual
        offered: list[tuple[PaletteAction, Callable[[], object]]] = []
        for entry in ACTIONS:
            if entry.manual_only and not manual:
                continue
            if entry.idle_only and app.job is not None:
                continue
            if entry.action == "cancel_step" and app.job is None:
                continue
            offered.append((entry, partial(app.palette_action, entry.action, *entry.arguments)))
        if isinstance(target, Selection) and app.job is None:
            for action in target.step.actions:  # a person's acts on this step
                entry = PaletteAction(f"{action.label} ({target.step.id})",
                                      f"{action.help} (asks for the name and a comment)",
                                      "step_action", arguments=(action.name,))
                offered.append((entry, partial(app.palette_action, entry.action,
                                               *entry.arguments)))
        return offered

    async def discover(self) -> Hits:
        for entry, run in self._offered():
            yield DiscoveryHit(entry.name, run, help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry, run in self._offered():
            score = matcher.match(entry.name)
            if score > 0:
                yield Hit(score, matcher.highlight(entry.name), run, help=entry.help)


class StepCommands(Provider):
    """ "Go to step …" for each step and each of its environments."""

    def _targets(self) -> list[tuple[str, str, str, str | None]]:
        app: LabApp = self.app  # type: ignore[assignment]
        found: list[tuple[str, str, str, str | None]] = []
        for step in app.lab.catalog:
            found.append((f"{step.id} — {step.title}", step.title, step.id, None))
            if step.per_environment:
                for env in step.environments():
                    found.append((f"{step.id} ({env}) — {step.title}", step.title, step.id,
                                  env))
        return found

    async def discover(self) -> Hits:
        app: LabApp = self.app  # type: ignore[assignment]
        for text, title, step_id, env in self._targets():
            yield DiscoveryHit(text, partial(app.go_to_step, step_id, env), help=title)

    async def search(self, query: str) -> Hits:
        app: LabApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        for text, _title, step_id, env in self._targets():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(app.go_to_step, step_id, env),
                          help=f"go to {step_id}")
