"""Local ML workspaces: an MLflow tracking + registry store on SQLite per workspace.

Each workspace keeps its store in `sandbox/ml/<name>/<store>/`, where `<store>` is new for
every creation, so a workspace deleted and created again never meets a store MLflow still has
open. The store's database is `mlflow.db`; every experiment keeps its artifacts under
`artifacts/` beside it, so nothing a run logs lands outside the workspace.

Writes (registering, deleting) go through MLflow's client. Reads — listing versions and
fetching their files, which every verify of the Dev loop does — read the registry's tables
and the artifact folders directly: importing MLflow and opening its store cost about two
seconds a process, which a proctor's status pass over a room paid once per attendee.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labtui.targets.base import Conflict, MlWorkspace, Models, ModelVersion, NotFound, TargetError
from labtui.targets.local.sandbox import LocalPort, Sandbox, with_latency
from labtui.targets.resources import ML_WORKSPACES, ResourceRef

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

EXPERIMENT = "labtui"
"""Where a registration without a training run gets a run of its own."""
DELETED_STAGE = "Deleted_Internal"
"""MLflow's stage of a model version it deleted but still keeps a row for."""


def _quoted(text: str, what: str) -> str:
    if "'" in text or "\\" in text:
        raise TargetError(f"{what} {text!r} must not contain quotes or backslashes")
    return f"'{text}'"


def _folder_name(experiment: str) -> str:
    """A folder name for an experiment's artifacts ("/Shared/x" → "Shared-x")."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", experiment).strip("-.") or "experiment"


@with_latency
class LocalModels(LocalPort, Models):
    """ML workspaces of the sandbox, each with its own MLflow registry."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self._clients: dict[str, MlflowClient] = {}
        self._mlflow_lock = threading.Lock()

    def create_workspace(self, ref: ResourceRef, location: str) -> MlWorkspace:
        if ref.type.lower() != ML_WORKSPACES.lower():
            raise TargetError(f"{ref.id} is not a Machine Learning workspace ({ML_WORKSPACES})")
        name = ref.name
        with self._sandbox.transaction() as conn:
            group = self._sandbox.group_row(conn, ref)
            row = conn.execute("SELECT * FROM ml_workspaces WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO ml_workspaces VALUES (?, ?, ?, ?)",
                    (name, group["name"], location, secrets.token_hex(4)),
                )
                row = conn.execute(
                    "SELECT * FROM ml_workspaces WHERE name = ?", (name,)
                ).fetchone()
        workspace = self._workspace(row)
        if workspace.resource_group.lower() != ref.resource_group.lower():
            raise Conflict(
                f"ML workspace {name} belongs to resource group {workspace.resource_group}"
            )
        self._sandbox.folder("ml", row["name"].lower(), row["store"])
        return workspace

    def get_workspace(self, ref: ResourceRef) -> MlWorkspace:
        return self._workspace(self._sandbox.resource_row(
            ref, ML_WORKSPACES, "ml_workspaces", "ML workspace"))

    def delete_workspace(self, ref: ResourceRef) -> bool:
        with self._sandbox.transaction() as conn:
            try:
                row = self._sandbox.resource_row(ref, ML_WORKSPACES, "ml_workspaces",
                                                 "ML workspace", conn)
            except NotFound:
                return False
            conn.execute("DELETE FROM ml_workspaces WHERE name = ?", (row["name"],))
        with self._mlflow_lock:
            self._clients.pop(row["store"], None)
        self._sandbox.remove_folder("ml", row["name"].lower())
        return True

    def _workspace(self, row: sqlite3.Row) -> MlWorkspace:
        return MlWorkspace(
            ref=self._sandbox.ref(row["resource_group"], ML_WORKSPACES, row["name"]),
            location=row["location"],
        )

    def register_model(
        self, workspace: str, name: str, source: Path, tags: Mapping[str, str], *,
        description: str = "", run_id: str | None = None,
    ) -> ModelVersion:
        if not source.is_dir():
            raise NotFound(f"the model folder {source} does not exist")
        _quoted(name, "model name")
        from mlflow.exceptions import MlflowException

        with self._mlflow_lock:
            client = self._client(workspace)
            own_run = run_id is None
            if run_id is None:
                experiment_id = self._experiment_id(client, workspace, EXPERIMENT)
                run_id = client.create_run(experiment_id, tags={"model": name}).info.run_id
            try:
                run = client.get_run(run_id)
            except MlflowException:
                raise NotFound(f"run {run_id} does not exist in ML workspace {workspace}"
                               ) from None
            client.log_artifacts(run_id, str(source), artifact_path=name)
            if own_run:
                client.set_terminated(run_id)
            try:
                client.get_registered_model(name)
            except MlflowException:
                client.create_registered_model(name)
            version = client.create_model_version(
                name,
                source=f"{run.info.artifact_uri}/{name}",
                run_id=run_id,
                tags=dict(tags),
                description=description or None,
            )
        return ModelVersion(name, int(version.version), dict(version.tags), version.source or "")

    def list_models(
        self, workspace: str, name: str | None = None, tags: Mapping[str, str] | None = None
    ) -> list[ModelVersion]:
        self._row(workspace)
        if name is not None:
            _quoted(name, "model name")
        for key, value in (tags or {}).items():
            if not key.replace("_", "").replace("-", "").isalnum():
                raise TargetError(f"tag name {key!r}: letters, digits, '_' and '-' only")
            _quoted(value, "tag value")
        versions = [version for version in self._read_versions(workspace, name)
                    if all(version.tags.get(key) == value for key, value in (tags or {}).items())]
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
        files = self._local_artifacts(workspace, chosen)
        destination.mkdir(parents=True, exist_ok=True)
        target = destination / files.name
        shutil.copytree(files, target, dirs_exist_ok=True)
        return target

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

    def delete_experiment(self, workspace: str, name: str) -> bool:
        self._row(workspace)
        if not self._database(workspace).exists():
            return False
        from mlflow.entities import ViewType

        with self._mlflow_lock:
            client = self._client(workspace)
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                return False
            runs = client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)
            store = self._tracking_store(client)
            # What `mlflow gc` does: a deleted MLflow run or experiment keeps its rows (and its
            # name stays taken) until they are removed for good.
            for run in runs:
                if run.info.lifecycle_stage != "deleted":
                    client.delete_run(run.info.run_id)
                store._hard_delete_run(run.info.run_id)
            client.delete_experiment(experiment.experiment_id)
            store._hard_delete_experiment(experiment.experiment_id)
        folder = self._file_path(workspace, experiment.artifact_location)
        if folder is not None and folder.exists():
            shutil.rmtree(folder)
        return True

    # --- helpers -------------------------------------------------------------------------

    def tracking_uri(self, workspace: str) -> str:
        """The MLflow tracking and registry URI of a workspace (for the notebook runner)."""
        return self._uri(workspace)

    def artifact_location(self, workspace: str, experiment: str) -> str:
        """Where an experiment of this workspace keeps its runs' artifacts (a file: URI inside
        the workspace's store)."""
        return (self._store(workspace) / "artifacts" / _folder_name(experiment)).as_uri()

    def prepare_experiment(self, workspace: str, experiment: str) -> str:
        """The id of the experiment, created with its artifacts inside the store if new."""
        with self._mlflow_lock:
            return self._experiment_id(self._client(workspace), workspace, experiment)

    def _experiment_id(self, client: MlflowClient, workspace: str, experiment: str) -> str:
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            return str(found.experiment_id)
        return str(client.create_experiment(
            experiment, artifact_location=self.artifact_location(workspace, experiment)))

    def _row(self, name: str) -> sqlite3.Row:
        rows = self._sandbox.query("SELECT * FROM ml_workspaces WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"ML workspace {name} does not exist")
        return rows[0]

    def _store(self, workspace: str) -> Path:
        row = self._row(workspace)
        return self._sandbox.folder("ml", row["name"].lower(), row["store"])

    def _database(self, workspace: str) -> Path:
        return self._store(workspace) / "mlflow.db"

    def _uri(self, workspace: str) -> str:
        return f"sqlite:///{self._database(workspace)}"

    def _read_versions(self, workspace: str, name: str | None) -> list[ModelVersion]:
        """The registry's live versions (of `name`) straight from MLflow's tables."""
        database = self._database(workspace)
        if not database.exists():
            return []  # nothing was ever registered here
        where = "current_stage != ?" + (" AND name = ?" if name is not None else "")
        params: tuple[Any, ...] = (DELETED_STAGE, name) if name is not None else (DELETED_STAGE,)
        try:
            conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=30)
            try:
                rows = conn.execute(
                    f"SELECT name, version, source FROM model_versions WHERE {where}", params
                ).fetchall()
                tag_rows = conn.execute(
                    "SELECT name, version, key, value FROM model_version_tags"
                    + (" WHERE name = ?" if name is not None else ""),
                    params[1:],
                ).fetchall()
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # the store exists but MLflow has not made its tables yet
            raise TargetError(f"cannot read the model registry of {workspace}: {exc}") from None
        tags: dict[tuple[str, int], dict[str, str]] = {}
        for model, version, key, value in tag_rows:
            tags.setdefault((model, int(version)), {})[key] = value
        return [ModelVersion(model, int(version), tags.get((model, int(version)), {}),
                             source or "") for model, version, source in rows]

    def _file_path(self, workspace: str, uri: str) -> Path | None:
        """The local path of a file: URI, when it lies inside the workspace's store."""
        import urllib.parse
        import urllib.request

        parsed = urllib.parse.urlparse(uri)
        if parsed.scheme != "file":
            return None
        path = Path(urllib.request.url2pathname(parsed.path)).resolve()
        store = self._store(workspace).resolve()
        return path if path.is_relative_to(store) else None

    def _local_artifacts(self, workspace: str, version: ModelVersion) -> Path:
        folder = self._file_path(workspace, version.source)
        if folder is None:
            raise TargetError(f"model {version.name} version {version.version} has its files "
                              f"outside ML workspace {workspace}'s store: {version.source}")
        if not folder.is_dir():
            raise NotFound(f"the files of model {version.name} version {version.version} are "
                           f"gone from {folder}")
        return folder

    def _client(self, workspace: str) -> MlflowClient:
        row = self._row(workspace)
        client = self._clients.get(row["store"])
        if client is None:
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
            from mlflow.tracking import MlflowClient

            # MLflow announces creating its tables on stderr, past the step's log.
            logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
            uri = self._uri(workspace)
            if not self._database(workspace).exists():
                # A new store makes its "Default" experiment with the artifact root it is
                # given, which MLflow's client would take from the current folder.
                store = SqlAlchemyStore(  # type: ignore[no-untyped-call]
                    uri, self.artifact_location(workspace, "Default"))
                store.engine.dispose()
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            self._clients[row["store"]] = client
        return client

    @staticmethod
    def _tracking_store(client: MlflowClient) -> Any:
        return client._tracking_client.store
