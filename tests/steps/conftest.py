"""Run step hooks directly, with the real contexts `labtui.testing.StepLab` builds: a workspace
and a local target in tmp_path, values resolved from the answers below and the fields' defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from labtui_steps import infrastructure

from labtui.step import Step
from labtui.testing import StepLab
from tests.conftest import LAB_DATA, require_lab_data

SECTION: tuple[type[Step], ...] = (
    infrastructure.ResourceGroups, infrastructure.MlWorkspace, infrastructure.DataLake,
    infrastructure.KeyVault, infrastructure.Databricks, infrastructure.UploadData,
    infrastructure.CliProfiles, infrastructure.ServicePrincipal, infrastructure.SecretScope,
    infrastructure.Secrets,
)

ANSWERS = {
    "prefix": "contoso7",
    "tenant-id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "subscription-id": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "databricks-token": "dapi0123456789abcdef0123456789abcdef",
    "data-file": str(LAB_DATA),
}


class Lab(StepLab):
    """A StepLab with the lab's Infrastructure section in order (as `labtui --section
    Infrastructure` runs it)."""

    def run_section(self, envs: tuple[str, ...] = ("dev", "pipeline")) -> None:
        for step in SECTION:
            for env in step.environments():
                if env in envs or (step is infrastructure.ResourceGroups and env == "prod"):
                    self.run(step, env)

    def rollback_section(self) -> None:
        for step in reversed(SECTION):
            for env in reversed(step.environments()):
                self.rollback(step, env)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    require_lab_data()
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "home" / ".databrickscfg"))
    with Lab(tmp_path / "ws", answers=ANSWERS) as lab:
        yield lab
