"""The lab's assets: shipped with the package, the provider behind score.py, and the two
images (inference and tests) built and run on a real Docker engine."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import labtui_assets
import numpy as np
import pytest
from labtui_assets import sample_data
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

from labtui.reports import CoverageReport, TestReport
from tests.conftest import require

ASSETS = labtui_assets.root()
SAMPLE_INPUT = {"age": 37, "hours-per-week": 40.0, "sex": "Female", "occupation": "Exec-managerial"}
BASE_IMAGE = os.environ.get("LABTUI_BASE_IMAGE", "labtui/python:3.11-bookworm")
CA_BUNDLE = Path(os.environ.get("LABTUI_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
IMAGE = "labtui-test/worst_regression:pytest"

LAYOUT = [
    "Project_One/score.py",
    "Project_One/inference_code/__init__.py",
    "Project_One/inference_code/model_provider.py",
    "Project_One/notebooks/train_model.py",
    "Project_One/requirements.txt",
    "Project_One/Dockerfile",
    "Project_One-Tests/test_model.py",
    "Project_One-Tests/requirements.txt",
    "Project_One-Tests/Dockerfile",
]


def train_model_files(folder: Path, rows: int = 500) -> Path:
    """The three model files as the notebook writes them, trained on the sample data
    (without Spark: these tests are about serving, not training)."""
    data = np.array(
        [[float(row[0]), float(row[12]), float(row[2])] for row in sample_data.rows(rows)]
    )
    x_scaler = StandardScaler().fit(data[:, :2])
    y_scaler = StandardScaler().fit(data[:, 2:])
    model = LinearRegression().fit(
        x_scaler.transform(data[:, :2]), y_scaler.transform(data[:, 2:]).ravel()
    )
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(x_scaler, folder / "x_scaler.pkl")
    joblib.dump(model, folder / "model.pkl")
    joblib.dump(y_scaler, folder / "y_scaler.pkl")
    return folder


@pytest.fixture
def provider_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(ASSETS / "Project_One"))
    for name in [m for m in sys.modules if m == "score" or m.startswith("inference_code")]:
        monkeypatch.delitem(sys.modules, name)
    import inference_code.model_provider as module

    return module


def test_layout_is_the_one_the_lab_teaches() -> None:
    missing = [path for path in LAYOUT if not (ASSETS / path).is_file()]
    assert missing == []
    notebook = (ASSETS / "Project_One/notebooks/train_model.py").read_text(encoding="utf-8")
    assert notebook.startswith("# Databricks notebook source\n")
    assert "# COMMAND ----------" in notebook


def test_score_delegates_in_one_line_each(provider_module: Any, tmp_path: Path) -> None:
    train_model_files(tmp_path / "azureml-models" / "worst_regression" / "1" / "outputs")
    os.environ["AZUREML_MODEL_DIR"] = str(tmp_path / "azureml-models")
    try:
        import score

        score.init()
        answer = score.run(json.dumps(SAMPLE_INPUT))
    finally:
        del os.environ["AZUREML_MODEL_DIR"]
    assert isinstance(answer["estimate"], float)
    source = (ASSETS / "Project_One/score.py").read_text(encoding="utf-8")
    assert "    provider.init()\n" in source and "    return provider.run(raw_data)\n" in source


def test_provider_answers_and_explains(provider_module: Any, tmp_path: Path) -> None:
    provider = provider_module.ModelProvider(str(train_model_files(tmp_path / "model")))
    assert provider.run("{}") == {
        "error": "the model is not loaded: init() was not called or failed"
    }
    provider.init()
    assert provider.x_scaler is not None
    estimate = provider.run(json.dumps(SAMPLE_INPUT))["estimate"]
    assert 50_000 < estimate < 400_000
    both = provider.run(json.dumps([SAMPLE_INPUT, {"age": 60, "hours-per-week": 10}]))
    assert len(both["estimates"]) == 2 and both["estimates"][0] == pytest.approx(estimate)
    assert provider.run("{") == {
        "error": "the request body is not JSON: Expecting property name enclosed in double quotes"
    }
    assert provider.run('{"age": 37}') == {"error": "missing field 'hours-per-week'"}
    assert provider.run('{"age": "old", "hours-per-week": 1}') == {
        "error": "field 'age' must be a number, not 'old'"
    }
    assert provider.run("[]") == {"error": "the request holds no records"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(provider_module.ModelError, match="no model files"):
        provider_module.ModelProvider(str(tmp_path / "empty")).init()
    with pytest.raises(provider_module.ModelError, match="does not exist"):
        provider_module.ModelProvider(str(tmp_path / "nowhere")).init()


def test_dockerfiles_install_dependencies_before_code() -> None:
    inference = (ASSETS / "Project_One/Dockerfile").read_text(encoding="utf-8")
    assert inference.index("pip install") < inference.index("COPY score.py")
    assert "ARG BASE_IMAGE=python:3.11-slim" in inference
    tests = (ASSETS / "Project_One-Tests/Dockerfile").read_text(encoding="utf-8")
    assert tests.index("pip install") < tests.index("COPY . /var/azureml-app/tests/")


@pytest.mark.slow
def test_a_wheel_ships_the_assets(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = tmp_path.glob("labtui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"labtui_assets/{path}" for path in LAYOUT} <= names
    assert "labtui_assets/Project_One/.dockerignore" in names
    assert not [name for name in names if "__pycache__" in name]
    # Everything the program imports or reads at run time ships too, not just the assets.
    shipped = {p.relative_to(root).as_posix() for p in (root / "labtui").rglob("*")
               if p.suffix in (".py", ".tcss") and "__pycache__" not in p.parts}
    assert shipped <= names, sorted(shipped - names)
    steps = {f"labtui_steps/{p.name}" for p in (root / "steps").glob("*.py")}
    assert steps <= names, sorted(steps - names)
    guides = {f"labtui_steps/guides/{p.name}" for p in (root / "steps" / "guides").glob("*.md")}
    assert len(guides) == 17 and guides <= names, sorted(guides - names)


# ------------------------------------------------------------------------------------------
# Docker


@pytest.fixture(scope="module")
def docker_client() -> Iterator[Any]:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        require(False, f"no Docker engine answers: {exc}")
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        require(False, f"the base image {BASE_IMAGE} is missing: run scripts/build-base-image.sh")
    yield client
    client.close()


def build(client: Any, context: Path, tag: str, buildargs: dict[str, str]) -> list[str]:
    output: list[str] = []
    for chunk in client.api.build(
        path=str(context), tag=tag, rm=True, decode=True, buildargs=buildargs
    ):
        output.extend(line for line in chunk.get("stream", "").splitlines() if line.strip())
        if "error" in chunk:
            pytest.fail(f"building {tag} failed: {chunk['error']}\n" + "\n".join(output[-30:]))
    return output


def build_context(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "notebooks"))
    if CA_BUNDLE.is_file():  # intercepted TLS: see the Dockerfile's comment
        shutil.copy(CA_BUNDLE, target / "ca-bundle.crt")
    return target


@pytest.mark.docker
@pytest.mark.slow
def test_inference_and_test_images(docker_client: Any, tmp_path: Path) -> None:
    context = build_context(ASSETS / "Project_One", tmp_path / "inference")
    train_model_files(context / "model" / "outputs")
    build(docker_client, context, IMAGE, {"BASE_IMAGE": BASE_IMAGE, "MODEL_VERSION": "3"})

    container = docker_client.containers.run(
        IMAGE, detach=True, ports={"5001/tcp": ("127.0.0.1", None)}
    )
    try:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["5001/tcp"][0]["HostPort"]
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    assert answer.read().decode().strip() == "Healthy"
                    break
            except OSError:  # refused or reset while gunicorn starts
                assert time.monotonic() < deadline, container.logs().decode(errors="replace")
                time.sleep(0.25)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/score",
            data=json.dumps(SAMPLE_INPUT).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = json.loads(answer.read())
        assert isinstance(body["estimate"], float), body
        logs = container.logs().decode(errors="replace")
        assert "Found user script at /var/azureml-app/score.py" in logs
        assert "Error while fetching model IDs" not in logs
    finally:
        container.remove(force=True)

    tests_context = build_context(ASSETS / "Project_One-Tests", tmp_path / "tests")
    (tests_context / "test_failing.py").write_text(
        "def test_fails():\n    assert 1 + 1 == 3, 'arithmetic is broken'\n", encoding="utf-8"
    )
    build(docker_client, tests_context, IMAGE + "-tests", {"INFERENCE_IMAGE": IMAGE})
    runner = docker_client.containers.run(IMAGE + "-tests", detach=True)
    try:
        status = runner.wait(timeout=300)["StatusCode"]
        stream, _ = runner.get_archive("/var/azureml-app/test_results")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            archive.extractall(tmp_path / "out", filter="data")
    finally:
        runner.remove(force=True)
    assert status == 1  # pytest: some tests failed
    results = tmp_path / "out" / "test_results"
    report = TestReport.load(results / "junit.xml")
    assert [(case.name, case.outcome) for case in report.cases] == [
        ("test_fails", "failed"),
        ("test_init_populates_x_scaler", "passed"),
    ]
    assert report.problems[0].summary.startswith("AssertionError: arithmetic is broken")
    coverage = CoverageReport.load(results / "coverage.xml")
    assert [file.filename for file in coverage.files] == ["__init__.py", "model_provider.py"]
    assert 0 < coverage.percent < 100
    assert (results / "cov_html" / "index.html").is_file()

    # Only a test changed: the dependency layers come from the cache.
    (tests_context / "test_failing.py").write_text("def test_fixed():\n    assert True\n")
    output = build(docker_client, tests_context, IMAGE + "-tests", {"INFERENCE_IMAGE": IMAGE})
    runs = [i for i, line in enumerate(output) if line.startswith("Step ") and " : RUN " in line]
    assert runs, output
    assert all("Using cache" in output[i + 1] for i in runs), output
