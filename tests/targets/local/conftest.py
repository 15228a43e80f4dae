from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.targets.local import LocalTarget


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    local = LocalTarget(tmp_path / "ws")
    yield local
    local.close()


@pytest.fixture
def group(target: LocalTarget) -> str:
    target.resource_groups.create("lab-db-dev", "eastus")
    return "lab-db-dev"
