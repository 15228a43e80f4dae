"""A third-party labtui target for tests: the local sandbox, in a folder the attendee names.

Every port is the local target's (this class delegates by inheriting them); what it adds is
what a real target has and the local one does not: declared options, checked before use.

- `demo-box` (a rule: 3-20 lowercase letters, digits and hyphens, starting with a letter) is
  the folder under the workspace that holds the sandbox;
- `demo-token` (secret, optional; `demo_` and 16 hex digits) is a sign-in token: it is never
  accepted on the command line and never shown, and the banner says whether one was given.
"""

from __future__ import annotations

import re
from pathlib import Path

from labtui.step import Field
from labtui.targets.local import LocalTarget

_BOX = re.compile(r"[a-z][a-z0-9-]{2,19}")
_TOKEN = re.compile(r"demo_[0-9a-f]{16}")


def _box_rule(value: str) -> str | None:
    if _BOX.fullmatch(value):
        return None
    return "3-20 lowercase letters, digits and hyphens, starting with a letter"


def _token_rule(value: str) -> str | None:
    return None if _TOKEN.fullmatch(value) else "'demo_' followed by 16 lowercase hex digits"


class DemoTarget(LocalTarget):
    """The local sandbox under `<workspace>/<demo-box>/`."""

    name = "demo"
    options = (
        Field("demo-box", "Sandbox folder", required=False, default="demo-box",
              validate=_box_rule, help="the folder under the workspace that holds the sandbox"),
        Field("demo-token", "Demo sign-in token", kind="secret", required=False,
              validate=_token_rule, help="signs in to the demo target (optional)"),
    )

    @property
    def sandbox_path(self) -> Path:
        return self.workspace / self.settings.get("demo-box", "demo-box")

    def identity(self) -> dict[str, str]:
        return {"target": self.name, "sandbox": str(self.sandbox_path),
                "signed in": "yes" if self.settings.get("demo-token") else "no"}
