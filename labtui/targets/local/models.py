"""Local ML workspaces: an MLflow tracking + registry store on SQLite per workspace.

MLflow is imported only when a model is registered, listed or downloaded (the import costs
about a second, and `labtui list` must stay fast). Each workspace keeps its store in
`sandbox/ml/<name>/<store>/` where `<store>` is new for every creation, so a workspace deleted
and created again never meets a store MLflow still has open.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.targets.base import Conflict, MlWorkspace, Models, ModelVersion, NotFound, TargetError
from labtui.targets.local.resource_groups import resource_id
from labtui.targets.local.sandbox import LocalPort, Sandbox, with_latency

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

EXPERIMENT = "labtui"


def _workspace(row: sqlite3.Row) -> MlWorkspace:
    return MlWorkspace(
        name=row["name"],
        resource_group=row["resource_group"],
        location=row["location"],
        id=resource_id(
            row["resource_group"], "Microsoft.MachineLearningServices/workspaces", row["name"]
        ),
    )


def _quoted(text: str, what: str) -> str:
    if "'" in text or "\\" in text:
        raise TargetError(f"{what} {text!r} must not contain quotes or backslashes")
    return f"'{text}'"


@with_latency
class LocalModels(LocalPort, Models):
    """ML workspaces of the sandbox, each with its own MLflow registry."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self._clients: dict[str, MlflowClient] = {}
        self._mlflow_lock = threading.Lock()

    def create_workspace(self, resource_group: str, name: str, location: str) -> MlWorkspace:
        with self._sandbox.transaction() as conn:
            group = conn.execute(
                "SELECT name FROM resource_groups WHERE name = ?", (resource_group,)
            ).fetchone()
            if group is None:
                raise NotFound(f"resource group {resource_group} does not exist")
            row = conn.execute("SELECT * FROM ml_workspaces WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO ml_workspaces VALUES (?, ?, ?, ?)",
                    (name, group["name"], location, secrets.token_hex(4)),
                )
                row = conn.execute(
                    "SELECT * FROM ml_workspaces WHERE name = ?", (name,)
                ).fetchone()
        workspace = _workspace(row)
        if workspace.resource_group.lower() != resource_group.lower():
            raise Conflict(
                f"ML workspace {name} belongs to resource group {workspace.resource_group}"
            )
        self._sandbox.folder("ml", row["name"].lower(), row["store"])
        return workspace

    def get_workspace(self, name: str) -> MlWorkspace:
        return _workspace(self._row(name))

    def delete_workspace(self, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            row = conn.execute("SELECT * FROM ml_workspaces WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM ml_workspaces WHERE name = ?", (name,))
        with self._mlflow_lock:
            self._clients.pop(row["store"], None)
        self._sandbox.remove_folder("ml", row["name"].lower())
        return True

    def register_model(
        self, workspace: str, name: str, source: Path, tags: Mapping[str, str]
    ) -> ModelVersion:
        if not source.is_dir():
            raise NotFound(f"the model folder {source} does not exist")
        _quoted(name, "model name")
        from mlflow.exceptions import MlflowException

        with self._mlflow_lock:
            client = self._client(workspace)
            experiment = client.get_experiment_by_name(EXPERIMENT)
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else client.create_experiment(
                    EXPERIMENT, artifact_location=self._store(workspace).joinpath(
                        "artifacts").as_uri()
                )
            )
            run = client.create_run(experiment_id, tags={"model": name})
            client.log_artifacts(run.info.run_id, str(source), artifact_path=name)
            client.set_terminated(run.info.run_id)
            try:
                client.get_registered_model(name)
            except MlflowException:
                client.create_registered_model(name)
            version = client.create_model_version(
                name,
                source=f"{run.info.artifact_uri}/{name}",
                run_id=run.info.run_id,
                tags=dict(tags),
            )
        return ModelVersion(name, int(version.version), dict(version.tags), version.source or "")

    def list_models(
        self, workspace: str, name: str | None = None, tags: Mapping[str, str] | None = None
    ) -> list[ModelVersion]:
        self._row(workspace)
        clauses = [f"name = {_quoted(name, 'model name')}"] if name else []
        for key, value in (tags or {}).items():
            if not key.replace("_", "").replace("-", "").isalnum():
                raise TargetError(f"tag name {key!r}: letters, digits, '_' and '-' only")
            clauses.append(f"tags.`{key}` = {_quoted(value, 'tag value')}")
        with self._mlflow_lock:
            client = self._client(workspace)
            found = client.search_model_versions(" and ".join(clauses) if clauses else None)
        versions = [
            ModelVersion(mv.name, int(mv.version), dict(mv.tags), mv.source or "") for mv in found
        ]
        return sorted(versions, key=lambda mv: (mv.name, mv.version))

    def download_model(
        self,
        workspace: str,
        name: str,
        destination: Path,
        *,
        version: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Path:
        candidates = [
            mv
            for mv in self.list_models(workspace, name, tags)
            if version is None or mv.version == version
        ]
        if not candidates:
            wanted = f"version {version}" if version is not None else f"tags {dict(tags or {})}"
            raise NotFound(f"model {name} has no version with {wanted} in ML workspace {workspace}")
        chosen = candidates[-1]
        from mlflow.artifacts import download_artifacts

        destination.mkdir(parents=True, exist_ok=True)
        with self._mlflow_lock:
            local = download_artifacts(
                artifact_uri=chosen.source,
                dst_path=str(destination),
                tracking_uri=self._uri(workspace),
            )
        return Path(local)

    def delete_model(self, workspace: str, name: str) -> bool:
        from mlflow.exceptions import MlflowException

        with self._mlflow_lock:
            client = self._client(workspace)
            try:
                client.delete_registered_model(name)
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return False
                raise TargetError(f"cannot delete model {name}: {exc.message}") from None
        return True

    # --- helpers -------------------------------------------------------------------------

    def tracking_uri(self, workspace: str) -> str:
        """The MLflow tracking and registry URI of a workspace (for the notebook runner)."""
        return self._uri(workspace)

    def _row(self, name: str) -> sqlite3.Row:
        rows = self._sandbox.query("SELECT * FROM ml_workspaces WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"ML workspace {name} does not exist")
        return rows[0]

    def _store(self, workspace: str) -> Path:
        row = self._row(workspace)
        return self._sandbox.folder("ml", row["name"].lower(), row["store"])

    def _uri(self, workspace: str) -> str:
        return f"sqlite:///{self._store(workspace) / 'mlflow.db'}"

    def _client(self, workspace: str) -> MlflowClient:
        row = self._row(workspace)
        client = self._clients.get(row["store"])
        if client is None:
            from mlflow.tracking import MlflowClient

            # MLflow announces creating its tables on stderr, past the step's log.
            logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
            uri = self._uri(workspace)
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            self._clients[row["store"]] = client
        return client
