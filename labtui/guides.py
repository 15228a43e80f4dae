"""The lab's text per step, filled in with the attendee's values.

A step's guide (`Step.guide()`) is Markdown with `{{input-name}}` where a value goes, and
`{{env}}` for the environment. `render` puts in what is known and a visible `<input-name>`
placeholder for the rest. Secret inputs are never filled in, whatever the values hold: a
guide is printed, shown and copied, and a token in it would leak.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from labtui.step import Field, Step

PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9-]*)\s*\}\}")
BY_HAND = re.compile(r"^#{2,3}\s+By hand\b", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Guide:
    """A step's guide as shown: the Markdown text, and the placeholders left unfilled."""

    step_id: str
    env: str | None
    text: str
    missing: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.text.strip()


def placeholders(text: str) -> list[str]:
    """The names a guide's text asks for, in order of first use."""
    names: list[str] = []
    for match in PLACEHOLDER.finditer(text):
        if match.group(1) not in names:
            names.append(match.group(1))
    return names


def render(text: str, values: Mapping[str, str], *, env: str | None = None,
           secret: Collection[str] = ()) -> tuple[str, tuple[str, ...]]:
    """`text` with each `{{name}}` replaced by `values[name]` (`{{env}}` by `env`); a name
    without a value, or one in `secret`, becomes `<name>`. Returns the text and the names
    left as placeholders."""
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = env if name == "env" else values.get(name)
        if name in secret or not value:
            if name not in missing:
                missing.append(name)
            return f"<{name}>"
        return value

    return PLACEHOLDER.sub(fill, text), tuple(missing)


def guide_for(step: Step | type[Step], values: Mapping[str, str], env: str | None,
              fields: Mapping[str, Field] | None = None) -> Guide:
    """`step`'s guide for `env`, filled in with `values`. Secret inputs — the step's own and
    any in `fields` (every installed step's inputs) — stay placeholders."""
    secret = {fld.name for fld in step.inputs if fld.is_secret}
    secret |= {name for name, fld in (fields or {}).items() if fld.is_secret}
    text, missing = render(step.guide(), values, env=env, secret=secret)
    return Guide(step.id, env, text, missing)
