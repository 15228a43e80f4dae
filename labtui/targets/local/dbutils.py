"""The `dbutils` a notebook finds: `secrets` (from a `SecretSource`), `fs` over the local DBFS,
`widgets` (the notebook's parameters) and `notebook.exit`."""

from __future__ import annotations

import builtins
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from labtui.targets.local.dbfs import Dbfs, DbutilsError, FileInfo, MountInfo


class SecretSource(Protocol):
    """Where `dbutils.secrets` reads from: the secret scopes of the (local) workspace."""

    def get(self, scope: str, key: str) -> str | None:
        """The secret's value, or None when the scope has no such key (or no such scope)."""

    def keys(self, scope: str) -> Sequence[str] | None:
        """The keys in `scope`, or None when there is no such scope."""

    def scopes(self) -> Sequence[str]:
        """The names of the scopes."""


class DictSecrets:
    """A `SecretSource` over a mapping of scope -> {key: value} (tests, simple callers)."""

    def __init__(self, scopes: Mapping[str, Mapping[str, str]]) -> None:
        self._scopes = {scope: dict(values) for scope, values in scopes.items()}

    def get(self, scope: str, key: str) -> str | None:
        return self._scopes.get(scope, {}).get(key)

    def keys(self, scope: str) -> Sequence[str] | None:
        values = self._scopes.get(scope)
        return None if values is None else sorted(values)

    def scopes(self) -> Sequence[str]:
        return sorted(self._scopes)


class SecretMetadata(NamedTuple):
    key: str


class SecretScope(NamedTuple):
    name: str


class _Secrets:
    def __init__(self, source: SecretSource, on_secret: Callable[[str], None]) -> None:
        self._source = source
        self._on_secret = on_secret

    def get(self, scope: str, key: str) -> str:
        value = self._source.get(scope, key)
        if value is None:
            raise DbutilsError(f"Secret does not exist with scope: {scope} and key: {key}")
        self._on_secret(value)
        return value

    def getBytes(self, scope: str, key: str) -> bytes:
        return self.get(scope, key).encode("utf-8")

    def list(self, scope: str) -> list[SecretMetadata]:
        keys = self._source.keys(scope)
        if keys is None:
            raise DbutilsError(f"Scope {scope} does not exist")
        return [SecretMetadata(key) for key in keys]

    def listScopes(self) -> builtins.list[SecretScope]:
        return [SecretScope(name) for name in self._source.scopes()]


class _Fs:
    def __init__(self, dbfs: Dbfs) -> None:
        self._dbfs = dbfs

    def mount(
        self,
        source: str,
        mount_point: str,
        encryption_type: str = "",
        extra_configs: Mapping[str, str] | None = None,
    ) -> bool:
        self._dbfs.mount(source, mount_point, extra_configs or {})
        return True

    def unmount(self, mount_point: str) -> bool:
        self._dbfs.unmount(mount_point)
        return True

    def mounts(self) -> list[MountInfo]:
        return self._dbfs.mounts()

    def refreshMounts(self) -> bool:
        return True

    def ls(self, path: str) -> list[FileInfo]:
        local = self._dbfs.local(path)
        base = path.rstrip("/") if path.startswith("file:") else self._dbfs.dbfs_path(path)
        if local.is_file():
            return [self._info(local, base)]
        if not local.is_dir():
            raise DbutilsError(f"java.io.FileNotFoundException: File {path} does not exist.")
        return [
            self._info(child, f"{base.rstrip('/')}/{child.name}")
            for child in sorted(local.iterdir())
        ]

    def head(self, file: str, maxBytes: int = 65536) -> str:
        with self._dbfs.local(file).open("rb") as handle:
            return handle.read(maxBytes).decode("utf-8", errors="replace")

    def put(self, file: str, contents: str, overwrite: bool = False) -> bool:
        local = self._dbfs.local(file)
        if local.exists() and not overwrite:
            raise DbutilsError(f"File {file} already exists (pass overwrite=True)")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(contents, encoding="utf-8")
        return True

    def mkdirs(self, dir: str) -> bool:
        self._dbfs.local(dir).mkdir(parents=True, exist_ok=True)
        return True

    def rm(self, dir: str, recurse: bool = False) -> bool:
        local = self._dbfs.local(dir)
        if local.is_dir():
            if not recurse and any(local.iterdir()):
                raise DbutilsError(f"{dir} is a non-empty folder (pass recurse=True)")
            shutil.rmtree(local)
            return True
        if local.exists():
            local.unlink()
            return True
        return False

    @staticmethod
    def _info(local: Path, path: str) -> FileInfo:
        stat = local.stat()
        folder = local.is_dir()
        return FileInfo(
            path + ("/" if folder else ""),
            local.name + ("/" if folder else ""),
            0 if folder else stat.st_size,
            int(stat.st_mtime * 1000),
        )


class NotebookExit(Exception):
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class _Widgets:
    def __init__(self, parameters: Mapping[str, str]) -> None:
        self._parameters = dict(parameters)
        self._defaults: dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def dropdown(
        self, name: str, defaultValue: str, choices: Sequence[str], label: str | None = None
    ) -> None:
        if defaultValue not in choices:
            raise DbutilsError(f"Default value {defaultValue!r} is not one of the choices")
        self._defaults[name] = defaultValue

    combobox = dropdown

    def get(self, name: str) -> str:
        if name in self._parameters:
            return self._parameters[name]
        if name in self._defaults:
            return self._defaults[name]
        raise DbutilsError(f"InputWidgetNotDefined: no input widget named {name}")

    def getArgument(self, name: str, optional: str | None = None) -> str | None:
        try:
            return self.get(name)
        except DbutilsError:
            return optional

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:
        self._defaults.clear()


class _NotebookUtils:
    def exit(self, value: object = "") -> None:
        raise NotebookExit(str(value))


class DBUtils:
    """The `dbutils` object a notebook sees: secrets, fs, widgets and notebook."""

    def __init__(
        self,
        secrets: SecretSource,
        dbfs: Dbfs,
        parameters: Mapping[str, str],
        on_secret: Callable[[str], None],
    ) -> None:
        self.secrets = _Secrets(secrets, on_secret)
        self.fs = _Fs(dbfs)
        self.widgets = _Widgets(parameters)
        self.notebook = _NotebookUtils()
