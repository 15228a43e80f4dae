"""The conventions every port keeps (`labtui.targets.base`), run against each offline target.

Idempotent create; `Conflict` naming the difference; `NotFound` on a read; delete returning
False the second time; names compared as Azure compares them; one-line messages without
secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from labtui.targets.base import Conflict, NotFound, Target, TargetError
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    KEY_VAULTS,
    ML_WORKSPACES,
    STORAGE_ACCOUNTS,
    DatabricksHost,
    GitCredential,
    ResourceRef,
)

from .conftest import NOT_YET, OFFLINE_TARGETS, OPENERS, _open_defaults

SECRET = "s3cr3t-Value-never-shown"


LABCONVDL_DFS = "https://labconvdl.dfs.core.windows.net/"
"""The accounts' DFS endpoints: how the data lake's data plane is addressed."""


def test_the_local_target_is_among_those_checked() -> None:
    assert "local" in OFFLINE_TARGETS


def test_the_azure_target_is_checked_on_its_fakes() -> None:
    assert "azure" in OFFLINE_TARGETS


@pytest.mark.parametrize(("name", "port"), sorted(
    (name, port) for name, ports in NOT_YET.items() for port in ports))
def test_ports_not_yet_offered_say_so(name: str, port: str, tmp_path: Path) -> None:
    """Each port listed as not offered yet answers so in one line; once it is implemented
    this fails, and the port leaves NOT_YET to meet the contract like the others."""
    opened, stop = OPENERS.get(name, _open_defaults)(name, tmp_path / "ws")
    try:
        with pytest.raises(TargetError) as refused:
            getattr(opened, port)
        assert "not implemented yet" in one_line(refused.value) or "has no" in str(
            refused.value)
    finally:
        opened.close()
        stop()


def one_line(error: TargetError) -> str:
    message = str(error)
    assert message and "\n" not in message, repr(message)
    assert "Traceback" not in message
    return message


@pytest.mark.ports("resource_groups")
def test_resource_groups_keep_the_conventions(target: Target) -> None:
    groups = target.resource_groups
    first = groups.create("Lab-Conv-Dev", "eastus")
    assert groups.create("Lab-Conv-Dev", "eastus") == first
    assert groups.get("lab-conv-dev").name == first.name, "names are case-insensitive"
    assert groups.exists("LAB-CONV-DEV")
    with pytest.raises(Conflict) as conflict:
        groups.create("lab-conv-dev", "westus")
    message = one_line(conflict.value)
    assert "eastus" in message and "westus" in message, "the difference is named"
    with pytest.raises(NotFound) as missing:
        groups.get("lab-nowhere")
    assert "lab-nowhere" in one_line(missing.value)
    assert groups.delete("LAB-conv-dev") is True
    assert groups.delete("lab-conv-dev") is False
    assert not groups.exists("lab-conv-dev")


@pytest.mark.ports("vault")
def test_vaults_keep_the_conventions(target: Target, group: str) -> None:
    vault = target.vault
    ref = target.ref(group, KEY_VAULTS, "lab-conv-kv")
    made = vault.create_vault(ref, "eastus")
    assert made.ref == ref and made.id == ref.id, "what is made carries its ref"
    assert vault.create_vault(ref, "eastus") == made
    assert vault.get_vault(target.ref(group.upper(), KEY_VAULTS, "LAB-CONV-KV")) == made
    with pytest.raises(NotFound):
        vault.create_vault(target.ref("lab-no-group", KEY_VAULTS, "lab-other-kv"), "eastus")
    vault.set_secret(made.uri, "client-secret", SECRET)
    assert vault.get_secret(made.uri, "client-secret") == SECRET
    assert vault.list_secrets(made.uri.upper()) == ["client-secret"], "a host has no case"
    with pytest.raises(TargetError) as not_a_uri:
        vault.get_secret("lab-conv-kv", "client-secret")
    assert "lab-conv-kv" in one_line(not_a_uri.value), "secrets are addressed by vault URI"
    with pytest.raises(NotFound) as missing:
        vault.get_secret(made.uri, "nothing-here")
    assert SECRET not in one_line(missing.value)
    assert vault.delete_secret(made.uri, "client-secret") is True
    assert vault.delete_secret(made.uri, "client-secret") is False
    with pytest.raises(Conflict) as deleted:
        vault.set_secret(made.uri, "client-secret", SECRET)
    assert SECRET not in one_line(deleted.value), "a message never carries a secret"
    assert vault.delete_vault(ref) is True
    assert vault.delete_vault(ref) is False


@pytest.mark.ports("datalake")
def test_storage_accounts_keep_the_conventions(target: Target, group: str) -> None:
    lake = target.datalake
    ref = target.ref(group, STORAGE_ACCOUNTS, "labconvdl")
    made = lake.create_account(ref, "eastus")
    assert made.ref == ref and made.id == ref.id, "what is made carries its ref"
    assert lake.create_account(ref, "eastus") == made
    with pytest.raises(Conflict) as conflict:
        lake.create_account(ref, "eastus", access_tier="Hot")
    message = one_line(conflict.value)
    assert "Hot" in message or "Cool" in message, "the difference is named"
    with pytest.raises(NotFound):
        lake.get_account(target.ref(group, STORAGE_ACCOUNTS, "labnowhere"))
    lake.create_file_system(LABCONVDL_DFS, "datalake")
    lake.create_file_system(LABCONVDL_DFS, "datalake")
    assert lake.file_systems(LABCONVDL_DFS) == ["datalake"]
    assert lake.delete_file(LABCONVDL_DFS, "datalake", "none.csv") is False
    assert lake.delete_file_system(LABCONVDL_DFS, "datalake") is True
    assert lake.delete_file_system(LABCONVDL_DFS, "datalake") is False
    assert lake.delete_account(ref) is True
    assert lake.delete_account(ref) is False


@pytest.mark.ports("principals")
def test_service_principals_and_role_assignments_keep_the_conventions(
        target: Target, group: str) -> None:
    principals = target.principals
    tenant = target.settings.get("tenant-id") or "72f988bf-86f1-41af-91ab-2d7cd011db47"
    made = principals.create_service_principal("lab-conv-sp", tenant)
    assert made.password, "the password is returned when it is made"
    assert made.password not in repr(made), "and never shown"
    with pytest.raises(Conflict) as twice:
        principals.create_service_principal("lab-conv-sp", tenant)
    assert "lab-conv-sp" in one_line(twice.value)
    found = principals.find_service_principal("lab-conv-sp")
    assert (found.app_id, found.object_id, found.password) == (made.app_id, made.object_id, None)
    assert principals.get_service_principal(made.app_id) == found
    with pytest.raises(NotFound):
        principals.find_service_principal("lab-no-sp")
    assert principals.check_password(made.app_id, made.password) is True
    assert principals.check_password(made.app_id, "not-the-password") is False
    new = principals.reset_password(made.app_id)
    assert new != made.password and principals.check_password(made.app_id, new) is True
    scope = target.resource_groups.get(group).id
    role = "Storage Blob Data Contributor"
    assigned = principals.assign_role(made.object_id, role, scope)
    assert principals.assign_role(made.object_id, role, scope) == assigned, "idempotent"
    assert [(a.principal_id, a.role) for a in principals.role_assignments(scope)] == [
        (made.object_id, role)]
    with pytest.raises(NotFound):
        principals.assign_role(made.object_id, role, scope + "-nowhere")
    with pytest.raises(NotFound):
        principals.assign_role("00000000-1111-2222-3333-444444444444", role, scope)
    assert principals.remove_role_assignment(assigned.id) is True
    assert principals.remove_role_assignment(assigned.id) is False
    assert principals.delete_service_principal(made.app_id) is True
    assert principals.delete_service_principal(made.app_id) is False
    assert principals.check_password(made.app_id, new) is False


@pytest.mark.ports("databricks")
def test_databricks_workspaces_and_scopes_keep_the_conventions(
        target: Target, group: str) -> None:
    databricks = target.databricks
    ref = target.ref(group, DATABRICKS_WORKSPACES, "lab-conv-adb")
    made = databricks.create_workspace(ref, "eastus")
    assert made.ref == ref and made.id == ref.id, "what is made carries its ref"
    assert databricks.create_workspace(ref, "eastus") == made
    with pytest.raises(Conflict) as conflict:
        databricks.create_workspace(ref, "eastus", sku="standard")
    assert "standard" in one_line(conflict.value) or "premium" in str(conflict.value)
    with pytest.raises(NotFound):
        databricks.get_workspace(target.ref(group, DATABRICKS_WORKSPACES, "lab-no-adb"))
    host = made.host
    assert host == DatabricksHost(made.url, made.workspace_id)
    scope = databricks.create_secret_scope(host, "lab-scope")
    assert databricks.create_secret_scope(host, "lab-scope") == scope
    assert databricks.delete_secret_scope(host, "lab-scope") is True
    assert databricks.delete_secret_scope(host, "lab-scope") is False
    assert databricks.delete_workspace(ref) is True
    assert databricks.delete_workspace(ref) is False
    with pytest.raises(NotFound) as gone:
        databricks.secret_scopes(host)
    assert made.workspace_id in one_line(gone.value), "the host of a deleted workspace"


@pytest.mark.ports("databricks")
def test_a_host_is_of_one_workspace_of_the_target(target: Target, group: str) -> None:
    """The data plane is addressed by the workspace's host: a host whose workspace id no
    workspace of the target has, or whose url is another workspace's, is NotFound in one
    line naming it, and never reaches another workspace's clusters, scopes or tokens."""
    databricks = target.databricks
    made = databricks.create_workspace(target.ref(group, DATABRICKS_WORKSPACES, "lab-h-adb"),
                                       "eastus")
    databricks.create_secret_scope(made.host, "lab-scope")
    unknown = DatabricksHost(made.url, str(int(made.workspace_id) + 1))
    ours = DatabricksHost(made.url.upper() + "/", made.workspace_id)
    assert ours == made.host, "a url compares as hosts compare"
    assert [s.name for s in databricks.secret_scopes(ours)] == ["lab-scope"]
    calls = [lambda h: databricks.secret_scopes(h), lambda h: databricks.clusters(h),
             lambda h: databricks.tokens(h), lambda h: databricks.create_token(h, "x"),
             lambda h: databricks.create_secret_scope(h, "lab-other")]
    for call in calls:
        with pytest.raises(NotFound) as missing:
            call(unknown)
        assert unknown.workspace_id in one_line(missing.value)
    elsewhere = DatabricksHost("https://adb-1234.5.azuredatabricks.net", made.workspace_id)
    with pytest.raises(NotFound) as other:
        databricks.secret_scopes(elsewhere)
    assert "adb-1234" in one_line(other.value) or "1234" in one_line(other.value)
    assert [s.name for s in databricks.secret_scopes(made.host)] == ["lab-scope"], (
        "nothing was made through the wrong hosts")


@pytest.mark.ports("models")
def test_ml_workspaces_keep_the_conventions(target: Target, group: str) -> None:
    models = target.models
    ref = target.ref(group, ML_WORKSPACES, "lab-conv-ml")
    made = models.create_workspace(ref, "eastus")
    assert made.ref == ref and made.id == ref.id, "what is made carries its ref"
    assert models.create_workspace(ref, "eastus") == made
    with pytest.raises(NotFound):
        models.get_workspace(target.ref(group, ML_WORKSPACES, "lab-no-ml"))
    assert models.delete_workspace(ref) is True
    assert models.delete_workspace(ref) is False


@pytest.mark.ports("devops")
def test_devops_projects_keep_the_conventions(target: Target) -> None:
    devops = target.devops
    made = devops.create_project("contoso", "Lab-Conv")
    assert devops.create_project("contoso", "Lab-Conv") == made
    with pytest.raises(Conflict) as conflict:
        devops.create_project("contoso", "Lab-Conv", process="Scrum")
    message = one_line(conflict.value)
    assert "Scrum" in message and "Agile" in message, "the difference is named"
    repository = devops.create_repository("contoso", "Lab-Conv", "lab-repo")
    assert devops.create_repository("contoso", "Lab-Conv", "lab-repo") == repository
    with pytest.raises(NotFound):
        devops.get_repository("contoso", "Lab-Conv", "no-repo")
    assert devops.delete_repository("contoso", "Lab-Conv", "lab-repo") is True
    assert devops.delete_repository("contoso", "Lab-Conv", "lab-repo") is False
    assert devops.delete_project("contoso", "Lab-Conv") is True
    assert devops.delete_project("contoso", "Lab-Conv") is False


@pytest.mark.parametrize("read", [
    pytest.param(lambda t: t.resource_groups.get("lab-missing-rg"),
                 id="resource-group", marks=pytest.mark.ports("resource_groups")),
    pytest.param(lambda t: t.vault.get_vault(t.ref("lab-contract-dev", KEY_VAULTS,
                                                   "lab-missing-kv")),
                 id="vault", marks=pytest.mark.ports("vault")),
    pytest.param(lambda t: t.datalake.get_account(t.ref("lab-contract-dev", STORAGE_ACCOUNTS,
                                                        "labmissingdl")),
                 id="storage-account", marks=pytest.mark.ports("datalake")),
    pytest.param(lambda t: t.databricks.get_workspace(
        t.ref("lab-contract-dev", DATABRICKS_WORKSPACES, "lab-missing-adb")),
                 id="databricks", marks=pytest.mark.ports("databricks")),
    pytest.param(lambda t: t.models.get_workspace(t.ref("lab-contract-dev", ML_WORKSPACES,
                                                        "lab-missing-ml")),
                 id="ml-workspace", marks=pytest.mark.ports("models")),
    pytest.param(lambda t: t.devops.get_project("contoso", "lab-missing"),
                 id="project", marks=pytest.mark.ports("devops")),
])
def test_a_missing_resource_is_named_in_one_line(
        target: Target, read: Callable[[Target], object]) -> None:
    with pytest.raises(NotFound) as missing:
        read(target)
    assert "missing" in one_line(missing.value), "the message names what is missing"


CONTROL_PLANE = [
    ("storage-account", "datalake", STORAGE_ACCOUNTS, "labrefdl",
     lambda t, ref: t.datalake.create_account(ref, "eastus"),
     lambda t, ref: t.datalake.get_account(ref), lambda t, ref: t.datalake.delete_account(ref)),
    ("vault", "vault", KEY_VAULTS, "lab-ref-kv",
     lambda t, ref: t.vault.create_vault(ref, "eastus"),
     lambda t, ref: t.vault.get_vault(ref), lambda t, ref: t.vault.delete_vault(ref)),
    ("databricks", "databricks", DATABRICKS_WORKSPACES, "lab-ref-adb",
     lambda t, ref: t.databricks.create_workspace(ref, "eastus"),
     lambda t, ref: t.databricks.get_workspace(ref),
     lambda t, ref: t.databricks.delete_workspace(ref)),
    ("ml-workspace", "models", ML_WORKSPACES, "lab-ref-ml",
     lambda t, ref: t.models.create_workspace(ref, "eastus"),
     lambda t, ref: t.models.get_workspace(ref), lambda t, ref: t.models.delete_workspace(ref)),
]


@pytest.mark.parametrize(("type", "name", "create", "get", "delete"),
                         [pytest.param(*row[2:], id=row[0], marks=pytest.mark.ports(row[1]))
                          for row in CONTROL_PLANE])
def test_a_ref_finds_only_what_is_where_it_says(
        target: Target, group: str, type: str, name: str,
        create: Callable[[Target, ResourceRef], object],
        get: Callable[[Target, ResourceRef], object],
        delete: Callable[[Target, ResourceRef], bool]) -> None:
    """Another subscription or resource group is another place: NotFound there, nothing
    deleted; the group, the type and the name compare case-insensitively through refs."""
    ref = target.ref(group, type, name)
    made = create(target, ref)
    target.resource_groups.create("lab-contract-other", "eastus")
    elsewhere = [
        ResourceRef("11111111-2222-3333-4444-555555555555", group, type, name),
        target.ref("lab-contract-other", type, name),
    ]
    assert all(other.subscription != ref.subscription or other.resource_group != group
               for other in elsewhere)
    for other in elsewhere:
        with pytest.raises(NotFound) as missing:
            get(target, other)
        assert name in one_line(missing.value)
        assert delete(target, other) is False, f"{other.id} names nothing"
    assert get(target, ref) == made, "the resource is still there"
    shouted = target.ref(group.upper(), type.upper(), name.upper())
    assert shouted == ref and hash(shouted) == hash(ref)
    assert get(target, shouted) == made
    assert delete(target, shouted) is True
    assert delete(target, ref) is False


@pytest.mark.ports("subscription")
def test_the_target_addresses_its_resources_in_one_subscription(target: Target) -> None:
    subscription = target.subscription_id
    ref = target.ref("lab-contract-dev", KEY_VAULTS, "lab-kv")
    assert ref.subscription == subscription
    assert ref.id == (f"/subscriptions/{subscription}/resourceGroups/lab-contract-dev"
                      "/providers/Microsoft.KeyVault/vaults/lab-kv")
    assert ResourceRef.parse(ref.id) == ref


@pytest.mark.ports("workstation")
def test_the_workstation_is_the_attendees_machine(
        target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI profiles go to the file the Databricks tools read, whatever the target; clones
    are kept in the workspace folder; the target's own folders are never involved."""
    config = tmp_path / "home" / ".databrickscfg"
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    workstation = target.workstation
    assert workstation.profile_file() == config
    workstation.write_profile("lab-conv", "https://adb-1.1.azuredatabricks.net", SECRET)
    profile = workstation.read_profile("lab-conv")
    assert (profile.host, profile.token) == ("https://adb-1.1.azuredatabricks.net", SECRET)
    assert SECRET not in repr(profile), "a token is never shown"
    assert workstation.delete_profile("lab-conv") is True
    assert workstation.delete_profile("lab-conv") is False
    with pytest.raises(NotFound):
        workstation.read_profile("lab-conv")
    assert workstation.clone_folder("mlops") == target.workspace / "repos" / "mlops"
    assert not (target.workspace / "repos").exists(), "asking creates nothing"


def test_the_git_credential_and_git_folders_keep_the_conventions(
        target: Target, group: str, tmp_path: Path) -> None:
    """The credential's token goes in and never comes back; a Git folder is made as the Repos
    API makes one (url, provider, path; then a branch), idempotently, and reads the notebooks
    of its head commit."""
    databricks = target.databricks
    adb = databricks.create_workspace(target.ref(group, DATABRICKS_WORKSPACES, "lab-git-adb"),
                                      "eastus").host
    assert databricks.git_provider(adb) is None
    databricks.set_git_provider(adb, GitCredential("azureDevOpsServices", "ada", SECRET))
    read = databricks.git_provider(adb)
    assert read == GitCredential("azureDevOpsServices", "ada") and read.token is None
    assert SECRET not in repr(GitCredential("azureDevOpsServices", "ada", SECRET))
    with pytest.raises(NotFound):
        databricks.git_provider(DatabricksHost(adb.url, str(int(adb.workspace_id) + 1)))

    target.devops.create_project("labconv", "lab")
    repo = target.devops.create_repository("labconv", "lab", "lab")
    copy = target.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    notebook = "# Databricks notebook source\nprint('master')\n"
    (copy.path / "nb.py").write_text(notebook)
    copy.commit_all("first")
    copy.push("master")
    copy.checkout("ada", start="master")
    (copy.path / "nb.py").write_text(notebook.replace("master", "ada"))
    on_ada = copy.commit_all("mine")
    copy.push("ada")

    path = "/Repos/ada/lab"
    made = databricks.create_git_folder(adb, path, repo.web_url, "azureDevOpsServices")
    assert (made.path, made.url, made.branch) == (path, repo.web_url, "master")
    assert databricks.create_git_folder(adb, path, repo.web_url, "azureDevOpsServices") == made
    with pytest.raises(Conflict) as conflict:
        databricks.create_git_folder(adb, path, "https://example.com/other",
                                     "gitHub")
    assert repo.web_url in one_line(conflict.value)
    assert "master" in databricks.notebook_source(adb, f"{path}/nb")
    moved = databricks.update_git_folder(adb, path, "ada")
    assert (moved.branch, moved.head_commit) == ("ada", on_ada)
    assert databricks.notebook_source(adb, f"{path}/nb") == (
        notebook.replace("master", "ada"))
    with pytest.raises(NotFound) as missing:
        databricks.update_git_folder(adb, path, "nope")
    assert "nope" in one_line(missing.value)
    with pytest.raises(NotFound):
        databricks.notebook_source(adb, f"{path}/none")
    with pytest.raises(NotFound):
        databricks.git_folder(adb, "/Repos/ada/none")
    assert databricks.git_folders(adb) == [moved]
    assert databricks.delete_git_folder(adb, path) is True
    assert databricks.delete_git_folder(adb, path) is False
    databricks.set_git_provider(adb, None)
    assert databricks.git_provider(adb) is None


def test_the_data_lake_is_addressed_by_its_dfs_endpoint(target: Target, group: str) -> None:
    """As `DataLakeServiceClient(account_url=…)` addresses it: the account's endpoint, with or
    without its trailing slash, its host compared as host names are (case-insensitively)."""
    lake = target.datalake
    account = lake.create_account(target.ref(group, STORAGE_ACCOUNTS, "labconvdl"), "eastus")
    assert account.dfs_endpoint == lake.dfs_endpoint("labconvdl") == LABCONVDL_DFS
    lake.create_file_system(account.dfs_endpoint, "datalake")
    lake.upload("https://LabConvDL.dfs.core.windows.net", "datalake", "raw/a.csv", b"a, b\n")
    assert lake.read(LABCONVDL_DFS, "datalake", "raw/a.csv") == b"a, b\n"
    assert [f.path for f in lake.list_files(LABCONVDL_DFS, "datalake")] == ["raw/a.csv"]
    assert lake.uri(LABCONVDL_DFS, "datalake") == (
        "abfss://datalake@labconvdl.dfs.core.windows.net")
    with pytest.raises(NotFound) as missing:
        lake.file_systems("https://labnowhere.dfs.core.windows.net/")
    assert "labnowhere" in one_line(missing.value)
    with pytest.raises(TargetError) as bare:
        lake.file_systems("labconvdl")
    assert not isinstance(bare.value, NotFound)
    assert "https://NAME.dfs.core.windows.net" in one_line(bare.value)
