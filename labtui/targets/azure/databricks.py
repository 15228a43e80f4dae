"""The Databricks port over azure-mgmt-databricks (the workspace) and databricks-sdk (what is
inside it: clusters, libraries, secret scopes, tokens, notebooks, runs).

The workspace is Premium with classic compute (`compute_mode="Hybrid"`, which azure-mgmt-
databricks 3 needs for the lab's clusters) and a managed resource group of its own. Its REST
API is called with the target's Microsoft Entra token for the AzureDatabricks application,
with the workspace's resource id in `X-Databricks-Azure-Workspace-Resource-Id` (so a service
principal that is no workspace user yet is added, as Azure Databricks does).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from labtui.targets.azure.account import token_claims
from labtui.targets.azure.endpoints import Endpoints
from labtui.targets.azure.sdk_errors import translate
from labtui.targets.errors import Conflict, NotFound, TargetError, Transient
from labtui.targets.ports.databricks import Databricks
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    AccessToken,
    Cluster,
    DatabricksWorkspace,
    GitCredential,
    GitFolder,
    KeyVault,
    Library,
    LibraryStatus,
    NotebookRun,
    ResourceRef,
    SecretScope,
)

AZURE_DATABRICKS_APP = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"
"""The AzureDatabricks first-party application: the audience of tokens for every workspace."""
DATABRICKS_SCOPE = f"{AZURE_DATABRICKS_APP}/.default"
RESOURCE_HEADER = "X-Databricks-Azure-Workspace-Resource-Id"
USER_TOKEN_NEEDED = (
    "a Key Vault-backed secret scope can be made only with a Microsoft Entra user's token, "
    "not a service principal's or a personal access token: sign in as a user "
    "(--azure-credential cli after `az login`, or device-code) for this step")
TERMINAL = {"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}
LIBRARY_KINDS = ("pypi", "maven", "jar", "whl", "egg", "requirements")


def managed_group(ref: ResourceRef) -> str:
    """The id of the workspace's managed resource group (the portal's shape, no random part,
    so a retried create asks for the same one)."""
    name = f"databricks-rg-{ref.name}"[:90]
    return f"/subscriptions/{ref.subscription}/resourceGroups/{name}"


class AzureDatabricks(Databricks):
    """Azure Databricks workspaces in one subscription, and their REST APIs."""

    def __init__(self, credential: Any, endpoints: Endpoints, subscription_id: str, *,
                 data_plane: str | None = None) -> None:
        self.credential = credential
        self.endpoints = endpoints
        self.subscription_id = subscription_id
        self.data_plane = data_plane.rstrip("/") if data_plane else None
        """Where every workspace's REST API is reached instead of its own host (a proxy, or
        loopback fakes); None: the workspace's https://adb-….azuredatabricks.net."""
        self.backoff_factor = 0.8
        """Resource Manager calls: azure-core's back-off factor between its retries of a
        429 or 503 that names no Retry-After (0 s, then twice the factor, doubling)."""
        self.poll_seconds = 10.0
        """How often a workspace creation is polled when Resource Manager names no
        Retry-After, and a notebook run while it runs."""
        self.retry_seconds = 300
        """How long databricks-sdk keeps retrying a throttled or unavailable call."""
        self._mgmt: dict[str, Any] = {}
        self._known: dict[str, DatabricksWorkspace] = {}
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- the SDK clients -------------------------------------------------------------------


    def close(self) -> None:
        """Close the management clients this port built (databricks-sdk's workspace clients
        hold a requests session each, released with them)."""
        with self._lock:
            clients, self._mgmt, self._clients = list(self._mgmt.values()), {}, {}
        for client in clients:
            client.close()
    def _workspaces(self, subscription: str) -> Any:
        from azure.mgmt.databricks import AzureDatabricksManagementClient

        with self._lock:
            key = subscription.lower()
            if key not in self._mgmt:
                self._mgmt[key] = AzureDatabricksManagementClient(
                    self.credential, subscription, base_url=self.endpoints.arm,
                    credential_scopes=[self.endpoints.arm_scope],
                    transport=self.endpoints.transport(),
                    retry_backoff_factor=self.backoff_factor)
            return self._mgmt[key].workspaces

    def _remember(self, found: Any) -> DatabricksWorkspace:
        props = found.properties
        state = _text(props.provisioning_state)
        if state in ("Deleting", "Deleted"):
            raise NotFound(f"Databricks workspace {found.name} is being deleted")
        url = str(props.workspace_url or "")
        workspace = DatabricksWorkspace(
            ref=ResourceRef.parse(str(found.id)), location=str(found.location),
            sku=_text(found.sku.name).lower() if found.sku else "",
            workspace_id=str(props.workspace_id or ""),
            url=f"https://{url}" if url and "://" not in url else url)
        with self._lock:
            self._known[workspace.name.lower()] = workspace
        return workspace

    def _workspace(self, name: str) -> DatabricksWorkspace:
        with self._lock:
            known = self._known.get(name.lower())
        if known is not None:
            return known
        with self._sdk(f"Databricks workspace {name}"):
            for found in self._workspaces(self.subscription_id).list_by_subscription():
                if str(found.name).lower() == name.lower():
                    return self._remember(found)
        raise NotFound(f"Databricks workspace {name} was not found in subscription "
                       f"{self.subscription_id}")

    def _client(self, name: str) -> Any:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config

        workspace = self._workspace(name)
        with self._lock:
            key = workspace.name.lower()
            if key not in self._clients:
                host = self.data_plane or workspace.url
                self._clients[key] = WorkspaceClient(config=Config(
                    host=host, credentials_strategy=_entra(self.credential, workspace.id),
                    retry_timeout_seconds=self.retry_seconds))
            return self._clients[key]

    @contextmanager
    def _sdk(self, what: str) -> Iterator[None]:
        try:
            yield
        except TargetError:
            raise
        except Exception as exc:
            raise _translate(exc, what) from None

    # -- workspaces (Resource Manager) -----------------------------------------------------

    def create_workspace(self, ref: ResourceRef, location: str, *, sku: str = "premium"
                         ) -> DatabricksWorkspace:
        from azure.mgmt.databricks.models import Sku, Workspace, WorkspaceProperties

        what = f"Databricks workspace {ref.name}"
        try:
            existing = self.get_workspace(ref)
        except NotFound:
            existing = None
        if existing is not None:
            if existing.sku != sku.lower():
                raise Conflict(f"{what} exists with the {existing.sku} tier (not {sku.lower()})")
            if existing.location.replace(" ", "").lower() != location.replace(" ", "").lower():
                raise Conflict(f"{what} exists in {existing.location} (not {location})")
            return existing
        body = Workspace(location=location, sku=Sku(name=sku.lower()),
                         properties=WorkspaceProperties(
                             compute_mode="Hybrid", managed_resource_group_id=managed_group(ref)))
        with self._sdk(what):
            made = self._workspaces(ref.subscription).begin_create_or_update(
                ref.resource_group, ref.name, body, polling_interval=self.poll_seconds).result()
        return self._remember(made)

    def get_workspace(self, ref: ResourceRef) -> DatabricksWorkspace:
        with self._sdk(f"Databricks workspace {ref.name} in resource group {ref.resource_group}"):
            found = self._workspaces(ref.subscription).get(ref.resource_group, ref.name)
        return self._remember(found)

    def delete_workspace(self, ref: ResourceRef) -> bool:
        try:
            self.get_workspace(ref)
        except NotFound:
            return False
        with self._sdk(f"Databricks workspace {ref.name}"):
            self._workspaces(ref.subscription).begin_delete(
                ref.resource_group, ref.name, polling_interval=self.poll_seconds).result()
        with self._lock:
            self._known.pop(ref.name.lower(), None)
            self._clients.pop(ref.name.lower(), None)
        return True

    # -- clusters --------------------------------------------------------------------------

    def create_cluster(self, workspace: str, name: str, *, node_type: str, spark_version: str,
                       num_workers: int, autotermination_minutes: int) -> Cluster:
        w = self._client(workspace)
        with self._sdk(f"cluster {name} of Databricks workspace {workspace}"):
            waiter = w.clusters.create(
                cluster_name=name, node_type_id=node_type, spark_version=spark_version,
                num_workers=num_workers, autotermination_minutes=autotermination_minutes)
            cluster_id = waiter.response.cluster_id
        return self.get_cluster(workspace, str(cluster_id))

    def clusters(self, workspace: str) -> list[Cluster]:
        w = self._client(workspace)
        with self._sdk(f"Databricks workspace {workspace}"):
            found = [_cluster(c) for c in w.clusters.list()]
        return sorted(found, key=lambda c: (c.name, c.cluster_id))

    def get_cluster(self, workspace: str, cluster_id: str) -> Cluster:
        w = self._client(workspace)
        with self._sdk(f"cluster {cluster_id} of Databricks workspace {workspace}"):
            return _cluster(w.clusters.get(cluster_id))

    def edit_cluster(self, workspace: str, cluster_id: str, *, autotermination_minutes: int
                     ) -> Cluster:
        from databricks.sdk.service.compute import UpdateClusterResource

        w = self._client(workspace)
        with self._sdk(f"cluster {cluster_id} of Databricks workspace {workspace}"):
            w.clusters.update(cluster_id, "autotermination_minutes",
                              cluster=UpdateClusterResource(
                                  autotermination_minutes=autotermination_minutes))
        return self.get_cluster(workspace, cluster_id)

    def delete_cluster(self, workspace: str, cluster_id: str) -> bool:
        try:
            self.get_cluster(workspace, cluster_id)
        except NotFound:
            return False
        w = self._client(workspace)
        with self._sdk(f"cluster {cluster_id} of Databricks workspace {workspace}"):
            w.clusters.permanent_delete(cluster_id)
        return True

    # -- libraries -------------------------------------------------------------------------

    def install_libraries(self, workspace: str, cluster_id: str, libraries: Sequence[Library]
                          ) -> None:
        w = self._client(workspace)
        with self._sdk(f"libraries of cluster {cluster_id} in Databricks workspace {workspace}"):
            w.libraries.install(cluster_id, [_sdk_library(lib) for lib in libraries])

    def cluster_libraries(self, workspace: str, cluster_id: str) -> list[LibraryStatus]:
        w = self._client(workspace)
        with self._sdk(f"libraries of cluster {cluster_id} in Databricks workspace {workspace}"):
            statuses = list(w.libraries.cluster_status(cluster_id))
        return [LibraryStatus(_library(s.library), _text(s.status)) for s in statuses]

    def uninstall_libraries(self, workspace: str, cluster_id: str,
                            libraries: Sequence[Library]) -> None:
        installed = {s.library for s in self.cluster_libraries(workspace, cluster_id)}
        gone = [lib for lib in libraries if lib in installed]
        if not gone:
            return
        w = self._client(workspace)
        with self._sdk(f"libraries of cluster {cluster_id} in Databricks workspace {workspace}"):
            w.libraries.uninstall(cluster_id, [_sdk_library(lib) for lib in gone])

    # -- secret scopes ---------------------------------------------------------------------

    def create_secret_scope(self, workspace: str, name: str, *, vault: KeyVault | None = None
                            ) -> SecretScope:
        from databricks.sdk.service.workspace import (
            AzureKeyVaultSecretScopeMetadata,
            ScopeBackendType,
        )

        what = f"secret scope {name} of Databricks workspace {workspace}"
        existing = {s.name: s for s in self.secret_scopes(workspace)}
        wanted = SecretScope(name, "AZURE_KEYVAULT" if vault else "DATABRICKS",
                             vault.uri if vault else "", vault.id if vault else "")
        if name in existing:
            has = existing[name]
            if (has.backend, has.vault_id.lower()) != (wanted.backend, wanted.vault_id.lower()):
                shown = has.vault_id or has.backend
                raise Conflict(f"{what} exists backed by {shown} "
                               f"(not {wanted.vault_id or wanted.backend})")
            return has
        kwargs: dict[str, Any] = {}
        if vault is not None:
            if not self._signed_in_as_user():
                raise TargetError(f"{what}: {USER_TOKEN_NEEDED}")
            kwargs = {"scope_backend_type": ScopeBackendType.AZURE_KEYVAULT,
                      "backend_azure_keyvault": AzureKeyVaultSecretScopeMetadata(
                          resource_id=vault.id, dns_name=vault.uri)}
        w = self._client(workspace)
        with self._sdk(what):
            w.secrets.create_scope(name, **kwargs)
        return wanted

    def _signed_in_as_user(self) -> bool:
        token = self.credential.get_token(DATABRICKS_SCOPE).token
        claims = token_claims(token)
        return claims.get("idtyp") == "user" or bool(claims.get("upn") or claims.get("scp"))

    def secret_scopes(self, workspace: str) -> list[SecretScope]:
        w = self._client(workspace)
        with self._sdk(f"Databricks workspace {workspace}"):
            scopes = list(w.secrets.list_scopes())
        found = []
        for scope in scopes:
            meta = scope.keyvault_metadata
            backend = "AZURE_KEYVAULT" if _text(scope.backend_type) == "AZURE_KEYVAULT" \
                else "DATABRICKS"
            found.append(SecretScope(str(scope.name), backend,  # type: ignore[arg-type]
                                     str(meta.dns_name or "") if meta else "",
                                     str(meta.resource_id or "") if meta else ""))
        return sorted(found, key=lambda s: s.name)

    def delete_secret_scope(self, workspace: str, name: str) -> bool:
        if name not in {s.name for s in self.secret_scopes(workspace)}:
            return False
        w = self._client(workspace)
        with self._sdk(f"secret scope {name} of Databricks workspace {workspace}"):
            w.secrets.delete_scope(name)
        return True

    def scope_secrets(self, workspace: str, scope: str) -> list[str]:
        w = self._client(workspace)
        with self._sdk(f"secret scope {scope} of Databricks workspace {workspace}"):
            return sorted(str(s.key) for s in w.secrets.list_secrets(scope))

    # -- personal access tokens ------------------------------------------------------------

    def create_token(self, workspace: str, comment: str, *,
                     lifetime_seconds: int | None = None) -> AccessToken:
        w = self._client(workspace)
        with self._sdk(f"a token of Databricks workspace {workspace}"):
            made = w.tokens.create(comment=comment, lifetime_seconds=lifetime_seconds)
        info = _token(made.token_info)
        return AccessToken(info.token_id, info.comment, info.created, info.expires,
                           value=str(made.token_value))

    def tokens(self, workspace: str) -> list[AccessToken]:
        w = self._client(workspace)
        with self._sdk(f"the tokens of Databricks workspace {workspace}"):
            found = [_token(t) for t in w.tokens.list()]
        return sorted(found, key=lambda t: (t.created, t.token_id))

    def check_token(self, workspace: str, value: str) -> bool:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config
        from databricks.sdk.errors import PermissionDenied, Unauthenticated

        found = self._workspace(workspace)
        probe = WorkspaceClient(config=Config(host=self.data_plane or found.url, token=value,
                                              auth_type="pat",
                                              retry_timeout_seconds=self.retry_seconds))
        with self._sdk(f"a token of Databricks workspace {workspace}"):
            try:
                list(probe.tokens.list())
            except (Unauthenticated, PermissionDenied):
                return False
        return True

    def delete_token(self, workspace: str, token_id: str) -> bool:
        if token_id not in {t.token_id for t in self.tokens(workspace)}:
            return False
        w = self._client(workspace)
        with self._sdk(f"token {token_id} of Databricks workspace {workspace}"):
            w.tokens.delete(token_id)
        return True

    # -- notebooks -------------------------------------------------------------------------

    def import_notebook(self, workspace: str, path: str, source: str) -> None:
        from databricks.sdk.errors import NotFound as SdkNotFound
        from databricks.sdk.service.workspace import ImportFormat

        w = self._client(workspace)
        content = base64.b64encode(source.encode("utf-8")).decode("ascii")
        with self._sdk(f"notebook {path} of Databricks workspace {workspace}"):
            def put() -> None:
                w.workspace.import_(path, content=content, format=ImportFormat.SOURCE,
                                    language=_language(source), overwrite=True)
            try:
                put()
            except SdkNotFound:
                # Databricks wants the folder first.
                w.workspace.mkdirs(path.rsplit("/", 1)[0] or "/")
                put()

    def notebook_source(self, workspace: str, path: str) -> str:
        from databricks.sdk.service.workspace import ExportFormat

        w = self._client(workspace)
        with self._sdk(f"notebook {path} of Databricks workspace {workspace}"):
            exported = w.workspace.export(path, format=ExportFormat.SOURCE)
        return base64.b64decode(exported.content or "").decode("utf-8")

    def delete_notebook(self, workspace: str, path: str) -> bool:
        from databricks.sdk.errors import NotFound as SdkNotFound

        w = self._client(workspace)
        with self._sdk(f"notebook {path} of Databricks workspace {workspace}"):
            try:
                w.workspace.delete(path)
            except SdkNotFound:
                return False
        return True

    # -- Git integration: the user's Git credential and Git folders (the Repos API) --------

    def set_git_provider(self, workspace: str, credential: GitCredential | None) -> None:
        w = self._client(workspace)
        with self._sdk(f"the Git credential of Databricks workspace {workspace}"):
            existing = list(w.git_credentials.list())
            if credential is None:
                for found in existing:
                    w.git_credentials.delete(found.credential_id)
                return
            given = {"git_provider": credential.provider,
                     "git_username": credential.username or None,
                     "personal_access_token": credential.token}
            if existing:
                w.git_credentials.update(existing[0].credential_id, **given)
            else:
                w.git_credentials.create(**given)

    def git_provider(self, workspace: str) -> GitCredential | None:
        w = self._client(workspace)
        with self._sdk(f"the Git credential of Databricks workspace {workspace}"):
            existing = list(w.git_credentials.list())
        if not existing:
            return None
        return GitCredential(str(existing[0].git_provider or ""),
                             str(existing[0].git_username or ""))

    def _folders(self, workspace: str, prefix: str | None = None) -> list[Any]:
        w = self._client(workspace)
        with self._sdk(f"the Git folders of Databricks workspace {workspace}"):
            return list(w.repos.list(path_prefix=prefix))

    def _folder(self, workspace: str, path: str) -> Any:
        for found in self._folders(workspace, path):
            if str(found.path).rstrip("/") == path.rstrip("/"):
                return found
        raise NotFound(f"Git folder {path} of Databricks workspace {workspace} was not found")

    def create_git_folder(self, workspace: str, path: str, url: str,
                          provider: str) -> GitFolder:
        try:
            found = self._folder(workspace, path)
        except NotFound:
            found = None
        if found is not None:
            if str(found.url).rstrip("/") != url.rstrip("/"):
                raise Conflict(f"Git folder {path} of Databricks workspace {workspace} holds "
                               f"{found.url} (not {url})")
            return _git_folder(found)
        w = self._client(workspace)
        with self._sdk(f"Git folder {path} of Databricks workspace {workspace}"):
            made = w.repos.create(url=url, provider=provider, path=path)
        return _git_folder(made)

    def update_git_folder(self, workspace: str, path: str, branch: str) -> GitFolder:
        found = self._folder(workspace, path)
        w = self._client(workspace)
        with self._sdk(f"Git folder {path} of Databricks workspace {workspace}"):
            w.repos.update(found.id, branch=branch)
            return _git_folder(w.repos.get(found.id))

    def git_folder(self, workspace: str, path: str) -> GitFolder:
        return _git_folder(self._folder(workspace, path))

    def git_folders(self, workspace: str) -> list[GitFolder]:
        return sorted((_git_folder(f) for f in self._folders(workspace)), key=lambda f: f.path)

    def delete_git_folder(self, workspace: str, path: str) -> bool:
        try:
            found = self._folder(workspace, path)
        except NotFound:
            return False
        w = self._client(workspace)
        with self._sdk(f"Git folder {path} of Databricks workspace {workspace}"):
            w.repos.delete(found.id)
        return True

    # -- runs ------------------------------------------------------------------------------

    def run_notebook(
        self, workspace: str, cluster_id: str, path: str, *,
        params: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda line: None,
        progress: Callable[[float, float, str], None] = lambda done, total, text: None,
        cancelled: threading.Event | None = None,
    ) -> NotebookRun:
        from databricks.sdk.service.jobs import NotebookTask, SubmitTask

        from labtui.step import Cancelled

        self.get_cluster(workspace, cluster_id)
        self.notebook_source(workspace, path)  # NotFound before a run is made
        w = self._client(workspace)
        what = f"the run of {path} in Databricks workspace {workspace}"
        started = time.monotonic()
        with self._sdk(what):
            run_id = w.jobs.submit(run_name=f"labtui {path}", tasks=[SubmitTask(
                task_key="notebook", existing_cluster_id=cluster_id,
                notebook_task=NotebookTask(notebook_path=path,
                                           base_parameters=dict(params or {})))]).run_id
        log(f"run {run_id} submitted: {path} on cluster {cluster_id}")
        seen = ""
        while True:
            with self._sdk(what):
                run = w.jobs.get_run(run_id)
            state = run.state
            life = _text(state.life_cycle_state) if state else ""
            if life != seen:
                log(f"run {run_id}: {life}")
                progress(0.0, 1.0, life.lower())
                seen = life
            if life in TERMINAL:
                break
            if cancelled is not None and cancelled.is_set():
                with self._sdk(what):
                    w.jobs.cancel_run(run_id)
                raise Cancelled(f"{what} was cancelled")
            if cancelled is not None:
                cancelled.wait(self.poll_seconds)
            else:
                time.sleep(self.poll_seconds)
        result = _text(state.result_state) if state else ""
        task_run = (run.tasks or [run])[0]
        with self._sdk(what):
            output = w.jobs.get_run_output(task_run.run_id)
        if result != "SUCCESS":
            message = (state.state_message if state else "") or output.error or result
            raise TargetError(f"{what} failed: {' '.join(str(message).split())[:300]}")
        progress(1.0, 1.0, "done")
        exit_value = output.notebook_output.result if output.notebook_output else None
        return NotebookRun(str(run_id), result, exit_value,
                           seconds=round(time.monotonic() - started, 3))


# -- what the SDKs answer, as the port describes it -----------------------------------------


def _entra(credential: Any, resource_id: str) -> Any:
    """databricks-sdk's way to sign each call with the target's Entra token."""
    from databricks.sdk.credentials_provider import CredentialsStrategy

    class EntraToken(CredentialsStrategy):
        def auth_type(self) -> str:
            return "azure-entra-token"

        def __call__(self, cfg: Any) -> Any:
            def headers() -> dict[str, str]:
                token = credential.get_token(DATABRICKS_SCOPE).token
                return {"Authorization": f"Bearer {token}", RESOURCE_HEADER: resource_id}
            return headers

    return EntraToken()


def _translate(exc: BaseException, what: str) -> TargetError:
    from databricks.sdk.errors import (
        InvalidParameterValue,
        ResourceAlreadyExists,
        ResourceDoesNotExist,
    )
    from databricks.sdk.errors import NotFound as SdkNotFound
    from databricks.sdk.errors.base import DatabricksError

    if isinstance(exc, TimeoutError):
        # databricks-sdk's retries of 429, 503 and dropped connections ran out of time.
        return Transient(f"{what}: Databricks kept refusing or did not answer, still after "
                         f"the SDK's retries ({' '.join(str(exc).split())[:120]})")
    if not isinstance(exc, DatabricksError):
        return translate(exc, what)
    message = " ".join(str(exc).split())[:300]
    code = str(getattr(exc, "error_code", "") or "")
    if isinstance(exc, (SdkNotFound, ResourceDoesNotExist)) or (
            isinstance(exc, InvalidParameterValue) and "does not exist" in message):
        return NotFound(f"{what} was not found: {message}")
    if isinstance(exc, ResourceAlreadyExists):
        return Conflict(f"{what}: {message}")
    if code in ("REQUEST_LIMIT_EXCEEDED", "TEMPORARILY_UNAVAILABLE") or \
            code.startswith("TOO_MANY") or "timed out" in message:
        return Transient(f"{what}: Databricks is busy, still after the SDK's retries: "
                         f"{message}")
    return TargetError(f"{what}: {message}" + (f" ({code})" if code and code not in message
                                                else ""))


def _git_folder(repo: Any) -> GitFolder:
    return GitFolder(path=str(repo.path or ""), url=str(repo.url or ""),
                     provider=str(repo.provider or ""), branch=str(repo.branch or ""),
                     head_commit=str(repo.head_commit_id or ""))


def _text(value: Any) -> str:
    """An SDK enum's wire value (str() of one is its Python name)."""
    return str(getattr(value, "value", value) or "")


def _cluster(info: Any) -> Cluster:
    return Cluster(cluster_id=str(info.cluster_id), name=str(info.cluster_name or ""),
                   node_type=str(info.node_type_id or ""),
                   spark_version=str(info.spark_version or ""),
                   num_workers=int(info.num_workers or 0),
                   autotermination_minutes=int(info.autotermination_minutes or 0),
                   state=_text(info.state))


def _sdk_library(library: Library) -> Any:
    from databricks.sdk.service.compute import Library as SdkLibrary
    from databricks.sdk.service.compute import MavenLibrary, PythonPyPiLibrary

    if library.kind == "pypi":
        return SdkLibrary(pypi=PythonPyPiLibrary(package=library.spec))
    if library.kind == "maven":
        return SdkLibrary(maven=MavenLibrary(coordinates=library.spec))
    if library.kind in LIBRARY_KINDS:
        given: dict[str, Any] = {library.kind: library.spec}
        return SdkLibrary(**given)
    raise TargetError(f"a {library.kind} library cannot be installed on Databricks: "
                      f"one of {', '.join(LIBRARY_KINDS)}")


def _library(sdk: Any) -> Library:
    if sdk.pypi is not None:
        return Library("pypi", str(sdk.pypi.package))
    if sdk.maven is not None:
        return Library("maven", str(sdk.maven.coordinates))
    for kind in LIBRARY_KINDS:
        value = getattr(sdk, kind, None)
        if isinstance(value, str):
            return Library(kind, value)
    return Library("unknown", str(sdk.as_dict()))


def _token(info: Any) -> AccessToken:
    expiry = int(info.expiry_time or 0)
    return AccessToken(str(info.token_id), str(info.comment or ""),
                       int(info.creation_time or 0) / 1000,
                       expiry / 1000 if expiry > 0 else None)


def _language(source: str) -> Any:
    from databricks.sdk.service.workspace import Language

    head = source.lstrip().split("\n", 1)[0]
    if head.startswith("--"):
        return Language.SQL
    if head.startswith("//"):
        return Language.SCALA
    return Language.PYTHON


__all__ = ["DATABRICKS_WORKSPACES", "AzureDatabricks", "managed_group"]
