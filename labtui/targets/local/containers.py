"""Containers on a real Docker engine, through the docker SDK.

The engine is the one `DOCKER_HOST` (or the default socket) points at. Builds stream their output
line by line as the engine produces it and report "step n of N" progress; every image and
container labtui makes carries the label `labtui.workspace` so a rollback finds exactly its own.
"""

from __future__ import annotations

import io
import re
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from labtui.targets.base import (
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


class DockerContainers(Containers):
    """The Containers port over the docker SDK. The SDK is imported on first use."""

    def __init__(self, *, latency: Callable[[], None] = lambda: None) -> None:
        self._client: Any = None
        self._lock = threading.Lock()
        self._latency = latency

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
        try:
            stream: Iterator[dict[str, Any]] = client.api.build(
                path=str(context), tag=tag, buildargs=dict(build_args or {}),
                labels=dict(labels or {}), rm=True, forcerm=True, decode=True,
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
        info = self.image(tag)
        if image_id and info.id != image_id:
            raise TargetError(f"docker build of {tag} produced {image_id}, but {tag} is "
                              f"{info.id}")
        return info

    def image(self, ref: str) -> ImageInfo:
        from docker.errors import ImageNotFound

        try:
            image = self._docker().images.get(ref)
        except ImageNotFound:
            raise NotFound(f"image {ref} does not exist") from None
        return _image_info(image)

    def images(self, label: str | None = None) -> list[ImageInfo]:
        filters = {"label": label} if label else {}
        return [_image_info(image) for image in self._docker().images.list(filters=filters)]

    def remove_image(self, ref: str) -> bool:
        from docker.errors import ImageNotFound

        try:
            self._docker().images.remove(ref, force=True)
        except ImageNotFound:
            return False
        return True

    # -- containers ------------------------------------------------------------------------

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
                environment=dict(environment or {}), labels=dict(labels or {}),
            )
        except ImageNotFound:
            raise NotFound(f"image {image} does not exist") from None
        except APIError as exc:
            raise TargetError(f"cannot start {name} from {image}: "
                              f"{exc.explanation or exc}") from None
        container.reload()
        return _container_info(container)

    def container(self, ref: str) -> ContainerInfo:
        from docker.errors import NotFound as DockerNotFound

        try:
            container = self._docker().containers.get(ref)
        except DockerNotFound:
            raise NotFound(f"container {ref} does not exist") from None
        return _container_info(container)

    def containers(self, label: str | None = None) -> list[ContainerInfo]:
        filters = {"label": label} if label else {}
        return [_container_info(c)
                for c in self._docker().containers.list(all=True, filters=filters)]

    def wait(self, ref: str, timeout: float) -> int:
        import requests

        try:
            result = self._docker().containers.get(ref).wait(timeout=timeout)
        except requests.exceptions.ConnectionError:
            raise TargetError(f"container {ref} did not finish within {timeout:.0f} s") from None
        return int(result.get("StatusCode", -1))

    def logs(self, ref: str, *, follow: bool = False) -> Iterator[str]:
        container = self._docker().containers.get(ref)
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

    def remove_container(self, ref: str) -> bool:
        from docker.errors import NotFound as DockerNotFound

        try:
            self._docker().containers.get(ref).remove(force=True)
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
    image_tags = container.image.tags if container.image is not None else []
    return ContainerInfo(
        id=str(container.id), name=str(container.name),
        image=image_tags[0] if image_tags else str(container.attrs.get("Image", "")),
        status=str(container.status), labels=dict(container.labels or {}), ports=ports,
    )
