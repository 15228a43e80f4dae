"""The sandbox: private files, lazy opening, injected latency, unusable folders."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from labtui.targets import open_target
from labtui.targets.base import TargetError
from labtui.targets.local import LocalTarget, sandbox


def test_sandbox_is_private_and_opened_on_first_use(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path / "ws")
    assert not (tmp_path / "ws" / "sandbox").exists(), "opening the target creates nothing"
    target.resource_groups.create("lab-db-dev", "eastus")
    target.vault.create_vault("lab-db-dev", "lab-kv-dev", "eastus")
    target.datalake.create_account("lab-db-dev", "labdldev", "eastus")
    target.datalake.create_file_system("labdldev", "datalake")
    target.datalake.upload("labdldev", "datalake", "x/y.csv", b"1, 2\n")
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


def test_every_port_call_sleeps_the_injected_latency(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(sandbox.time, "sleep", slept.append)
    monkeypatch.setenv("LABTUI_LOCAL_LATENCY", "0.05")
    target = LocalTarget(tmp_path / "ws")
    target.resource_groups.create("lab-db-dev", "eastus")
    target.vault.create_vault("lab-db-dev", "lab-kv-dev", "eastus")
    target.vault.set_secret("lab-kv-dev", "a", "value-a")
    assert target.vault.get_secret("lab-kv-dev", "a") == "value-a"
    assert slept == [0.05] * 4
    assert LocalTarget(tmp_path / "ws2", latency=0).latency == 0
    monkeypatch.setenv("LABTUI_LOCAL_LATENCY", "fast")
    with pytest.raises(TargetError, match="LABTUI_LOCAL_LATENCY='fast' is not a number"):
        LocalTarget(tmp_path / "ws3")
    target.close()


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


def test_sibling_resources_removed_at_once_from_two_threads_both_go(tmp_path: Path) -> None:
    """Units roll back side by side: two file systems whose removals both find the shared
    `datalake` folder empty must not trip over each other removing it."""
    import threading

    target = LocalTarget(tmp_path / "ws")
    lake = target.datalake
    target.resource_groups.create("lab-db-dev", "eastus")
    for account in ("labdla", "labdlb"):
        lake.create_account("lab-db-dev", account, "eastus")
    errors: list[BaseException] = []
    for _ in range(60):
        for account in ("labdla", "labdlb"):
            lake.create_file_system(account, "datalake")
        start = threading.Barrier(2)

        def remove(account: str, start: threading.Barrier = start) -> None:
            start.wait(10)
            try:
                assert lake.delete_file_system(account, "datalake")
            except BaseException as exc:  # collected: the test names it below
                errors.append(exc)

        threads = [threading.Thread(target=remove, args=(a,)) for a in ("labdla", "labdlb")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    assert lake.file_systems("labdla") == lake.file_systems("labdlb") == []
    target.close()
