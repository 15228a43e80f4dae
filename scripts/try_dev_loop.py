"""Drive the lab's dev loop on this machine, end to end, and time it.

    train   run assets/Project_One/notebooks/train_model.py through labtui's local notebook
            runner (local Spark, a folder as the data lake, an MLflow SQLite registry)
    build   build the inference image from Project_One + the model files (Docker SDK)
    serve   start it, wait for "Healthy", POST the lab's sample input to /score
    test    build the test image on top, run pytest + coverage inside, copy the results out,
            parse them with labtui.reports and print the tables
    retest  change only a test file and rebuild the test image (layer caching)

A reference for the build-image and test-image steps, not a product command:

    /work/venv/bin/python scripts/try_dev_loop.py --work /tmp/devloop \
        --data ../shared/data/AdultCensusIncome.csv \
        --base-image labtui/python:3.11-bookworm --ca-bundle /etc/ssl/certs/ca-certificates.crt

Needs a Docker engine (and Java + pyspark for the training).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import labtui_assets
from docker.models.containers import Container
from rich.console import Console
from rich.text import Text

from labtui.notebook import DbutilsError, DictSecrets, MlflowSettings, NotebookRunner, parse_abfss
from labtui.reports import CoverageReport, TestReport, failure_lines, render_coverage, render_tests

SAMPLE_INPUT = {"age": 37, "hours-per-week": 40.0, "sex": "Female", "occupation": "Exec-managerial"}
ACCOUNT = "devloop"
console = Console(stderr=True)


@contextmanager
def timed(label: str, timings: dict[str, float]) -> Iterator[None]:
    start = time.monotonic()
    yield
    timings[label] = time.monotonic() - start
    console.print(f"[bold]{label}[/]: {timings[label]:.1f} s")


def train(work: Path, data: Path) -> Path:
    """Run the training notebook; returns the folder of the model files."""
    lake = work / "lake"
    lake.mkdir(parents=True, exist_ok=True)
    shutil.copy(data, lake / "AdultCensusIncome.csv")
    secrets = {
        "sp-tenant-id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "sp-app-id": "0d4f4a5e-2b7a-4c1e-9a57-1b2c3d4e5f60",
        "sp-password": "devloop-password",
        "sp-token-endpoint": "https://login.microsoftonline.com/tenant/oauth2/token",
        "datalake-fqdn": f"abfss://datalake@{ACCOUNT}.dfs.core.windows.net",
        "subscription-id": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
        "resource-group": "devloop-db-dev",
        "ml-workspace-name": "devloop-ml-dev",
        "alg-state": "dev",
        "created-by": "devloop",
    }

    def resolve(source: str, configs: Mapping[str, str]) -> Path:
        account, filesystem, path = parse_abfss(source)
        if (account, filesystem) != (ACCOUNT, "datalake"):
            raise DbutilsError(f"no such data lake: {source}")
        return lake / path

    notebook = labtui_assets.root() / "Project_One" / "notebooks" / "train_model.py"
    settings = MlflowSettings(
        f"sqlite:///{work / 'mlflow.db'}",
        experiment="train_model",
        artifact_location=(work / "mlruns").as_uri(),
    )
    with NotebookRunner(
        secrets=DictSecrets({"data-lake": secrets}), resolve_mount=resolve, work_dir=work / "nb"
    ) as runner:
        result = runner.run(
            notebook,
            parameters={"work_dir": str(work / "train")},
            mlflow=settings,
            log=lambda line: console.print(Text(f"  {line}", style="dim"), highlight=False),
        )
    console.print(f"notebook ran {len(result.cells_run)} cells in {result.seconds:.1f} s")
    return work / "train" / "outputs"


def context(source: Path, target: Path, ca_bundle: Path | None, extra: Mapping[str, Path]) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name, path in extra.items():
        shutil.copytree(path, target / name)
    if ca_bundle is not None:
        shutil.copy(ca_bundle, target / "ca-bundle.crt")
    return target


def build(client: docker.DockerClient, path: Path, tag: str, **kwargs: Any) -> str:
    """Build with the classic builder (as the Docker SDK does), streaming its output."""
    image_id = ""
    for chunk in client.api.build(path=str(path), tag=tag, rm=True, decode=True, **kwargs):
        if "stream" in chunk:
            for line in chunk["stream"].splitlines():
                if line.strip():
                    console.print(Text(f"  {line}", style="dim"), highlight=False)
        if "error" in chunk:
            raise SystemExit(f"build of {tag} failed: {chunk['error'].strip()}")
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    return image_id


def serve(client: docker.DockerClient, tag: str) -> dict[str, Any]:
    container: Container = client.containers.run(
        tag, detach=True, ports={"5001/tcp": ("127.0.0.1", None)}
    )
    try:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["5001/tcp"][0]["HostPort"]
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=5) as response:
                    console.print(f"GET / → {response.status} {response.read().decode().strip()}")
                    break
            except OSError as exc:  # refused, reset or timed out while the server starts
                if time.monotonic() > deadline:
                    logs = container.logs().decode(errors="replace")
                    raise SystemExit(f"the server did not come up: {exc}\n{logs}") from exc
                time.sleep(0.25)
        request = urllib.request.Request(
            base + "/score",
            data=json.dumps(SAMPLE_INPUT).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
        console.print(f"POST /score {SAMPLE_INPUT} → {answer}")
        return answer
    finally:
        container.remove(force=True)


def run_tests(client: docker.DockerClient, tag: str, results: Path) -> int:
    container: Container = client.containers.run(tag, detach=True)
    try:
        status = container.wait(timeout=300)["StatusCode"]
        for line in container.logs().decode(errors="replace").splitlines():
            console.print(Text(f"  {line}", style="dim"), highlight=False)
        stream, _ = container.get_archive("/var/azureml-app/test_results")
        if results.exists():
            shutil.rmtree(results)
        results.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            archive.extractall(results, filter="data")
        return int(status)
    finally:
        container.remove(force=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/labtui-devloop"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--base-image", default="python:3.11-slim")
    parser.add_argument("--ca-bundle", type=Path)
    parser.add_argument("--tag", default="labtui/worst_regression:devloop")
    parser.add_argument("--skip-train", action="store_true", help="reuse WORK/train/outputs")
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    client = docker.from_env()
    assets = labtui_assets.root()

    if args.skip_train:
        model = work / "train" / "outputs"
    else:
        with timed("train (notebook)", timings):
            model = train(work, args.data)

    inference_ctx = context(
        assets / "Project_One", work / "ctx-inference", args.ca_bundle, {"model": model}
    )
    shutil.rmtree(inference_ctx / "notebooks")
    with timed("build inference image", timings):
        build(
            client,
            inference_ctx,
            args.tag,
            buildargs={
                "BASE_IMAGE": args.base_image,
                "MODEL_NAME": "worst_regression",
                "MODEL_VERSION": "1",
            },
            labels={
                "labtui.model.name": "worst_regression",
                "labtui.model.version": "1",
                "labtui.model.tags": json.dumps({"state": "dev", "created_by": "devloop"}),
            },
        )
    with timed("serve + score", timings):
        answer = serve(client, args.tag)
    if not isinstance(answer.get("estimate"), float):
        raise SystemExit(f"no numeric estimate: {answer}")

    tests_ctx = context(assets / "Project_One-Tests", work / "ctx-tests", args.ca_bundle, {})
    test_tag = args.tag + "-tests"
    with timed("build test image", timings):
        build(client, tests_ctx, test_tag, buildargs={"INFERENCE_IMAGE": args.tag})
    with timed("run tests", timings):
        status = run_tests(client, test_tag, work / "test_results")
    out = Console()
    report = TestReport.load(work / "test_results" / "test_results" / "junit.xml")
    coverage = CoverageReport.load(work / "test_results" / "test_results" / "coverage.xml")
    out.print(render_tests(report))
    out.print(render_coverage(coverage))
    for line in failure_lines(report):
        out.print(line, markup=False, highlight=False)
    console.print(f"pytest exit status {status}")

    # Only a test file changes: the dependency layer comes from the cache.
    with (tests_ctx / "test_model.py").open("a", encoding="utf-8") as handle:
        handle.write(f"\n\ndef test_touched_{int(time.time())}():\n    assert True\n")
    with timed("rebuild test image after a test change", timings):
        build(client, tests_ctx, test_tag, buildargs={"INFERENCE_IMAGE": args.tag})
    console.print(json.dumps({k: round(v, 1) for k, v in timings.items()}))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
