"""Demo steps that create real files through the journal: a third-party plugin for tests."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from urllib.parse import quote

from labtui.step import Change, Check, Field, Step, StepContext, StepError, Verdict
from labtui_demo_steps.records import DemoFile

DEMO_DIR = Field("demo-dir", "Demo folder", kind="path", help="where the demo files go")
DEMO_COUNT = Field("demo-count", "How many files", kind="int", default="3")
DEMO_DELAY = Field("demo-delay", "Seconds between files", kind="text", default="0")


def _paths(ctx: StepContext, suffix: str = "") -> list[Path]:
    folder = Path(ctx.value("demo-dir")).expanduser()
    count = int(ctx.value("demo-count"))
    return [folder / f"file-{i:03d}{suffix}.txt" for i in range(count)]


class DemoFiles(Step):
    """Creates demo-count files in demo-dir, one journal entry each."""

    id = "demo-files"
    title = "Create demo files"
    section = "Demo"
    summary = "Writes a few files so the runner has something real to create and remove."
    inputs = (DEMO_DIR, DEMO_COUNT, DEMO_DELAY)

    def run(self, ctx: StepContext) -> None:
        paths = _paths(ctx)
        delay = float(ctx.value("demo-delay"))
        for i, path in enumerate(paths, start=1):
            ctx.check_cancelled()
            if path.exists():
                continue
            ctx.journal.record(DemoFile(str(path)))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"demo file {i}\n")
            ctx.log(f"created {path.name}")
            ctx.progress(i, len(paths), path.name)
            if delay:
                time.sleep(delay)

    def verify(self, ctx: StepContext) -> Verdict:
        missing = [p.name for p in _paths(ctx) if not p.exists()]
        return Verdict.of(Check("files", not missing,
                                f"missing {', '.join(missing)}" if missing else "all present",
                                "run the step again"))

    def plan(self, ctx: StepContext) -> list[Change]:
        return [Change("keep" if p.exists() else "create", "file", str(p)) for p in _paths(ctx)]


class DemoPerEnv(Step):
    """One marker file per environment, after demo-files."""

    id = "demo-per-env"
    title = "Create a marker per environment"
    section = "Demo"
    requires = ("demo-files",)
    per_environment = True
    inputs = (DEMO_DIR,)

    def _path(self, ctx: StepContext) -> Path:
        return Path(ctx.value("demo-dir")).expanduser() / f"marker-{ctx.env}.txt"

    def run(self, ctx: StepContext) -> None:
        path = self._path(ctx)
        ctx.journal.record(DemoFile(str(path)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(ctx.env))
        ctx.outputs.set("marker", str(path))

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("marker", self._path(ctx).exists(), "marker file"))


class DemoCanary(Step):
    """Logs its secret in every encoding, keeps it as an output, and can fail with it."""

    id = "demo-canary"
    title = "Leak a canary (it must be masked)"
    section = "Demo"
    inputs = (
        Field("demo-secret", "Canary secret", kind="secret"),
        Field("demo-crash", "How to fail", kind="choice", required=False, default="no",
              choices=("no", "expected", "unexpected")),
    )

    def run(self, ctx: StepContext) -> None:
        secret = ctx.value("demo-secret")
        ctx.log(f"raw: {secret}")
        ctx.log(f"base64: {base64.b64encode(secret.encode()).decode()}")
        ctx.log(f"url: {quote(secret, safe='')}")
        ctx.log(f"json: {json.dumps({'token': secret})}")
        ctx.outputs.set("echo", secret, secret=True)
        generated = ctx.secret(f"gen-{secret[::-1]}")
        ctx.log(f"generated: {generated}")
        crash = ctx.value("demo-crash")
        if crash == "expected":
            raise StepError(f"the service refused token {secret}")
        if crash == "unexpected":
            raise RuntimeError(f"bug while handling {secret}")

    def verify(self, ctx: StepContext) -> Verdict:
        echo = ctx.outputs.get("echo")
        return Verdict.of(Check("echo", echo is not None, f"echo is {echo}"))
