"""A lost vault.key is not replaced while secrets it sealed are stored: reading or writing a
secret says so by name, and removing things (a rollback) still works."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.base import TargetError
from labtui.targets.local import LocalTarget
from labtui.targets.resources import KEY_VAULTS

KV_URI = "https://lab-kv-dev.vault.azure.net/"


def test_a_lost_vault_key_is_not_replaced(tmp_path: Path) -> None:
    first = LocalTarget(tmp_path / "ws")
    first.resource_groups.create("lab-db-dev", "eastus")
    first.vault.create_vault(first.ref("lab-db-dev", KEY_VAULTS, "lab-kv-dev"), "eastus")
    first.vault.set_secret(KV_URI, "sp-password", "pw-9931-canary")
    first.close()
    key = tmp_path / "ws" / "sandbox" / "vault.key"
    key.unlink()

    again = LocalTarget(tmp_path / "ws")
    try:
        for use in (lambda: again.vault.get_secret(KV_URI, "sp-password"),
                    lambda: again.vault.set_secret(KV_URI, "other", "x-value")):
            with pytest.raises(TargetError) as lost:
                use()
            assert f"the vault key {key} is missing" in str(lost.value)
            assert "1 secret in the sandbox's vaults" in str(lost.value)
        assert not key.exists()
        assert again.vault.delete_vault(again.ref("lab-db-dev", KEY_VAULTS, "lab-kv-dev")), \
            "removing needs no key"
        assert again.resource_groups.delete("lab-db-dev") is not False
    finally:
        again.close()


def test_a_sandbox_without_secrets_gets_a_new_key(tmp_path: Path) -> None:
    first = LocalTarget(tmp_path / "ws")
    first.resource_groups.create("lab-db-dev", "eastus")
    first.close()
    key = tmp_path / "ws" / "sandbox" / "vault.key"
    key.unlink()
    again = LocalTarget(tmp_path / "ws")
    try:
        again.vault.create_vault(again.ref("lab-db-dev", KEY_VAULTS, "lab-kv-dev"), "eastus")
        again.vault.set_secret(KV_URI, "s", "value-1")
        assert again.vault.get_secret(KV_URI, "s") == "value-1"
        assert key.exists()
    finally:
        again.close()
