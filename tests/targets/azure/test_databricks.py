"""The azure target's Databricks port on the loopback fakes: azure-mgmt-databricks against the
workspace fake, databricks-sdk against the local target's REST API served as the workspace's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.targets.azure import AzureTarget
from labtui.targets.base import Conflict, NotFound, TargetError, Transient
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    KEY_VAULTS,
    DatabricksHost,
    KeyVault,
    Library,
)
from tests.conftest import LabtuiRunner
from tests.fakes.azure import clients
from tests.fakes.azure.cloud import SUBSCRIPTION_ID, TENANT_ID, FakeCloud
from tests.fakes.azure.databricks_plane import DatabricksPlane
from tests.fakes.azure.faults import Fault
from tests.targets.contract import test_conventions as contract
from tests.targets.contract.test_conventions import one_line

from .conftest import fake_options, open_target, path_without_az

GROUP = "lab-contract-dev"
NOTEBOOK = "# Databricks notebook source\nprint('hello')\n"


@pytest.fixture
def plane(tmp_path: Path, cloud: FakeCloud) -> Iterator[DatabricksPlane]:
    served = DatabricksPlane(cloud, tmp_path / "sandbox").start()
    yield served
    served.stop()


def quick(target: AzureTarget) -> None:
    """Polling and the SDKs' retries made short (the fakes answer Retry-After: 0, which
    azure-core reads as "none given")."""
    target.databricks.poll_seconds = 0.05  # type: ignore[attr-defined]
    target.databricks.retry_seconds = 10  # type: ignore[attr-defined]
    target.databricks.backoff_factor = 0.01  # type: ignore[attr-defined]


@pytest.fixture
def target(tmp_path: Path, cloud: FakeCloud, plane: DatabricksPlane) -> Iterator[AzureTarget]:
    opened = open_target(tmp_path, cloud, **{"azure-databricks-endpoint": plane.url})
    clients.resources(cloud).resource_groups.create_or_update(GROUP, {"location": "eastus"})
    quick(opened)
    yield opened
    opened.close()


def _workspace(target: AzureTarget, name: str = "lab-adb") -> DatabricksHost:
    return target.databricks.create_workspace(
        target.ref(GROUP, DATABRICKS_WORKSPACES, name), "eastus").host


def test_the_port_keeps_the_contract_conventions(target: AzureTarget) -> None:
    contract.test_databricks_workspaces_and_scopes_keep_the_conventions(target, GROUP)
    contract.test_a_host_is_of_one_workspace_of_the_target(target, GROUP)


def test_the_workspace_is_premium_hybrid_with_its_managed_group(
        target: AzureTarget, cloud: FakeCloud) -> None:
    ref = target.ref(GROUP, DATABRICKS_WORKSPACES, "lab-adb")
    made = target.databricks.create_workspace(ref, "eastus")
    assert made.sku == "premium" and made.url.startswith(f"https://adb-{made.workspace_id}.")
    stored = cloud.databricks.workspaces[(GROUP, "lab-adb")].body["properties"]
    assert stored["computeMode"] == "Hybrid"
    managed = clients.resources(cloud).resource_groups.get("databricks-rg-lab-adb")
    assert managed.managed_by == made.id
    assert target.databricks.create_workspace(ref, "eastus") == made
    assert cloud.server.count("PUT", "/workspaces/lab-adb$") == 1, "no second create"
    with pytest.raises(NotFound) as missing:
        target.databricks.create_workspace(target.ref("lab-no-rg", DATABRICKS_WORKSPACES, "x"),
                                           "eastus")
    assert "lab-no-rg" in one_line(missing.value)


def test_a_cluster_with_the_lab_libraries_over_databricks_sdk(
        target: AzureTarget, plane: DatabricksPlane) -> None:
    host = _workspace(target)
    adb = target.databricks
    made = adb.create_cluster(host, "lab-cluster", node_type="Standard_DS3_v2",
                              spark_version="15.4.x-scala2.12", num_workers=1,
                              autotermination_minutes=120)
    assert (made.name, made.autotermination_minutes) == ("lab-cluster", 120)
    assert [c.cluster_id for c in adb.clusters(host)] == [made.cluster_id]
    assert adb.edit_cluster(host, made.cluster_id, autotermination_minutes=60
                            ).autotermination_minutes == 60
    wanted = [Library("pypi", "mlflow"), Library("pypi", "azureml-mlflow")]
    adb.install_libraries(host, made.cluster_id, wanted)
    assert {s.library for s in adb.cluster_libraries(host, made.cluster_id)} == set(wanted)
    adb.uninstall_libraries(host, made.cluster_id, [Library("pypi", "mlflow"),
                                                    Library("pypi", "never-installed")])
    assert [s.library for s in adb.cluster_libraries(host, made.cluster_id)] == [wanted[1]]
    # What the sandbox holds is what the SDK calls made.
    inside = plane.local.databricks.workspace_named("lab-adb").host
    assert [c.name for c in plane.local.databricks.clusters(inside)] == ["lab-cluster"]
    assert plane.entra_calls > 0, "signed with the Entra token, not a PAT"
    assert adb.delete_cluster(host, made.cluster_id) is True
    assert adb.delete_cluster(host, made.cluster_id) is False
    with pytest.raises(NotFound):
        adb.get_cluster(host, made.cluster_id)


def test_a_token_is_issued_checked_and_revoked(target: AzureTarget) -> None:
    host = _workspace(target)
    adb = target.databricks
    token = adb.create_token(host, "labtui cli profile", lifetime_seconds=3600)
    assert token.value and token.expires is not None
    assert [t.token_id for t in adb.tokens(host)] == [token.token_id]
    assert all(t.value is None for t in adb.tokens(host))
    assert adb.check_token(host, token.value) is True
    assert adb.delete_token(host, token.token_id) is True
    assert adb.delete_token(host, token.token_id) is False
    assert adb.check_token(host, token.value) is False


def test_notebooks_are_imported_exported_and_deleted(target: AzureTarget) -> None:
    host = _workspace(target)
    adb = target.databricks
    adb.import_notebook(host, "/Shared/lab/train", NOTEBOOK)
    assert adb.notebook_source(host, "/Shared/lab/train").strip() == NOTEBOOK.strip()
    adb.import_notebook(host, "/Shared/lab/train", NOTEBOOK.replace("hello", "again"))
    assert "again" in adb.notebook_source(host, "/Shared/lab/train")
    assert adb.delete_notebook(host, "/Shared/lab/train") is True
    assert adb.delete_notebook(host, "/Shared/lab/train") is False
    with pytest.raises(NotFound):
        adb.notebook_source(host, "/Shared/lab/train")


def test_a_key_vault_scope_needs_a_user_token_said_in_one_line(
        target: AzureTarget, plane: DatabricksPlane) -> None:
    host = _workspace(target)
    ref = target.ref(GROUP, KEY_VAULTS, "lab-kv")
    vault = KeyVault(ref, "eastus", "https://lab-kv.vault.azure.net/")
    with pytest.raises(TargetError) as refused:
        target.databricks.create_secret_scope(host, "data-lake", vault=vault)
    message = one_line(refused.value)
    assert "user" in message and "service principal" in message
    assert "az login" in message, "it says what to do"
    assert target.databricks.secret_scopes(host) == []


def test_the_fake_refuses_a_key_vault_scope_with_a_service_principal_token(
        target: AzureTarget, plane: DatabricksPlane, cloud: FakeCloud,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Databricks' own refusal, when a caller sends a service principal's token anyway."""
    host = _workspace(target)
    vault = target.vault.create_vault(target.ref(GROUP, KEY_VAULTS, "lab-kv-sp"), "eastus")
    monkeypatch.setattr(type(target.databricks), "_signed_in_as_user", lambda self: True)
    with pytest.raises(TargetError) as refused:
        target.databricks.create_secret_scope(host, "data-lake", vault=vault)
    assert "Scope with Azure KeyVault must have userAADToken defined!" in one_line(
        refused.value)
    assert target.databricks.secret_scopes(host) == []


def test_the_key_vault_scope_is_made_with_the_users_entra_token(
        tmp_path: Path, target: AzureTarget, plane: DatabricksPlane, cloud: FakeCloud,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Signed in as a user (az login), the target asks its credential for the user's token
    for the AzureDatabricks application and makes the `data-lake` scope on the vault."""
    import sys

    from labtui.targets.azure.databricks import AZURE_DATABRICKS_APP

    host = _workspace(target)
    vault = target.vault.create_vault(target.ref(GROUP, KEY_VAULTS, "lab-kv-user"), "eastus")
    oid = cloud.entra.add_user("ada@contoso.com")
    tokens = {"databricks": cloud.entra.mint(AZURE_DATABRICKS_APP, upn="ada@contoso.com",
                                             idtyp="user", oid=oid),
              "arm": cloud.entra.mint("https://management.azure.com", upn="ada@contoso.com",
                                      idtyp="user", oid=oid)}
    folder = tmp_path / "bin"
    folder.mkdir()
    asked = tmp_path / "asked"
    (folder / "az").write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time\n"
        f"open({str(asked)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"tokens = {tokens!r}\n"
        f"kind = 'databricks' if {AZURE_DATABRICKS_APP!r} in ' '.join(sys.argv) else 'arm'\n"
        "print(json.dumps({'accessToken': tokens[kind], 'expires_on': int(time.time()) + 3000,"
        f" 'subscription': {SUBSCRIPTION_ID!r}, 'tenant': {TENANT_ID!r},"
        " 'tokenType': 'Bearer'}))\n")
    (folder / "az").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{path_without_az()}")
    user = open_target(tmp_path / "user", cloud, {}, **{"azure-credential": "cli",
                                                         "azure-databricks-endpoint": plane.url})
    quick(user)
    try:
        scope = user.databricks.create_secret_scope(host, "data-lake", vault=vault)
        assert (scope.backend, scope.vault_id, scope.vault_uri) == (
            "AZURE_KEYVAULT", vault.id, vault.uri)
        assert user.databricks.secret_scopes(host) == [scope]
        assert user.databricks.create_secret_scope(host, "data-lake", vault=vault) == scope
    finally:
        user.close()
    assert AZURE_DATABRICKS_APP in asked.read_text(), "the user's token for AzureDatabricks"
    assert target.databricks.secret_scopes(host) == [scope], "the service principal sees it"

def test_throttling_of_the_workspace_api_is_survived(
        target: AzureTarget, plane: DatabricksPlane) -> None:
    host = _workspace(target)
    plane.server.faults.inject(429, times=2, retry_after=0.2)
    plane.server.faults.inject(503, retry_after=0.2)
    scope = target.databricks.create_secret_scope(host, "lab-scope")
    assert plane.server.faults.served == 3
    assert target.databricks.secret_scopes(host) == [scope], "one scope, not a duplicate"


def test_a_workspace_api_that_stays_busy_is_transient_in_one_line(
        target: AzureTarget, plane: DatabricksPlane) -> None:
    host = _workspace(target)
    target.databricks.retry_seconds = 1  # type: ignore[attr-defined]
    target.databricks._clients.clear()  # type: ignore[attr-defined]
    plane.server.faults.inject(503, times=100, retry_after=0.3)
    with pytest.raises(Transient) as busy:
        target.databricks.clusters(host)
    one_line(busy.value)


def test_a_dropped_connection_mid_creation_makes_one_workspace(
        target: AzureTarget, cloud: FakeCloud) -> None:
    cloud.server.faults.add("PUT", "/workspaces/lab-adb2$", Fault.unavailable())
    cloud.server.faults.add("GET", "/operationStatuses/", Fault.drop())
    cloud.server.faults.add("GET", "/operationStatuses/", Fault.throttle(retry_after=1))
    made = target.databricks.create_workspace(
        target.ref(GROUP, DATABRICKS_WORKSPACES, "lab-adb2"), "eastus")
    assert len(cloud.server.faults.fired) == 3
    listed = clients.databricks_workspaces(cloud).workspaces.list_by_resource_group(GROUP)
    assert [w.name for w in listed] == [made.name]


def test_another_sku_is_a_conflict_naming_both(target: AzureTarget) -> None:
    ref = target.ref(GROUP, DATABRICKS_WORKSPACES, "lab-adb3")
    target.databricks.create_workspace(ref, "eastus")
    with pytest.raises(Conflict) as conflict:
        target.databricks.create_workspace(ref, "eastus", sku="standard")
    message = one_line(conflict.value)
    assert "premium" in message and "standard" in message


def _cluster(target: AzureTarget, host: DatabricksHost) -> str:
    return target.databricks.create_cluster(
        host, "lab-cluster", node_type="Standard_DS3_v2", spark_version="15.4.x-scala2.12",
        num_workers=1, autotermination_minutes=120).cluster_id


def test_a_notebook_runs_as_a_one_time_job_and_returns_its_exit_value(
        target: AzureTarget) -> None:
    host = _workspace(target)
    cluster_id = _cluster(target, host)
    target.databricks.import_notebook(
        host, "/Shared/answer",
        "# Databricks notebook source\nanswer = 6 * 7\ndbutils.notebook.exit(str(answer))\n")
    lines: list[str] = []
    run = target.databricks.run_notebook(host, cluster_id, "/Shared/answer",
                                         log=lines.append)
    assert (run.state, run.exit_value) == ("SUCCESS", "42")
    assert any("TERMINATED" in line for line in lines)


def test_a_failing_notebook_is_one_line_naming_the_error(target: AzureTarget) -> None:
    host = _workspace(target)
    cluster_id = _cluster(target, host)
    target.databricks.import_notebook(host, "/Shared/broken",
                                      "# Databricks notebook source\n1 / 0\n")
    with pytest.raises(TargetError) as failed:
        target.databricks.run_notebook(host, cluster_id, "/Shared/broken")
    assert "ZeroDivisionError" in one_line(failed.value)
    with pytest.raises(NotFound):
        target.databricks.run_notebook(host, cluster_id, "/Shared/nothing")


def test_a_missing_workspace_is_named_in_one_line_and_elsewhere_is_elsewhere(
        target: AzureTarget) -> None:
    contract.test_a_missing_resource_is_named_in_one_line(
        target, lambda t: t.databricks.get_workspace(
            t.ref(GROUP, DATABRICKS_WORKSPACES, "lab-missing-adb")))
    ref = target.ref(GROUP, DATABRICKS_WORKSPACES, "lab-ref-adb")
    made = target.databricks.create_workspace(ref, "eastus")
    other = type(ref)("11111111-2222-3333-4444-555555555555", GROUP, ref.type, ref.name)
    with pytest.raises(NotFound):
        target.databricks.get_workspace(other)
    assert target.databricks.delete_workspace(other) is False
    shouted = target.ref(GROUP.upper(), ref.type.upper(), ref.name.upper())
    assert target.databricks.get_workspace(shouted) == made
    with pytest.raises(NotFound) as gone_plane:
        target.databricks.clusters(DatabricksHost("https://adb-42.1.azuredatabricks.net", "42"))
    assert "42" in one_line(gone_plane.value)



@pytest.mark.parametrize(("endpoint", "accepted"), [
    ("http://127.0.0.1:8080", True), ("https://adb-proxy.contoso.com", True),
    ("http://adb-proxy.contoso.com", False), ("http://127.0.0.1:8080/api", False),
])
def test_the_databricks_endpoint_is_https_or_loopback(
        tmp_path: Path, cloud: FakeCloud, endpoint: str, accepted: bool) -> None:
    target = AzureTarget(tmp_path / "ws", environ={})
    configure = lambda: target.configure(  # noqa: E731
        {**fake_options(cloud), "azure-databricks-endpoint": endpoint})
    if accepted:
        configure()
        assert target.settings["azure-databricks-endpoint"] == endpoint
    else:
        with pytest.raises(TargetError, match="azure-databricks-endpoint: "):
            configure()


def test_the_git_credential_goes_in_and_its_token_never_comes_back(
        target: AzureTarget, plane: DatabricksPlane) -> None:
    from labtui.targets.resources import GitCredential

    host = _workspace(target)
    adb = target.databricks
    assert adb.git_provider(host) is None
    adb.set_git_provider(host, GitCredential("azureDevOpsServices", "ada", contract.SECRET))
    assert adb.git_provider(host) == GitCredential("azureDevOpsServices", "ada")
    adb.set_git_provider(host, GitCredential("gitHub", "ada", contract.SECRET))
    assert adb.git_provider(host) == GitCredential("gitHub", "ada"), "replaced, not added"
    assert adb.git_folders(host) == []
    with pytest.raises(NotFound):
        adb.git_folder(host, "/Repos/ada/none")
    assert adb.delete_git_folder(host, "/Repos/ada/none") is False
    adb.set_git_provider(host, None)
    assert adb.git_provider(host) is None


def test_a_data_plane_call_makes_no_resource_manager_round_trip(
        tmp_path: Path, target: AzureTarget, cloud: FakeCloud, plane: DatabricksPlane) -> None:
    host = _workspace(target)
    # Another process (a later step, a fresh target) knows only the recorded host.
    fresh = open_target(tmp_path / "fresh", cloud, **{"azure-databricks-endpoint": plane.url})
    quick(fresh)
    try:
        arm_before = sum(1 for e in cloud.server.log if e.path.startswith("/subscriptions/"))
        made = fresh.databricks.create_secret_scope(host, "lab-scope")
        assert fresh.databricks.secret_scopes(host) == [made]
        assert fresh.databricks.clusters(host) == []
        token = fresh.databricks.create_token(host, "labtui")
        assert token.value and fresh.databricks.check_token(host, token.value)
        arm_after = sum(1 for e in cloud.server.log if e.path.startswith("/subscriptions/"))
    finally:
        fresh.close()
    assert arm_after == arm_before, "the host is enough: no workspace lookup on Resource Manager"
    assert plane.entra_calls >= 4, "each call went to the workspace's data plane"


def test_a_lost_answer_of_the_workspace_put_makes_one_workspace(
        target: AzureTarget, cloud: FakeCloud) -> None:
    """The connection drops after the fake accepted the PUT (the workspace is being made):
    the target ends with that one workspace, not a second one and not an error."""
    cloud.server.faults.add("PUT", "/workspaces/lab-adb4$", Fault.lose_answer())
    made = target.databricks.create_workspace(
        target.ref(GROUP, DATABRICKS_WORKSPACES, "lab-adb4"), "eastus")
    assert [f.fault.kind for f in cloud.server.faults.fired] == ["lost"]
    listed = clients.databricks_workspaces(cloud).workspaces.list_by_resource_group(GROUP)
    assert [w.name for w in listed] == ["lab-adb4"]
    assert made.workspace_id and made.url.startswith(f"https://adb-{made.workspace_id}.")
    stored = cloud.databricks.workspaces[(GROUP, "lab-adb4")].body["properties"]
    assert stored["provisioningState"] == "Succeeded"


def test_a_kill_mid_creation_then_rollback_leaves_no_workspace(
        azure_labtui: LabtuiRunner, cloud: FakeCloud) -> None:
    """The creation's continuation token is journaled before the wait: a process killed while
    Resource Manager is still making the workspace leaves an entry whose undo waits for the
    creation to end, so the rollback deletes a settled workspace and nothing is left."""
    import signal
    import sqlite3
    import time

    made = azure_labtui("--target", "azure", "--headless", "--step", "resource-groups",
                        "--env", "dev")
    assert made.code == 0, made.output
    cloud.databricks.create_polls = 10**6  # the fake holds the creation InProgress
    process = azure_labtui.popen("--target", "azure", "--headless", "--step", "databricks",
                                 "--env", "dev")
    state = azure_labtui.workspace / "state.db"
    deadline = time.monotonic() + 90
    pending: list[tuple[str, str]] = []
    try:
        while not pending and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
            if state.exists():
                with sqlite3.connect(state) as db:
                    pending = db.execute("SELECT kind, ref FROM journal WHERE step = "
                                         "'databricks' AND kind = 'operation'").fetchall()
        assert pending, process.communicate()
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()
    ((_, ref),) = pending
    assert ref.startswith("create-databricks-workspace /subscriptions/")
    (workspace,) = cloud.databricks.workspaces.values()
    assert workspace.body["properties"]["provisioningState"] == "Accepted", "still being made"
    assert workspace.creation is not None
    workspace.creation.polls = workspace.creation.reads + 2  # Resource Manager finishes it
    undone = azure_labtui("--target", "azure", "--headless", "--step", "databricks",
                          "--env", "dev", "--rollback")
    assert undone.code == 0, undone.output
    assert cloud.databricks.workspaces == {}, "no workspace left behind"
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT count(*) FROM journal WHERE step = 'databricks'"
                          ).fetchone() == (0,)
