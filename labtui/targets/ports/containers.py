"""The container engine port: build, run, inspect and remove images and containers."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from labtui.targets.resources import ContainerInfo, ImageInfo


class Containers(ABC):
    """Build, run, inspect and remove container images on a container engine.

    An engine may be shared (other attendees, other workspaces). A port with an `owner` labels
    everything it builds or starts with `OWNER_LABEL` = owner, and removes only images and
    containers carrying that label.
    """

    @property
    def owner(self) -> str | None:
        """The id this port labels its images and containers with; None for an engine
        client that owns nothing (tools, tests)."""
        return None

    @abstractmethod
    def ping(self) -> str:
        """The engine's version.

        Raises:
            TargetError: no engine is reachable; the message says how to start one.
        """

    @abstractmethod
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
        """Build `context` (with its Dockerfile) as `tag`, streaming each output line to `log`
        as the engine produces it and `progress(step, steps)` per Dockerfile step.

        Raises:
            BuildFailed: the build failed; the message names the cause and the fix.
            TargetError: no engine, or the build was cancelled.
        """

    @abstractmethod
    def image(self, ref: str) -> ImageInfo:
        """Raises NotFound if there is no such image."""

    @abstractmethod
    def images(self, label: str | None = None) -> list[ImageInfo]:
        """Images, optionally only those with `label` ("key" or "key=value")."""

    @abstractmethod
    def remove_image(self, ref: str) -> bool:
        """Remove an image (and untag it); False if it did not exist or belongs to another
        owner (it is then left alone)."""

    @abstractmethod
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
        """Start a detached container; `ports` maps container ports to host ports on loopback
        (None: any free port, see `ContainerInfo.ports`).

        Raises:
            NotFound: the image does not exist. TargetError: it cannot start.
        """

    @abstractmethod
    def container(self, ref: str) -> ContainerInfo:
        """Raises NotFound if there is no such container."""

    @abstractmethod
    def containers(self, label: str | None = None) -> list[ContainerInfo]:
        """Containers, running or not, optionally only those with `label`."""

    @abstractmethod
    def wait(self, ref: str, timeout: float) -> int:
        """Wait for a container to exit; its exit code. Raises TargetError on timeout."""

    @abstractmethod
    def logs(self, ref: str, *, follow: bool = False) -> Iterator[str]:
        """A container's output lines; with `follow`, as they come until it exits."""

    @abstractmethod
    def copy_from(self, ref: str, path: str, destination: Path) -> None:
        """Copy `path` out of a container into the folder `destination`.

        Raises:
            NotFound: the container or the path does not exist.
        """

    @abstractmethod
    def remove_container(self, ref: str) -> bool:
        """Stop and remove a container; False if it did not exist or belongs to another owner
        (it is then left alone)."""
