"""Local Databricks: scopes backed by the vault, and the `.databrickscfg` profile file."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from labtui.targets.base import Conflict, NotFound, TargetError
from labtui.targets.local import LocalTarget
from labtui.targets.resources import DatabricksHost
from labtui.targets.shared.databrickscfg import ProfileFile
from tests.targets.local.conftest import adb_ref, kv_ref

KV_URI = "https://lab-kv-dev.vault.azure.net/"

OTHER = ("# my own workspaces\n[DEFAULT]\nhost = https://adb-1.1.azuredatabricks.net\n"
         "token = dapi-default\n\n[prod]   \nhost = https://adb-2.2.azuredatabricks.net\n"
         "token = dapi-prod\n")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home" / ".databrickscfg"
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(path))
    return path


def test_vault_backed_scope_reads_the_vault_live(target: LocalTarget, group: str) -> None:
    databricks, vault = target.databricks, target.vault
    dev = databricks.create_workspace(adb_ref(target, group, "lab-adb-dev"), "eastus").host
    kv = vault.create_vault(kv_ref(target, group, "lab-kv-dev"), "eastus")
    scope = databricks.create_secret_scope(dev, "data-lake", vault=kv)
    assert scope.backend == "AZURE_KEYVAULT" and scope.vault_uri == kv.uri
    assert databricks.create_secret_scope(dev, "data-lake", vault=kv) == scope
    with pytest.raises(Conflict, match="backed by"):
        databricks.create_secret_scope(dev, "data-lake")
    assert databricks.scope_secrets(dev, "data-lake") == []
    vault.set_secret(KV_URI, "sp-app-id", "app-id-value")
    assert databricks.scope_secrets(dev, "data-lake") == ["sp-app-id"]
    assert databricks.dbutils_secret(dev, "data-lake", "sp-app-id") == (
        "app-id-value")
    with pytest.raises(TargetError, match="backed by a Key Vault"):
        databricks.put_scope_secret(dev, "data-lake", "k", "v")
    assert databricks.delete_secret_scope(dev, "data-lake") is True
    assert vault.get_secret(KV_URI, "sp-app-id") == "app-id-value", "vault untouched"


def test_clusters_and_libraries(target: LocalTarget, group: str) -> None:
    databricks = target.databricks
    dev = databricks.create_workspace(adb_ref(target, group, "lab-adb-dev"), "eastus").host
    with pytest.raises(Conflict, match="exists with the premium tier"):
        databricks.create_workspace(adb_ref(target, group, "lab-adb-dev"), "eastus", sku="standard")
    cluster = databricks.create_cluster(
        dev, "lab", node_type="Standard_DS3_v2", spark_version="13.3.x-cpu-ml",
        num_workers=2, autotermination_minutes=120)
    assert cluster.autotermination_minutes == 120
    with pytest.raises(TargetError, match="auto-termination"):
        databricks.create_cluster(dev, "x", node_type="n", spark_version="v",
                                  num_workers=1, autotermination_minutes=5)
    from labtui.targets.base import Library

    databricks.install_libraries(dev, cluster.cluster_id,
                                 [Library("pypi", "azureml-sdk")])
    (status,) = databricks.cluster_libraries(dev, cluster.cluster_id)
    assert (status.library.spec, status.status) == ("azureml-sdk", "INSTALLED")
    assert databricks.delete_workspace(adb_ref(target, group, "lab-adb-dev")) is True
    with pytest.raises(NotFound):
        databricks.get_cluster(dev, cluster.cluster_id)


def test_profile_write_keeps_other_sections_byte_for_byte(config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text(OTHER)
    config.chmod(0o644)
    profiles = ProfileFile.default()
    profiles.write("lab-dev", "https://adb-3.labtui.localhost", "dapi-lab")
    text = config.read_text()
    assert text.startswith(OTHER)
    assert text.endswith("[lab-dev]\nhost = https://adb-3.labtui.localhost\ntoken = dapi-lab\n")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    profiles.write("lab-dev", "https://adb-3.labtui.localhost", "dapi-new")
    assert profiles.read("lab-dev").token == "dapi-new"
    assert config.read_text().count("[lab-dev]") == 1
    assert profiles.delete("lab-dev") is True
    assert config.read_text() == OTHER
    assert profiles.delete("lab-dev") is False
    with pytest.raises(NotFound, match=r"no profile \[lab-dev\]"):
        profiles.read("lab-dev")


def test_profile_file_follows_the_env_and_is_removed_when_emptied(config: Path) -> None:
    profiles = ProfileFile.default()
    assert profiles.path == config
    profiles.write("lab-dev", "https://adb-3.labtui.localhost", "dapi-lab")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    profiles.delete("lab-dev")
    assert not config.exists()


def test_a_config_that_is_not_ini_is_named_and_left_untouched(config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text("host: not an ini file\n")
    with pytest.raises(TargetError) as caught:
        ProfileFile.default().write("lab-dev", "https://h", "dapi-lab")
    message = str(caught.value)
    assert str(config) in message and "not a Databricks config file" in message
    assert "\n" not in message and "dapi-lab" not in message
    assert config.read_text() == "host: not an ini file\n"
    assert [p.name for p in config.parent.iterdir()] == [".databrickscfg"], "no temp file left"


def test_databricks_sdk_reads_the_written_profile(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import databricks.sdk.config as sdk_config
    from databricks.sdk.core import Config

    def offline(host: str, client: object = None) -> None:
        raise ValueError("no network in tests")

    # The SDK probes the host for metadata; keep the test off the network.
    monkeypatch.setattr(sdk_config, "get_host_metadata", offline)
    config.parent.mkdir(parents=True)
    config.write_text(OTHER)
    ProfileFile.default().write("lab-dev", "https://adb-42.labtui.localhost", "dapi-lab-token")
    loaded = Config(profile="lab-dev")
    assert loaded.host == "https://adb-42.labtui.localhost"
    assert loaded.token == "dapi-lab-token"
    assert loaded.authenticate() == {"Authorization": "Bearer dapi-lab-token"}


def test_secrets_a_notebook_reads_are_redacted_in_its_output(target: LocalTarget,
                                                              group: str) -> None:
    """As on Databricks: a value from dbutils.secrets.get never shows in the run's output,
    even when labtui does not know it (the attendee put it into the vault themselves)."""
    from labtui.targets.local.notebook_runner import NotebookError

    databricks, vault = target.databricks, target.vault
    dev = databricks.create_workspace(adb_ref(target, group, "lab-adb-dev"), "eastus").host
    kv = vault.create_vault(kv_ref(target, group, "lab-kv-dev"), "eastus")
    databricks.create_secret_scope(dev, "data-lake", vault=kv)
    vault.set_secret(KV_URI, "own-token", "attendee-own-token-7781")
    cluster = databricks.create_cluster(
        dev, "lab", node_type="Standard_DS3_v2", spark_version="13.3.x-cpu-ml",
        num_workers=2, autotermination_minutes=120)
    databricks.import_notebook(dev, "/Shared/leak", (
        "# Databricks notebook source\n"
        "token = dbutils.secrets.get('data-lake', 'own-token')\n"
        "print('token is', token)\n"
        "# COMMAND ----------\n"
        "raise ValueError(f'refused {token}')\n"))
    lines: list[str] = []
    with pytest.raises(NotebookError) as caught:
        databricks.run_notebook(dev, cluster.cluster_id, "/Shared/leak",
                                log=lines.append)
    assert "refused" in str(caught.value)
    assert any("token is" in line for line in lines)
    everything = "\n".join([*lines, str(caught.value)])
    assert "attendee-own-token-7781" not in everything


WRITER = """
import sys
from pathlib import Path
from labtui.targets.shared.databrickscfg import ProfileFile

profiles = ProfileFile(Path(sys.argv[1]))
for n in range(int(sys.argv[3])):
    profiles.write(f"{sys.argv[2]}-{n}", f"https://adb-{n}.example", f"dapi{n:032x}")
"""


def test_processes_writing_profiles_at_once_lose_none(tmp_path: Path) -> None:
    """Four processes (a proctor's and three attendees') write 50 profiles each."""
    import subprocess
    import sys

    path = tmp_path / ".databrickscfg"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{i}", "50"])
               for i in range(4)]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0, 0]
    names = ProfileFile(path).profiles()
    assert len(names) == 200
    assert sorted(names) == sorted(f"p{i}-{n}" for i in range(4) for n in range(50))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_workspace_issues_checks_and_revokes_tokens_and_keeps_only_hashes(
        target: LocalTarget, group: str) -> None:
    databricks = target.databricks
    dev = databricks.create_workspace(adb_ref(target, group, "lab-adb-dev"), "eastus").host
    other = databricks.create_workspace(adb_ref(target, group, "lab-adb-other"), "eastus").host
    issued = databricks.create_token(dev, "for the CLI")
    assert issued.value is not None
    assert re.fullmatch(r"dapi[0-9a-f]{32}", issued.value)
    assert databricks.check_token(dev, issued.value)
    assert not databricks.check_token(other, issued.value), "one workspace's only"
    assert not databricks.check_token(dev, "dapi" + "0" * 32)
    listed = databricks.tokens(dev)
    assert [(t.token_id, t.comment, t.value) for t in listed] == [
        (issued.token_id, "for the CLI", None)]
    raw = b"".join(p.read_bytes() for p in target.workspace.rglob("*") if p.is_file())
    assert issued.value.encode() not in raw

    short = databricks.create_token(dev, "short", lifetime_seconds=1)
    assert short.value is not None and short.expires == pytest.approx(short.created + 1)
    assert databricks.check_token(dev, short.value)
    assert databricks.delete_token(dev, issued.token_id) is True
    assert databricks.delete_token(dev, issued.token_id) is False
    assert not databricks.check_token(dev, issued.value)
    with pytest.raises(NotFound):
        databricks.create_token(DatabricksHost(dev.url, "1"), "x")
    databricks.delete_workspace(adb_ref(target, group, "lab-adb-dev"))
    dev = databricks.create_workspace(adb_ref(target, group, "lab-adb-dev"), "eastus").host
    assert databricks.tokens(dev) == [], "tokens go with their workspace"


def test_local_profiles_give_up_quickly_on_a_sandbox_not_served(
        target: LocalTarget, config: Path) -> None:
    """databricks-sdk retries a refused connection for five minutes by default; the local
    target's profiles say seconds, so a tool pointed at a sandbox not served fails fast."""
    target.workstation.write_profile("lab-dev", "http://127.0.0.1:20001", "dapi-lab")
    text = config.read_text()
    assert "retry_timeout_seconds = 5" in text
    assert target.workstation.read_profile("lab-dev").host == "http://127.0.0.1:20001"
    assert not target.sandbox_path.exists(), "profiles are the attendee's, not the sandbox's"


def test_a_sandbox_that_kept_the_git_provider_as_a_setting_keeps_it_as_the_credential(
        tmp_path: Path) -> None:
    import sqlite3

    from labtui.targets.resources import GitCredential

    target = LocalTarget(tmp_path / "ws")
    group = target.resource_groups.create("lab-db-dev", "eastus").name
    dev = target.databricks.create_workspace(adb_ref(target, group, "lab-adb-dev"), "eastus").host
    target.close()
    with sqlite3.connect(tmp_path / "ws" / "sandbox" / "sandbox.db") as db:
        db.execute("DELETE FROM git_credentials")
        db.executemany("INSERT INTO workspace_settings VALUES ('lab-adb-dev', ?, ?)",
                       [("git-provider", "azureDevOpsServices"), ("git-username", "ada")])
    reopened = LocalTarget(tmp_path / "ws")
    assert reopened.databricks.git_provider(dev) == GitCredential(
        "azureDevOpsServices", "ada")
    assert reopened.sandbox.query("SELECT * FROM workspace_settings") == []
    reopened.close()
