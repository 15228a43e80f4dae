"""MLflow for a notebook run: the tracking and registry settings the notebook's process sees
while it runs, and registering a model the run logged."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MlflowSettings:
    """Where a notebook's MLflow calls go during a local run.

    `tracking_uri` serves as tracking and registry store (for example `sqlite:///…/mlflow.db`);
    runs land in `experiment`, created with `artifact_location` if it does not exist yet.
    """

    tracking_uri: str
    experiment: str = "notebooks"
    artifact_location: str | None = None


@contextmanager
def mlflow_environment(settings: MlflowSettings | None) -> Iterator[None]:
    """Point MLflow's fluent API (mlflow.start_run, log_metric …) at `settings` for one run.

    MLflow reads these variables whenever no URI was set in code, which labtui never does.
    """
    if settings is None:
        yield
        return
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(settings.experiment, settings.artifact_location)
    )
    variables = {
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "MLFLOW_REGISTRY_URI": settings.tracking_uri,
        "MLFLOW_EXPERIMENT_ID": str(experiment_id),
    }
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    import mlflow

    try:
        yield
    except BaseException:
        # A run the notebook opened without `with` and left open by a failing cell.
        if mlflow.active_run() is not None:
            mlflow.end_run(status="FAILED")
        raise
    else:
        if mlflow.active_run() is not None:
            mlflow.end_run(status="FINISHED")
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


RegisterModel = Callable[[str, str, Mapping[str, str], str], dict[str, str]]
"""register_model(name, folder, tags, description) -> {"name": …, "version": …}"""


def mlflow_register_model(settings: MlflowSettings) -> RegisterModel:
    """A `register_model` for the notebook's namespace that registers a folder of model files
    in the MLflow registry of `settings`.

    The files are logged as artifacts of the active MLflow run (or of a new run) and a model
    version is created from them with the tags: a plain folder is not an MLflow model, so
    `mlflow.register_model("runs:/…")` would refuse it.
    """

    def register_model(
        name: str, folder: str, tags: Mapping[str, str], description: str = ""
    ) -> dict[str, str]:
        import mlflow
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        uri = settings.tracking_uri
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        active = mlflow.active_run()
        if active is not None:
            run_id = active.info.run_id
        else:
            experiment = client.get_experiment_by_name(settings.experiment)
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else client.create_experiment(settings.experiment, settings.artifact_location)
            )
            run_id = client.create_run(experiment_id, run_name=f"register {name}").info.run_id
        artifact_path = Path(folder).name
        client.log_artifacts(run_id, folder, artifact_path)
        try:
            client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            client.create_registered_model(name)
        source = f"{client.get_run(run_id).info.artifact_uri}/{artifact_path}"
        version = client.create_model_version(
            name, source, run_id=run_id, tags=dict(tags), description=description
        )
        if active is None:
            client.set_terminated(run_id)
        return {"name": name, "version": str(version.version)}

    return register_model
