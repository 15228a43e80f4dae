"""The lab's assets: shipped with the package, the provider behind score.py, and the two
images (inference and tests) built and run on a real Docker engine."""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import labtui_assets
import numpy as np
import pytest
from labtui_assets import sample_data
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

from labtui.reports import CoverageReport, TestReport
from tests.conftest import require, require_lab_data

ASSETS = labtui_assets.root()
SAMPLE_INPUT = {"age": 37, "hours-per-week": 40.0, "sex": "Female", "occupation": "Exec-managerial"}
BASE_IMAGE = os.environ.get("LABTUI_BASE_IMAGE", "labtui/python:3.11-bookworm")
CA_BUNDLE = Path(os.environ.get("LABTUI_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
IMAGE = f"labtui-test/worst_regression:pytest-{os.getpid()}"
OWNER = f"assets-test-{os.getpid()}"
"""Labels every image these tests build (the stages too, through the Dockerfiles' build arg)."""

LAYOUT = [
    "gitignore",
    "Project_One/score.py",
    "Project_One/inference_code/__init__.py",
    "Project_One/inference_code/model_class.py",
    "Project_One/inference_code/utility.py",
    "Project_One/notebooks/train_model.py",
    "Project_One/requirements.txt",
    "Project_One/Dockerfile",
    "Project_One/runbuild_local.cmd",
    "Project_One/runbuild_local.sh",
    "Project_One-Tests/test_model.py",
    "Project_One-Tests/requirements.txt",
    "Project_One-Tests/Dockerfile",
    "Project_One-Tests/runtests_local.cmd",
    "Project_One-Tests/runtests_local.sh",
]

LAB_TEST = '''
import sys
import pytest
sys.path.append("../azureml-app/")
from inference_code.model_class import MyModel


class TestModel(object):
    def test_init(self):
        m = MyModel()
        m.init()
        assert(m.x_scaler is not None)
        assert(m.y_scaler is not None)
        assert(m.model is not None)


def test_r2_within_business_value():
    from sklearn.metrics import r2_score

    m = MyModel()
    m.init()
    x1 = '{"age": 37, "hours-per-week": 40.0, "sex": "Female", "occupation" : "Exec-managerial"}'
    y_predicted = m.predict(x1)[0][0]
    r2score = r2_score([200000, 190000], [y_predicted + 10, y_predicted - 10])
    assert(-2 < r2score < 2)


def test_the_scalers_and_the_model_chain():
    import numpy as np

    m = MyModel()
    m.init()
    scaled = m.model.predict(m.x_scaler.transform(np.array([[37, 40.0]])))
    assert m.y_scaler.inverse_transform(scaled).shape == (1, 1)
'''
"""Tests an attendee writes from the lab's text (the lab repository's own test_model.py and
test_ml_metrics.py, in their shape): they must run unchanged against the seeded code."""


def train_model_files(folder: Path, rows: int = 500, *, census: Path | None = None) -> Path:
    """The three model files as the notebook writes them (pickled, 2-D targets), trained on
    the sample data (or the lab's census file) without Spark: these tests are about serving,
    not training."""
    if census is not None:
        lines = census.read_text(encoding="utf-8").splitlines()[1:]
        table = [line.split(", ") for line in lines if line.strip()]
    else:
        table = sample_data.rows(rows)
    data = np.array([[float(row[0]), float(row[12]), float(row[2])] for row in table])
    x_scaler = StandardScaler().fit(data[:, :2])
    y_scaler = StandardScaler().fit(data[:, 2:])
    model = LinearRegression().fit(x_scaler.transform(data[:, :2]), y_scaler.transform(data[:, 2:]))
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in (("x_scaler.pkl", x_scaler), ("y_scaler.pkl", y_scaler),
                        ("model.pkl", model)):
        with open(folder / name, "wb") as handle:
            pickle.dump(value, handle)
    return folder


@pytest.fixture
def inference_code(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(ASSETS / "Project_One"))
    for name in [m for m in sys.modules if m == "score" or m.startswith("inference_code")]:
        monkeypatch.delitem(sys.modules, name)
    import inference_code.model_class
    import inference_code.utility

    return inference_code


def test_layout_is_the_one_the_lab_teaches() -> None:
    missing = [path for path in LAYOUT if not (ASSETS / path).is_file()]
    assert missing == []
    notebook = (ASSETS / "Project_One/notebooks/train_model.py").read_text(encoding="utf-8")
    assert notebook.startswith("# Databricks notebook source\n")
    assert "# COMMAND ----------" in notebook


def test_score_delegates_to_my_model() -> None:
    source = (ASSETS / "Project_One/score.py").read_text(encoding="utf-8")
    assert "from inference_code.model_class import MyModel" in source
    assert "    MODEL.init()\n" in source
    assert "        return MODEL.score(input_package)\n" in source
    assert "        return AMLResponse(str(exc), 400)\n" in source


def test_my_model_predicts_wages_as_the_lab_calls_it(inference_code: Any,
                                                     tmp_path: Path) -> None:
    folder = train_model_files(tmp_path / "azureml-models" / "worst_regression" / "1" / "outputs")
    model = inference_code.model_class.MyModel()
    with pytest.raises(RuntimeError, match="call init\\(\\) first"):
        model.predict(json.dumps(SAMPLE_INPUT))
    os.environ["AZUREML_MODEL_DIR"] = str(tmp_path / "azureml-models")
    try:
        model.init()
    finally:
        del os.environ["AZUREML_MODEL_DIR"]
    assert model.x_scaler is not None and model.y_scaler is not None
    wages = model.predict(json.dumps(SAMPLE_INPUT))
    assert wages.shape == (1, 1) and 50_000 < wages[0][0] < 400_000
    with open(folder / "model.pkl", "rb") as handle:  # plain pickle, 2-D targets
        assert pickle.load(handle).predict(np.array([[0.0, 0.0]])).shape == (1, 1)
    assert model.score(json.dumps(SAMPLE_INPUT)) == {"estimated_wages": float(wages[0][0])}
    batch = model.score({"age": [37, 60], "hours-per-week": [40.0, 10]})
    assert len(batch["estimated_wages"]) == 2
    assert batch["estimated_wages"][0] == pytest.approx(wages[0][0])


@pytest.mark.parametrize(("body", "reason"), [
    ("{", "the request body is not JSON: Expecting property name enclosed in double quotes "
          "at line 1 column 2"),
    ("", "the request body is empty: send a JSON object with age and hours-per-week"),
    ("  ", "the request body is empty: send a JSON object with age and hours-per-week"),
    ("[]", "the request must be a JSON object with age and hours-per-week, not a list"),
    ('{"age": 37}', "missing field 'hours-per-week'"),
    ('{"age": "old", "hours-per-week": 1}',
     "field 'age' must be a number or a list of numbers, not a string \"old\""),
    ('{"age": true, "hours-per-week": 1}',
     "field 'age' must be a number or a list of numbers, not a boolean true"),
    ('{"age": null, "hours-per-week": 1}',
     "field 'age' must be a number or a list of numbers, not null null"),
    ('{"age": NaN, "hours-per-week": 1}', "field 'age' must be a finite number, not nan"),
    ('{"age": 37, "hours-per-week": 1e999}',
     "field 'hours-per-week' must be a finite number, not inf"),
    ('{"age": [], "hours-per-week": []}', "field 'age' is an empty list"),
    ('{"age": [1, 2], "hours-per-week": 3}',
     "fields 'age' and 'hours-per-week' must both be numbers or both be lists of the same "
     "length"),
    ('{"age": [1, 2], "hours-per-week": [3]}',
     "fields 'age' and 'hours-per-week' must both be numbers or both be lists of the same "
     "length"),
])
def test_a_request_that_cannot_be_scored_says_why_in_one_line(
        inference_code: Any, tmp_path: Path, body: str, reason: str) -> None:
    model = inference_code.model_class.MyModel(str(train_model_files(tmp_path / "model")))
    model.init()
    with pytest.raises(inference_code.utility.InvalidInput) as raised:
        model.score(body)
    assert str(raised.value) == reason


def test_missing_model_files_are_named(inference_code: Any, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no model files"):
        inference_code.model_class.MyModel(str(tmp_path / "empty")).init()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        inference_code.model_class.MyModel(str(tmp_path / "nowhere")).init()


def test_the_lab_s_own_tests_run_unchanged(tmp_path: Path) -> None:
    from labtui_steps.unit_tests import run_unit_tests

    for name in ("Project_One", "Project_One-Tests"):
        shutil.copytree(ASSETS / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "Project_One-Tests" / "test_ml_metrics.py").write_text(LAB_TEST)
    # The metrics test expects the real data's estimate (about 190,000) for the sample.
    model_files = train_model_files(tmp_path / "model" / "outputs", census=require_lab_data())
    ran = run_unit_tests(tmp_path / "Project_One-Tests", tmp_path / "Project_One", model_files,
                         tmp_path / "results" / "junit.xml")
    assert ran.ok, "\n".join(ran.output)
    assert ran.report.total == 4


def test_dockerfiles_install_dependencies_before_code() -> None:
    inference = (ASSETS / "Project_One/Dockerfile").read_text(encoding="utf-8")
    assert inference.index("pip install") < inference.index("COPY score.py")
    assert inference.count("FROM ") == 2, "the bundle stays in the first stage"
    assert "ARG BASE_IMAGE=python:3.11-slim" in inference
    tests = (ASSETS / "Project_One-Tests/Dockerfile").read_text(encoding="utf-8")
    assert tests.index("pip install") < tests.index("COPY . /tmp/tests/")
    assert tests.count("FROM ") == 2, "the bundle stays in the first stage"


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
    assert "labtui_assets/gitignore" in names
    assert not [name for name in names if "__pycache__" in name]
    # Everything the program imports or reads at run time ships too, not just the assets.
    shipped = {p.relative_to(root).as_posix() for p in (root / "labtui").rglob("*")
               if p.suffix in (".py", ".tcss") and "__pycache__" not in p.parts}
    assert shipped <= names, sorted(shipped - names)
    steps = {f"labtui_steps/{p.relative_to(root / 'steps').as_posix()}"
             for p in (root / "steps").rglob("*.py") if "__pycache__" not in p.parts}
    assert "labtui_steps/infrastructure/key_vault.py" in steps
    assert steps <= names, sorted(steps - names)
    guides = {f"labtui_steps/{p.relative_to(root / 'steps').as_posix()}"
              for p in (root / "steps").rglob("guides/*.md")}
    assert len(guides) == 21 and guides <= names, sorted(guides - names)


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
        path=str(context), tag=tag, rm=True, decode=True,
        buildargs={**buildargs, "LABTUI_WORKSPACE": OWNER}, labels={"labtui.workspace": OWNER},
    ):
        output.extend(line for line in chunk.get("stream", "").splitlines() if line.strip())
        if "error" in chunk:
            pytest.fail(f"building {tag} failed: {chunk['error']}\n" + "\n".join(output[-30:]))
    return output


def marked_bundle(folder: Path) -> tuple[Path, bytes]:
    """The host's CA bundle (pip needs it where TLS is intercepted) plus a certificate made for
    this test: its bytes in an image can only have come from the build's bundle."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"labtui test CA {os.getpid()}")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    marker = certificate.public_bytes(serialization.Encoding.PEM)
    bundle = folder / "bundle.crt"
    bundle.write_bytes((CA_BUNDLE.read_bytes() if CA_BUNDLE.is_file() else b"") + marker)
    return bundle, marker.splitlines()[5]  # a line of the certificate's body


def build_context(source: Path, target: Path, bundle: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "notebooks"))
    shutil.copy(bundle, target / "ca-bundle.crt")  # intercepted TLS: see the Dockerfile
    return target


def saved_layers(client: Any, tag: str) -> Iterator[bytes]:
    """The bytes of every file in every layer of an image, as `docker save` exports it."""
    import gzip

    archive = io.BytesIO(b"".join(client.images.get(tag).save(named=True)))
    with tarfile.open(fileobj=archive) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()  # type: ignore[union-attr]
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if data[257:262] != b"ustar":
                continue  # a manifest or config, not a layer
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for entry in layer.getmembers():
                    if entry.isfile():
                        yield layer.extractfile(entry).read()  # type: ignore[union-attr]


def post(port: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/score", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.docker
@pytest.mark.slow
def test_inference_and_test_images(docker_client: Any, tmp_path: Path) -> None:
    bundle, marker = marked_bundle(tmp_path)
    context = build_context(ASSETS / "Project_One", tmp_path / "inference", bundle)
    train_model_files(context / "model" / "outputs")
    try:
        build(docker_client, context, IMAGE, {"BASE_IMAGE": BASE_IMAGE, "MODEL_VERSION": "3"})
        _serve_and_score(docker_client)

        tests_context = build_context(ASSETS / "Project_One-Tests", tmp_path / "tests", bundle)
        (tests_context / "test_failing.py").write_text(
            "def test_fails():\n    assert 1 + 1 == 3, 'arithmetic is broken'\n",
            encoding="utf-8")
        build(docker_client, tests_context, IMAGE + "-tests", {"INFERENCE_IMAGE": IMAGE})
        _run_tests(docker_client, tmp_path)

        # Nothing of the build's trust set-up is in any layer of either image.
        for tag in (IMAGE, IMAGE + "-tests"):
            leaked = sum(1 for data in saved_layers(docker_client, tag) if marker in data)
            assert leaked == 0, f"the build's CA bundle is in {leaked} file(s) of {tag}"

        # Only a test changed: the dependency install comes from the cache.
        (tests_context / "test_failing.py").write_text("def test_fixed():\n    assert True\n")
        output = build(docker_client, tests_context, IMAGE + "-tests",
                       {"INFERENCE_IMAGE": IMAGE})
        installs = [i for i, line in enumerate(output)
                    if line.startswith("Step ") and " : RUN " in line and "pip install" in line]
        assert installs, output
        assert all("Using cache" in output[i + 1] for i in installs), output
    finally:
        remove_owned_images(docker_client)


def remove_owned_images(client: Any) -> None:
    """Remove what these tests built: the images and the stages' cache images, children
    first (only images labelled with this test's owner)."""
    import docker

    for _ in range(3):
        images = client.images.list(filters={"label": f"labtui.workspace={OWNER}"})
        if not images:
            return
        for image in sorted(images, key=lambda i: i.attrs["Created"], reverse=True):
            try:
                client.images.remove(image.id, force=True)
            except docker.errors.APIError as exc:  # a child goes first; the next pass retries
                print(f"not yet removed: {image.id}: {exc.explanation}")


def _serve_and_score(docker_client: Any) -> None:
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
        status, body = post(port, json.dumps(SAMPLE_INPUT).encode())
        assert status == 200 and isinstance(json.loads(body)["estimated_wages"], float), body
        # What the server answers a request score.py cannot score: 400 and the reason.
        for request, reason in [
            (b"not json", "the request body is not JSON: Expecting value at line 1 column 1"),
            (b"", "the request body is empty"),
            (b'{"age": 37}', "missing field 'hours-per-week'"),
            (b'{"age": "37", "hours-per-week": 40}', "field 'age' must be a number"),
            (b'{"age": NaN, "hours-per-week": 40}', "field 'age' must be a finite number"),
        ]:
            status, body = post(port, request)
            assert (status, body.startswith(reason), "\n" in body) == (400, True, False), \
                (request, status, body)
        logs = container.logs().decode(errors="replace")
        assert "Found user script at /var/azureml-app/score.py" in logs
        assert "Error while fetching model IDs" not in logs
    finally:
        container.remove(force=True)


def _run_tests(docker_client: Any, tmp_path: Path) -> None:
    runner = docker_client.containers.run(IMAGE + "-tests", detach=True)
    try:
        status = runner.wait(timeout=300)["StatusCode"]
        stream, _ = runner.get_archive("/var/azureml-app/test_results")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            archive.extractall(tmp_path / "out", filter="data")
        listing = runner.logs().decode(errors="replace")
    finally:
        runner.remove(force=True)
    assert status == 1, listing  # pytest: some tests failed
    results = tmp_path / "out" / "test_results"
    report = TestReport.load(results / "junit.xml")
    assert [(case.name, case.outcome) for case in report.cases] == [
        ("test_fails", "failed"),
        ("test_init_populates_x_scaler", "passed"),
    ]
    assert report.problems[0].summary.startswith("AssertionError: arithmetic is broken")
    coverage = CoverageReport.load(results / "coverage.xml")
    assert [file.filename for file in coverage.files] == [
        "__init__.py", "model_class.py", "utility.py"]
    assert 0 < coverage.percent < 100
    assert (results / "cov_html" / "index.html").is_file()
