"""The app on a workspace where the lab really ran through the dev loop (`labtui --step
test-image --with-requires --headless --solve`: Spark trained the model, Docker built the
images and ran the tests in a container): it shows what the real steps published and created
— also in an app opened afterwards, as after a restart. The lab runs once for the module (a
few minutes on two cores) and is rolled back at the end, taking its images and containers with
it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.app.app import LabApp, build_app
from labtui.app.metrics import MetricsView
from labtui.session import SessionOptions
from labtui.state import Workspace
from tests.app.test_app import detail_text, on_screen, ready
from tests.app.test_results_first import table_rows
from tests.conftest import BASE_IMAGE, LAB_DATA, LabtuiRunner, labtui_env, require

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TOKEN = "dapi5e0c47a1d9aa0123456789abcdef0123"


def require_docker() -> None:
    from labtui.targets.base import NotFound, TargetError
    from labtui.targets.local.containers import DockerContainers

    engine = DockerContainers()
    try:
        engine.ping()
        engine.image(BASE_IMAGE)
    except TargetError as exc:
        require(False, str(exc))
    except NotFound:
        require(False, f"base image {BASE_IMAGE} is missing: run scripts/build-base-image.sh")


@pytest.fixture(scope="module")
def ran_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace where the whole lab ran for real; rolled back afterwards."""
    require_docker()
    root = tmp_path_factory.mktemp("real-devloop")
    home = root / "home"
    home.mkdir()
    prefix = f"ap{os.getpid() % 10**6}"  # images of concurrent runs never meet
    answers = root / "answers.toml"
    answers.write_text(
        f'prefix = "{prefix}"\n'
        'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
        'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
        'reviewer = "grace"\n'
        f'data-file = "{LAB_DATA}"\n'
        'data-url = "http://127.0.0.1:9/AdultCensusIncome.csv"\n'
        f'base-image = "{BASE_IMAGE}"\n'
        + (f'ca-bundle = "{CA_BUNDLE}"\n' if CA_BUNDLE.exists() else ""))
    env = labtui_env(HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"),
                     LABTUI_DATABRICKS_TOKEN=TOKEN)
    lab = LabtuiRunner(root / "ws", env)
    ran = lab("--step", "test-image", "--with-requires", "--headless", "--solve", "--values",
              str(answers), timeout=1500)
    try:
        assert ran.code == 0, ran.output[-4000:]
        yield lab.workspace
    finally:
        rolled = lab("--all", "--headless", "--rollback", "--yes", timeout=600)
        assert rolled.code == 0, rolled.output[-3000:]


def open_app(workspace: Path, focus: str) -> LabApp:
    options = SessionOptions(workspace=workspace, environ={}, command="labtui (test)")
    return build_app(options, focus=focus, theme="textual-dark")


async def test_the_real_test_image_results_are_on_screen_also_after_a_restart(
        ran_lab: Path) -> None:
    for _ in ("first", "restarted"):
        app = open_app(ran_lab, "test-image")
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                await ready(pilot)
                tests = table_rows(app, ".tests-table")
                assert [row[2] for row in tests] == ["test_init_populates_x_scaler",
                                                     "test_run_returns_a_numeric_estimate"]
                assert all("✓ passed" in row[0] for row in tests)
                coverage = table_rows(app, ".coverage-table")
                assert [row[0] for row in coverage] == ["__init__.py", "model_class.py",
                                                        "utility.py", "total"]
                assert re.fullmatch(r"\d+%", coverage[-1][3])
                table = on_screen(app).query_one(".coverage-table")
                assert table.region.y < app.size.height - 3, "coverage is on the first screen"
        finally:
            app.lab.close()
    with Workspace(ran_lab, read_only=True) as workspace:
        published = workspace.artifacts("test-image", "dev")
    assert published["junit"].path == ran_lab / "artifacts/test-image-dev/test_results/junit.xml"


async def test_the_real_training_shows_mae_and_r2_first(ran_lab: Path) -> None:
    app = open_app(ran_lab, "train-model")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            detail = on_screen(app)
            title = str(detail.query_one(MetricsView).query_one(".results-title").render())
            assert re.search(r"MAE [\d,]+\.\d{3}\s+R² -?\d\.\d{3}", title), title
            assert detail.query_one(MetricsView).region.y < app.size.height - 6
            assert re.search(r"metrics: MAE [\d,]+\.\d, R² -?\d\.\d{4} on 10,746 test rows",
                             detail_text(app))
    finally:
        app.lab.close()


@pytest.mark.parametrize(("step", "labels"), [
    ("service-principal", ["app id (client id)", "object id", "password", "token endpoint"]),
    ("key-vault", ["vault URI"]),
    ("databricks", ["Databricks host", "cluster id"]),
])
async def test_what_the_real_steps_created_is_listed(ran_lab: Path, step: str,
                                                     labels: list[str]) -> None:
    with Workspace(ran_lab, read_only=True) as workspace:
        outputs = workspace.outputs(step, "dev")
    app = open_app(ran_lab, step)  # the step's node: dev's table comes first
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            rows = dict(table_rows(app, ".created-table"))
            assert [label for label in labels if label not in rows] == []
            screen = app.export_screenshot()
            for name, (value, secret) in outputs.items():
                if secret:
                    assert value not in screen
                else:
                    assert value in rows.values(), name
            if step == "service-principal":
                assert rows["app id (client id)"] == outputs["sp-app-id"][0]
                assert rows["password"] == "••••  secret: not shown"
    finally:
        app.lab.close()
