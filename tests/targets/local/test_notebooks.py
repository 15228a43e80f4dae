"""The local data lake checks a notebook's mount the way Azure does: the service principal's
credentials must be right and it needs read/execute on the file system."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.base import AclEntry, TargetError
from labtui.targets.local import LocalTarget
from labtui.targets.local.notebooks import CLIENT_ID, CLIENT_SECRET, NotebookHost
from labtui.targets.resources import STORAGE_ACCOUNTS

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SOURCE = "abfss://datalake@mountlake.dfs.core.windows.net/"


MOUNTLAKE_DFS = "https://mountlake.dfs.core.windows.net/"
"""The accounts' DFS endpoints: how the data lake's data plane is addressed."""


@pytest.fixture
def lake(tmp_path: Path) -> tuple[LocalTarget, NotebookHost, str, str, str]:
    target = LocalTarget(tmp_path)
    target.resource_groups.create("rg", "eastus")
    target.datalake.create_account(target.ref("rg", STORAGE_ACCOUNTS, "mountlake"), "eastus")
    target.datalake.create_file_system(MOUNTLAKE_DFS, "datalake")
    principal = target.principals.create_service_principal("mount-sp", TENANT)
    assert principal.password is not None
    host = NotebookHost(target.sandbox, target.datalake, target.principals, target.models)
    return target, host, principal.app_id, principal.password, principal.object_id


def test_mount_needs_the_principals_password_and_an_acl(
        lake: tuple[LocalTarget, NotebookHost, str, str, str]) -> None:
    target, host, app_id, password, object_id = lake
    configs = {CLIENT_ID: app_id, CLIENT_SECRET: password}
    with pytest.raises(TargetError, match="has no read/execute ACL on datalake"):
        host._mount(SOURCE, configs)
    target.datalake.update_acl(MOUNTLAKE_DFS, "datalake", "",
                               [AclEntry("access", "user", object_id, "rwx")])
    folder = host._mount(SOURCE, configs)
    assert folder.is_dir()
    with pytest.raises(TargetError, match="the sp-password secret is not the password"):
        host._mount(SOURCE, {CLIENT_ID: app_id, CLIENT_SECRET: "wrong-password"})
    with pytest.raises(TargetError, match="no service principal has app id"):
        host._mount(SOURCE, {CLIENT_ID: "00000000-0000-0000-0000-000000000001",
                             CLIENT_SECRET: password})
    with pytest.raises(TargetError, match="needs the OAuth client id and secret"):
        host._mount(SOURCE, {})
    target.close()
