from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labtui.targets.local.azpipelines import Pipeline, Runner, RunResult, load_text


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    return folder


RunPipeline = Callable[..., RunResult]


@pytest.fixture
def run_yaml(tmp_path: Path, sources: Path) -> RunPipeline:
    """Load YAML text (dedented) and run it in `sources`; keyword arguments go to Runner,
    except `parameters` which go to the loader."""
    counter = iter(range(1, 1000))

    def run(text: str, *, parameters: dict[str, str] | None = None,
            **options: Any) -> RunResult:
        pipeline = load_text(textwrap.dedent(text), parameters=parameters,
                             tasks=options.get("tasks"))
        runner = Runner(pipeline, sources=sources, folder=tmp_path / f"run{next(counter)}",
                        **options)
        return runner.run()

    return run


def loaded(text: str, **options: Any) -> Pipeline:
    return load_text(textwrap.dedent(text), **options)


def results(result: RunResult) -> dict[str, str]:
    """display name → result, for every record of the run."""
    return {record.id: record.result for record in result.records.records.values()}
