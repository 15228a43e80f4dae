"""`build-image`: the inference image (score.py, inference_code and the registered model's
files), started once to check that it answers a scoring request.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid

from labtui_steps.devloop import records
from labtui_steps.devloop.common import (
    copy_ca_bundle,
    fresh,
    image_labels,
    image_tag,
    newest_model,
    working_copy,
)
from labtui_steps.fields import (
    BASE_IMAGE,
    CA_BUNDLE,
    CREATED_BY,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    IMAGE_NAME,
    ML_WORKSPACE,
    MODEL_NAME,
    PREFIX,
)
from labtui_steps.images import PURPOSE_LABEL, remove_dangling, remove_verify_servers

from labtui.step import Change, Check, Step, StepContext, StepError, Verdict
from labtui.targets.base import ModelVersion, NotFound, TargetError

SAMPLE_INPUT = {"age": 37, "hours-per-week": 40.0, "sex": "Female",
                "occupation": "Exec-managerial"}


SERVER_PORT = 5001


ANSWER_KEY = "estimated_wages"
"""The key of the scoring answer, as the lab documents it: {"estimated_wages": float}."""


def _wait_healthy(url: str, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = str(getattr(exc, "reason", exc))
        time.sleep(0.25)
    raise StepError(f"the inference server did not become healthy in {timeout:.0f} s ({last})")


def score(url: str, payload: dict[str, object]) -> object:
    """POST a JSON body to the server's /score and return the decoded answer."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read().decode())
    except urllib.error.HTTPError as exc:
        raise StepError(f"POST /score answered HTTP {exc.code}: "
                        f"{exc.read().decode(errors='replace')[:200]}") from None
    except (urllib.error.URLError, ValueError) as exc:
        raise StepError(f"POST /score failed: {exc}") from None


class BuildImage(Step):
    """Build the inference image: score.py + inference_code + the registered model files."""

    id = "build-image"
    place = 3
    title = "Build the inference container"
    section = "Dev loop"
    summary = ("Download worst_regression from the dev registry, build an image that serves "
               "score.py the way Azure ML does (azureml-inference-server-http), and check that "
               "it answers a scoring request.")
    requires = ("train-model",)
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, ML_WORKSPACE, MODEL_NAME,
              CREATED_BY, IMAGE_NAME, BASE_IMAGE, CA_BUNDLE)

    def tag(self, ctx: StepContext, version: ModelVersion) -> str:
        return image_tag(ctx, ctx.value("image-name"), version)

    def run(self, ctx: StepContext) -> None:
        containers = ctx.target.containers
        ctx.log(f"Docker engine {containers.ping()}")
        version = newest_model(ctx)
        code = working_copy(ctx) / "Project_One"
        context = fresh(ctx.artifacts / "context")
        for name in ("Dockerfile", "requirements.txt", "score.py", "inference_code"):
            source = code / name
            if source.is_dir():
                shutil.copytree(source, context / name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.exists():
                shutil.copy2(source, context / name)
            else:
                raise StepError(f"Project_One/{name} is missing from your working copy")
        ctx.target.models.download_model(ctx.value("ml-workspace-name"), version.name,
                                         context / "model", version=version.version)
        copy_ca_bundle(ctx, context)
        tag = self.tag(ctx, version)
        ctx.journal.record(records.Image(tag))
        ctx.log(f"building {tag} from {ctx.value('base-image')} with model version "
                f"{version.version}")
        image = containers.build(
            context, tag, build_args={"BASE_IMAGE": ctx.value("base-image"),
                                      "MODEL_NAME": version.name,
                                      "MODEL_VERSION": str(version.version)},
            labels=image_labels(ctx, version), log=ctx.log,
            progress=lambda done, total: ctx.progress(done, total, f"layer {done + 1} of {total}"),
            cancelled=ctx.cancelled,
        )
        remove_dangling(ctx)
        ctx.outputs.set("image", tag)
        ctx.outputs.set("image-id", image.id)
        ctx.log(f"built {tag} ({image.id[:19]})")

    def verify(self, ctx: StepContext) -> Verdict:
        try:
            version = newest_model(ctx, advice="")
        except StepError as exc:
            return Verdict.of(Check("model", False, str(exc), "run train-model first"))
        tag = self.tag(ctx, version)
        containers = ctx.target.containers
        try:
            image = containers.image(tag)
        except NotFound:
            return Verdict.of(Check("image", False, f"{tag} does not exist", "run this step"))
        except TargetError as exc:
            return Verdict.of(Check("Docker engine", False, str(exc),
                                    "start a Docker engine, then verify again"))
        expected = image_labels(ctx, version)
        wrong = [key for key, value in expected.items() if image.labels.get(key) != value]
        checks = [Check("image", True, tag),
                  Check("labels", not wrong, "model name, version and tags" if not wrong else
                        "wrong " + ", ".join(wrong), "rebuild with --force")]
        checks.append(self._serve(ctx, tag))
        return Verdict(tuple(checks))

    def _serve(self, ctx: StepContext, tag: str) -> Check:
        containers = ctx.target.containers
        # A verify that crashed (or was killed) left its server running: not past this one.
        remove_verify_servers(ctx)
        name = f"labtui-verify-{uuid.uuid4().hex[:10]}"
        container = containers.run(tag, name=name, ports={SERVER_PORT: None},
                                   labels={PURPOSE_LABEL: "verify"})
        try:
            port = containers.container(container.id).ports.get(SERVER_PORT)
            if port is None:
                return Check("scoring", False, "the server's port is not published")
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base + "/", 60)
            answer = score(base + "/score", SAMPLE_INPUT)
            estimate = answer.get(ANSWER_KEY) if isinstance(answer, dict) else None
            ok = isinstance(estimate, int | float) and not isinstance(estimate, bool)
            return Check("scoring", ok, f"POST /score with the lab's sample → {answer}",
                         f"run() must return {{\"{ANSWER_KEY}\": <number>}}")
        except StepError as exc:
            logs = list(containers.logs(container.id))[-10:]
            for line in logs:
                ctx.log(f"  server: {line}")
            return Check("scoring", False, str(exc), "the server's last lines are in the log")
        finally:
            containers.remove_container(container.id)

    def plan(self, ctx: StepContext) -> list[Change]:
        try:
            version = newest_model(ctx)
        except StepError as exc:
            return [Change("create", "image", f"{ctx.value('image-name')}:?", str(exc))]
        tag = self.tag(ctx, version)
        try:
            ctx.target.containers.image(tag)
            return [Change("keep", "image", tag)]
        except NotFound:
            return [Change("create", "image", tag, f"model version {version.version}")]

    def forced_plan(self, ctx: StepContext) -> list[Change]:
        changes = self.plan(ctx)
        return [Change("change", c.kind, c.ref, "rebuilt from the working copy and the "
                       "registered model files") if c.action == "keep" else c
                for c in changes]
