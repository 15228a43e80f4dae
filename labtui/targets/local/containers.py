"""Containers on a real Docker engine, through the docker SDK.

The engine is the one `DOCKER_HOST` (or the default socket) points at, and other workspaces may
use it too. Builds stream their output line by line as the engine produces it and report
"step n of N" progress. With an owner (the workspace id), every image and container made here
carries the label `labtui.workspace` = owner, and only those are ever removed.

An engine that stops answering mid-call (stopped, crashed, its socket gone) is a `TargetError`
that says so in one line, never the transport's exception.
"""

from __future__ import annotations

import functools
import io
import re
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from labtui.targets.base import (
    OWNER_LABEL,
    ContainerInfo,
    Containers,
    ImageInfo,
    NotFound,
    TargetError,
)
from labtui.targets.local.build_failures import BuildTranscript

BUILD_STEP = re.compile(r"^Step (\d+)/(\d+) :")
START_ENGINE_HINT = (
    "start one: `sudo dockerd &` (Linux, docker.io package), Docker Desktop (macOS/Windows), "
    "or point DOCKER_HOST at a running engine"
)
OWNER_BUILD_ARG = "LABTUI_WORKSPACE"
"""The build arg that carries the owner, for a Dockerfile's earlier stages to label with."""
T = TypeVar("T")


def engine_gone(what: str, exc: BaseException) -> TargetError:
    """The error for an engine that stopped answering while doing `what`."""
    text = str(exc)
    if "refused" in text or "No such file" in text:
        reason = "its socket refuses connections"
    elif "Read timed out" in text:
        reason = "it stopped sending"
    else:
        reason = "the connection to it broke"
    return TargetError(f"the Docker engine stopped answering while {what}: {reason} "
                       f"({type(exc).__name__}); once it runs again, run the step again (its "
                       "rollback removes what was left)")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What the SDK raises when the connection to the engine breaks (a streamed answer is
    read straight from urllib3, so its errors come unwrapped)."""
    import requests
    import urllib3
    from docker.errors import DockerException

    return (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
            ConnectionError, DockerException)


def _answering(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn a lost connection to the engine during the call into `engine_gone(what)`."""

    def wrap(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def call(self: DockerContainers, *args: Any, **kwargs: Any) -> T:
            from docker.errors import APIError

            try:
                return method(self, *args, **kwargs)
            except (TargetError, APIError):
                raise
            except _transport_errors() as exc:
                raise engine_gone(what, exc) from None

        return call

    return wrap


class DockerContainers(Containers):
    """The Containers port over the docker SDK. The SDK is imported on first use."""

    def __init__(self, *, latency: Callable[[], None] = lambda: None,
                 owner: str | Callable[[], str] | None = None) -> None:
        self._client: Any = None
        self._lock = threading.Lock()
        self._latency = latency
        self._owner = owner

    @property
    def owner(self) -> str | None:
        return self._owner() if callable(self._owner) else self._owner

    def _labels(self, labels: Mapping[str, str] | None) -> dict[str, str]:
        owner = self.owner
        return {**(labels or {}), **({OWNER_LABEL: owner} if owner is not None else {})}

    def _ours(self, labels: Mapping[str, str] | None) -> bool:
        owner = self.owner
        return owner is None or (labels or {}).get(OWNER_LABEL) == owner

    # -- engine ----------------------------------------------------------------------------

    def _docker(self) -> Any:
        self._latency()
        with self._lock:
            if self._client is None:
                import docker
                from docker.errors import DockerException

                try:
                    client = docker.from_env(timeout=120)
                    client.ping()
                except DockerException as exc:
                    reason = str(exc).split("(")[0].strip().rstrip(":")
                    raise TargetError(
                        f"no Docker engine is reachable ({reason}); {START_ENGINE_HINT}"
                    ) from None
                self._client = client
            return self._client

    @_answering("answering")
    def ping(self) -> str:
        return str(self._docker().version().get("Version", "unknown"))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- images ----------------------------------------------------------------------------

    def build(
        self,
        context: Path,
        tag: str,
        *,
        build_args: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda line: None,
        progress: Callable[[int, int], None] = lambda done, total: None,
        cancelled: threading.Event | None = None,
    ) -> ImageInfo:
        from docker.errors import APIError

        client = self._docker()
        transcript = BuildTranscript(tag, build_args)
        args = dict(build_args or {})
        if self.owner is not None:
            # Only the last stage gets `labels`; a Dockerfile labels its earlier stages with this.
            args.setdefault(OWNER_BUILD_ARG, self.owner)
        try:
            stream: Iterator[dict[str, Any]] = client.api.build(
                path=str(context), tag=tag, buildargs=args,
                labels=self._labels(labels), rm=True, forcerm=True, decode=True,
            )
            image_id = ""
            for chunk in stream:
                if cancelled is not None and cancelled.is_set():
                    raise TargetError(f"build of {tag} was cancelled")
                if "error" in chunk:
                    raise transcript.failure(str(chunk["error"]))
                text = str(chunk.get("stream") or chunk.get("status") or "")
                for line in text.splitlines():
                    if not line.strip():
                        continue
                    transcript.line(line)
                    log(line.rstrip())
                    step = BUILD_STEP.match(line)
                    if step:
                        progress(int(step.group(1)) - 1, int(step.group(2)))
                aux = chunk.get("aux")
                if isinstance(aux, dict) and "ID" in aux:
                    image_id = str(aux["ID"])
        except APIError as exc:
            raise transcript.failure(str(exc.explanation or exc)) from None
        except _transport_errors() as exc:
            at = f" at step {transcript.position}" if transcript.position else ""
            raise engine_gone(f"building {tag}{at}", exc) from None
        info = self.image(tag)
        if image_id and info.id != image_id:
            raise TargetError(f"docker build of {tag} produced {image_id}, but {tag} is "
                              f"{info.id}")
        return info

    @_answering("looking up an image")
    def image(self, ref: str) -> ImageInfo:
        from docker.errors import ImageNotFound

        try:
            image = self._docker().images.get(ref)
        except ImageNotFound:
            raise NotFound(f"image {ref} does not exist") from None
        return _image_info(image)

    @_answering("listing images")
    def images(self, label: str | None = None) -> list[ImageInfo]:
        filters = {"label": label} if label else {}
        return [_image_info(image) for image in self._docker().images.list(filters=filters)]

    @_answering("removing an image")
    def remove_image(self, ref: str) -> bool:
        from docker.errors import ImageNotFound

        try:
            image = self._docker().images.get(ref)
            if not self._ours((image.attrs.get("Config") or {}).get("Labels")):
                return False  # another workspace's (or nobody's): not ours to remove
            self._docker().images.remove(image.id if ref == image.id else ref, force=True)
        except ImageNotFound:
            return False
        return True

    # -- containers ------------------------------------------------------------------------

    @_answering("starting a container")
    def run(
        self,
        image: str,
        *,
        name: str,
        ports: Mapping[int, int | None] | None = None,
        environment: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        command: list[str] | None = None,
    ) -> ContainerInfo:
        from docker.errors import APIError, ImageNotFound

        client = self._docker()
        port_map = {f"{port}/tcp": ("127.0.0.1", host) if host else ("127.0.0.1", None)
                    for port, host in (ports or {}).items()}
        try:
            container = client.containers.run(
                image, command=command, name=name, detach=True, ports=port_map,
                environment=dict(environment or {}), labels=self._labels(labels),
            )
        except ImageNotFound:
            raise NotFound(f"image {image} does not exist") from None
        except APIError as exc:
            raise TargetError(f"cannot start {name} from {image}: "
                              f"{exc.explanation or exc}") from None
        container.reload()
        return _container_info(container)

    @_answering("looking up a container")
    def container(self, ref: str) -> ContainerInfo:
        from docker.errors import NotFound as DockerNotFound

        try:
            container = self._docker().containers.get(ref)
        except DockerNotFound:
            raise NotFound(f"container {ref} does not exist") from None
        return _container_info(container)

    @_answering("listing containers")
    def containers(self, label: str | None = None) -> list[ContainerInfo]:
        filters = {"label": label} if label else {}
        return [_container_info(c)
                for c in self._docker().containers.list(all=True, filters=filters)]

    def wait(self, ref: str, timeout: float) -> int:
        container = self._call(f"waiting for container {ref}",
                               lambda: self._docker().containers.get(ref))
        started = time.monotonic()
        try:
            result = container.wait(timeout=timeout)
        except _transport_errors() as exc:
            # The SDK says a read timeout and a lost engine alike with a ConnectionError:
            # only the clock tells them apart.
            if time.monotonic() - started >= timeout * 0.98:
                raise TargetError(f"container {ref} did not finish within {timeout:.0f} s"
                                  ) from None
            raise engine_gone(f"waiting for container {ref}", exc) from None
        return int(result.get("StatusCode", -1))

    def logs(self, ref: str, *, follow: bool = False) -> Iterator[str]:
        what = f"reading the output of container {ref}"
        container = self._call(what, lambda: self._docker().containers.get(ref))
        try:
            if not follow:
                yield from container.logs().decode(errors="replace").splitlines()
                return
            buffer = b""
            for chunk in container.logs(stream=True, follow=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    yield line.decode(errors="replace")
            if buffer:
                yield buffer.decode(errors="replace")
        except _transport_errors() as exc:
            raise engine_gone(what, exc) from None

    def _call(self, what: str, call: Callable[[], T]) -> T:
        from docker.errors import NotFound as DockerNotFound

        try:
            return call()
        except DockerNotFound:
            raise NotFound(f"container does not exist ({what})") from None
        except _transport_errors() as exc:
            raise engine_gone(what, exc) from None

    @_answering("copying files out of a container")
    def copy_from(self, ref: str, path: str, destination: Path) -> None:
        from docker.errors import NotFound as DockerNotFound

        try:
            stream, _ = self._docker().containers.get(ref).get_archive(path)
        except DockerNotFound:
            raise NotFound(f"{path} does not exist in container {ref}") from None
        archive = io.BytesIO(b"".join(stream))
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(destination, filter="data")

    @_answering("removing a container")
    def remove_container(self, ref: str) -> bool:
        from docker.errors import NotFound as DockerNotFound

        try:
            container = self._docker().containers.get(ref)
            if not self._ours(container.labels):
                return False  # another workspace's (or nobody's): not ours to remove
            container.remove(force=True)
        except DockerNotFound:
            return False
        return True


def _image_info(image: Any) -> ImageInfo:
    attrs = image.attrs
    return ImageInfo(
        id=str(image.id), tags=tuple(image.tags),
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
        created=str(attrs.get("Created", "")),
    )


def _container_info(container: Any) -> ContainerInfo:
    ports: dict[int, int] = {}
    for key, bindings in (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).items():
        if bindings:
            ports[int(key.split("/")[0])] = int(bindings[0]["HostPort"])
    # The name it was started from, as `docker ps` shows it: read from the listing itself, not by
    # looking the image up (another workspace on a shared engine may remove an image between the
    # listing and the lookup, and one container of theirs must not break our listing).
    config = container.attrs.get("Config") or {}
    return ContainerInfo(
        id=str(container.id), name=str(container.name),
        image=str(config.get("Image") or container.attrs.get("Image", "")),
        status=str(container.status), labels=dict(container.labels or {}), ports=ports,
    )
