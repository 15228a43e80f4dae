"""The Pipelines section's ports are declared for targets to implement, with their contracts."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from labtui.targets import base
from labtui.targets.base import (
    Environments,
    Pipelines,
    PullRequests,
    Target,
    TargetError,
    VariableGroups,
)
from labtui.targets.local import LocalTarget

PORTS = (PullRequests, VariableGroups, Pipelines, Environments)


class Bare(Target):
    """A target that implements none of the ports."""

    name = "bare"

    def identity(self) -> dict[str, str]:
        return {"target": "bare"}


@pytest.mark.parametrize("attribute, words", [
    ("pull_requests", "pull requests"), ("pipelines", "pipelines"),
])
def test_a_target_without_the_port_says_so_in_one_line(
        tmp_path: Path, attribute: str, words: str) -> None:
    target = Bare(tmp_path / "ws")
    with pytest.raises(TargetError) as raised:
        getattr(target, attribute)
    assert str(raised.value) == f"the bare target has no {words}"


def test_the_local_target_has_every_pipelines_port(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path / "ws")
    try:
        for attribute, port in (("pull_requests", PullRequests), ("pipelines", Pipelines),
                                ("variable_groups", VariableGroups),
                                ("environments", Environments)):
            assert isinstance(getattr(target, attribute), port), attribute
    finally:
        target.close()


@pytest.mark.parametrize("port", PORTS, ids=lambda port: port.__name__)
def test_every_operation_states_its_contract(port: type) -> None:
    operations = sorted(port.__abstractmethods__)
    assert operations
    for name in operations:
        doc = inspect.getdoc(getattr(port, name)) or ""
        assert doc, f"{port.__name__}.{name} has no docstring"
        if name.startswith(("create", "get", "add_")) or name in ("vote", "complete", "queue"):
            assert "NotFound" in doc or "Conflict" in doc, f"{port.__name__}.{name}: {doc}"
        if name.startswith(("delete", "remove", "abandon", "cancel")):
            assert "False if" in doc, f"{port.__name__}.{name} must say when it returns False"


def test_the_ports_are_imported_from_base_as_the_others_are() -> None:
    for name in ("PullRequest", "Reviewer", "VOTES", "VariableGroup", "Variable", "Pipeline",
                 "PipelineRun", "PublishedTest", "Coverage", "Artifact", "Environment",
                 "ApprovalCheck", "Approval"):
        assert hasattr(base, name), name
    assert sorted(base.VOTES) == [-10, -5, 0, 5, 10]


def test_a_port_left_half_written_cannot_be_used() -> None:
    class OnlyCreate(PullRequests):
        def create(self, *args: object, **kwargs: object) -> base.PullRequest:
            raise NotImplementedError

    with pytest.raises(TypeError, match="abstract"):
        OnlyCreate()  # type: ignore[abstract]
