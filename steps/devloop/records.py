"""The Dev loop's journal records: the notebook, its experiment and model, the reference test,
the images and containers, and how each is undone.

Each record is what a step journals *before* it creates something, holding all its undo
needs, so that a rollback works from the journal alone (even once the step that made it is no
longer installed). Kinds and field names are stored in state.db: they never change. What a
record removes may already be gone; that is fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labtui_steps.images import remove_image_and_containers, remove_verify_servers
from labtui_steps.record_undo import ignore_missing, workspace_host

from labtui.journal import Record
from labtui.step import StepContext
from labtui.targets.base import NotFound


@dataclass(frozen=True)
class Notebook(Record):
    kind = "notebook"
    ref_field = "path"
    path: str
    workspace: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.databricks.delete_notebook(
            workspace_host(ctx, self.workspace, self.host, self.workspace_id), self.path))


@dataclass(frozen=True)
class Experiment(Record):
    """The runs (metrics, parameters, model files) the notebook logged to the experiment
    named after its path."""

    kind = "experiment"
    ref_field = "path"
    path: str
    workspace: str

    def undo(self, ctx: StepContext) -> None:
        try:
            if ctx.target.models.delete_experiment(self.workspace, self.path):
                ctx.log(f"removed the runs of experiment {self.path}")
        except NotFound:
            return


@dataclass(frozen=True)
class Model(Record):
    """A registered model, every version of it."""

    kind = "model"
    ref_field = None
    workspace: str
    name: str

    @property
    def ref(self) -> str:
        return f"{self.workspace}/{self.name}"

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.models.delete_model(self.workspace, self.name))


@dataclass(frozen=True)
class ReferenceTest(Record):
    """The reference unit test added to the attendee's test file; `original` is the file as
    it was, which the undo puts back."""

    kind = "reference-test"
    ref_field = "path"
    path: str
    original: str

    def undo(self, ctx: StepContext) -> None:
        path = Path(self.path)
        if path.parent.exists():
            path.write_text(self.original, encoding="utf-8")


@dataclass(frozen=True)
class Image(Record):
    """The inference image: the undo removes its verify's scoring servers, the containers
    made from it, and what earlier builds left behind."""

    kind = "image"
    ref_field = "tag"
    tag: str

    def undo(self, ctx: StepContext) -> None:
        remove_verify_servers(ctx)
        remove_image_and_containers(ctx, self.tag)


@dataclass(frozen=True)
class TestImage(Record):
    """The inference image extended with the tests, and the containers made from it."""

    __test__ = False  # not a pytest test class, whatever its name
    kind = "test-image"
    ref_field = "tag"
    tag: str

    def undo(self, ctx: StepContext) -> None:
        remove_image_and_containers(ctx, self.tag)


@dataclass(frozen=True)
class Container(Record):
    kind = "container"
    name: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.containers.remove_container(self.name)
