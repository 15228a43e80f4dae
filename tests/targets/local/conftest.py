from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.targets.local import LocalTarget
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    KEY_VAULTS,
    ML_WORKSPACES,
    ResourceRef,
)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    local = LocalTarget(tmp_path / "ws")
    yield local
    local.close()


@pytest.fixture
def group(target: LocalTarget) -> str:
    target.resource_groups.create("lab-db-dev", "eastus")
    return "lab-db-dev"


def adb_ref(target: LocalTarget, group: str, name: str) -> ResourceRef:
    """The ref of Databricks workspace `name` in `group` of the sandbox's subscription."""
    return target.ref(group, DATABRICKS_WORKSPACES, name)


def kv_ref(target: LocalTarget, group: str, name: str) -> ResourceRef:
    """The ref of key vault `name` in `group` of the sandbox's subscription."""
    return target.ref(group, KEY_VAULTS, name)


def ml_ref(target: LocalTarget, group: str, name: str) -> ResourceRef:
    """The ref of ML workspace `name` in `group` of the sandbox's subscription."""
    return target.ref(group, ML_WORKSPACES, name)
