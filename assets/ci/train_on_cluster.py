"""Train the model on the pipeline environment's Databricks cluster, as the build pipeline's
first task does.

It imports the training notebook of this checkout into the workspace, submits it as a
one-time run on the existing cluster, waits for it and reads the notebook's exit value (the
model it registered, its metrics). The model files the notebook wrote are copied next to the
inference code (Project_One/model), where the image build expects them, and the registered
version is handed to the tasks after this one as the pipeline variable `modelVersion`.

Settings come from the environment, as the databricks CLI and SDK read them:
DATABRICKS_HOST (the workspace URL) and DATABRICKS_TOKEN (the variable group's
db-access-token, mapped through the task's `env:`: a secret is never in the environment
otherwise). The token is never printed.

    python3 ci/train_on_cluster.py --cluster-id ID --work-dir DIR
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import shutil
import sys
from pathlib import Path

NOTEBOOK = "Project_One/notebooks/train_model.py"
WORKSPACE_PATH = "/Shared/Project_One/train_model_ci"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster-id", required=True)
    parser.add_argument("--work-dir", required=True, type=Path,
                        help="the folder the notebook writes its outputs to")
    parser.add_argument("--sources", default=".", type=Path)
    parser.add_argument("--timeout-minutes", default=30, type=float)
    args = parser.parse_args()

    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service import jobs
    from databricks.sdk.service.workspace import ImportFormat, Language

    client = WorkspaceClient()  # DATABRICKS_HOST and DATABRICKS_TOKEN
    source = (args.sources / NOTEBOOK).read_text(encoding="utf-8")
    client.workspace.import_(WORKSPACE_PATH, content=base64.b64encode(source.encode()).decode(),
                             format=ImportFormat.SOURCE, language=Language.PYTHON,
                             overwrite=True)
    print(f"imported {NOTEBOOK} as {WORKSPACE_PATH}")
    if args.work_dir.exists():
        shutil.rmtree(args.work_dir)
    print(f"submitting {WORKSPACE_PATH} on cluster {args.cluster_id}", flush=True)
    run = client.jobs.submit(
        run_name="build pipeline: train the model",
        tasks=[jobs.SubmitTask(
            task_key="train", existing_cluster_id=args.cluster_id,
            notebook_task=jobs.NotebookTask(notebook_path=WORKSPACE_PATH, base_parameters={
                "work_dir": str(args.work_dir.resolve())}))],
    ).result(timeout=datetime.timedelta(minutes=args.timeout_minutes))
    task_run = run.tasks[0].run_id if run.tasks else run.run_id
    output = client.jobs.get_run_output(task_run)
    if run.state is None or run.state.result_state != jobs.RunResultState.SUCCESS:
        reason = (output.error or (run.state.state_message if run.state else "") or
                  "the run did not succeed").strip().splitlines()[0]
        print(f"##vso[task.logissue type=error]training failed: {reason}")
        return 1
    if output.notebook_output is None or not output.notebook_output.result:
        print("##vso[task.logissue type=error]the notebook ended without its results "
              "(dbutils.notebook.exit)")
        return 1
    results = json.loads(output.notebook_output.result)
    model = results["model"]
    print(f"trained: MAE {results['metrics']['mae']:,.1f}, R² {results['metrics']['r2']:.4f}; "
          f"registered version {model['version']}")
    outputs = args.work_dir / "outputs"
    model_folder = args.sources / "Project_One" / "model"
    if model_folder.exists():
        shutil.rmtree(model_folder)
    shutil.copytree(outputs, model_folder)
    (args.work_dir / "results.json").write_text(json.dumps(
        {"model": model, "metrics": results["metrics"], "tags": results["tags"]}))
    print(f"##vso[task.setvariable variable=modelVersion]{model['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
