"""Running notebooks on a local "cluster": the same source a Databricks workspace runs, with
`dbutils` over the sandbox's secret scopes and data lake, a local Spark session, and model
registration into the sandbox's ML workspaces.

The data lake checks the mount the way Azure does: the OAuth client id and secret from the
notebook must be a service principal of the sandbox with that password, and the principal
needs read and execute on the file system, or the mount is refused.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labtui.targets.base import Cluster, NotebookRun, NotFound, TargetError

if TYPE_CHECKING:
    from labtui.targets.local.databricks.scopes import LocalScopes
    from labtui.targets.local.datalake import LocalDataLake
    from labtui.targets.local.identity import LocalIdentity
    from labtui.targets.local.models import LocalModels
    from labtui.targets.local.sandbox import Sandbox
    from labtui.targets.resources import DatabricksHost

CLIENT_ID = "fs.azure.account.oauth2.client.id"
CLIENT_SECRET = "fs.azure.account.oauth2.client.secret"
SETTINGS_SCOPE = "data-lake"


class _ScopeSecrets:
    """`dbutils.secrets` over a workspace's secret scopes (vault-backed ones read live)."""

    def __init__(self, databricks: LocalScopes, host: DatabricksHost) -> None:
        self._databricks, self._workspace = databricks, host

    def get(self, scope: str, key: str) -> str | None:
        try:
            return self._databricks.dbutils_secret(self._workspace, scope, key)
        except NotFound:
            return None

    def keys(self, scope: str) -> Sequence[str] | None:
        try:
            return self._databricks.scope_secrets(self._workspace, scope)
        except NotFound:
            return None

    def scopes(self) -> Sequence[str]:
        return [scope.name for scope in self._databricks.secret_scopes(self._workspace)]


class NotebookHost:
    """Runs notebooks for the local Databricks port."""

    def __init__(self, sandbox: Sandbox, datalake: LocalDataLake, principals: LocalIdentity,
                 models: LocalModels) -> None:
        self._sandbox = sandbox
        self._datalake = datalake
        self._principals = principals
        self._models = models

    def _mount(self, source: str, configs: Mapping[str, str]) -> Path:
        from labtui.targets.local.datalake import dfs_endpoint
        from labtui.targets.local.notebook_runner import parse_abfss

        account, file_system, _ = parse_abfss(source)
        app_id, password = configs.get(CLIENT_ID, ""), configs.get(CLIENT_SECRET, "")
        if not app_id or not password:
            raise TargetError(f"mounting {source} needs the OAuth client id and secret "
                              "(fs.azure.account.oauth2.client.id / .secret)")
        try:
            principal = self._principals.get_service_principal(app_id)
        except NotFound:
            raise TargetError(f"the data lake refused the mount: no service principal has app "
                              f"id {app_id} (check the sp-app-id secret)") from None
        if not self._principals.check_password(app_id, password):
            raise TargetError("the data lake refused the mount: the sp-password secret is not "
                              f"the password of {principal.display_name}")
        acl = self._datalake.get_acl(dfs_endpoint(account), file_system)
        allowed = any(entry.principal == principal.object_id and entry.scope == "access"
                      and entry.permissions[0] == "r" and entry.permissions[2] == "x"
                      for entry in acl)
        if not allowed:
            raise TargetError(f"the data lake refused the mount: {principal.display_name} has "
                              f"no read/execute ACL on {file_system}")
        return self._datalake.resolve(source.rstrip("/"))

    def run(
        self,
        databricks: LocalScopes,
        host: DatabricksHost,
        workspace: str,
        cluster: Cluster,
        path: str,
        source: str,
        params: Mapping[str, str],
        log: Callable[[str], None],
        progress: Callable[[float, float, str], None],
        cancelled: threading.Event | None,
    ) -> NotebookRun:
        from labtui.masking import Masker
        from labtui.targets.local.notebook_runner import (
            MlflowSettings,
            NotebookError,
            NotebookRunner,
        )

        # As on Databricks, every value the notebook reads with dbutils.secrets is redacted
        # from its output, whether or not labtui knows it.
        masker = Masker()

        def masked_log(line: str) -> None:
            log(masker.redact(line))

        secrets = _ScopeSecrets(databricks, host)
        ml_workspace = secrets.get(SETTINGS_SCOPE, "ml-workspace-name")
        extra: dict[str, Any] = {}
        mlflow = None
        if ml_workspace is not None:
            # The notebook's experiment, as Databricks names it: the notebook's path. Made
            # here so that its artifacts (and the store's own) stay inside the workspace.
            self._models.prepare_experiment(ml_workspace, path)
            mlflow = MlflowSettings(
                tracking_uri=self._models.tracking_uri(ml_workspace), experiment=path,
                artifact_location=self._models.artifact_location(ml_workspace, path))

            def register_model(name: str, folder: str, tags: Mapping[str, str],
                               description: str = "") -> dict[str, str]:
                # The version points at the run the notebook logged its metrics and
                # parameters in (`with mlflow.start_run()` around this call).
                import mlflow as fluent

                active = fluent.active_run()
                version = self._models.register_model(
                    ml_workspace, name, Path(folder), tags, description=description,
                    run_id=active.info.run_id if active is not None else None)
                return {"name": version.name, "version": str(version.version)}

            extra["register_model"] = register_model
        work_dir = self._sandbox.folder("databricks", workspace.lower(), "clusters",
                                        cluster.cluster_id)
        run_id = uuid.uuid4().hex[:12]
        with NotebookRunner(secrets=secrets, resolve_mount=self._mount, work_dir=work_dir,
                            on_secret=masker.register) as runner:
            try:
                result = runner.run(source, name=path, parameters=params, extra_globals=extra,
                                    mlflow=mlflow, log=masked_log, progress=progress,
                                    cancelled=cancelled)
            except NotebookError as exc:
                # The attendee edits this notebook: show where their cell failed.
                for line in exc.traceback_text.splitlines():
                    masked_log(line)
                exc.args = (masker.redact(str(exc)), *exc.args[1:])
                raise
        return NotebookRun(run_id, "SUCCESS", result.exit_value, len(result.cells_run),
                           result.seconds)
