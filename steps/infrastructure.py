"""The lab's "Infrastructure Set Up" section, one step per part of the lab text.

Every step talks to the lab's resources only through the target's ports, so the same code
drives the local sandbox and Azure. Each `run` journals what it is about to create *before*
creating it and leaves alone what existed before it (it is not journaled, so a rollback never
removes it). `verify` is read-only and says, in the attendee's words, what is missing.
"""

from __future__ import annotations

import hmac
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar

from labtui_steps import census, records
from labtui_steps.fields import (
    CLUSTER_NAME,
    COMPUTE_NAME,
    CREATED_BY,
    DATA_FILE,
    DATA_URL,
    DATABRICKS_PROFILE,
    DATABRICKS_TOKEN,
    DATABRICKS_WORKSPACE,
    IMAGE_NAME,
    KEY_VAULT,
    LOCATION,
    ML_WORKSPACE,
    MODEL_NAME,
    PREFIX,
    RESOURCE_GROUP,
    SERVICE_PRINCIPAL,
    STORAGE_ACCOUNT,
    SUBSCRIPTION_ID,
    TENANT_ID,
)

from labtui.step import (
    ENVIRONMENTS,
    Change,
    Check,
    JournalEntry,
    Step,
    StepContext,
    StepError,
    Verdict,
)
from labtui.targets.base import (
    AclEntry,
    Cluster,
    Library,
    NotFound,
    Profile,
    StorageAccount,
    TargetError,
)

FILE_SYSTEM = "datalake"
SCOPE = "data-lake"
ROLE = "Storage Blob Data Contributor"
AUTOTERMINATION_MINUTES = 120
NODE_TYPE = "Standard_DS3_v2"
SPARK_VERSION = "13.3.x-cpu-ml-scala2.12"
NUM_WORKERS = 2
LIBRARIES: tuple[Library, ...] = (
    Library("pypi", "azureml-sdk"),
    Library("pypi", "mlflow"),
    Library("pypi", "scikit-learn"),
)
DOWNLOAD_TIMEOUT = 10.0
def _check(name: str, problem: str | None, hint: str = "") -> Check:
    return Check(name, problem is None, problem or "", hint if problem else "")


class InfrastructureStep(Step):
    """A step of the Infrastructure section: it runs once for each environment."""

    section = "Infrastructure"
    per_environment = True


def _issue_token(ctx: StepContext, workspace: str, comment: str) -> str:
    """Ask the workspace for a personal access token, journaled by its comment (its id is
    known only once it exists), masked from the moment it is known."""
    ctx.journal.record_once(records.DatabricksToken(comment, workspace))
    ctx.log(f"ask {workspace} for a personal access token ({comment!r})")
    value = ctx.target.databricks.create_token(workspace, comment).value
    if value is None:
        raise StepError(f"{workspace} issued a token without showing its value")
    return ctx.secret(value)


# --- resource groups ---------------------------------------------------------------------


class ResourceGroups(InfrastructureStep):
    """{prefix}-db-dev, {prefix}-db-pipeline and {prefix}-db-prod."""

    id = "resource-groups"
    title = "Create the resource groups"
    summary = "One resource group per environment: dev, pipeline and prod."
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP)

    @classmethod
    def environments(cls) -> Sequence[str | None]:
        # The lab creates a prod group too; later sections (the release) fill it.
        return (*ENVIRONMENTS, "prod")

    def run(self, ctx: StepContext) -> None:
        name, location = ctx.value("resource-group"), ctx.value("location")
        groups = ctx.target.resource_groups
        if groups.exists(name):
            ctx.log(f"resource group {name} exists already")
        else:
            ctx.journal.record_once(records.ResourceGroup(name))
            ctx.log(f"create resource group {name} in {location}")
        groups.create(name, location)

    def verify(self, ctx: StepContext) -> Verdict:
        name, location = ctx.value("resource-group"), ctx.value("location")
        try:
            group = ctx.target.resource_groups.get(name)
        except NotFound:
            return Verdict.of(Check("resource group", False, f"{name} does not exist",
                                    "run this step to create it"))
        return Verdict.of(
            Check("resource group", True),
            _check("location", None if group.location == location else
                   f"{name} is in {group.location}, not in {location}",
                   "set location to where the group is, or choose another prefix"),
        )

    def plan(self, ctx: StepContext) -> list[Change]:
        name = ctx.value("resource-group")
        exists = ctx.target.resource_groups.exists(name)
        return [Change("keep" if exists else "create", "resource group", name,
                       "" if exists else f"in {ctx.value('location')}")]


# --- ML workspace ------------------------------------------------------------------------


class MlWorkspace(InfrastructureStep):
    """The Machine Learning workspace: the model registry of the environment."""

    id = "ml-workspace"
    title = "Add the Machine Learning workspace"
    summary = "A Machine Learning service workspace per environment (the model registry)."
    requires = ("resource-groups",)
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP, ML_WORKSPACE)

    def run(self, ctx: StepContext) -> None:
        name = ctx.value("ml-workspace-name")
        models = ctx.target.models
        try:
            models.get_workspace(name)
            ctx.log(f"ML workspace {name} exists already")
        except NotFound:
            ctx.journal.record_once(records.MlWorkspace(name))
            ctx.log(f"create ML workspace {name}")
        models.create_workspace(ctx.value("resource-group"), name, ctx.value("location"))

    def verify(self, ctx: StepContext) -> Verdict:
        name, group = ctx.value("ml-workspace-name"), ctx.value("resource-group")
        try:
            workspace = ctx.target.models.get_workspace(name)
        except NotFound:
            return Verdict.of(Check("ML workspace", False, f"{name} does not exist",
                                    "run this step to create it"))
        return Verdict.of(_check(
            "ML workspace",
            None if workspace.resource_group.lower() == group.lower()
            else f"{name} is in resource group {workspace.resource_group}, not {group}",
            "choose another ml-workspace-name"))

    def plan(self, ctx: StepContext) -> list[Change]:
        name = ctx.value("ml-workspace-name")
        return [Change("keep" if _exists(lambda: ctx.target.models.get_workspace(name))
                       else "create", "ML workspace", name)]


def _exists(lookup: Callable[[], object]) -> bool:
    try:
        lookup()
    except NotFound:
        return False
    return True


# --- data lake ---------------------------------------------------------------------------


class DataLake(InfrastructureStep):
    """StorageV2, hierarchical namespace on, Cool tier, with the file system `datalake`."""

    id = "data-lake"
    title = "Add the data lake (Storage gen 2)"
    summary = "StorageV2 account, hierarchical namespace on, Cool tier; file system 'datalake'."
    requires = ("resource-groups",)
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP, STORAGE_ACCOUNT)

    def run(self, ctx: StepContext) -> None:
        name, lake = ctx.value("storage-account"), ctx.target.datalake
        try:
            account = lake.get_account(name)
            ctx.log(f"storage account {name} exists already")
        except NotFound:
            ctx.journal.record_once(records.StorageAccount(name))
            ctx.log(f"create storage account {name} (StorageV2, Cool, hierarchical namespace)")
        account = lake.create_account(
            ctx.value("resource-group"), name, ctx.value("location"),
            kind="StorageV2", access_tier="Cool", hierarchical_namespace=True,
        )
        ctx.check_cancelled()
        if FILE_SYSTEM not in lake.file_systems(name):
            ctx.journal.record_once(records.FileSystem(FILE_SYSTEM, account=name))
            ctx.log(f"create file system {FILE_SYSTEM}")
            lake.create_file_system(name, FILE_SYSTEM)
        ctx.outputs.set("datalake-fqdn", lake.uri(account.name, FILE_SYSTEM))

    def verify(self, ctx: StepContext) -> Verdict:
        name = ctx.value("storage-account")
        try:
            account = ctx.target.datalake.get_account(name)
        except NotFound:
            return Verdict.of(Check("storage account", False, f"{name} does not exist",
                                    "run this step to create it"))
        return Verdict.of(Check("storage account", True), *_account_checks(ctx, account))

    def plan(self, ctx: StepContext) -> list[Change]:
        name, lake = ctx.value("storage-account"), ctx.target.datalake
        if not _exists(lambda: lake.get_account(name)):
            return [Change("create", "storage account", name, "StorageV2, Cool, HNS on"),
                    Change("create", "file system", FILE_SYSTEM)]
        has_fs = FILE_SYSTEM in lake.file_systems(name)
        return [Change("keep", "storage account", name),
                Change("keep" if has_fs else "create", "file system", FILE_SYSTEM)]


def _account_checks(ctx: StepContext, account: StorageAccount) -> list[Check]:
    group = ctx.value("resource-group")
    return [
        _check("resource group", None if account.resource_group.lower() == group.lower() else
               f"{account.name} belongs to {account.resource_group}, not {group}",
               "storage account names are global: choose another storage-account"),
        _check("StorageV2", None if account.kind == "StorageV2" else
               f"{account.name} is {account.kind}, the lab needs StorageV2",
               "delete the account and run this step again"),
        _check("hierarchical namespace", None if account.hierarchical_namespace else
               f"{account.name} has no hierarchical namespace (Data Lake Storage Gen2 off)",
               "it cannot be turned on later: delete the account and run this step again"),
        _check("access tier", None if account.access_tier == "Cool" else
               f"{account.name} uses the {account.access_tier} tier, the lab uses Cool"),
        _check("file system", None if FILE_SYSTEM in ctx.target.datalake.file_systems(
            account.name) else f"there is no file system '{FILE_SYSTEM}' in {account.name}",
            "run this step to create it"),
    ]


# --- key vault ---------------------------------------------------------------------------


class KeyVault(InfrastructureStep):
    """One Key Vault per environment."""

    id = "key-vault"
    title = "Add the Key Vault"
    summary = "A Key Vault per environment for the secrets the notebooks and pipelines read."
    requires = ("resource-groups",)
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP, KEY_VAULT)

    def run(self, ctx: StepContext) -> None:
        name, vault = ctx.value("key-vault"), ctx.target.vault
        if _exists(lambda: vault.get_vault(name)):
            ctx.log(f"key vault {name} exists already")
        else:
            ctx.journal.record_once(records.KeyVault(name))
            ctx.log(f"create key vault {name}")
        created = vault.create_vault(ctx.value("resource-group"), name, ctx.value("location"))
        ctx.outputs.set("vault-uri", created.uri)
        ctx.outputs.set("vault-id", created.id)

    def verify(self, ctx: StepContext) -> Verdict:
        name, group = ctx.value("key-vault"), ctx.value("resource-group")
        try:
            vault = ctx.target.vault.get_vault(name)
        except NotFound:
            return Verdict.of(Check("key vault", False, f"{name} does not exist",
                                    "run this step to create it"))
        return Verdict.of(_check(
            "key vault", None if vault.resource_group.lower() == group.lower() else
            f"{name} belongs to resource group {vault.resource_group}, not {group}",
            "vault names are global: choose another key-vault"))

    def plan(self, ctx: StepContext) -> list[Change]:
        name = ctx.value("key-vault")
        return [Change("keep" if _exists(lambda: ctx.target.vault.get_vault(name))
                       else "create", "key vault", name)]


# --- databricks --------------------------------------------------------------------------


class Databricks(InfrastructureStep):
    """Premium workspace; one cluster that stops after 120 idle minutes, ML libraries on it."""

    id = "databricks"
    title = "Add the Databricks workspace and cluster"
    summary = ("Premium Databricks workspace, a cluster that terminates after 120 minutes of "
               "inactivity, with azureml-sdk and the ML libraries installed.")
    requires = ("resource-groups",)
    inputs = (PREFIX, LOCATION, RESOURCE_GROUP, DATABRICKS_WORKSPACE, CLUSTER_NAME)

    def run(self, ctx: StepContext) -> None:
        name, cluster_name = ctx.value("databricks-workspace"), ctx.value("cluster-name")
        databricks = ctx.target.databricks
        if _exists(lambda: databricks.get_workspace(name)):
            ctx.log(f"Databricks workspace {name} exists already")
        else:
            ctx.journal.record_once(records.DatabricksWorkspace(name))
            ctx.log(f"create Databricks workspace {name} (premium)")
        workspace = databricks.create_workspace(
            ctx.value("resource-group"), name, ctx.value("location"), sku="premium")
        ctx.check_cancelled()
        cluster = _find_cluster(databricks.clusters(name), cluster_name)
        if cluster is None:
            ctx.journal.record_once(records.Cluster(cluster_name, workspace=name))
            ctx.log(f"create cluster {cluster_name}: terminates after "
                    f"{AUTOTERMINATION_MINUTES} minutes of inactivity")
            cluster = databricks.create_cluster(
                name, cluster_name, node_type=NODE_TYPE, spark_version=SPARK_VERSION,
                num_workers=NUM_WORKERS, autotermination_minutes=AUTOTERMINATION_MINUTES)
        elif cluster.autotermination_minutes != AUTOTERMINATION_MINUTES:
            ctx.journal.record_once(records.ClusterAutotermination(
                cluster.cluster_id, workspace=name,
                previous=str(cluster.autotermination_minutes)))
            ctx.log(f"set cluster {cluster_name} to terminate after "
                    f"{AUTOTERMINATION_MINUTES} idle minutes")
            cluster = databricks.edit_cluster(
                name, cluster.cluster_id, autotermination_minutes=AUTOTERMINATION_MINUTES)
        ctx.check_cancelled()
        installed = {status.library for status in
                     databricks.cluster_libraries(name, cluster.cluster_id)}
        missing = [library for library in LIBRARIES if library not in installed]
        if missing:
            specs = ",".join(library.spec for library in missing)
            ctx.journal.record_once(records.ClusterLibraries(
                cluster.cluster_id, workspace=name, libraries=specs))
            ctx.log(f"install {specs.replace(',', ', ')} on {cluster_name}")
            databricks.install_libraries(name, cluster.cluster_id, missing)
        ctx.outputs.set("workspace-url", workspace.url)
        ctx.outputs.set("workspace-id", workspace.workspace_id)
        ctx.outputs.set("cluster-id", cluster.cluster_id)

    def verify(self, ctx: StepContext) -> Verdict:
        name, cluster_name = ctx.value("databricks-workspace"), ctx.value("cluster-name")
        databricks = ctx.target.databricks
        try:
            workspace = databricks.get_workspace(name)
        except NotFound:
            return Verdict.of(Check("workspace", False, f"Databricks workspace {name} does "
                                    "not exist", "run this step to create it"))
        checks = [
            Check("workspace", True),
            _check("premium tier", None if workspace.sku == "premium" else
                   f"{name} is on the {workspace.sku} tier; the lab needs Premium "
                   "(Key Vault-backed secret scopes and RBAC)"),
        ]
        cluster = _find_cluster(databricks.clusters(name), cluster_name)
        if cluster is None:
            checks.append(Check("cluster", False, f"there is no cluster {cluster_name} in {name}",
                                "run this step to create it"))
            return Verdict(tuple(checks))
        minutes = cluster.autotermination_minutes
        if minutes == 0:
            problem: str | None = (
                f"cluster {cluster_name} never terminates by itself (auto-termination is off): "
                "it keeps running, and billing, while idle")
        elif minutes != AUTOTERMINATION_MINUTES:
            problem = (f"cluster {cluster_name} terminates after {minutes} idle minutes; the lab "
                       f"uses {AUTOTERMINATION_MINUTES}")
        else:
            problem = None
        installed = {status.library for status in
                     databricks.cluster_libraries(name, cluster.cluster_id)
                     if status.status == "INSTALLED"}
        missing = [library.spec for library in LIBRARIES if library not in installed]
        recorded = ctx.outputs.get("cluster-id")
        checks += [
            Check("cluster", True),
            _check("auto-termination", problem,
                   f"set 'Terminate after {AUTOTERMINATION_MINUTES} minutes of inactivity' or "
                   "run this step again"),
            _check("libraries", f"not installed on {cluster_name}: {', '.join(missing)}"
                   if missing else None, "run this step again to install them"),
            _check("cluster id recorded", None if recorded == cluster.cluster_id else
                   "the cluster's id is not recorded for the later steps",
                   "run this step again"),
        ]
        return Verdict(tuple(checks))

    def plan(self, ctx: StepContext) -> list[Change]:
        name, cluster_name = ctx.value("databricks-workspace"), ctx.value("cluster-name")
        databricks = ctx.target.databricks
        if not _exists(lambda: databricks.get_workspace(name)):
            return [Change("create", "Databricks workspace", name, "premium"),
                    Change("create", "cluster", cluster_name,
                           f"auto-termination {AUTOTERMINATION_MINUTES} minutes"),
                    *(Change("create", "library", lib.spec) for lib in LIBRARIES)]
        changes = [Change("keep", "Databricks workspace", name)]
        cluster = _find_cluster(databricks.clusters(name), cluster_name)
        if cluster is None:
            return [*changes, Change("create", "cluster", cluster_name),
                    *(Change("create", "library", lib.spec) for lib in LIBRARIES)]
        changes.append(Change(
            "keep" if cluster.autotermination_minutes == AUTOTERMINATION_MINUTES else "change",
            "cluster", cluster_name, f"auto-termination {AUTOTERMINATION_MINUTES} minutes"))
        installed = {s.library for s in databricks.cluster_libraries(name, cluster.cluster_id)}
        changes += [Change("keep" if lib in installed else "create", "library", lib.spec)
                    for lib in LIBRARIES]
        return changes


def _find_cluster(clusters: Iterable[Cluster], name: str) -> Cluster | None:
    return next((cluster for cluster in clusters if cluster.name == name), None)


# --- upload data -------------------------------------------------------------------------


class UploadData(InfrastructureStep):
    """AdultCensusIncome.csv into the `datalake` file system."""

    id = "upload-data"
    title = "Add the initial data to the data lake"
    summary = "Upload AdultCensusIncome.csv to the 'datalake' file system."
    requires = ("data-lake",)
    inputs = (PREFIX, STORAGE_ACCOUNT, DATA_FILE, DATA_URL)

    def run(self, ctx: StepContext) -> None:
        account, lake = ctx.value("storage-account"), ctx.target.datalake
        source, origin = self._source(ctx)
        try:
            data = source.read_bytes()
        except OSError as exc:  # a failing disk: name the file, which the error does not
            from labtui.faults import describe_os_error

            raise StepError(f"{source} cannot be read: {describe_os_error(exc)}"
                            ) from None
        header, rows = census.describe(data)
        problem = census.header_problem(header)
        if problem:
            raise StepError(f"{origin} is not the lab's {census.FILE_NAME}: {problem}")
        exists = any(f.path == census.FILE_NAME for f in lake.list_files(account, FILE_SYSTEM))
        if not exists:
            ctx.journal.record_once(records.DatalakeFile(
                census.FILE_NAME, account=account, file_system=FILE_SYSTEM))
        ctx.log(f"upload {census.FILE_NAME} ({rows:,} rows, from {origin})")
        lake.upload(account, FILE_SYSTEM, census.FILE_NAME, source)
        ctx.outputs.set("rows", str(rows))
        ctx.outputs.set("source", origin)

    def _source(self, ctx: StepContext) -> tuple[Path, str]:
        """The file to upload: data-file, else a download, else a generated sample."""
        given = ctx.values.get("data-file", "").strip()
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise StepError(f"data-file {path} does not exist or is not a file")
            return path, str(path)
        url = ctx.value("data-url")
        download = ctx.artifacts / census.FILE_NAME
        partial = download.with_name(download.name + ".part")
        try:
            ctx.log(f"download {url}")
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, \
                    open(partial, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            os.replace(partial, download)
            header, _ = census.describe(download.read_bytes()[:4096])
            problem = census.header_problem(header)
            if problem is None:
                return download, url
            ctx.log.warn(f"{url} did not return the lab's file ({problem})")
        except (OSError, ValueError) as exc:
            partial.unlink(missing_ok=True)
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            ctx.log.warn(f"cannot download {url} ({reason})")
        sample = ctx.artifacts / f"sample-{census.FILE_NAME}"
        census.write_sample(sample)
        ctx.log.warn(f"using a generated sample of {census.SAMPLE_ROWS:,} rows with the lab "
                     "file's columns (give data-file to use the real file)")
        return sample, "a generated sample"

    def verify(self, ctx: StepContext) -> Verdict:
        account, lake = ctx.value("storage-account"), ctx.target.datalake
        try:
            data = lake.read(account, FILE_SYSTEM, census.FILE_NAME)
        except NotFound:
            return Verdict.of(Check("file", False, f"{census.FILE_NAME} is not in "
                                    f"{lake.uri(account, FILE_SYSTEM)}",
                                    "run this step to upload it"))
        header, rows = census.describe(data)
        expected = ctx.outputs.get("rows")
        if expected is None:
            count_problem: str | None = "no upload of this file is recorded"
        elif str(rows) != expected:
            count_problem = f"the file has {rows:,} rows, {int(expected):,} were uploaded"
        else:
            count_problem = None
        return Verdict.of(
            Check("file", True),
            _check("header", census.header_problem(header), "run this step again"),
            _check("rows", count_problem, "run this step again to upload it"),
        )


    def plan(self, ctx: StepContext) -> list[Change]:
        return self._plan(ctx, forced=False)

    def forced_plan(self, ctx: StepContext) -> list[Change]:
        return self._plan(ctx, forced=True)  # a forced run uploads the file again

    def _plan(self, ctx: StepContext, *, forced: bool) -> list[Change]:
        account, lake = ctx.value("storage-account"), ctx.target.datalake
        ref = f"{account}/{FILE_SYSTEM}/{census.FILE_NAME}"
        if not forced and self.verify(ctx).ok:
            return [Change("keep", "data lake file", ref, f"{ctx.outputs.get('rows')} rows")]
        given = ctx.values.get("data-file", "").strip()
        source = given or f"{ctx.value('data-url')} (offline: a generated sample)"
        try:
            exists = any(f.path == census.FILE_NAME
                         for f in lake.list_files(account, FILE_SYSTEM))
        except NotFound:
            exists = False
        return [Change("change" if exists else "create", "data lake file", ref,
                       f"uploaded from {source}")]


# --- CLI profiles ------------------------------------------------------------------------


class CliProfiles(InfrastructureStep):
    """A token profile per workspace in `.databrickscfg`, as `databricks configure` writes.

    The token is `databricks-token` when the attendee gives one; otherwise the workspace
    issues one (as "Generate new token" does) and the step keeps it as its secret output
    `token`. A token already in the profile that the workspace accepts is kept.
    """

    id = "cli-profiles"
    title = "Configure the Databricks CLI profiles"
    summary = ("Write a token profile for the workspace to ~/.databrickscfg (read by both "
               "Databricks CLIs and databricks-sdk), with your token or one the workspace "
               "issues.")
    requires = ("databricks",)
    inputs = (PREFIX, DATABRICKS_WORKSPACE, DATABRICKS_PROFILE, DATABRICKS_TOKEN)

    def _usable_token(self, ctx: StepContext, existing: Profile | None) -> str | None:
        """The token the profile should hold without issuing one: the given one, else the
        one this step kept, else the profile's own, if the workspace accepts them."""
        given = ctx.values.get("databricks-token", "")
        if given:
            return given
        workspace, databricks = ctx.value("databricks-workspace"), ctx.target.databricks
        for candidate in (ctx.outputs.get("token"), existing.token if existing else None):
            if candidate and databricks.check_token(workspace, candidate):
                return candidate
        return None

    def _existing(self, ctx: StepContext) -> Profile | None:
        try:
            return ctx.target.databricks.read_profile(ctx.value("databricks-profile"))
        except NotFound:
            return None

    def run(self, ctx: StepContext) -> None:
        databricks = ctx.target.databricks
        profile, workspace = ctx.value("databricks-profile"), ctx.value("databricks-workspace")
        host = databricks.get_workspace(workspace).url
        existing = self._existing(ctx)
        moved = existing is not None and existing.host.rstrip("/") != host
        if moved and existing is not None and not databricks.check_token(workspace,
                                                                         existing.token):
            raise StepError(
                f"profile [{profile}] in {databricks.profile_file()} is for another "
                f"workspace ({existing.host}); choose another databricks-profile")
        token = self._usable_token(ctx, existing)
        if token is None:
            token = _issue_token(ctx, workspace, f"labtui cli-profiles [{profile}]")
        if not ctx.values.get("databricks-token"):
            ctx.outputs.set("token", token, secret=True)
        if existing is None:
            ctx.journal.record_once(records.DatabricksProfile(profile))
            ctx.log(f"add profile [{profile}] for {host} to {databricks.profile_file()}")
        elif moved:  # its token is this workspace's: the workspace's address changed
            ctx.log(f"point profile [{profile}] at {host} (it had {existing.host})")
        elif existing.token == token:
            ctx.log(f"profile [{profile}] is already set up")
            return
        else:
            ctx.log(f"update the token of profile [{profile}]")
        databricks.write_profile(profile, host, token)

    def verify(self, ctx: StepContext) -> Verdict:
        databricks = ctx.target.databricks
        profile, workspace = ctx.value("databricks-profile"), ctx.value("databricks-workspace")
        try:
            host = databricks.get_workspace(workspace).url
        except NotFound as exc:
            return Verdict.of(Check("workspace", False, str(exc), "run the databricks step"))
        path = databricks.profile_file()
        try:
            found = databricks.read_profile(profile)
        except NotFound:
            return Verdict.of(Check("profile", False, f"there is no [{profile}] in {path}",
                                    "run this step to add it"))
        given = ctx.values.get("databricks-token", "")
        if given:
            token_problem = None if hmac.compare_digest(found.token.encode(), given.encode()) \
                else f"[{profile}] holds another token than databricks-token"
        else:
            token_problem = None if databricks.check_token(workspace, found.token) else (
                f"{workspace} does not accept the token in [{profile}] (revoked, expired or "
                "never issued by it)")
        loose = path.stat().st_mode & 0o077
        return Verdict.of(
            Check("profile", True),
            _check("host", None if found.host.rstrip("/") == host else
                   f"[{profile}] points at {found.host}, not {host}", "run this step again"),
            _check("token", token_problem, "run this step again to write a token"),
            _check("file permissions", f"{path} can be read by other users ({oct(loose)})"
                   if loose else None, f"chmod 600 {path}"),
        )

    def plan(self, ctx: StepContext) -> list[Change]:
        databricks = ctx.target.databricks
        profile, workspace = ctx.value("databricks-profile"), ctx.value("databricks-workspace")
        path = str(databricks.profile_file())
        existing = self._existing(ctx)
        try:
            token = self._usable_token(ctx, existing)
        except NotFound:  # no workspace yet: the databricks step makes it first
            token = ctx.values.get("databricks-token") or None
        changes = [] if token else [Change("create", "access token", workspace,
                                           "issued by the workspace for the profile")]
        if existing is None:
            return [*changes, Change("create", "CLI profile", profile, path)]
        try:
            host = databricks.get_workspace(workspace).url
        except NotFound:
            host = existing.host.rstrip("/")
        if existing.host.rstrip("/") != host:
            return [*changes, Change("change", "CLI profile", profile, f"{path}: host {host}")]
        same = token is not None and existing.token == token
        return [*changes, Change("keep" if same else "change", "CLI profile", profile,
                                 path if same else f"{path}: a new token")]


# --- service principal -------------------------------------------------------------------


class ServicePrincipal(InfrastructureStep):
    """The service principal notebooks mount the data lake with: ACL rwx + default on
    `datalake`, and "Storage Blob Data Contributor" on the account."""

    id = "service-principal"
    title = "Create the service principal and give it the data lake"
    summary = ("az ad sp create-for-rbac; rwx and default ACL on 'datalake'; role Storage "
               "Blob Data Contributor on the storage account.")
    requires = ("data-lake",)
    inputs = (PREFIX, TENANT_ID, STORAGE_ACCOUNT, SERVICE_PRINCIPAL)

    def run(self, ctx: StepContext) -> None:
        principals, lake = ctx.target.principals, ctx.target.datalake
        name, tenant = ctx.value("service-principal"), ctx.value("tenant-id")
        account = lake.get_account(ctx.value("storage-account"))
        try:
            principal = principals.find_service_principal(name)
        except NotFound:
            ctx.journal.record_once(records.ServicePrincipal(name))
            ctx.log(f"create service principal {name}")
            principal = principals.create_service_principal(name, tenant)
            if principal.password is None:
                raise StepError(f"the target created {name} without a password") from None
            password = ctx.secret(principal.password)
        else:
            if principal.tenant_id.lower() != tenant.lower():
                raise StepError(f"service principal {name} belongs to tenant "
                                f"{principal.tenant_id}, not to tenant-id {tenant}")
            known = ctx.outputs.get("sp-password")
            if known is not None and principals.check_password(principal.app_id, known):
                password = known
            else:
                # The password is shown only once; without it, make a new one (as
                # `az ad sp credential reset` does) rather than leave the lab without it.
                ctx.log(f"service principal {name} exists; reset its password")
                password = ctx.secret(principals.reset_password(principal.app_id))
        ctx.outputs.set("sp-app-id", principal.app_id)
        ctx.outputs.set("sp-object-id", principal.object_id)
        ctx.outputs.set("sp-password", password, secret=True)
        # What the lab has attendees copy next to the app id (the secrets step stores it too).
        ctx.outputs.set("sp-token-endpoint",
                        f"https://login.microsoftonline.com/{tenant}/oauth2/token")
        ctx.check_cancelled()
        wanted = _acl_for(principal.object_id)
        if not set(wanted) <= set(lake.get_acl(account.name, FILE_SYSTEM)):
            ctx.journal.record_once(records.DatalakeAcl(
                principal.object_id, account=account.name, file_system=FILE_SYSTEM))
            ctx.log(f"give {name} read, write and execute on {FILE_SYSTEM}, also as default")
            lake.update_acl(account.name, FILE_SYSTEM, "", wanted)
        if not _has_role(ctx, principal.object_id, account.id):
            ctx.journal.record_once(records.RoleAssignment(
                f"{ROLE} on {account.name}", principal=principal.object_id, role=ROLE,
                scope=account.id))
            ctx.log(f"assign {ROLE} on {account.name} to {name}")
            principals.assign_role(principal.object_id, ROLE, account.id)

    def verify(self, ctx: StepContext) -> Verdict:
        principals, lake = ctx.target.principals, ctx.target.datalake
        name, tenant = ctx.value("service-principal"), ctx.value("tenant-id")
        try:
            principal = principals.find_service_principal(name)
        except NotFound:
            return Verdict.of(Check("service principal", False, f"{name} does not exist",
                                    "run this step to create it"))
        password = ctx.outputs.get("sp-password")
        signs_in = password is not None and principals.check_password(principal.app_id, password)
        checks = [
            Check("service principal", True),
            _check("tenant", None if principal.tenant_id.lower() == tenant.lower() else
                   f"{name} is in tenant {principal.tenant_id}, not {tenant}"),
            _check("app id recorded", None if ctx.outputs.get("sp-app-id") == principal.app_id
                   else "the app id is not recorded for the secrets step", "run this step again"),
            _check("password", None if signs_in else
                   "the recorded password does not sign in (or none is recorded)",
                   "run this step again: it resets the password"),
        ]
        try:
            account = lake.get_account(ctx.value("storage-account"))
            acl = set(lake.get_acl(account.name, FILE_SYSTEM))
        except NotFound as exc:
            return Verdict((*checks, Check("data lake access", False, str(exc),
                                           "run the data-lake step")))
        missing = [str(entry) for entry in _acl_for(principal.object_id) if entry not in acl]
        checks += [
            _check("data lake ACL", f"{FILE_SYSTEM} lacks {', '.join(missing)}"
                   if missing else None, "run this step again"),
            _check("role", None if _has_role(ctx, principal.object_id, account.id) else
                   f"{name} does not have {ROLE} on {account.name}", "run this step again"),
        ]
        return Verdict(tuple(checks))


    def plan(self, ctx: StepContext) -> list[Change]:
        name, account = ctx.value("service-principal"), ctx.value("storage-account")
        acl = f"{FILE_SYSTEM}: rwx, also as default"
        role = f"{ROLE} on {account}"
        if not _exists(lambda: ctx.target.principals.find_service_principal(name)):
            return [Change("create", "service principal", name, "with a new password"),
                    Change("create", "data lake ACL", acl), Change("create", "role assignment",
                                                                  role)]
        failed = {check.name for check in self.verify(ctx).failed}
        no_lake = "data lake access" in failed
        return [
            Change("change" if "password" in failed else "keep", "service principal", name,
                   "a new password (the recorded one does not sign in)"
                   if "password" in failed else ""),
            Change("create" if no_lake or "data lake ACL" in failed else "keep",
                   "data lake ACL", acl),
            Change("create" if no_lake or "role" in failed else "keep", "role assignment",
                   role),
        ]


def _acl_for(object_id: str) -> list[AclEntry]:
    return [AclEntry("access", "user", object_id, "rwx"),
            AclEntry("default", "user", object_id, "rwx")]


def _has_role(ctx: StepContext, principal_id: str, scope: str) -> bool:
    return any(a.principal_id == principal_id and a.role == ROLE
               for a in ctx.target.principals.role_assignments(scope))


# --- secret scope ------------------------------------------------------------------------


class SecretScope(InfrastructureStep):
    """The Key Vault-backed secret scope `data-lake` in the Databricks workspace."""

    id = "secret-scope"
    title = "Create the Key Vault-backed secret scope"
    summary = "Secret scope 'data-lake' in Databricks, backed by the environment's Key Vault."
    requires = ("key-vault", "databricks")
    inputs = (PREFIX, DATABRICKS_WORKSPACE, KEY_VAULT)

    def run(self, ctx: StepContext) -> None:
        databricks, workspace = ctx.target.databricks, ctx.value("databricks-workspace")
        vault = ctx.target.vault.get_vault(ctx.value("key-vault"))
        if not any(scope.name == SCOPE for scope in databricks.secret_scopes(workspace)):
            ctx.journal.record_once(records.SecretScope(SCOPE, workspace=workspace))
            ctx.log(f"create secret scope {SCOPE} backed by {vault.uri}")
        databricks.create_secret_scope(workspace, SCOPE, vault=vault)

    def verify(self, ctx: StepContext) -> Verdict:
        databricks, workspace = ctx.target.databricks, ctx.value("databricks-workspace")
        try:
            vault = ctx.target.vault.get_vault(ctx.value("key-vault"))
            scopes = {scope.name: scope for scope in databricks.secret_scopes(workspace)}
        except NotFound as exc:
            return Verdict.of(Check("secret scope", False, str(exc),
                                    "run the key-vault and databricks steps"))
        scope = scopes.get(SCOPE)
        if scope is None:
            return Verdict.of(Check("secret scope", False,
                                    f"there is no secret scope {SCOPE} in {workspace}",
                                    "run this step to create it"))
        return Verdict.of(
            Check("secret scope", True),
            _check("backed by the key vault", None if scope.backend == "AZURE_KEYVAULT" and
                   scope.vault_id.lower() == vault.id.lower() else
                   f"scope {SCOPE} is backed by {scope.vault_id or 'Databricks'}, "
                   f"not by {vault.name}",
                   "delete the scope and run this step again"),
        )

    def plan(self, ctx: StepContext) -> list[Change]:
        workspace = ctx.value("databricks-workspace")
        try:
            names = [s.name for s in ctx.target.databricks.secret_scopes(workspace)]
        except NotFound:
            names = []
        return [Change("keep" if SCOPE in names else "create", "secret scope", SCOPE,
                       f"backed by {ctx.value('key-vault')}")]


# --- secrets -----------------------------------------------------------------------------


class Secrets(InfrastructureStep):
    """The secrets notebooks and pipelines read through the `data-lake` scope."""

    id = "secrets"
    title = "Add the secrets to the Key Vault"
    summary = ("sp-tenant-id, sp-app-id, sp-password, sp-token-endpoint, datalake-fqdn, "
               "subscription-id, resource-group, ml-workspace-name, alg-state, created-by; "
               "for pipeline also what the build pipeline needs.")
    requires = ("key-vault", "service-principal", "secret-scope", "ml-workspace")
    inputs = (PREFIX, TENANT_ID, SUBSCRIPTION_ID, CREATED_BY, RESOURCE_GROUP, ML_WORKSPACE,
              STORAGE_ACCOUNT, KEY_VAULT, DATABRICKS_WORKSPACE, DATABRICKS_TOKEN,
              COMPUTE_NAME, MODEL_NAME, IMAGE_NAME)

    LAB_SECRETS: ClassVar[tuple[str, ...]] = (
        "sp-tenant-id", "sp-app-id", "sp-password", "sp-token-endpoint", "datalake-fqdn",
        "subscription-id", "resource-group", "ml-workspace-name", "alg-state", "created-by",
    )
    PIPELINE_SECRETS: ClassVar[tuple[str, ...]] = (
        "compute-name", "db-workspace-name", "db-access-token", "db-cluster-id", "model-name",
        "image-name",
    )

    def _db_token(self, ctx: StepContext, *, issue: bool) -> str:
        """The pipeline's Databricks token: databricks-token if given, else a token the
        workspace accepts that this step or cli-profiles kept, else (in a run) a new one."""
        given = ctx.values.get("databricks-token", "")
        if given:
            return given
        workspace, databricks = ctx.value("databricks-workspace"), ctx.target.databricks
        kept = (ctx.outputs.get("db-access-token"), ctx.outputs.get("token", step="cli-profiles"))
        try:
            usable = next((t for t in kept if t and databricks.check_token(workspace, t)), None)
        except NotFound as exc:
            raise StepError(f"{exc}: run the databricks step first") from None
        if usable is None:
            if not issue:
                raise StepError("no Databricks token for db-access-token yet: run this step "
                                "(the workspace issues one) or give databricks-token")
            usable = _issue_token(ctx, workspace, "labtui secrets db-access-token")
        if issue and usable != kept[0]:
            ctx.outputs.set("db-access-token", usable, secret=True)
        return usable

    def wanted(self, ctx: StepContext, *, issue: bool = False) -> dict[str, str]:
        """Secret name -> value, for this environment. With `issue`, a missing Databricks
        token is issued (in a run); without it, that is an error (in verify and plan)."""
        tenant = ctx.value("tenant-id")

        def output(name: str, step: str) -> str:
            value = ctx.outputs.get(name, step=step)
            if value is None:
                raise StepError(f"{name} is not recorded: run the {step} step first")
            return value

        # The two reads that are round trips go together.
        reads = [partial(ctx.target.datalake.uri, ctx.value("storage-account"), FILE_SYSTEM)]
        if ctx.env == "pipeline":
            reads.append(partial(self._db_token, ctx, issue=issue))
        fqdn, *token = ctx.gather(*reads)
        values = {
            "sp-tenant-id": tenant,
            "sp-app-id": output("sp-app-id", "service-principal"),
            "sp-password": output("sp-password", "service-principal"),
            "sp-token-endpoint": f"https://login.microsoftonline.com/{tenant}/oauth2/token",
            "datalake-fqdn": fqdn,
            "subscription-id": ctx.value("subscription-id"),
            "resource-group": ctx.value("resource-group"),
            "ml-workspace-name": ctx.value("ml-workspace-name"),
            "alg-state": ctx.env or "",
            "created-by": ctx.value("created-by"),
        }
        if ctx.env == "pipeline":
            values.update({
                "compute-name": ctx.value("compute-name"),
                "db-workspace-name": ctx.value("databricks-workspace"),
                "db-access-token": token[0],
                "db-cluster-id": output("cluster-id", "databricks"),
                "model-name": ctx.value("model-name"),
                "image-name": ctx.value("image-name"),
            })
        return values

    def _compare(self, ctx: StepContext, wanted: dict[str, str],
                 *with_them: Callable[[], object]) -> tuple[list[str], list[str]]:
        """Names of the secrets missing from the vault, and of those with another value.
        `with_them` are other reads made in the same round trip (their errors raised)."""
        vault, store = ctx.value("key-vault"), ctx.target.vault

        def state(name: str) -> str:
            try:
                value = store.get_secret(vault, name)
            except NotFound:
                return "missing"
            return "same" if hmac.compare_digest(value.encode(), wanted[name].encode()) \
                else "different"

        answers = ctx.gather(*with_them, *(partial(state, name) for name in wanted))
        states = dict(zip(wanted, answers[len(with_them):], strict=True))
        return ([n for n, s in states.items() if s == "missing"],
                [n for n, s in states.items() if s == "different"])

    def run(self, ctx: StepContext) -> None:
        wanted = self.wanted(ctx, issue=True)
        vault, store = ctx.value("key-vault"), ctx.target.vault
        deleted_secrets: list[str] = []

        def list_deleted() -> None:
            deleted_secrets.extend(secret.name for secret in store.list_deleted_secrets(vault))

        # The vault first: a missing one is the error named.
        missing, different = self._compare(ctx, wanted, partial(store.get_vault, vault),
                                           list_deleted)
        deleted = set(deleted_secrets)
        ours = {entry.ref for entry in ctx.journal.entries() if entry.kind == "vault-secret"}
        for name in missing:
            if name in deleted:
                # Deleted but recoverable: Key Vault refuses to set it until it is recovered.
                ctx.log(f"recover the deleted secret {name}")
                if name not in ours:
                    # Someone else's: rollback puts it back as it was, deleted but recoverable.
                    ctx.journal.record_once(records.RecoveredSecret(name, vault=vault))
                store.recover_deleted_secret(vault, name)
            else:
                ctx.journal.record_once(records.VaultSecret(name, vault=vault))
        todo = missing + different
        if not todo:
            ctx.log("every secret is in place")
            return
        ctx.check_cancelled()
        total = len(todo)
        written: list[str] = []
        lock = threading.Lock()

        def write(name: str) -> str | None:
            try:
                store.set_secret(vault, name, wanted[name])
            except TargetError as error:
                return f"{name} ({error})"
            with lock:
                written.append(name)
                ctx.progress(len(written), total, name)
            return None

        ctx.log(f"set {total} secret{'s' if total != 1 else ''} in {vault}: {', '.join(todo)}")
        failures = [failure for failure in ctx.gather(*(partial(write, n) for n in todo))
                    if failure is not None]
        if failures:
            raise StepError(f"could not set {len(failures)} secret(s) in {vault}: "
                            + "; ".join(failures))

    def verify(self, ctx: StepContext) -> Verdict:
        try:
            wanted = self.wanted(ctx)
        except StepError as exc:
            return Verdict.of(Check("inputs", False, str(exc)))
        vault, workspace = ctx.value("key-vault"), ctx.value("databricks-workspace")
        vault_missing: list[str] = []
        listing: list[set[str] | NotFound] = []

        def find_vault() -> None:
            try:
                ctx.target.vault.get_vault(vault)
            except NotFound as exc:
                vault_missing.append(str(exc))

        def list_scope() -> None:
            try:
                listing.append(set(ctx.target.databricks.scope_secrets(workspace, SCOPE)))
            except NotFound as exc:
                listing.append(exc)

        # The vault, the scope's listing and the values: one round trip.
        missing, different = self._compare(ctx, wanted, find_vault, list_scope)
        if vault_missing:
            return Verdict.of(Check("key vault", False, vault_missing[0],
                                    "run the key-vault step"))
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        if different:
            problems.append(f"different value: {', '.join(different)}")
        checks = [_check(f"secrets in {vault}", "; ".join(problems) or None,
                         "run this step to set them")]

        # Databricks lets only a notebook read a secret's value (dbutils); from outside, the
        # scope lists the names and the vault behind it holds the values (checked above).
        listed = listing[0]
        if isinstance(listed, NotFound):
            checks.append(Check(f"listed by scope {SCOPE}", False, str(listed),
                                "run the secret-scope step"))
            return Verdict(tuple(checks))
        unlisted = [name for name in wanted if name not in listed]
        checks.append(_check(f"listed by scope {SCOPE}",
                             f"not listed: {', '.join(unlisted)}" if unlisted else None,
                             "run the secret-scope step, then this one"))
        return Verdict(tuple(checks))

    def rollback(self, ctx: StepContext) -> None:
        """Each entry stands alone (a secret, a recovered secret, the pipeline's token): they
        are undone together, one round trip instead of one per secret."""

        def undo(entry: JournalEntry) -> None:
            entry.record.undo(ctx)
            ctx.journal.forget(entry)

        ctx.gather(*(partial(undo, entry) for entry in reversed(ctx.journal.entries())))

    def plan(self, ctx: StepContext) -> list[Change]:
        try:
            wanted = self.wanted(ctx)
            missing, different = self._compare(ctx, wanted)
        except (StepError, NotFound):
            return [Change("create", "secret", name) for name in self.LAB_SECRETS]
        return [Change("create" if name in missing else "change" if name in different
                       else "keep", "secret", name) for name in wanted]
