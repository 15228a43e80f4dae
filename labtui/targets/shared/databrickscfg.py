"""The Databricks CLI profile file (`.databrickscfg`), shared by every target.

The file is INI as `databricks configure --token --profile NAME` writes it and as the legacy
CLI, the new CLI and `databricks-sdk` read it:

    [NAME]
    host = https://adb-123.4.azuredatabricks.net
    token = dapi...

Only the section being written changes: other sections, comments and blank lines are kept byte
for byte. Every write goes to a temporary file in the same folder that is then renamed over the
original, so a crash leaves either the old or the new file. The file is kept 0600 since it holds
tokens.
"""

from __future__ import annotations

import configparser
import fcntl
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labtui.targets.errors import NotFound, TargetError
from labtui.targets.resources import Profile

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_EDITING = threading.Lock()
"""Edits are read-modify-write: threads of one process (a proctor provisioning a room) take
turns, so no thread's profile is lost to another's rewrite; processes take turns through a lock
file in the temporary folder (the file itself is replaced on every write, so it cannot hold a
lock)."""


def config_path() -> Path:
    """The file the Databricks tools read: $DATABRICKS_CONFIG_FILE or ~/.databrickscfg."""
    configured = os.environ.get("DATABRICKS_CONFIG_FILE")
    return Path(configured).expanduser() if configured else Path.home() / ".databrickscfg"


@dataclass
class ProfileFile:
    """Reads and edits the profiles of one `.databrickscfg` file."""

    path: Path

    @classmethod
    def default(cls) -> ProfileFile:
        return cls(config_path())

    def _text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            raise TargetError(f"cannot read {self.path}: {_reason(exc)}") from None

    def _parse(self, text: str) -> configparser.ConfigParser:
        parser = configparser.ConfigParser(interpolation=None, default_section="DEFAULT")
        try:
            parser.read_string(text, source=str(self.path))
        except configparser.Error as exc:
            first = str(exc).splitlines()[0]
            raise TargetError(
                f"{self.path} is not a Databricks config file (INI): {first}"
            ) from None
        return parser

    def profiles(self) -> list[str]:
        """Section names in the file, in file order."""
        return self._parse(self._text()).sections()

    def read(self, name: str) -> Profile:
        """Return profile `name`. Raises NotFound, or TargetError if the file is not INI."""
        parser = self._parse(self._text())
        if not parser.has_section(name):
            raise NotFound(f"there is no profile [{name}] in {self.path}")
        section = parser[name]
        return Profile(name, section.get("host", ""), section.get("token", ""))

    def write(self, name: str, host: str, token: str,
              extra: Mapping[str, str] | None = None) -> None:
        """Add or replace section `name` with host, token and the `extra` settings after
        them; keep everything else."""
        _check_name(name)
        settings = {"host": host, "token": token, **(extra or {})}
        if any("\n" in value for value in settings.values()):
            raise TargetError(f"profile [{name}]: each setting must be one line")
        with self._editing():
            self._write(name, settings)


    def _write(self, name: str, settings: Mapping[str, str]) -> None:
        text = self._text()
        self._parse(text)
        block = [f"[{name}]\n", *(f"{key} = {value}\n" for key, value in settings.items())]
        lines = text.splitlines(keepends=True)
        start, end = _section_span(lines, name)
        if start is None:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            if lines and lines[-1].strip():
                lines.append("\n")
            lines.extend(block)
        else:
            trailing_blank = [line for line in lines[start:end] if not line.strip()]
            lines[start:end] = block + (["\n"] if trailing_blank and end < len(lines) else [])
        self._replace("".join(lines))

    def delete(self, name: str) -> bool:
        """Remove section `name`; False if it was not there. An emptied file is removed."""
        with self._editing():
            return self._delete(name)

    def _delete(self, name: str) -> bool:
        text = self._text()
        if not text:
            return False
        self._parse(text)
        lines = text.splitlines(keepends=True)
        start, end = _section_span(lines, name)
        if start is None:
            return False
        del lines[start:end]
        # Drop the blank line that separated the removed section from the one before it.
        if start == len(lines) and lines and not lines[-1].strip():
            del lines[-1]
        remaining = "".join(lines)
        if remaining.strip():
            self._replace(remaining)
        else:
            self.path.unlink()
        return True

    @contextmanager
    def _editing(self) -> Iterator[None]:
        """Hold this process's and every other process's turn at editing the file."""
        with _EDITING:
            try:
                fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise TargetError(f"cannot lock {self.path}: {_reason(exc)}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def _lock_path(self) -> Path:
        """A lock file per config file and user, kept out of the user's home folder."""
        key = hashlib.sha256(str(self.path.expanduser().absolute()).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"labtui-databrickscfg-{os.getuid()}-{key}.lock"

    def _replace(self, text: str) -> None:
        self._parse(text)  # never write a file the tools could not read back
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(prefix=".databrickscfg.", dir=folder)
        except OSError as exc:
            raise TargetError(f"cannot write {self.path}: {_reason(exc)}") from None
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise TargetError(f"cannot write {self.path}: {_reason(exc)}") from None


def _section_span(lines: list[str], name: str) -> tuple[int | None, int]:
    """Line range [start, end) of section `name`, up to the next section header."""
    start: int | None = None
    for index, line in enumerate(lines):
        match = _SECTION.match(line)
        if match is None:
            continue
        if start is not None:
            return start, index
        if match.group(1).strip() == name:
            start = index
    return start, len(lines)


def _check_name(name: str) -> None:
    if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise TargetError(
            f"profile name {name!r}: letters, digits, '.', '_' and '-', starting with a letter"
            " or digit"
        )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
