"""The Infrastructure section's hooks on the local target, without the engine."""

from __future__ import annotations

import sqlite3
import statistics
import time
from pathlib import Path

import pytest
from labtui_steps import infrastructure as infra
from labtui_steps.census import HEADER
from labtui_steps.fields import KEY_VAULT, STORAGE_ACCOUNT, TENANT_ID
from labtui_steps.infrastructure import records

from labtui.step import Step, StepError
from labtui.targets.base import AclEntry, Library, NotFound
from labtui.targets.resources import DATABRICKS_WORKSPACES, KEY_VAULTS, STORAGE_ACCOUNTS
from labtui.values import Answers, Resolver
from tests.conftest import require_lab_data
from tests.sandbox_snapshot import snapshot
from tests.steps.conftest import Lab
from tests.targets.local.conftest import local_host

KV_URI = "https://contoso7-kv-dev.vault.azure.net/"
KV_PIPELINE_URI = "https://contoso7-kv-pipeline.vault.azure.net/"


CONTOSO7DLDEV_DFS = "https://contoso7dldev.dfs.core.windows.net/"
CONTOSO7DLPIPELINE_DFS = "https://contoso7dlpipeline.dfs.core.windows.net/"
"""The accounts' DFS endpoints: how the data lake's data plane is addressed."""


def test_section_creates_what_the_lab_describes(lab: Lab) -> None:
    lab.run_section()
    target = lab.target
    assert [g.name for g in target.resource_groups.list()] == [
        "contoso7-db-dev", "contoso7-db-pipeline", "contoso7-db-prod"]
    account = target.datalake.get_account(
        target.ref("contoso7-db-dev", STORAGE_ACCOUNTS, "contoso7dldev"))
    assert (account.kind, account.access_tier, account.hierarchical_namespace) == (
        "StorageV2", "Cool", True)
    assert target.datalake.file_systems(CONTOSO7DLDEV_DFS) == ["datalake"]
    workspace = target.databricks.get_workspace(
        target.ref("contoso7-db-dev", DATABRICKS_WORKSPACES, "contoso7-adb-dev"))
    assert workspace.sku == "premium"
    (cluster,) = target.databricks.clusters(local_host(target.databricks, "contoso7-adb-dev"))
    assert cluster.autotermination_minutes == 120
    libraries = {s.library for s in target.databricks.cluster_libraries(
        local_host(target.databricks, "contoso7-adb-dev"), cluster.cluster_id)}
    assert Library("pypi", "azureml-sdk") in libraries
    csv = target.datalake.read(CONTOSO7DLPIPELINE_DFS, "datalake", "AdultCensusIncome.csv")
    assert csv.splitlines()[0].decode() == HEADER
    assert lab.output("upload-data", "dev", "rows") == "32561"


def test_secrets_are_the_labs_and_readable_through_the_scope(lab: Lab) -> None:
    lab.run_section()
    vault, databricks = lab.target.vault, lab.target.databricks
    dev = set(vault.list_secrets(KV_URI))
    assert dev == set(infra.Secrets.LAB_SECRETS)
    pipeline = set(vault.list_secrets(KV_PIPELINE_URI))
    assert pipeline == set(infra.Secrets.LAB_SECRETS + infra.Secrets.PIPELINE_SECRETS)
    tenant = lab.answers["tenant-id"]
    read = lambda env, name: databricks.dbutils_secret(  # noqa: E731
        local_host(databricks, f"contoso7-adb-{env}"), "data-lake", name)
    assert read("dev", "sp-token-endpoint") == (
        f"https://login.microsoftonline.com/{tenant}/oauth2/token")
    assert read("dev", "datalake-fqdn") == "abfss://datalake@contoso7dldev.dfs.core.windows.net"
    assert read("dev", "alg-state") == "dev" and read("pipeline", "alg-state") == "pipeline"
    assert read("pipeline", "db-cluster-id") == lab.output("databricks", "pipeline", "cluster-id")
    assert read("pipeline", "db-access-token") == lab.answers["databricks-token"]
    app_id = read("dev", "sp-app-id")
    assert lab.target.principals.check_password(app_id, read("dev", "sp-password"))


def test_secret_values_are_encrypted_at_rest(lab: Lab) -> None:
    lab.run_section(("dev",))
    password = lab.output("service-principal", "dev", "sp-password")
    assert password in lab.masker, "the generated password is registered with the masker"
    raw = b"".join(p.read_bytes() for p in (lab.path / "sandbox").rglob("*")
                   if p.is_file())
    assert password.encode() not in raw
    assert lab.answers["databricks-token"].encode() not in raw
    assert not any(password in line for line in lab.lines)


def test_verify_names_missing_and_changed_secrets_but_not_values(lab: Lab) -> None:
    lab.run_section(("dev",))
    vault = lab.target.vault
    vault.delete_secret(KV_URI, "sp-app-id")
    vault.set_secret(KV_URI, "created-by", "someone-else-entirely")
    verdict = infra.Secrets().verify(lab.ctx(infra.Secrets, "dev"))
    assert not verdict.ok
    text = " ".join(c.message for c in verdict.failed)
    assert "missing: sp-app-id" in text
    assert "different value: created-by" in text
    assert "someone-else-entirely" not in text and "dev" not in text.replace(
        "contoso7-kv-dev", "")
    # A rerun recovers the soft-deleted secret and writes both back.
    lab.run(infra.Secrets, "dev")
    assert vault.get_secret(KV_URI, "created-by") == "dev"
    # ... and the rollback still removes every secret the step wrote, leaving none deleted.
    infra.Secrets().rollback(lab.ctx(infra.Secrets, "dev"))
    assert vault.list_secrets(KV_URI) == []
    assert vault.list_deleted_secrets(KV_URI) == []


def test_verify_checks_the_scope_lists_the_secrets_without_reading_a_value(lab: Lab) -> None:
    lab.run_section(("dev",))
    databricks = lab.target.databricks
    assert infra.Secrets().verify(lab.ctx(infra.Secrets, "dev")).ok
    # The scope is made again without its vault: the vault still holds every value, but the
    # notebook reading them through the scope would find none.
    databricks.delete_secret_scope(local_host(databricks, "contoso7-adb-dev"), "data-lake")
    databricks.create_secret_scope(local_host(databricks, "contoso7-adb-dev"), "data-lake")
    verdict = infra.Secrets().verify(lab.ctx(infra.Secrets, "dev"))
    (failed,) = verdict.failed
    assert failed.name == "listed by scope data-lake"
    assert failed.message.startswith("not listed: ") and "sp-app-id" in failed.message
    databricks.delete_secret_scope(local_host(databricks, "contoso7-adb-dev"), "data-lake")
    (failed,) = infra.Secrets().verify(lab.ctx(infra.Secrets, "dev")).failed
    assert "data-lake" in failed.message and failed.hint == "run the secret-scope step"


def test_vault_backed_scope_sees_secrets_added_later(lab: Lab) -> None:
    lab.run_section(("dev",))
    lab.target.vault.set_secret(KV_URI, "added-later", "value-added-later")
    adb = local_host(lab.target.databricks, "contoso7-adb-dev")
    assert "added-later" in lab.target.databricks.scope_secrets(adb, "data-lake")


def test_cluster_without_autotermination_fails_verify_and_run_fixes_it(lab: Lab) -> None:
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.Databricks, "dev")
    databricks = lab.target.databricks
    (cluster,) = databricks.clusters(local_host(databricks, "contoso7-adb-dev"))
    adb = local_host(databricks, "contoso7-adb-dev")
    databricks.edit_cluster(adb, cluster.cluster_id, autotermination_minutes=0)
    verdict = infra.Databricks().verify(lab.ctx(infra.Databricks, "dev"))
    (failed,) = verdict.failed
    assert failed.name == "auto-termination"
    assert "billing" in failed.message and "120" in failed.hint
    lab.run(infra.Databricks, "dev")
    assert databricks.get_cluster(local_host(databricks, "contoso7-adb-dev"),
                                  cluster.cluster_id).autotermination_minutes == 120
    assert len(databricks.clusters(local_host(databricks, "contoso7-adb-dev"))) == 1


@pytest.mark.parametrize("token", ["given", "issued"])
def test_rollback_of_the_section_leaves_the_sandbox_as_before(lab: Lab, tmp_path: Path,
                                                              token: str) -> None:
    if token == "issued":
        del lab.answers["databricks-token"]
    config = tmp_path / "home" / ".databrickscfg"
    config.parent.mkdir()
    config.write_text("[other]\nhost = https://adb-1.2.azuredatabricks.net\ntoken = x-1234\n")
    lab.target.sandbox  # noqa: B018 - open the (empty) sandbox
    before, config_before = snapshot(lab.path), config.read_bytes()
    lab.run_section()
    assert snapshot(lab.path) != before
    lab.rollback_section()
    assert snapshot(lab.path) == before
    assert config.read_bytes() == config_before
    assert lab.workspace.journal_rows() == []


def test_rollback_keeps_what_existed_before(lab: Lab) -> None:
    lab.target.resource_groups.create("contoso7-db-dev", "eastus")
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.KeyVault, "dev")
    infra.KeyVault().rollback(lab.ctx(infra.KeyVault, "dev"))
    infra.ResourceGroups().rollback(lab.ctx(infra.ResourceGroups, "dev"))
    assert lab.target.resource_groups.exists("contoso7-db-dev"), "it was there before"
    with pytest.raises(NotFound, match="key vault contoso7-kv-dev does not exist"):
        lab.target.vault.get_vault(
            lab.target.ref("contoso7-db-dev", KEY_VAULTS, "contoso7-kv-dev"))


def test_rollback_after_an_interrupted_run_is_fine(lab: Lab) -> None:
    """The journal is written before creating: an entry whose resource never came is fine."""
    lab.run(infra.ResourceGroups, "dev")
    ctx = lab.ctx(infra.KeyVault, "dev")
    ctx.journal.record(records.KeyVault("contoso7-kv-dev"))  # crashed before creating it
    infra.KeyVault().rollback(ctx)
    assert ctx.journal.entries() == []


def test_service_principal_gets_acl_default_acl_and_role(lab: Lab) -> None:
    for step in (infra.ResourceGroups, infra.DataLake, infra.ServicePrincipal):
        lab.run(step, "dev")
    object_id = lab.output("service-principal", "dev", "sp-object-id")
    acl = lab.target.datalake.get_acl(CONTOSO7DLDEV_DFS, "datalake")
    assert AclEntry("access", "user", object_id, "rwx") in acl
    assert AclEntry("default", "user", object_id, "rwx") in acl
    account = lab.target.datalake.get_account(
        lab.target.ref("contoso7-db-dev", STORAGE_ACCOUNTS, "contoso7dldev"))
    (role,) = lab.target.principals.role_assignments(account.id)
    assert (role.principal_id, role.role) == (object_id, "Storage Blob Data Contributor")
    principal = lab.target.principals.get_service_principal(
        lab.output("service-principal", "dev", "sp-app-id"))
    assert principal.tenant_id == lab.answers["tenant-id"]
    # Handed on for the app's "what it created", next to the app id (the lab copies both).
    assert lab.output("service-principal", "dev", "sp-token-endpoint") == (
        f"https://login.microsoftonline.com/{lab.answers['tenant-id']}/oauth2/token")
    # Files uploaded later inherit the default ACL, as in ADLS Gen2.
    lab.target.datalake.upload(CONTOSO7DLDEV_DFS, "datalake", "raw/new.csv", b"a, b\n1, 2\n")
    inherited = lab.target.datalake.get_acl(CONTOSO7DLDEV_DFS, "datalake", "raw/new.csv")
    assert AclEntry("access", "user", object_id, "rwx") in inherited


def test_service_principal_rerun_with_lost_password_resets_it(lab: Lab) -> None:
    for step in (infra.ResourceGroups, infra.DataLake, infra.ServicePrincipal):
        lab.run(step, "dev")
    old = lab.output("service-principal", "dev", "sp-password")
    lab.workspace.delete_output("service-principal", "dev", "sp-password")
    assert not infra.ServicePrincipal().verify(lab.ctx(infra.ServicePrincipal, "dev")).ok
    lab.run(infra.ServicePrincipal, "dev")
    new = lab.output("service-principal", "dev", "sp-password")
    assert new != old and new in lab.masker


def test_upload_offline_falls_back_to_a_generated_sample(lab: Lab) -> None:
    del lab.answers["data-file"]
    lab.answers["data-url"] = "http://127.0.0.1:9/AdultCensusIncome.csv"  # refused at once
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.DataLake, "dev")
    lab.run(infra.UploadData, "dev")
    data = lab.target.datalake.read(CONTOSO7DLDEV_DFS, "datalake", "AdultCensusIncome.csv")
    lines = data.decode().splitlines()
    assert lines[0] == HEADER and len(lines) == 2001
    first = lines[1].split(", ")
    assert len(first) == 15 and first[0].isdigit() and first[2].isdigit()
    assert any("cannot download" in line for line in lab.lines)
    # The regression trained offline should be as bad as on the real file, not worse: the
    # sample's fnlwgt (what the notebook predicts) is spread like the real one's.
    real = require_lab_data().read_text(encoding="utf-8").splitlines()[1:]
    real_median = statistics.median(int(line.split(", ")[2]) for line in real if line)
    sample_median = statistics.median(int(line.split(", ")[2]) for line in lines[1:])
    assert 0.75 < sample_median / real_median < 1.25


def test_upload_verify_catches_a_truncated_file(lab: Lab) -> None:
    for step in (infra.ResourceGroups, infra.DataLake, infra.UploadData):
        lab.run(step, "dev")
    lake = lab.target.datalake
    data = lake.read(CONTOSO7DLDEV_DFS, "datalake", "AdultCensusIncome.csv")
    lake.upload(CONTOSO7DLDEV_DFS, "datalake", "AdultCensusIncome.csv",
                b"\n".join(data.splitlines()[:100]))
    (failed,) = infra.UploadData().verify(lab.ctx(infra.UploadData, "dev")).failed
    assert failed.name == "rows" and "99 rows, 32,561 were uploaded" in failed.message


def test_upload_rejects_a_data_file_that_is_not_the_lab_file(lab: Lab, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b,c\n1,2,3\n")
    lab.answers["data-file"] = str(wrong)
    for step in (infra.ResourceGroups, infra.DataLake):
        lab.run(step, "dev")
    with pytest.raises(StepError, match=r"wrong\.csv is not the lab's AdultCensusIncome\.csv"):
        infra.UploadData().run(lab.ctx(infra.UploadData, "dev"))
    assert lab.target.datalake.list_files(CONTOSO7DLDEV_DFS, "datalake") == []


def test_cli_profile_of_another_workspace_is_not_overwritten(lab: Lab, tmp_path: Path) -> None:
    config = tmp_path / "home" / ".databrickscfg"
    config.parent.mkdir()
    config.write_text("[contoso7-dev]\nhost = https://adb-9.9.azuredatabricks.net\ntoken = t-1\n")
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.Databricks, "dev")
    with pytest.raises(StepError, match=r"profile \[contoso7-dev\] .* is for another workspace"):
        infra.CliProfiles().run(lab.ctx(infra.CliProfiles, "dev"))
    assert "adb-9.9" in config.read_text()


def test_a_profile_of_this_workspace_at_an_old_address_is_pointed_at_the_served_one(
        lab: Lab, tmp_path: Path) -> None:
    """Sandboxes made before the REST API was served wrote hosts nothing resolves; their
    profiles hold this workspace's token, so a run moves them rather than refusing."""
    del lab.answers["databricks-token"]
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.Databricks, "dev")
    databricks = lab.target.databricks
    workspace = databricks.get_workspace(
        lab.target.ref("contoso7-db-dev", DATABRICKS_WORKSPACES, "contoso7-adb-dev"))
    token = databricks.create_token(workspace.host, "issued before").value
    assert token is not None
    old = f"https://adb-{workspace.workspace_id}.labtui.localhost"
    lab.target.workstation.write_profile("contoso7-dev", old, token)
    verdict = infra.CliProfiles().verify(lab.ctx(infra.CliProfiles, "dev"))
    assert [c.name for c in verdict.failed] == ["host"]
    plan = infra.CliProfiles().plan(lab.ctx(infra.CliProfiles, "dev"))
    assert [(c.action, c.kind, c.detail) for c in plan] == [
        ("change", "CLI profile", f"{lab.target.workstation.profile_file()}: host {workspace.url}")]
    lab.run(infra.CliProfiles, "dev")
    profile = lab.target.workstation.read_profile("contoso7-dev")
    assert (profile.host, profile.token) == (workspace.url, token)
    assert f"point profile [contoso7-dev] at {workspace.url} (it had {old})" in lab.lines
    assert workspace.url == f"http://127.0.0.1:{databricks.api_port}"


def test_plan_says_what_run_would_create_and_keep(lab: Lab) -> None:
    plan = infra.DataLake().plan(lab.ctx(infra.DataLake, "dev"))
    assert [(c.action, c.kind) for c in plan] == [
        ("create", "storage account"), ("create", "file system")]
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.DataLake, "dev")
    plan = infra.DataLake().plan(lab.ctx(infra.DataLake, "dev"))
    assert {c.action for c in plan} == {"keep"}
    assert {c.action for c in infra.Secrets().plan(lab.ctx(infra.Secrets, "dev"))} == {"create"}
    assert sqlite3.connect(lab.path / "sandbox" / "sandbox.db").execute(
        "SELECT COUNT(*) FROM vaults").fetchone() == (0,), "plan touches nothing"


@pytest.mark.parametrize(("field", "value", "rule"), [
    (STORAGE_ACCOUNT, "Contoso7dldev", "lowercase"),
    (STORAGE_ACCOUNT, "a" * 25, "got 25 characters"),
    (KEY_VAULT, "7contoso-kv-dev", "starting with a letter"),
    (TENANT_ID, "72f988bf-86f1-41af-91ab", "GUID"),
])
def test_bad_names_are_refused_naming_field_and_rule(field: object, value: str,
                                                     rule: str) -> None:
    from labtui.step import Field

    assert isinstance(field, Field)
    problem = field.check(value)
    assert problem is not None and problem.startswith(f"{field.name}:") and rule in problem


def test_derived_names_fit_azure_rules() -> None:
    fields = {fld.name: fld for fld in infra.Secrets.inputs}
    resolver = Resolver(fields, environ={}, answers=Answers(None, {"prefix": "abcdefghijk"}))
    values = resolver.resolve("pipeline").values
    for fld in infra.Secrets.inputs:
        if fld.name in values and fld.kind == "azure-name":
            assert fld.check(values[fld.name]) is None, (fld.name, values[fld.name])
    assert values["storage-account"] == "abcdefghijkdlpipeline"


def test_without_a_token_the_workspace_issues_one_for_the_profile_and_the_pipeline(
        lab: Lab, tmp_path: Path) -> None:
    del lab.answers["databricks-token"]
    lab.run_section()
    databricks = lab.target.databricks
    for env in ("dev", "pipeline"):
        profile = lab.target.workstation.read_profile(f"contoso7-{env}")
        assert profile.token.startswith("dapi") and len(profile.token) == 36
        adb = local_host(databricks, f"contoso7-adb-{env}")
        assert databricks.check_token(adb, profile.token)
        assert [t.comment for t in databricks.tokens(adb)] == [
            f"labtui cli-profiles [contoso7-{env}]"]
        assert profile.token in lab.masker, "the issued token is masked"
    pipeline_token = lab.target.workstation.read_profile("contoso7-pipeline").token
    assert databricks.dbutils_secret(local_host(databricks, "contoso7-adb-pipeline"), "data-lake",
                                        "db-access-token") == pipeline_token
    raw = b"".join(p.read_bytes() for p in (lab.path / "sandbox").rglob("*")
                   if p.is_file())
    assert pipeline_token.encode() not in raw, "the sandbox keeps only a hash of a token"

    # Run again: the profile is kept as it is, no second token is issued.
    plan = infra.CliProfiles().plan(lab.ctx(infra.CliProfiles, "dev"))
    assert [(c.action, c.kind) for c in plan] == [("keep", "CLI profile")]
    lab.run(infra.CliProfiles, "dev")
    assert len(databricks.tokens(local_host(databricks, "contoso7-adb-dev"))) == 1

    # A revoked token is drift: verify says so, a run gets a new one.
    (issued,) = databricks.tokens(local_host(databricks, "contoso7-adb-dev"))
    databricks.delete_token(local_host(databricks, "contoso7-adb-dev"), issued.token_id)
    verdict = infra.CliProfiles().verify(lab.ctx(infra.CliProfiles, "dev"))
    assert [c.name for c in verdict.failed] == ["token"]
    assert "does not accept the token in [contoso7-dev]" in verdict.failed[0].message
    plan = infra.CliProfiles().plan(lab.ctx(infra.CliProfiles, "dev"))
    assert [(c.action, c.kind) for c in plan] == [("create", "access token"),
                                                  ("change", "CLI profile")]
    lab.run(infra.CliProfiles, "dev")
    assert databricks.check_token(local_host(databricks, "contoso7-adb-dev"),
                                  lab.target.workstation.read_profile("contoso7-dev").token)


def test_a_given_token_is_written_as_it_is_and_no_token_is_issued(lab: Lab) -> None:
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.Databricks, "dev")
    plan = infra.CliProfiles().plan(lab.ctx(infra.CliProfiles, "dev"))
    assert [(c.action, c.kind) for c in plan] == [("create", "CLI profile")]
    lab.run(infra.CliProfiles, "dev")
    given = lab.answers["databricks-token"]
    assert lab.target.workstation.read_profile("contoso7-dev").token == given
    assert lab.target.databricks.tokens(local_host(lab.target.databricks, "contoso7-adb-dev")) == []
    plan = infra.CliProfiles().plan(lab.ctx(infra.CliProfiles, "dev"))
    assert [(c.action, c.kind) for c in plan] == [("keep", "CLI profile")]


def test_control_plane_records_keep_the_resource_id(lab: Lab) -> None:
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.KeyVault, "dev")
    lab.run(infra.Databricks, "dev")
    vault = lab.target.vault.get_vault(
        lab.target.ref("contoso7-db-dev", KEY_VAULTS, "contoso7-kv-dev"))
    (entry,) = lab.journal(infra.KeyVault, "dev")
    assert entry.ref == vault.id == (
        f"/subscriptions/{lab.target.subscription_id}/resourceGroups/contoso7-db-dev"
        "/providers/Microsoft.KeyVault/vaults/contoso7-kv-dev")
    assert lab.output("key-vault", "dev", "vault-id") == vault.id
    kinds = {e.kind: e.ref for e in lab.journal(infra.Databricks, "dev")}
    assert kinds["databricks-workspace"].endswith(
        "/resourceGroups/contoso7-db-dev/providers/Microsoft.Databricks/workspaces/"
        "contoso7-adb-dev")


@pytest.mark.parametrize(("step", "kind", "name", "type"), [
    (infra.KeyVault, "key-vault", "contoso7-kv-dev", KEY_VAULTS),
    (infra.DataLake, "storage-account", "contoso7dldev", STORAGE_ACCOUNTS),
    (infra.MlWorkspace, "ml-workspace", "contoso7-ml-dev",
     "Microsoft.MachineLearningServices/workspaces"),
    (infra.Databricks, "databricks-workspace", "contoso7-adb-dev", DATABRICKS_WORKSPACES),
], ids=["key-vault", "storage-account", "ml-workspace", "databricks-workspace"])
def test_an_entry_journaled_by_bare_name_still_undoes(
        lab: Lab, step: type[Step], kind: str, name: str, type: str) -> None:
    """Entries written before resource ids name the resource alone: the rollback finds it in
    the environment's resource group and removes it."""
    lab.run(infra.ResourceGroups, "dev")
    lab.run(step, "dev")
    ref = lab.target.ref("contoso7-db-dev", type, name)
    with sqlite3.connect(lab.path / "state.db") as db:
        db.execute("DELETE FROM journal WHERE step = ?", (step.id,))
        db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) "
                   "VALUES (?, 'dev', ?, ?, '{}', ?)", (step.id, kind, name, time.time()))
    (entry,) = lab.journal(step, "dev")
    assert entry.ref == name
    lab.rollback(step, "dev")
    assert lab.journal(step, "dev") == []
    port = {"key-vault": lambda: lab.target.vault.get_vault(ref),
            "storage-account": lambda: lab.target.datalake.get_account(ref),
            "ml-workspace": lambda: lab.target.models.get_workspace(ref),
            "databricks-workspace": lambda: lab.target.databricks.get_workspace(ref)}[kind]
    with pytest.raises(NotFound, match=f"{name} does not exist"):
        port()
    assert lab.target.resource_groups.exists("contoso7-db-dev"), "only what it names goes"


def test_a_secret_journaled_with_its_vault_name_still_undoes(lab: Lab) -> None:
    """Secrets are addressed by the vault's URI now; an entry from before names the vault."""
    for step in (infra.ResourceGroups, infra.KeyVault):
        lab.run(step, "dev")
    vault = lab.target.vault
    vault.set_secret(KV_URI, "sp-app-id", "app-id-from-before")
    with sqlite3.connect(lab.path / "state.db") as db:
        db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) VALUES "
                   "('secrets', 'dev', 'vault-secret', 'sp-app-id', ?, ?)",
                   ('{"vault": "contoso7-kv-dev"}', time.time()))
    (entry,) = lab.journal(infra.Secrets, "dev")
    assert entry.record == records.VaultSecret("sp-app-id", vault="contoso7-kv-dev")
    entry.record.undo(lab.ctx(infra.Secrets, "dev"))
    assert vault.list_secrets(KV_URI) == []
    assert vault.list_deleted_secrets(KV_URI) == [], "deleted and purged"


def test_each_infrastructure_step_is_found_from_its_id_in_one_hop() -> None:
    """`key-vault` lives in steps/infrastructure/key_vault.py, its guide beside it; the
    installed entry point says the same."""
    from importlib.metadata import entry_points

    from labtui.catalog import Catalog

    steps = [type(step) for step in Catalog.discover() if step.section == "Infrastructure"]
    assert [step.id for step in steps] == [
        "resource-groups", "ml-workspace", "data-lake", "key-vault", "databricks",
        "upload-data", "cli-profiles", "service-principal", "secret-scope", "secrets",
    ], "in their own modules, the steps keep the lab's order"
    points = {point.name: point.value for point in entry_points(group="labtui.steps")}
    for step in steps:
        module = f"labtui_steps.infrastructure.{step.id.replace('-', '_')}"
        assert step.__module__ == module, step.id
        assert points[step.id] == f"{module}:{step.__name__}"
        assert step.guide().startswith("#"), f"{step.id} has its guide beside it"


def test_secrets_reads_and_removals_each_wait_on_one_round_trip(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a cloud each port call is a round trip: the vault, the scope's listing and the ten
    values are read together, and the ten secrets removed together (see `Rounds`)."""
    lab.run_section(envs=("dev",))
    rounds = Rounds(lab, monkeypatch, 12)
    verdict = infra.Secrets().verify(lab.ctx(infra.Secrets, "dev"))
    assert verdict.ok, verdict.failed
    assert rounds.arrived >= 12, "the vault, the listing and the ten values together"

    rounds = Rounds(lab, monkeypatch, len(infra.Secrets.LAB_SECRETS))
    lab.rollback(infra.Secrets, "dev")
    assert rounds.arrived == 2 * len(infra.Secrets.LAB_SECRETS), "removed, then purged"
    assert lab.journal(infra.Secrets, "dev") == []
    assert lab.target.vault.list_secrets(KV_URI) == []


def test_records_journaled_with_the_account_name_still_undo(lab: Lab) -> None:
    """Entries written before the data lake was addressed by its DFS endpoint name the
    account: the rollback finds the endpoint and removes what they name."""
    import sqlite3
    import time

    for step in (infra.ResourceGroups, infra.DataLake, infra.UploadData):
        lab.run(step, "dev")
    entries = lab.journal(infra.UploadData, "dev")
    assert [e.record.account for e in entries if e.kind == "datalake-file"] == [
        CONTOSO7DLDEV_DFS], "today's entries name the endpoint"
    with sqlite3.connect(lab.path / "state.db") as db:
        db.execute("UPDATE journal SET undo = ? WHERE kind = 'datalake-file'",
                   ('{"account": "contoso7dldev", "file_system": "datalake"}',))
        db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) VALUES "
                   "('upload-data', 'dev', 'file-system', 'raw', ?, ?)",
                   ('{"account": "contoso7dldev"}', time.time()))
    lab.target.datalake.create_file_system(CONTOSO7DLDEV_DFS, "raw")
    lab.rollback(infra.UploadData, "dev")
    lake = lab.target.datalake
    assert lake.list_files(CONTOSO7DLDEV_DFS, "datalake") == []
    assert lake.file_systems(CONTOSO7DLDEV_DFS) == ["datalake"]


class Rounds:
    """Makes the port calls on the engine's pool meet round by round: the first `widths[0]`
    wait at a barrier that wide, the next `widths[1]` at the next, and so on. Calls made one
    after the other would never all arrive at their barrier (it breaks after a while, and
    the hook fails); calls after the last round pass."""

    def __init__(self, lab: Lab, monkeypatch: pytest.MonkeyPatch, *widths: int) -> None:
        import threading

        self.arrived = 0
        self._barriers = [threading.Barrier(width) for width in widths]
        self._lock = threading.Lock()
        real_pause = lab.target.sandbox.pause

        def pause() -> None:
            if threading.current_thread().name.startswith("labtui-call"):
                with self._lock:
                    seen, self.arrived = self.arrived, self.arrived + 1
                for barrier in self._barriers:
                    if seen < barrier.parties:
                        barrier.wait(20)
                        break
                    seen -= barrier.parties
            real_pause()

        monkeypatch.setattr(lab.target.sandbox, "pause", pause)


def test_service_principal_reads_wait_on_two_round_trips(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its verify finds the principal and the account together, then checks the password,
    reads the ACL and the role assignments together; a run again reads the account and the
    principal, then the ACL and the roles, two at a time."""
    lab.run_section(envs=("dev",))
    rounds = Rounds(lab, monkeypatch, 2, 3)
    verdict = infra.ServicePrincipal().verify(lab.ctx(infra.ServicePrincipal, "dev"))
    assert verdict.ok, verdict.failed
    assert rounds.arrived == 5

    rounds = Rounds(lab, monkeypatch, 2, 2, 2, 3)  # the run, then the verify after it
    lab.run(infra.ServicePrincipal, "dev")
    assert rounds.arrived == 9


def test_service_principal_rollback_removes_it_and_its_grants_together(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    lab.run_section(envs=("dev",))
    object_id = lab.output("service-principal", "dev", "sp-object-id")
    # The ACL removed while the roles are listed and the principal is found.
    rounds = Rounds(lab, monkeypatch, 3)
    lab.rollback(infra.ServicePrincipal, "dev")
    assert rounds.arrived >= 3
    assert lab.journal(infra.ServicePrincipal, "dev") == []
    target = lab.target
    with pytest.raises(NotFound):
        target.principals.find_service_principal("contoso7-sp-dev")
    account = target.datalake.get_account(
        target.ref("contoso7-db-dev", STORAGE_ACCOUNTS, "contoso7dldev"))
    assert not any(entry.principal == object_id for entry in
                   target.datalake.get_acl(CONTOSO7DLDEV_DFS, "datalake"))
    assert not any(a.principal_id == object_id
                   for a in target.principals.role_assignments(account.id))


def test_data_lake_reads_the_account_and_its_file_systems_together(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its run and its verify each look at the account and its file systems at once."""
    lab.run(infra.ResourceGroups, "dev")
    rounds = Rounds(lab, monkeypatch, 2, 2)  # the run's look, then the verify's after it
    lab.run(infra.DataLake, "dev")
    assert rounds.arrived == 4
    assert lab.target.datalake.file_systems(CONTOSO7DLDEV_DFS) == ["datalake"]
    assert lab.journal(infra.DataLake, "dev") != []
    lab.run_section(envs=("dev",))
    rounds = Rounds(lab, monkeypatch, 2)
    assert infra.DataLake().verify(lab.ctx(infra.DataLake, "dev")).ok
    assert rounds.arrived == 2
    lab.target.datalake.delete_file_system(CONTOSO7DLDEV_DFS, "datalake")
    failed = {c.name: c.message for c in
              infra.DataLake().verify(lab.ctx(infra.DataLake, "dev")).failed}
    assert failed == {"file system": "there is no file system 'datalake' in contoso7dldev"}


def test_data_lake_rollback_removes_the_account_with_its_file_system(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file system it made is in the account it made: deleting the account removes both,
    one call; the journal is empty and a run builds both again."""
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.DataLake, "dev")
    slept: list[float] = []
    monkeypatch.setattr(lab.target.sandbox, "pause", lambda: slept.append(1.0))
    lab.rollback(infra.DataLake, "dev")
    assert len(slept) == 1, "one call: the account, which holds the file system"
    assert lab.journal(infra.DataLake, "dev") == []
    ref = lab.target.ref("contoso7-db-dev", STORAGE_ACCOUNTS, "contoso7dldev")
    with pytest.raises(NotFound):
        lab.target.datalake.get_account(ref)
    lab.run(infra.DataLake, "dev")
    assert lab.target.datalake.file_systems(CONTOSO7DLDEV_DFS) == ["datalake"]


def test_data_lake_rollback_in_an_account_it_did_not_make_removes_the_file_system(
        lab: Lab) -> None:
    lab.run(infra.ResourceGroups, "dev")
    ref = lab.target.ref("contoso7-db-dev", STORAGE_ACCOUNTS, "contoso7dldev")
    lab.target.datalake.create_account(ref, "eastus", kind="StorageV2", access_tier="Cool",
                                       hierarchical_namespace=True)
    lab.run(infra.DataLake, "dev")
    lab.rollback(infra.DataLake, "dev")
    assert lab.target.datalake.get_account(ref).name == "contoso7dldev", "not ours: kept"
    assert lab.target.datalake.file_systems(CONTOSO7DLDEV_DFS) == []
    assert lab.journal(infra.DataLake, "dev") == []


def test_databricks_entries_hold_the_host_and_old_ones_by_name_still_undo(lab: Lab) -> None:
    """A Databricks record names the workspace's host (its data plane) now; an entry written
    before hosts names the workspace alone, and its undo finds the host by that name."""
    import json

    for step in (infra.ResourceGroups, infra.KeyVault, infra.Databricks, infra.SecretScope):
        lab.run(step, "dev")
    host = local_host(lab.target.databricks, "contoso7-adb-dev")
    assert (lab.output("databricks", "dev", "workspace-url"),
            lab.output("databricks", "dev", "workspace-id")) == (host.url, host.workspace_id)
    for step in (infra.Databricks, infra.SecretScope):
        for entry in lab.journal(step, "dev"):
            if entry.kind != "databricks-workspace":
                record = entry.record
                assert (record.host, record.workspace_id) == (  # type: ignore[attr-defined]
                    host.url, host.workspace_id), entry.kind
    with sqlite3.connect(lab.path / "state.db") as db:
        for rowid, undo in db.execute("SELECT rowid, undo FROM journal WHERE kind IN "
                                      "('cluster', 'cluster-libraries', 'secret-scope')"
                                      ).fetchall():
            payload = json.loads(undo)
            del payload["host"], payload["workspace_id"]
            db.execute("UPDATE journal SET undo = ? WHERE rowid = ?",
                       (json.dumps(payload), rowid))
    databricks = lab.target.databricks
    (cluster,) = databricks.clusters(host)
    assert databricks.cluster_libraries(host, cluster.cluster_id) != []
    (scope_entry,) = lab.journal(infra.SecretScope, "dev")
    assert scope_entry.record == records.SecretScope("data-lake", workspace="contoso7-adb-dev")
    scope_entry.record.undo(lab.ctx(infra.SecretScope, "dev"))
    assert databricks.secret_scopes(host) == []
    ctx = lab.ctx(infra.Databricks, "dev")
    for entry in reversed(lab.journal(infra.Databricks, "dev")):
        if entry.kind in ("cluster-libraries", "cluster"):
            entry.record.undo(ctx)
            if entry.kind == "cluster-libraries":
                assert databricks.cluster_libraries(host, cluster.cluster_id) == []
    assert databricks.clusters(host) == [], "found by the workspace's name"
    assert databricks.get_workspace(
        lab.target.ref("contoso7-db-dev", DATABRICKS_WORKSPACES, "contoso7-adb-dev")), (
        "only what the entries name goes")


def test_a_host_recorded_for_a_workspace_made_again_is_told_in_one_line(lab: Lab) -> None:
    """The later steps address the workspace by the host the databricks step recorded: if
    the workspace was made again (a new workspace id), they say to run that step again."""
    for step in (infra.ResourceGroups, infra.KeyVault, infra.Databricks):
        lab.run(step, "dev")
    databricks = lab.target.databricks
    ref = lab.target.ref("contoso7-db-dev", DATABRICKS_WORKSPACES, "contoso7-adb-dev")
    databricks.delete_workspace(ref)
    databricks.create_workspace(ref, "eastus")
    verdict = infra.SecretScope().verify(lab.ctx(infra.SecretScope, "dev"))
    (check,) = verdict.checks
    assert not check.ok and "no Databricks workspace" in check.message
    assert "\n" not in check.message and "databricks" in check.hint
    redone = infra.Databricks().verify(lab.ctx(infra.Databricks, "dev"))
    assert not all(c.ok for c in redone.checks), "the databricks step has its work again"
    lab.run(infra.Databricks, "dev")
    lab.run(infra.SecretScope, "dev")


def test_databricks_rollback_deletes_the_workspace_it_made_with_all_in_it_in_two_rounds(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workspace's host and the cluster's listing are read together, then the workspace
    alone is deleted: it takes the cluster and its libraries with it (no call of their own),
    and every entry is forgotten."""
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.Databricks, "dev")
    assert {entry.kind for entry in lab.journal(infra.Databricks, "dev")} == {
        "databricks-workspace", "cluster", "cluster-libraries"}
    calls: list[str] = []
    real_pause = lab.target.sandbox.pause
    monkeypatch.setattr(lab.target.sandbox, "pause", lambda: (calls.append("call"),
                                                              real_pause()))
    rounds = Rounds(lab, monkeypatch, 2)
    lab.rollback(infra.Databricks, "dev")
    assert rounds.arrived == 2, "the workspace and the cluster's listing, read together"
    assert len(calls) == 3, "then one more call: the workspace's deletion"
    assert lab.journal(infra.Databricks, "dev") == []
    with pytest.raises(NotFound):
        lab.target.databricks.get_workspace(
            lab.target.ref("contoso7-db-dev", DATABRICKS_WORKSPACES, "contoso7-adb-dev"))
    lab.run(infra.Databricks, "dev")  # and a run makes it all again
    (cluster,) = lab.target.databricks.clusters(
        local_host(lab.target.databricks, "contoso7-adb-dev"))
    assert cluster.autotermination_minutes == 120


def test_databricks_rollback_in_a_workspace_it_did_not_make_deletes_the_cluster_only(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster it made goes with its libraries: one listing, one deletion, no uninstall;
    the workspace that was there before stays."""
    lab.run(infra.ResourceGroups, "dev")
    ref = lab.target.ref("contoso7-db-dev", DATABRICKS_WORKSPACES, "contoso7-adb-dev")
    lab.target.databricks.create_workspace(ref, "eastus", sku="premium")
    lab.run(infra.Databricks, "dev")
    assert {entry.kind for entry in lab.journal(infra.Databricks, "dev")} == {
        "cluster", "cluster-libraries"}
    called: list[str] = []
    databricks = lab.target.databricks
    for name in ("uninstall_libraries", "clusters", "delete_cluster"):
        real = getattr(databricks, name)

        def spy(*args: object, _real: object = real, _name: str = name) -> object:
            called.append(_name)
            return _real(*args)  # type: ignore[operator]

        monkeypatch.setattr(databricks, name, spy)
    lab.rollback(infra.Databricks, "dev")
    assert called == ["clusters", "delete_cluster"]
    assert lab.journal(infra.Databricks, "dev") == []
    assert databricks.get_workspace(ref).name == "contoso7-adb-dev", "not ours: kept"
    assert databricks.clusters(local_host(databricks, "contoso7-adb-dev")) == []


def test_databricks_rollback_undoes_a_cluster_in_another_workspace_than_the_one_it_deletes(
        lab: Lab) -> None:
    """Which entries go with a workspace is read from its host: a cluster journaled in
    another workspace survives the deletion of the step's workspace, so its own undo runs
    and removes it (and the other workspace, not journaled, stays)."""
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.Databricks, "dev")
    databricks = lab.target.databricks
    other = lab.target.ref("contoso7-db-dev", DATABRICKS_WORKSPACES, "contoso7-adb-other")
    host = databricks.create_workspace(other, "eastus", sku="premium").host
    databricks.create_cluster(host, "contoso7-cluster-other", node_type="Standard_DS3_v2",
                              spark_version="13.3.x-cpu-ml-scala2.12", num_workers=2,
                              autotermination_minutes=120)
    ctx = lab.ctx(infra.Databricks, "dev")
    ctx.journal.record(records.Cluster("contoso7-cluster-other", workspace="contoso7-adb-other",
                                       host=host.url, workspace_id=host.workspace_id))
    lab.rollback(infra.Databricks, "dev")
    assert lab.journal(infra.Databricks, "dev") == []
    assert databricks.clusters(host) == [], "its own undo removed it"
    assert databricks.get_workspace(other).host == host, "not journaled: kept"


def test_secret_scope_run_reads_the_vault_and_the_scopes_together(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its run looks at the vault and the workspace's scopes at once; its verify, made with
    every other unit's at once in a section, reads them one after the other (it says which
    is missing)."""
    for step in (infra.ResourceGroups, infra.KeyVault, infra.Databricks):
        lab.run(step, "dev")
    rounds = Rounds(lab, monkeypatch, 2)  # the run's look; the rest is not gathered
    lab.run(infra.SecretScope, "dev")
    assert rounds.arrived == 2
    assert [s.name for s in lab.target.databricks.secret_scopes(
        local_host(lab.target.databricks, "contoso7-adb-dev"))] == ["data-lake"]
    lab.target.vault.delete_vault(lab.target.ref("contoso7-db-dev", KEY_VAULTS,
                                                 "contoso7-kv-dev"))
    (check,) = infra.SecretScope().verify(lab.ctx(infra.SecretScope, "dev")).failed
    assert (check.name, check.hint) == ("secret scope", "run the key-vault and databricks steps")
    assert "contoso7-kv-dev" in check.message


def test_cli_profiles_asks_about_the_kept_and_the_profiles_token_at_once(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token the step kept is revoked, the profile holds another the workspace accepts:
    both are checked in one round trip, and the profile's is kept (no token issued)."""
    del lab.answers["databricks-token"]
    lab.run(infra.ResourceGroups, "dev")
    lab.run(infra.Databricks, "dev")
    lab.run(infra.CliProfiles, "dev")
    databricks = lab.target.databricks
    host = local_host(databricks, "contoso7-adb-dev")
    (kept,) = databricks.tokens(host)
    databricks.delete_token(host, kept.token_id)
    pasted = databricks.create_token(host, "pasted by hand").value
    assert pasted is not None
    lab.target.workstation.write_profile("contoso7-dev", host.url, pasted)
    rounds = Rounds(lab, monkeypatch, 2)
    plan = infra.CliProfiles().plan(lab.ctx(infra.CliProfiles, "dev"))
    assert rounds.arrived == 2
    assert [(c.action, c.kind) for c in plan] == [("keep", "CLI profile")]
    lab.run(infra.CliProfiles, "dev")
    assert lab.target.workstation.read_profile("contoso7-dev").token == pasted
    assert [t.comment for t in databricks.tokens(host)] == ["pasted by hand"]
