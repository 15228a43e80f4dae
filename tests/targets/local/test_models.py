"""The local model registry: MLflow on SQLite per ML workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.base import NotFound
from labtui.targets.local import LocalTarget


def test_register_list_and_download_by_name_and_tags(target: LocalTarget, group: str,
                                                     tmp_path: Path) -> None:
    models = target.models
    models.create_workspace(group, "lab-ml-dev", "eastus")
    source = tmp_path / "outputs"
    source.mkdir()
    (source / "model.pkl").write_bytes(b"first model")
    first = models.register_model("lab-ml-dev", "worst_regression", source,
                                  {"state": "dev", "created_by": "ada"})
    (source / "model.pkl").write_bytes(b"second model")
    second = models.register_model("lab-ml-dev", "worst_regression", source,
                                   {"state": "pipeline", "created_by": "pipeline"})
    assert (first.version, second.version) == (1, 2)
    found = models.list_models("lab-ml-dev", "worst_regression", {"state": "dev"})
    assert [(m.version, m.tags["created_by"]) for m in found] == [(1, "ada")]
    folder = models.download_model("lab-ml-dev", "worst_regression", tmp_path / "dl",
                                   tags={"state": "dev"})
    assert (folder / "model.pkl").read_bytes() == b"first model"
    with pytest.raises(NotFound, match="no version with tags"):
        models.download_model("lab-ml-dev", "worst_regression", tmp_path / "dl2",
                              tags={"state": "prod"})
    assert models.delete_model("lab-ml-dev", "worst_regression") is True
    assert models.list_models("lab-ml-dev") == []
    assert models.delete_workspace("lab-ml-dev") is True
    assert not (target.sandbox_path / "ml" / "lab-ml-dev").exists()
