"""Resolve step inputs from every place a value can come from, and validate them.

Order, first found wins: `--set key=value` → the `LABTUI_<KEY>` environment variable →
`--values answers.toml` (an `[env.<name>]` table before the top level) → what the workspace
already holds (for the environment, then for all) → the field's derived default.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labtui.step import ENVIRONMENTS, Field

if TYPE_CHECKING:
    from labtui.masking import Masker
    from labtui.state import Workspace


class ValuesError(Exception):
    """Values are missing or invalid; `problems` holds one line for each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Answers:
    """An answers file: top-level values and per-environment overrides."""

    path: Path | None = None
    top: Mapping[str, str] = field(default_factory=dict)
    per_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def _as_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def load_answers(path: Path, known: Mapping[str, Field]) -> Answers:
    """Read an answers TOML file.

    Raises:
        ValuesError: the file is missing, not TOML, or names inputs nobody declares.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValuesError([f"answers file {path} does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValuesError([f"answers file {path} cannot be read ({exc})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValuesError([f"answers file {path} is not valid TOML: {exc}"]) from None
    problems: list[str] = []

    def table(items: Mapping[str, Any], where: str) -> dict[str, str]:
        values = {}
        for key, raw in items.items():
            text = _as_text(raw)
            if key not in known:
                problems.append(f"answers file {path}: unknown input {key!r}{where}")
            elif text is None:
                problems.append(f"answers file {path}: {key}{where} must be a string or number")
            else:
                values[key] = text
        return values

    envs = data.pop("env", {})
    top = table(data, "")
    per_env: dict[str, dict[str, str]] = {}
    if not isinstance(envs, dict):
        problems.append(f"answers file {path}: 'env' must be a table like [env.dev]")
    else:
        for env_name, items in envs.items():
            if not isinstance(items, dict):
                problems.append(f"answers file {path}: [env.{env_name}] must be a table")
                continue
            per_env[env_name] = table(items, f" in [env.{env_name}]")
    if problems:
        raise ValuesError(problems)
    return Answers(path, top, per_env)


def parse_set_args(items: Iterable[str], known: Mapping[str, Field]) -> dict[str, str]:
    """Parse `--set key=value` arguments.

    Raises:
        ValuesError: malformed, unknown, or a secret (argv is visible to every user).
    """
    values: dict[str, str] = {}
    problems = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"--set {item.split('=')[0]!r}: expected key=value")
        elif key not in known:
            problems.append(f"--set {key}: unknown input (known: {', '.join(sorted(known))})")
        elif known[key].is_secret:
            problems.append(
                f"--set {key}: secret values are not accepted on the command line (other users "
                f"can read it); use {known[key].env_var}, the answers file, or the prompt"
            )
        else:
            values[key] = value
    if problems:
        raise ValuesError(problems)
    return values


@dataclass(frozen=True)
class Resolved:
    """Resolved values for one environment, with where each came from."""

    values: dict[str, str]
    origins: dict[str, str]


def mask_stored_secrets(masker: Masker, workspace: Workspace) -> None:
    """Register every secret value and secret output `workspace` holds with `masker`, for a
    command that reads a workspace without resolving values (the journal, an export).

    Raises:
        WorkspaceError: the workspace's secrets cannot be read.
    """
    for secret in workspace.secret_values():
        masker.register(secret)


class Resolver:
    """Resolves and validates inputs; one per command invocation."""

    def __init__(
        self,
        fields: Mapping[str, Field],
        *,
        set_args: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        answers: Answers | None = None,
        workspace: Workspace | None = None,
        masker: Masker | None = None,
    ) -> None:
        self.fields = dict(fields)
        self.set_args = dict(set_args or {})
        self.environ = os.environ if environ is None else environ
        self.answers = answers or Answers()
        self.workspace = workspace
        self.unreadable: dict[tuple[str, str | None], str] = {}
        """(input, scope) -> why its stored value could not be read (a lost secret.key)."""
        self.maskers: list[Masker] = []
        """Where every secret value this resolver hands out is registered."""
        if masker is not None:
            self.mask_with(masker)

    # -- masking: the one place secret values are registered with a masker ------------------

    def mask_with(self, masker: Masker, workspace: Workspace | None = None) -> None:
        """From now on, register with `masker` every secret value this resolver hands out
        (`hand_out`, `mask_value`); at once, every secret given to it (--set, LABTUI_*, the
        answers file) and every one stored in its workspace (or `workspace`), secret outputs
        included.

        Raises:
            WorkspaceError: the workspace's secrets cannot be read.
        """
        if masker not in self.maskers:
            self.maskers.append(masker)
        stored = workspace or self.workspace
        if stored is not None:
            mask_stored_secrets(masker, stored)
        for fld in self.fields.values():
            if not fld.is_secret:
                continue
            given = [self.set_args.get(fld.name), self.environ.get(fld.env_var),
                     self.answers.top.get(fld.name),
                     *(table.get(fld.name) for table in self.answers.per_env.values())]
            for value in given:
                if value:
                    masker.register(value)

    def mask_value(self, fld: Field, value: str) -> None:
        """Register `value` if `fld` is secret: one the attendee is typing, say, masked as soon
        as it is complete, before it is kept."""
        if fld.is_secret and value:
            for masker in self.maskers:
                masker.register(value)

    def _stored(self, name: str, scope: str | None) -> str | None:
        """What the workspace holds for `name`; a secret it cannot decrypt counts as missing,
        with the reason kept for `problems`, so work that does not need it goes on."""
        from labtui.state import SealedValueError

        assert self.workspace is not None
        try:
            return self.workspace.get_value(name, scope)
        except SealedValueError as exc:
            self.unreadable[(name, scope)] = exc.reason
            return None

    def _explicit(self, fld: Field, env: str | None) -> tuple[str, str] | None:
        if fld.name in self.set_args:
            return self.set_args[fld.name], "--set"
        if fld.env_var in self.environ:
            return self.environ[fld.env_var], fld.env_var
        where = self.answers.path.name if self.answers.path else "answers file"
        if env is not None and fld.name in self.answers.per_env.get(env, {}):
            return self.answers.per_env[env][fld.name], f"{where} [env.{env}]"
        if fld.name in self.answers.top:
            return self.answers.top[fld.name], where
        if self.workspace is not None:
            for scope in ((env, None) if env else (None,)):
                stored = self._stored(fld.name, scope)
                if stored is not None:
                    return stored, "workspace"
        return None

    def resolve(self, env: str | None) -> Resolved:
        """Every known input's value for `env` (inputs with no value are left out)."""
        values: dict[str, str] = {}
        origins: dict[str, str] = {}
        pending = []
        for fld in self.fields.values():
            found = self._explicit(fld, env)
            if found is not None:
                values[fld.name], origins[fld.name] = found
            else:
                pending.append(fld)
        # Derived defaults may build on each other (a vault name from the prefix …).
        for _ in range(len(pending) + 1):
            progressed = False
            for fld in list(pending):
                value = _derive(fld, values, env)
                if value is not None:
                    values[fld.name], origins[fld.name] = value, "derived"
                    pending.remove(fld)
                    progressed = True
            if not progressed:
                break
        return Resolved(values, origins)

    def hand_out(self, env: str | None) -> dict[str, str]:
        """The values for `env` as a step or a target gets them (`resolve`), every secret
        among them registered with the maskers first. (Plain `resolve` registers nothing:
        the app's form keeps each prefix of a secret as it is typed, and a prefix is not the
        secret.)"""
        values = self.resolve(env).values
        for name, value in values.items():
            self.mask_value(self.fields[name], value)
        return values

    def problems(self, fields: Iterable[Field], env: str | None) -> list[str]:
        """One line for each missing or invalid value among `fields` in `env`."""
        resolved = self.resolve(env)
        problems = []
        for fld in fields:
            value = resolved.values.get(fld.name)
            origin = resolved.origins.get(fld.name, "")
            # Name the environment only where the value depends on it, so a bad global value
            # is reported once, not once per environment.
            per_env = origin == "derived" or origin.endswith(f"[env.{env}]") or (
                value is None and fld.derive is not None)
            where = f" [{env}]" if env and per_env else ""
            if value is None or (value == "" and fld.required):
                if fld.required:
                    # A value derived from a missing one (a vault name from the prefix) is
                    # reported as that one: it is what the user has to give.
                    root = self._missing_root(fld, resolved.values, env)
                    where = where if root is fld else ""
                    reason = self.unreadable.get((root.name, env)) or self.unreadable.get(
                        (root.name, None))
                    line = (f"missing value {root.name!r} ({root.label}){where}: "
                            + (f"the stored value {reason}; " if reason else "")
                            + how_to_supply(root))
                    if line not in problems:
                        problems.append(line)
                continue
            problem = fld.check(value)
            if problem:
                source = ("derived from other values: fix them or set it" if origin == "derived"
                          else f"from {origin}")
                problems.append(f"{problem} ({source}){where}" if origin else problem)
        return problems

    def given_problems(self) -> list[str]:
        """One line for each value given on this command (--set, LABTUI_*, the answers file)
        that breaks its field's rule, whichever steps need it: checked before the workspace
        is opened, so a bad value is never remembered, journaled or even given a folder."""
        where = self.answers.path.name if self.answers.path else "answers file"
        given: list[tuple[Field, str, str]] = []
        for fld in self.fields.values():
            if fld.name in self.set_args:
                given.append((fld, self.set_args[fld.name], "--set"))
            if fld.env_var in self.environ:
                given.append((fld, self.environ[fld.env_var], fld.env_var))
            if fld.name in self.answers.top:
                given.append((fld, self.answers.top[fld.name], where))
            for env, table in sorted(self.answers.per_env.items()):
                if fld.name in table:
                    given.append((fld, table[fld.name], f"{where} [env.{env}]"))
        problems = []
        for fld, value, origin in given:
            if value == "":
                problem = f"{fld.name}: must not be empty" if fld.required else None
            else:
                problem = fld.check(value)
            if problem:
                problems.append(f"{problem} (from {origin})")
        return problems

    def _missing_root(self, fld: Field, values: Mapping[str, str], env: str | None) -> Field:
        """The input whose absence keeps `fld` from being derived (`fld` itself if none)."""
        seen = {fld.name}
        while fld.derive is not None:
            try:
                fld.derive(values, env)
            except KeyError as missing:
                name = missing.args[0] if missing.args else None
                if name in self.fields and name not in seen and name not in values:
                    seen.add(name)
                    fld = self.fields[name]
                    continue
            break
        return fld

    @staticmethod
    def scope_of(fld: Field, env: str | None) -> str | None:
        """Where a value of `fld` given for `env` is kept: that environment when the field
        is declared `per_environment`, else shared by every step and environment (None)."""
        return env if fld.per_environment else None

    def save(self, fld: Field, env: str | None, value: str) -> None:
        """Keep a value the attendee typed for `env` (in its `scope_of`); an empty one is
        forgotten. A shared value replaces what an environment held of its own (typed in an
        earlier version of the form, or remembered from an answers file's [env.x])."""
        workspace = self._writable()
        scope = self.scope_of(fld, env)
        if scope is None:
            for other in ENVIRONMENTS:
                if workspace.get_value(fld.name, other) is not None:
                    workspace.delete_value(fld.name, other)
        if value == "":
            workspace.delete_value(fld.name, scope)
        elif workspace.get_value(fld.name, scope) != value:
            workspace.set_value(fld.name, scope, value, secret=fld.is_secret)

    def forget(self, fld: Field, env: str | None) -> list[str | None]:
        """Drop what the workspace holds of `fld` for `env` (every scope of a shared value),
        so its default or derived value applies again; the scopes it looked in, in order."""
        workspace = self._writable()
        scope = self.scope_of(fld, env)
        scopes: list[str | None] = [scope] if scope is not None else [None, *ENVIRONMENTS]
        for where in scopes:
            if workspace.get_value(fld.name, where) is not None:
                workspace.delete_value(fld.name, where)
        return scopes

    def _writable(self) -> Workspace:
        if self.workspace is None:
            raise ValueError("values are saved only in a workspace")
        return self.workspace

    def remember(self) -> None:
        """Keep every explicitly given value (--set, LABTUI_*, the answers file and its
        [env.*] tables) in the workspace, so later runs of any step need not repeat them."""
        if self.workspace is None:
            return
        for fld in self.fields.values():
            given: list[tuple[str, str | None]] = []
            if fld.name in self.set_args:
                given.append((self.set_args[fld.name], None))
            elif fld.env_var in self.environ:
                given.append((self.environ[fld.env_var], None))
            elif fld.name in self.answers.top:
                given.append((self.answers.top[fld.name], None))
            for env, table in self.answers.per_env.items():
                if fld.name in table:
                    given.append((table[fld.name], env))
            for value, scope in given:
                if self._stored(fld.name, scope) != value:
                    self.workspace.set_value(fld.name, scope, value, secret=fld.is_secret)


def _derive(fld: Field, values: Mapping[str, str], env: str | None) -> str | None:
    if fld.derive is not None:
        try:
            derived = fld.derive(values, env)
        except KeyError:
            return None
        if derived is not None:
            return derived
    return fld.default


def how_to_supply(fld: Field) -> str:
    """The ways to give a value for `fld`, in one phrase."""
    ways = [] if fld.is_secret else [f"--set {fld.name}=…"]
    ways += [f"env {fld.env_var}", f"'{fld.name}' in the answers file (--values)"]
    return "give it with " + ", ".join(ways)
