"""The azure target's ML workspaces through azure-ai-ml on the fakes: one template deployment
however often it is created, a purge on delete, faults survived, and the process variables
azure-ai-ml reads set only while it runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.targets import operations
from labtui.targets.azure import AzureTarget
from labtui.targets.azure.ml_workspaces import CREATE
from labtui.targets.errors import TargetError
from labtui.targets.resources import ML_WORKSPACES, ResourceRef
from tests.fakes.azure.cloud import FakeCloud
from tests.fakes.azure.faults import Fault

from .conftest import open_target


@pytest.fixture
def target(tmp_path: Path, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[AzureTarget]:
    from azure.ai.ml.constants._common import LROConfigurations

    # azure-ai-ml sleeps 5 s between its checks of a deployment, whatever ARM says.
    monkeypatch.setattr(LROConfigurations, "SLEEP_TIME", 0.05)
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    opened = open_target(tmp_path, cloud)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def ref(target: AzureTarget) -> ResourceRef:
    target.resource_groups.create("contoso7-db-dev", "westeurope")
    return target.ref("contoso7-db-dev", ML_WORKSPACES, "contoso7-mlw-dev")


def test_created_twice_it_is_one_deployment_and_the_process_is_left_as_it_was(
        cloud: FakeCloud, target: AzureTarget, ref: ResourceRef) -> None:
    made = target.models.create_workspace(ref, "westeurope")
    assert target.models.create_workspace(ref, "westeurope") == made
    assert made.ref == ref and made.location == "westeurope"
    assert cloud.server.count("PUT", "/deployments/[^/]+$") == 1
    assert list(cloud.ml.workspaces) == [("contoso7-db-dev", "contoso7-mlw-dev")]
    assert "AZUREML_CURRENT_CLOUD" not in os.environ
    assert "REQUESTS_CA_BUNDLE" not in os.environ


def test_deleting_purges_the_workspace(
        cloud: FakeCloud, target: AzureTarget, ref: ResourceRef) -> None:
    target.models.create_workspace(ref, "westeurope")
    assert target.models.delete_workspace(ref) is True
    assert cloud.ml.purged == ["contoso7-mlw-dev"] and not cloud.ml.soft_deleted
    assert target.models.delete_workspace(ref) is False


def test_a_create_survives_throttling_and_a_dropped_status_poll(
        cloud: FakeCloud, target: AzureTarget, ref: ResourceRef) -> None:
    cloud.server.faults.add("PUT", "/deployments/", Fault.throttle(0))
    cloud.server.faults.add("GET", "/operationStatuses/", Fault.drop())
    made = target.models.create_workspace(ref, "westeurope")
    assert made.name == "contoso7-mlw-dev"
    assert [f.fault.kind for f in cloud.server.faults.fired] == ["status", "drop"]
    assert len(cloud.ml.workspaces) == 1, "no duplicate"


def test_the_model_registry_says_it_is_not_built_yet(
        target: AzureTarget, tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"^the azure target's model registry is not "
                                          r"implemented yet$"):
        target.models.list_models("contoso7-mlw-dev")


class Killed(BaseException):
    """The process dying right after the journal took the operation (as SIGKILL would)."""


def test_a_creation_cut_off_after_its_token_is_journaled_is_resumed_from_it(
        cloud: FakeCloud, tmp_path: Path, target: AzureTarget, ref: ResourceRef) -> None:
    heard: list[operations.StartedOperation] = []

    class KilledOnStart:
        def started(self, operation: operations.StartedOperation) -> None:
            heard.append(operation)
            raise Killed

        def ended(self, operation: operations.StartedOperation) -> None:
            heard.remove(operation)

    cloud.operations.held = True
    with operations.listening(KilledOnStart()), pytest.raises(Killed):
        target.models.create_workspace(ref, "westeurope")
    [pending] = heard
    assert (pending.resource, pending.action) == (ref.id, CREATE) and pending.token
    assert not cloud.ml.workspaces, "the deployment is still running"

    cloud.operations.held = False
    again = open_target(tmp_path / "again", cloud)  # a new process, the token from the journal
    try:
        again.resume_operation(pending)
    finally:
        again.close()
    assert list(cloud.ml.workspaces) == [("contoso7-db-dev", "contoso7-mlw-dev")]
    assert cloud.server.count("PUT", "/deployments/[^/]+$") == 1, "the same deployment"
