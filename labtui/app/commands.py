"""Every step in Textual's command palette, found by id or title."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from labtui.app.app import LabApp


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
