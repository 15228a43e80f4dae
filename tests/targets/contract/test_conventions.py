"""The conventions every port keeps (`labtui.targets.base`), run against each offline target.

Idempotent create; `Conflict` naming the difference; `NotFound` on a read; delete returning
False the second time; names compared as Azure compares them; one-line messages without
secrets.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from labtui.targets.base import Conflict, NotFound, Target, TargetError

from .conftest import OFFLINE_TARGETS

SECRET = "s3cr3t-Value-never-shown"


def test_the_local_target_is_among_those_checked() -> None:
    assert "local" in OFFLINE_TARGETS


def one_line(error: TargetError) -> str:
    message = str(error)
    assert message and "\n" not in message, repr(message)
    assert "Traceback" not in message
    return message


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


def test_vaults_keep_the_conventions(target: Target, group: str) -> None:
    vault = target.vault
    made = vault.create_vault(group, "lab-conv-kv", "eastus")
    assert vault.create_vault(group, "lab-conv-kv", "eastus") == made
    assert vault.get_vault("LAB-CONV-KV").name == made.name
    with pytest.raises(NotFound):
        vault.create_vault("lab-no-group", "lab-other-kv", "eastus")
    vault.set_secret("lab-conv-kv", "client-secret", SECRET)
    assert vault.get_secret("lab-conv-kv", "client-secret") == SECRET
    with pytest.raises(NotFound) as missing:
        vault.get_secret("lab-conv-kv", "nothing-here")
    assert SECRET not in one_line(missing.value)
    assert vault.delete_secret("lab-conv-kv", "client-secret") is True
    assert vault.delete_secret("lab-conv-kv", "client-secret") is False
    with pytest.raises(Conflict) as deleted:
        vault.set_secret("lab-conv-kv", "client-secret", SECRET)
    assert SECRET not in one_line(deleted.value), "a message never carries a secret"
    assert vault.delete_vault("lab-conv-kv") is True
    assert vault.delete_vault("lab-conv-kv") is False


def test_storage_accounts_keep_the_conventions(target: Target, group: str) -> None:
    lake = target.datalake
    made = lake.create_account(group, "labconvdl", "eastus")
    assert lake.create_account(group, "labconvdl", "eastus") == made
    with pytest.raises(Conflict) as conflict:
        lake.create_account(group, "labconvdl", "eastus", access_tier="Hot")
    message = one_line(conflict.value)
    assert "Hot" in message or "Cool" in message, "the difference is named"
    with pytest.raises(NotFound):
        lake.get_account("labnowhere")
    lake.create_file_system("labconvdl", "datalake")
    lake.create_file_system("labconvdl", "datalake")
    assert lake.file_systems("labconvdl") == ["datalake"]
    assert lake.delete_file("labconvdl", "datalake", "none.csv") is False
    assert lake.delete_file_system("labconvdl", "datalake") is True
    assert lake.delete_file_system("labconvdl", "datalake") is False
    assert lake.delete_account("labconvdl") is True
    assert lake.delete_account("labconvdl") is False


def test_databricks_workspaces_and_scopes_keep_the_conventions(
        target: Target, group: str) -> None:
    databricks = target.databricks
    made = databricks.create_workspace(group, "lab-conv-adb", "eastus")
    assert databricks.create_workspace(group, "lab-conv-adb", "eastus") == made
    with pytest.raises(Conflict) as conflict:
        databricks.create_workspace(group, "lab-conv-adb", "eastus", sku="standard")
    assert "standard" in one_line(conflict.value) or "premium" in str(conflict.value)
    with pytest.raises(NotFound):
        databricks.get_workspace("lab-no-adb")
    scope = databricks.create_secret_scope("lab-conv-adb", "lab-scope")
    assert databricks.create_secret_scope("lab-conv-adb", "lab-scope") == scope
    with pytest.raises(NotFound):
        databricks.create_secret_scope("lab-no-adb", "lab-scope")
    assert databricks.delete_secret_scope("lab-conv-adb", "lab-scope") is True
    assert databricks.delete_secret_scope("lab-conv-adb", "lab-scope") is False
    assert databricks.delete_workspace("lab-conv-adb") is True
    assert databricks.delete_workspace("lab-conv-adb") is False


def test_ml_workspaces_keep_the_conventions(target: Target, group: str) -> None:
    models = target.models
    made = models.create_workspace(group, "lab-conv-ml", "eastus")
    assert models.create_workspace(group, "lab-conv-ml", "eastus") == made
    with pytest.raises(NotFound):
        models.get_workspace("lab-no-ml")
    assert models.delete_workspace("lab-conv-ml") is True
    assert models.delete_workspace("lab-conv-ml") is False


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
    lambda t: t.resource_groups.get("lab-missing-rg"),
    lambda t: t.vault.get_vault("lab-missing-kv"),
    lambda t: t.datalake.get_account("labmissingdl"),
    lambda t: t.databricks.get_workspace("lab-missing-adb"),
    lambda t: t.models.get_workspace("lab-missing-ml"),
    lambda t: t.devops.get_project("contoso", "lab-missing"),
], ids=["resource-group", "vault", "storage-account", "databricks", "ml-workspace", "project"])
def test_a_missing_resource_is_named_in_one_line(
        target: Target, read: Callable[[Target], object]) -> None:
    with pytest.raises(NotFound) as missing:
        read(target)
    assert "missing" in one_line(missing.value), "the message names what is missing"
