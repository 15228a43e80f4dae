"""The azure target's resource groups on the loopback ARM: the lab's providers registered on
first use, faults survived (or named in one line) with no duplicate group, and a deletion
that outlives its process finished from the journaled continuation token."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from labtui_steps.infrastructure.resource_groups import ResourceGroups

from labtui.catalog import Catalog
from labtui.engine import Engine, Outcome
from labtui.retry import RetryPolicy
from labtui.state import Workspace
from labtui.targets import operations
from labtui.targets.azure import AzureTarget
from labtui.targets.azure.resource_groups import LAB_PROVIDERS
from labtui.targets.errors import Conflict, TargetError, Transient
from labtui.values import Resolver
from tests.fakes.azure.cloud import FakeCloud
from tests.fakes.azure.faults import Fault

from .conftest import open_target

GROUP_PUT = r"/resourcegroups/contoso7-db-dev$"


def quick(target: AzureTarget, read_timeout: float = 0.3) -> AzureTarget:
    target.endpoints = dataclasses.replace(target.endpoints, read_timeout=read_timeout)
    return target


def test_the_first_group_registers_the_labs_providers_and_waits_for_them(
        tmp_path: Path, cloud: FakeCloud) -> None:
    cloud.arm.require_registration = True
    target = open_target(tmp_path, cloud)
    try:
        target.resource_groups.create("contoso7-db-dev", "westeurope")
        for namespace in LAB_PROVIDERS:
            assert cloud.arm.providers[namespace] == "Registered", namespace
        assert cloud.server.count("POST", "/register") == len(LAB_PROVIDERS)
        target.resource_groups.create("contoso7-db-pipeline", "westeurope")
        assert cloud.server.count("POST", "/register") == len(LAB_PROVIDERS), "only once"
    finally:
        target.close()


def test_a_provider_that_stays_registering_is_named_after_a_bounded_wait(
        tmp_path: Path, cloud: FakeCloud) -> None:
    cloud.arm.registration_polls = 10**9
    target = open_target(tmp_path, cloud)
    try:
        groups = target.resource_groups
        groups.registration_wait = 0.2  # type: ignore[attr-defined]
        with pytest.raises(TargetError) as stuck:
            groups.create("contoso7-db-dev", "westeurope")
        message = str(stuck.value)
        assert "\n" not in message
        assert "Microsoft.Storage is still Registering" in message
        assert "az provider show --namespace Microsoft.Storage" in message
        assert not cloud.arm.groups, "nothing is made before the providers are there"
    finally:
        target.close()


def test_a_group_in_another_region_is_a_conflict_naming_both(
        tmp_path: Path, cloud: FakeCloud) -> None:
    target = open_target(tmp_path, cloud)
    try:
        target.resource_groups.create("contoso7-db-dev", "westeurope")
        with pytest.raises(Conflict, match="exists in westeurope, not in eastus"):
            target.resource_groups.create("CONTOSO7-DB-DEV", "eastus")
    finally:
        target.close()


@pytest.mark.parametrize("fault", [
    Fault.throttle(retry_after=0.2), Fault.unavailable(), Fault.stall(1.0), Fault.drop(),
    Fault.lose_answer(),
], ids=["429-retry-after", "503", "timeout", "dropped", "answer-lost"])
def test_a_create_survives_a_fault_with_one_group_made(
        tmp_path: Path, cloud: FakeCloud, fault: Fault) -> None:
    target = quick(open_target(tmp_path, cloud))
    try:
        groups = target.resource_groups
        groups.list()  # signed in: the faults meet the group's own requests
        cloud.server.faults.add("PUT", GROUP_PUT, fault, times=2)
        made = groups.create("contoso7-db-dev", "westeurope")
        assert made.name == "contoso7-db-dev"
        assert len(cloud.server.faults.fired) == 2, "the SDK met the fault and tried again"
        assert [g.name for g in groups.list()] == ["contoso7-db-dev"], "no duplicate"
    finally:
        target.close()


def test_throttling_past_the_sdks_retries_is_transient_with_the_pause_arm_asked_for(
        tmp_path: Path, cloud: FakeCloud) -> None:
    target = open_target(tmp_path, cloud)
    try:
        groups = target.resource_groups
        groups.list()
        cloud.server.faults.add("PUT", GROUP_PUT, Fault.throttle(retry_after=0.1), times=50)
        with pytest.raises(Transient) as busy:
            groups.create("contoso7-db-dev", "westeurope")
        assert busy.value.retry_after == pytest.approx(0.1)
        assert str(busy.value) == ("creating resource group contoso7-db-dev: Azure is busy "
                                   "(HTTP 429 TooManyRequests); try again")
        assert not cloud.arm.groups
    finally:
        target.close()


def test_a_stalled_arm_is_transient_in_one_line(tmp_path: Path, cloud: FakeCloud) -> None:
    target = quick(open_target(tmp_path, cloud), read_timeout=0.2)
    try:
        groups = target.resource_groups
        groups.list()
        cloud.server.faults.add("GET", GROUP_PUT, Fault.stall(0.5), times=50)
        with pytest.raises(Transient) as stalled:
            groups.get("contoso7-db-dev")
        assert str(stalled.value).startswith("resource group contoso7-db-dev does not exist: "
                                             "Azure did not answer (")
        assert "\n" not in str(stalled.value)
    finally:
        target.close()


def test_a_deletion_announces_its_token_and_survives_a_connection_dropped_while_polling(
        tmp_path: Path, cloud: FakeCloud) -> None:
    cloud.arm.delete_polls = 3
    target = quick(open_target(tmp_path, cloud))
    started: list[operations.StartedOperation] = []
    ended: list[operations.StartedOperation] = []

    class Listener:
        def started(self, operation: operations.StartedOperation) -> None:
            started.append(operation)

        def ended(self, operation: operations.StartedOperation) -> None:
            ended.append(operation)

    try:
        groups = target.resource_groups
        groups.create("contoso7-db-dev", "westeurope")
        cloud.server.faults.add("GET", "/operationResults/", Fault.drop())
        with operations.listening(Listener()):
            assert groups.delete("contoso7-db-dev") is True
        assert [o.resource for o in started] == [
            f"/subscriptions/{target.subscription_id}/resourceGroups/contoso7-db-dev"]
        assert started[0].token and ended == started
        assert len(cloud.server.faults.fired) == 1
        assert cloud.server.count("DELETE", GROUP_PUT) == 1
        assert not cloud.arm.groups
        assert groups.delete("contoso7-db-dev") is False
    finally:
        target.close()


def _engine(workspace: Workspace, target: AzureTarget) -> tuple[Engine, Catalog]:
    catalog = Catalog([ResourceGroups])
    environ = {"LABTUI_PREFIX": "contoso7", "LABTUI_LOCATION": "westeurope"}
    engine = Engine(catalog, workspace, target,
                    Resolver(catalog.fields(), environ=environ, workspace=workspace),
                    retry=RetryPolicy(attempts=1))
    return engine, catalog


def test_a_deletion_cut_off_mid_operation_is_resumed_from_the_journal_and_leaves_nothing(
        tmp_path: Path, cloud: FakeCloud) -> None:
    """The rollback loses ARM while the group is being deleted (as a killed process would):
    the journal keeps the operation's token; the next rollback, from a new target, waits for
    that same operation instead of deleting again, and the journal ends empty."""
    with Workspace(tmp_path / "ws") as workspace:
        first = quick(open_target(tmp_path, cloud))
        engine, catalog = _engine(workspace, first)
        units = [u for u in catalog.units(["resource-groups"]) if u.env == "dev"]
        try:
            [made] = engine.run(units)
            assert made.outcome == Outcome.DONE, made.message
            cloud.arm.delete_polls = 10**9
            cloud.server.faults.add("GET", "/operationResults/", Fault.stall(0.5), times=50)
            [cut] = engine.rollback(units)
        finally:
            engine.close()
        assert cut.outcome == Outcome.FAILED
        assert "Azure did not answer" in cut.message and "\n" not in cut.message
        kinds = [(row.kind, row.ref) for row in workspace.journal_entries("resource-groups",
                                                                            "dev")]
        assert kinds == [("resource-group", "contoso7-db-dev"),
                         ("operation", "delete-resource-group /subscriptions/"
                          f"{first.subscription_id}/resourceGroups/contoso7-db-dev")]
        assert cloud.arm.groups["contoso7-db-dev"].state == "Deleting"

        cloud.server.faults.clear()
        cloud.arm.groups["contoso7-db-dev"].deletion.polls = 2  # type: ignore[union-attr]
        again = open_target(tmp_path, cloud)
        engine, catalog = _engine(workspace, again)
        try:
            [undone] = engine.rollback(units)
        finally:
            engine.close()
        assert undone.outcome == Outcome.ROLLED_BACK, undone.message
        assert workspace.journal_entries("resource-groups", "dev") == []
        assert not cloud.arm.groups
        assert cloud.server.count("DELETE", GROUP_PUT, status=202) == 1, "resumed, not restarted"
