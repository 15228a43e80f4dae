"""What a finished step shows first: the results it published (read back from the workspace,
also after a restart), then what it created — each row copyable, secrets never shown."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from labtui.app.app import LabApp
from labtui.app.metrics import MetricsView
from labtui.catalog import Catalog
from labtui.step import Check, Step, StepContext, Verdict
from tests.app.conftest import AppFactory, Principal, TestImage, TrainModel
from tests.app.test_app import detail_text, log_text, on_screen, ready, run_selected, settle


def table_rows(app: LabApp, selector: str) -> list[list[str]]:
    table = on_screen(app).query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def assert_real_test_results(app: LabApp) -> None:
    """The tests and coverage the real test-image collected from its container."""
    tests = table_rows(app, ".tests-table")
    assert [row[2] for row in tests] == ["test_init_populates_x_scaler",
                                         "test_run_returns_a_numeric_estimate"]
    assert all("✓ passed" in row[0] for row in tests)
    assert "2 tests: 2 passed in 1.06 s" in detail_text(app)
    table = on_screen(app).query_one(".tests-table", DataTable)
    assert [str(column.label) for column in table.columns.values()][-1] == (
        "test in tests.test_model")
    coverage = table_rows(app, ".coverage-table")
    assert [row[0] for row in coverage] == ["__init__.py", "model_provider.py", "total"]
    assert coverage[-1][1:4] == ["65", "52", "80%"]


async def run_it(app: LabApp, pilot: Pilot[int]) -> None:
    await ready(pilot)
    await run_selected(pilot)
    await pilot.press("y")
    await settle(pilot)


async def test_test_results_are_what_the_step_published_also_after_a_restart(
        make_app: AppFactory) -> None:
    app = make_app(focus="test-image")
    async with app.run_test(size=(120, 40)) as pilot:
        await run_it(app, pilot)
        assert_real_test_results(app)
    app.lab.close()
    # Where the real step keeps them, not where an app might guess.
    assert Path("ws/artifacts/test-image/test_results/junit.xml").is_file()
    assert not Path("ws/artifacts/test-image/junit.xml").exists()

    again = make_app(focus="test-image")
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert_real_test_results(again)


async def test_a_failed_test_run_still_shows_its_table_first(
        make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = tmp_path / "failing"
    shutil.copytree(TestImage.results, failing)
    junit = failing / "junit.xml"
    junit.write_text(junit.read_text().replace(
        'failures="0"', 'failures="1"').replace(
        'line="15" time="0.006" />',
        'line="15" time="0.006"><failure message="AssertionError: estimate is nan">'
        "assert nan &gt; 0</failure></testcase>"))
    monkeypatch.setattr(TestImage, "results", failing)
    app = make_app(focus="test-image")
    async with app.run_test(size=(80, 24)) as pilot:
        await run_it(app, pilot)
        text = detail_text(app)
        assert "failed — 1 of 2 tests failed; test_run_returns_a_numeric_estimate" in text
        assert "estimate is nan" in text
        detail = on_screen(app)
        table = detail.query_one(".tests-table", DataTable)
        assert table.region.y < app.size.height - 2, "the test table is on the first screen"


async def test_a_report_left_in_the_folder_but_not_published_is_not_shown(
        make_app: AppFactory) -> None:
    app = make_app(focus="test-image")
    folder = Path("ws/artifacts/test-image")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(TestImage.results / "junit.xml", folder / "junit.xml")
    app.lab.workspace.set_status("test-image", None, "done")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert not on_screen(app).query(".tests-table")


async def test_rollback_forgets_the_published_results(make_app: AppFactory) -> None:
    app = make_app(focus="test-image")
    async with app.run_test(size=(120, 40)) as pilot:
        await run_it(app, pilot)
        assert on_screen(app).query(".tests-table")
        [unit] = app.lab.catalog.units(["test-image"])
        [result] = app.lab.engine.rollback([unit])
        assert result.ok, result.message
        app.refresh_statuses(reports=True)
        await pilot.pause()
        assert not on_screen(app).query(".tests-table")
    assert app.lab.workspace.artifacts("test-image", None) == {}


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
async def test_train_model_shows_mae_r2_and_plot_first(make_app: AppFactory,
                                                       size: tuple[int, int]) -> None:
    app = make_app(focus="train-model")
    async with app.run_test(size=size) as pilot:
        await run_it(app, pilot)
        detail = on_screen(app)
        view = detail.query_one(MetricsView)
        title = view.query_one(".results-title")
        assert "MAE 77,980.971" in str(title.render()) and "R² 0.005" in str(title.render())
        assert detail.scroll_y == 0
        bottom = detail.region.y + detail.region.height
        assert detail.region.y <= title.region.y < bottom, "MAE and R² are on the first screen"
        plot = view.query_one(".scatter")
        assert plot.region.y < bottom - 3, "the plot starts on the first screen"
        order = list(detail.children)
        assert order.index(detail.query_one("#reports")) < order.index(
            detail.query_one("#checks"))
        assert "metrics: MAE 77,981.0, R² 0.0050 on 10,746 test rows" in detail_text(app)


async def test_what_it_created_is_listed_copyable_and_secrets_stay_hidden(
        make_app: AppFactory) -> None:
    catalog = Catalog([TrainModel, Principal])
    app = make_app(focus="principal", catalog=catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_it(app, pilot)
        rows = table_rows(app, ".created-table")
        assert rows == [["app id (client id)", Principal.APP_ID],
                        ["password", "••••  secret: not shown"],
                        ["service principal", "principal-dev"]]
        table = on_screen(app).query_one(".created-table", DataTable)
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause()
        assert app.clipboard == Principal.APP_ID
        assert "copied app id (client id)" in [n.message for n in app._notifications]
        table.move_cursor(row=1)
        await pilot.press("enter")
        await pilot.pause()
        assert app.clipboard == Principal.APP_ID, "a secret is never copied"
        said = [n.message for n in app._notifications]
        assert "the password is a secret: labtui does not show or copy it" in said
        seen = (app.export_screenshot() + detail_text(app) + log_text(app) + "".join(said))
        assert Principal.PASSWORD not in seen
    app.lab.close()

    again = make_app(focus="principal", catalog=catalog)
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert table_rows(again, ".created-table")[0] == ["app id (client id)",
                                                         Principal.APP_ID]


async def test_an_entry_no_installed_plugin_knows_is_still_listed_as_created(
        make_app: AppFactory) -> None:
    catalog = Catalog([TrainModel, Principal])
    app = make_app(focus="principal", catalog=catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_it(app, pilot)
        with sqlite3.connect(Path("ws") / "state.db") as db:
            db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) "
                       "VALUES ('principal', 'dev', 'gizmo', 'g-1', '{}', ?)", (time.time(),))
        (unit,) = catalog.units(["principal"])
        assert app.lab.created(unit).resources == (("service-principal", "principal-dev"),
                                                   ("gizmo", "g-1"))


class HtmlReport(Step):
    """Publishes a file the results view has no table for (an HTML coverage report)."""

    id = "html-report"
    title = "Publish an HTML report"
    section = "Dev loop"

    def run(self, ctx: StepContext) -> None:
        page = ctx.artifacts / "cov_html" / "index.html"
        page.parent.mkdir(exist_ok=True)
        page.write_text("<html>coverage</html>")
        ctx.publish("coverage-html", page)

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("page", (ctx.artifacts / "cov_html" / "index.html").exists()))


async def test_another_published_file_is_listed_with_its_path(make_app: AppFactory) -> None:
    app = make_app(focus="html-report", catalog=Catalog([HtmlReport]))
    async with app.run_test(size=(120, 40)) as pilot:
        await run_it(app, pilot)
        page = str(Path("ws/artifacts/html-report/cov_html/index.html").resolve())
        assert table_rows(app, ".created-table") == [["file coverage-html", page]]
        table = on_screen(app).query_one(".created-table", DataTable)
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.clipboard == page


async def test_a_published_report_that_is_gone_says_so(make_app: AppFactory) -> None:
    app = make_app(focus="test-image")
    async with app.run_test(size=(120, 40)) as pilot:
        await run_it(app, pilot)
    app.lab.close()
    junit = Path("ws/artifacts/test-image/test_results/junit.xml")
    junit.unlink()

    again = make_app(focus="test-image")
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert (f"junit: {junit.resolve()} is gone — run the step again to make it"
                in detail_text(again))
        assert table_rows(again, ".coverage-table")[-1][0] == "total"
