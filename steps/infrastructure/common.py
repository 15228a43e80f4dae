"""What the Infrastructure steps share: the lab's fixed settings, the base class and helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar, overload

from labtui_steps.databricks_host import databricks_host, host_fields
from labtui_steps.infrastructure import records

from labtui.step import (
    Check,
    JournalEntry,
    Step,
    StepContext,
    StepError,
)
from labtui.targets.base import (
    Library,
    NotFound,
    ResourceRef,
)

FILE_SYSTEM = "datalake"
SCOPE = "data-lake"
ROLE = "Storage Blob Data Contributor"
AUTOTERMINATION_MINUTES = 120
NODE_TYPE = "Standard_DS3_v2"
SPARK_VERSION = "13.3.x-cpu-ml-scala2.12"
NUM_WORKERS = 2
LIBRARIES: tuple[Library, ...] = (
    Library("pypi", "azureml-sdk"),
    Library("pypi", "mlflow"),
    Library("pypi", "scikit-learn"),
)
DOWNLOAD_TIMEOUT = 10.0

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")



def resource_ref(ctx: StepContext, type: str, field: str) -> ResourceRef:
    """Where the resource named by input `field` lives: in the environment's resource group
    of the target's subscription, as Azure Resource Manager addresses it."""
    return ctx.target.ref(ctx.value("resource-group"), type, ctx.value(field))


def check_that(name: str, problem: str | None, hint: str = "") -> Check:
    """A check that holds when there is no `problem`; the hint goes with a problem only."""
    return Check(name, problem is None, problem or "", hint if problem else "")


class InfrastructureStep(Step):
    """A step of the Infrastructure section: it runs once for each environment."""

    section = "Infrastructure"
    per_environment = True


def issue_token(ctx: StepContext, comment: str) -> str:
    """Ask the environment's workspace for a personal access token, journaled by its comment
    (its id is known only once it exists), masked from the moment it is known."""
    workspace, host = ctx.value("databricks-workspace"), databricks_host(ctx)
    ctx.journal.record_once(records.DatabricksToken(comment, workspace, **host_fields(host)))
    ctx.log(f"ask {workspace} for a personal access token ({comment!r})")
    value = ctx.target.databricks.create_token(host, comment).value
    if value is None:
        raise StepError(f"{workspace} issued a token without showing its value")
    return ctx.secret(value)


def exists(lookup: Callable[[], object]) -> bool:
    """Whether `lookup` finds what it looks for (it raises NotFound when not)."""
    try:
        lookup()
    except NotFound:
        return False
    return True


def found(lookup: Callable[[], T]) -> Callable[[], T | NotFound]:
    """`lookup` as a call for `ctx.gather` that answers the `NotFound` it raises rather than
    raising it, so one thing missing does not hide what the calls made with it found."""

    def call() -> T | NotFound:
        try:
            return lookup()
        except NotFound as missing:
            return missing

    return call


@overload
def together(ctx: StepContext, first: Callable[[], A], second: Callable[[], B], /
             ) -> tuple[A, B]: ...
@overload
def together(ctx: StepContext, first: Callable[[], A], second: Callable[[], B],
             third: Callable[[], C], /) -> tuple[A, B, C]: ...
def together(ctx: StepContext, *calls: Callable[[], Any]) -> tuple[Any, ...]:
    """Calls that do not need each other's answers, made at once (`ctx.gather`: one round
    trip for all), with each answer keeping its own type."""
    return tuple(ctx.gather(*calls))


def undo_together(ctx: StepContext, entries: Sequence[JournalEntry]) -> None:
    """Undo journal entries that do not depend on each other at once (one round trip for
    all, not one per entry), each forgotten once its undo is done."""

    def undo(entry: JournalEntry) -> None:
        entry.record.undo(ctx)
        ctx.journal.forget(entry)

    ctx.gather(*(partial(undo, entry) for entry in entries))
