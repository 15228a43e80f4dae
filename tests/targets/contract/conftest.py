"""Opens every installed target that runs without an account, for the port contract tests.

A target runs without an account when none of its options is required without a default: the
local one now; a cloud target joins when it ships fakes that need no account.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.targets import installed, target_class
from labtui.targets.base import Target


def _offline_targets() -> list[str]:
    names = []
    for name in installed():
        options = target_class(name).options
        if all(not option.required or option.default is not None for option in options):
            names.append(name)
    return names


OFFLINE_TARGETS = _offline_targets()


@pytest.fixture(params=OFFLINE_TARGETS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A configured target of each kind, on a workspace of its own."""
    opened = target_class(request.param)(tmp_path / "ws")
    opened.configure({})
    yield opened
    opened.close()


@pytest.fixture
def group(target: Target) -> str:
    return target.resource_groups.create("lab-contract-dev", "eastus").name
