"""The sandbox: private files, lazy opening, injected latency, unusable folders."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from labtui.targets import open_target
from labtui.targets.base import TargetError
from labtui.targets.local import LocalTarget, sandbox
from labtui.targets.resources import KEY_VAULTS, STORAGE_ACCOUNTS

KV_URI = "https://lab-kv-dev.vault.azure.net/"


LABDLDEV_DFS = "https://labdldev.dfs.core.windows.net/"
"""The accounts' DFS endpoints: how the data lake's data plane is addressed."""


def test_sandbox_is_private_and_opened_on_first_use(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path / "ws")
    assert not (tmp_path / "ws" / "sandbox").exists(), "opening the target creates nothing"
    target.resource_groups.create("lab-db-dev", "eastus")
    target.vault.create_vault(target.ref("lab-db-dev", KEY_VAULTS, "lab-kv-dev"), "eastus")
    target.datalake.create_account(target.ref("lab-db-dev", STORAGE_ACCOUNTS, "labdldev"), "eastus")
    target.datalake.create_file_system(LABDLDEV_DFS, "datalake")
    target.datalake.upload(LABDLDEV_DFS, "datalake", "x/y.csv", b"1, 2\n")
    root = tmp_path / "ws" / "sandbox"
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    target.close()


def test_a_workspace_that_cannot_hold_a_sandbox_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the workspace should be")
    target = open_target("local", blocker / "ws")
    with pytest.raises(TargetError) as caught:
        target.resource_groups.list()
    message = str(caught.value)
    assert str(blocker / "ws" / "sandbox") in message and "\n" not in message
    assert blocker.read_text() == "a file where the workspace should be"


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """What the sandbox sleeps, with a latency of 50 ms a call (recorded, not slept)."""
    sleeps: list[float] = []
    monkeypatch.setattr(sandbox.time, "sleep", sleeps.append)
    monkeypatch.setenv("LABTUI_LOCAL_LATENCY", "0.05")
    return sleeps


def test_every_port_call_sleeps_the_injected_latency(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slept: list[float]) -> None:
    target = LocalTarget(tmp_path / "ws")
    target.resource_groups.create("lab-db-dev", "eastus")
    target.vault.create_vault(target.ref("lab-db-dev", KEY_VAULTS, "lab-kv-dev"), "eastus")
    target.vault.set_secret(KV_URI, "a", "value-a")
    assert target.vault.get_secret(KV_URI, "a") == "value-a"
    assert slept == [0.05] * 4
    assert LocalTarget(tmp_path / "ws2", latency=0).latency == 0
    monkeypatch.setenv("LABTUI_LOCAL_LATENCY", "fast")
    with pytest.raises(TargetError, match="LABTUI_LOCAL_LATENCY='fast' is not a number"):
        LocalTarget(tmp_path / "ws3")
    target.close()


def test_a_port_call_is_one_round_trip_whatever_it_calls_inside(
        tmp_path: Path, slept: list[float]) -> None:
    # Listing a vault-backed scope reads the vault inside the local target: on a cloud that
    # is the service's own call, so the caller waits one round trip, not two.
    target = LocalTarget(tmp_path / "ws")

    @sandbox.with_latency
    class Outer(sandbox.LocalPort):
        def lookup(self) -> list[str]:
            return [group.name for group in target.resource_groups.list()]

    target.resource_groups.create("lab-db-dev", "eastus")
    assert Outer(target.sandbox).lookup() == ["lab-db-dev"]
    assert slept == [0.05] * 2  # the create, then the lookup with the list inside it
    assert target.resource_groups.exists("lab-db-dev") and slept == [0.05] * 3


def test_closing_the_ports_is_not_a_round_trip(tmp_path: Path, slept: list[float]) -> None:
    target = LocalTarget(tmp_path / "ws")
    target.resource_groups.create("lab-db-dev", "eastus")
    slept.clear()
    target.close()  # closes the pipelines' and the containers' ports too
    assert slept == []


def test_importing_the_local_target_does_not_import_mlflow() -> None:
    code = ("import sys, labtui.targets.local, labtui_steps.infrastructure; "
            "print(any(m.split('.')[0] in ('mlflow', 'databricks') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_a_replaced_vault_key_is_one_clear_error(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path / "ws")
    target.resource_groups.create("lab-db-dev", "eastus")
    target.close()
    (tmp_path / "ws" / "sandbox" / "vault.key").write_text("not a fernet key\n")
    with pytest.raises(TargetError) as caught:
        LocalTarget(tmp_path / "ws").resource_groups.list()
    assert "vault.key" in str(caught.value) and "\n" not in str(caught.value)


def test_a_sandbox_db_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path / "ws")
    target.resource_groups.create("lab-db-dev", "eastus")
    target.close()
    root = tmp_path / "ws" / "sandbox"
    for side in root.glob("sandbox.db-*"):
        side.unlink()
    (root / "sandbox.db").write_bytes(b"garbage " * 1000)
    with pytest.raises(TargetError) as caught:
        LocalTarget(tmp_path / "ws").resource_groups.list()
    assert "sandbox.db" in str(caught.value) or str(root) in str(caught.value)


def test_each_sandbox_has_a_subscription_of_its_own_kept_and_shown(tmp_path: Path) -> None:
    first = LocalTarget(tmp_path / "ws")
    assert "subscription" not in first.identity(), "asking does not make a sandbox"
    assert not first.sandbox_path.exists()
    first.resource_groups.create("lab-db-dev", "eastus")
    subscription = first.identity()["subscription"]
    assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", subscription)
    assert subscription != sandbox.LEGACY_SUBSCRIPTION
    vault = first.vault.create_vault(first.ref("lab-db-dev", KEY_VAULTS, "lab-kv-dev"),
                                     "eastus")
    assert vault.id.startswith(f"/subscriptions/{subscription}/resourceGroups/lab-db-dev/")
    assert first.resource_groups.get("lab-db-dev").id == \
        f"/subscriptions/{subscription}/resourceGroups/lab-db-dev"
    first.close()
    again = LocalTarget(tmp_path / "ws")
    other = LocalTarget(tmp_path / "other")
    try:
        assert again.identity()["subscription"] == subscription, "stable per workspace"
        assert again.vault.get_vault(vault.ref) == vault
        other.resource_groups.create("lab-db-dev", "eastus")
        assert other.subscription_id != subscription
    finally:
        again.close()
        other.close()


def test_a_sandbox_made_before_subscriptions_keeps_the_ids_it_stored(tmp_path: Path) -> None:
    """Sandboxes used one all-zero subscription before; their stored scopes (role
    assignments, scope vaults) hold that id, so they keep it."""
    import sqlite3

    made = LocalTarget(tmp_path / "ws")
    made.resource_groups.create("lab-db-dev", "eastus")
    made.close()
    with sqlite3.connect(tmp_path / "ws" / "sandbox" / "sandbox.db") as db:
        db.execute("DELETE FROM meta WHERE key = 'subscription-id'")
    older = LocalTarget(tmp_path / "ws")
    try:
        assert older.subscription_id == sandbox.LEGACY_SUBSCRIPTION
        assert older.resource_groups.get("lab-db-dev").id == \
            f"/subscriptions/{sandbox.LEGACY_SUBSCRIPTION}/resourceGroups/lab-db-dev"
    finally:
        older.close()


def test_sibling_resources_removed_at_once_from_two_threads_both_go(tmp_path: Path) -> None:
    """Units roll back side by side: two file systems whose removals both find the shared
    `datalake` folder empty must not trip over each other removing it."""
    import threading

    target = LocalTarget(tmp_path / "ws")
    lake = target.datalake
    target.resource_groups.create("lab-db-dev", "eastus")
    for account in ("labdla", "labdlb"):
        lake.create_account(target.ref("lab-db-dev", STORAGE_ACCOUNTS, account), "eastus")
    errors: list[BaseException] = []
    for _ in range(60):
        for account in ("labdla", "labdlb"):
            lake.create_file_system(lake.dfs_endpoint(account), "datalake")
        start = threading.Barrier(2)

        def remove(account: str, start: threading.Barrier = start) -> None:
            start.wait(10)
            try:
                assert lake.delete_file_system(lake.dfs_endpoint(account), "datalake")
            except BaseException as exc:  # collected: the test names it below
                errors.append(exc)

        threads = [threading.Thread(target=remove, args=(a,)) for a in ("labdla", "labdlb")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    assert lake.file_systems(lake.dfs_endpoint("labdla")) == \
        lake.file_systems(lake.dfs_endpoint("labdlb")) == []
    target.close()
