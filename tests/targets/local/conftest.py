from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.targets.local import LocalTarget
from labtui.targets.local.databricks import LocalDatabricks
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    KEY_VAULTS,
    ML_WORKSPACES,
    DatabricksHost,
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


def local_host(databricks: object, name: str) -> DatabricksHost:
    """The data-plane host of the sandbox's workspace `name` (what the databricks step
    records as its workspace-url and workspace-id)."""
    assert isinstance(databricks, LocalDatabricks)
    return databricks.workspace_named(name).host
