"""DBFS on this machine: `dbfs:/` and `/mnt/...` paths mapped onto local folders, mounts of
`abfss://` sources (turned into a local folder by a resolver callback), and the error dbutils
raises for a request Databricks would refuse."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

_ABFSS = re.compile(
    r"^abfss://(?P<filesystem>[^@/]+)@(?P<account>[^./]+)\.dfs\.core\.windows\.net(?P<path>/.*)?$"
)

MountResolver = Callable[[str, Mapping[str, str]], Path]
"""(mount source, extra_configs) -> the local folder behind it; raises to refuse the mount."""


class DbutilsError(Exception):
    """What dbutils raises for a request Databricks would refuse (missing secret, bad path)."""


class FileInfo(NamedTuple):
    """An entry of `dbutils.fs.ls`, as Databricks returns it (folders end in "/")."""

    path: str
    name: str
    size: int
    modificationTime: int


class MountInfo(NamedTuple):
    """An entry of `dbutils.fs.mounts()`."""

    mountPoint: str
    source: str
    encryptionType: str = ""


def parse_abfss(uri: str) -> tuple[str, str, str]:
    """Split `abfss://FILESYSTEM@ACCOUNT.dfs.core.windows.net/PATH` into (account, filesystem,
    path without the leading slash).

    Raises:
        DbutilsError: `uri` is not an abfss address of a storage account.
    """
    match = _ABFSS.match(uri.strip())
    if not match:
        raise DbutilsError(
            f"{uri!r} is not an abfss:// address (abfss://FILESYSTEM@ACCOUNT.dfs.core.windows.net)"
        )
    path = (match.group("path") or "/").strip("/")
    return match.group("account"), match.group("filesystem"), path


@dataclass
class _Mount:
    info: MountInfo
    folder: Path


class Dbfs:
    """DBFS paths on this machine: mounts under `/mnt/...` and everything else under `root`."""

    def __init__(self, root: Path, resolve: MountResolver) -> None:
        self.root = root
        self._resolve = resolve
        self._mounts: dict[str, _Mount] = {}

    def mount(self, source: str, mount_point: str, extra_configs: Mapping[str, str]) -> Path:
        point = self._normalize(mount_point)
        if not point.startswith("/mnt/") or point == "/mnt/":
            raise DbutilsError(f"Mount points must be under /mnt/, not {mount_point!r}")
        if point in self._mounts:
            raise DbutilsError(f"Directory already mounted: {point}")
        folder = self._resolve(source, dict(extra_configs))
        if not folder.is_dir():
            raise DbutilsError(f"The source of the mount {source!r} is not a folder: {folder}")
        self._mounts[point] = _Mount(MountInfo(point, source), folder)
        return folder

    def unmount(self, mount_point: str) -> None:
        point = self._normalize(mount_point)
        if self._mounts.pop(point, None) is None:
            raise DbutilsError(f"Directory not mounted: {point}")

    def mounts(self) -> list[MountInfo]:
        return [mount.info for _, mount in sorted(self._mounts.items())]

    def local(self, path: str) -> Path:
        """The local file or folder behind a DBFS path (`dbfs:/x`, `/x`, `/dbfs/x`, `file:/x`)."""
        if path.startswith("file:"):
            return Path(re.sub(r"^file:(//)?", "", path) or "/")
        point = self._normalize(path)
        for mount_point, mount in sorted(self._mounts.items(), key=lambda m: -len(m[0])):
            if point == mount_point or point.startswith(mount_point + "/"):
                return mount.folder.joinpath(*point[len(mount_point) :].split("/")[1:])
        if point.startswith("/mnt/"):
            raise DbutilsError(f"Nothing is mounted under /mnt/ for {path}")
        return self.root.joinpath(*point.split("/")[1:])

    def dbfs_path(self, path: str) -> str:
        """`dbfs:/…` spelling of a DBFS path."""
        return "dbfs:" + self._normalize(path)

    @staticmethod
    def _normalize(path: str) -> str:
        text = path.strip()
        if text.startswith("dbfs:"):
            text = text[len("dbfs:") :]
        if text.startswith("/dbfs/"):
            text = text[len("/dbfs") :]
        if not text.startswith("/"):
            raise DbutilsError(f"DBFS paths are absolute (dbfs:/… or /…), not {path!r}")
        normal = posixpath.normpath(text)
        if normal.startswith("//"):
            normal = "/" + normal.lstrip("/")
        return normal
