"""The journal's records: one typed value per kind of thing a step creates, owning its undo.

A step journals what it is about to create as a `Record` — a frozen dataclass whose class
names its `kind` and which field is its `ref`, and whose `undo(ctx)` removes it:

    @dataclass(frozen=True)
    class KeyVault(Record):
        kind = "key-vault"
        name: str
        def undo(self, ctx: StepContext) -> None:
            ctx.target.vault.delete_vault(self.name)

    ctx.journal.record(KeyVault(name))

Record kinds are registered when their class is defined, independently of the steps that
journal them: a plugin lists its records' modules under the `labtui.records` entry-point group,
so an entry stays removable when the step that made it is no longer installed. Two classes
claiming one kind are refused at load, naming both. In state.db an entry stays what it always
was — kind, ref and a JSON object of the other fields — and a payload that does not fit its
kind is a damaged entry, whose way out is `labtui journal forget ID`.
"""

from __future__ import annotations

import inspect
import os
import sys
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

if TYPE_CHECKING:
    from labtui.step import StepContext

RECORDS_ENTRY_POINT_GROUP = "labtui.records"
"""Modules that define record kinds; importing one registers its kinds."""


class RecordKindError(Exception):
    """Two record classes claim one kind, or a records module cannot be loaded."""


class DamagedRecord(Exception):
    """A stored entry does not fit its kind (or its kind is unknown); the message says how."""


class UnknownKind(DamagedRecord):
    """No installed plugin defines the entry's kind."""


_KINDS: dict[str, type[Record]] = {}


def _where(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _definition(cls: type) -> tuple[str, str]:
    """Where a class is written: one source file read again (a module imported anew, or by
    a second name) defines the same class, not a second one."""
    module = sys.modules.get(cls.__module__)
    source = getattr(module, "__file__", None)
    return (os.path.realpath(source) if source else cls.__module__, cls.__qualname__)


@dataclass(frozen=True)
class Record(ABC):
    """One thing a step created (or is about to create), with what its undo needs.

    Subclasses are frozen dataclasses that set `kind` (stable: it is stored) and `ref_field`
    (the field that names the resource; default "name"). A record whose ref is made of
    several fields sets `ref_field = None` and overrides `ref`. Fields are `str`, `int`,
    `bool` or `tuple[str, ...]`, so that the record survives a round trip through JSON.
    """

    kind: ClassVar[str]
    ref_field: ClassVar[str | None] = "name"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            register(cls)

    @property
    def ref(self) -> str:
        """What the entry is listed as: the resource's name, path or id."""
        if self.ref_field is None:
            raise NotImplementedError(f"{_where(type(self))} sets no ref_field: override ref")
        return str(getattr(self, self.ref_field))

    def payload(self) -> dict[str, Any]:
        """Every field but the ref, as JSON values: what state.db keeps as the entry's undo."""
        stored: dict[str, Any] = {}
        for item in fields(self):
            if item.name != self.ref_field:
                value = getattr(self, item.name)
                stored[item.name] = list(value) if isinstance(value, tuple) else value
        return stored

    @classmethod
    def from_stored(cls, ref: str, payload: Mapping[str, Any]) -> Self:
        """The record an entry holds.

        Raises:
            DamagedRecord: the payload lacks a field, has one this kind does not know, or has
                a value of the wrong type.
        """
        hints = typing.get_type_hints(cls)
        declared = {item.name: item for item in fields(cls)}
        values: dict[str, Any] = {} if cls.ref_field is None else {cls.ref_field: ref}
        for key, value in payload.items():
            if key == cls.ref_field and value == ref:
                continue  # older entries repeated the ref in their undo record
            if key not in declared or key == cls.ref_field:
                raise DamagedRecord(f"it has a field {key!r} that a {cls.kind!r} has not")
            values[key] = _typed(cls.kind, key, hints[key], value)
        for name, item in declared.items():
            if name not in values and item.default is MISSING and item.default_factory is MISSING:
                raise DamagedRecord(f"its field {name!r} is missing")
        record = cls(**values)
        if record.ref != ref:
            raise DamagedRecord(f"its fields name {record.ref!r}, not {ref!r}")
        return record

    @abstractmethod
    def undo(self, ctx: StepContext) -> None:
        """Remove what this record names; it may already be gone (that is fine).

        Raises:
            StepError, TargetError: it exists and could not be removed.
        """


def _typed(kind: str, key: str, hint: Any, value: Any) -> Any:
    if hint is bool or hint is int or hint is str:
        # bool is an int in Python; a stored true is not a count.
        if type(value) is hint:
            return value
    elif typing.get_origin(hint) is tuple:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
    else:
        raise RecordKindError(f"journal record {kind!r}: field {key!r} has a type ({hint}) "
                              "that JSON cannot keep: use str, int, bool or tuple[str, ...]")
    wanted = hint.__name__ if isinstance(hint, type) else str(hint)
    raise DamagedRecord(f"its field {key!r} holds a {type(value).__name__}, not a {wanted}")


def register(cls: type[Record]) -> None:
    """Register a record class under its kind (class definition does this).

    Raises:
        RecordKindError: another class already claims the kind; the message names both. The
            same class defined again (its module imported anew) replaces the old one.
    """
    known = _KINDS.get(cls.kind)
    if known is not None and _definition(known) != _definition(cls):
        raise RecordKindError(f"journal record kind {cls.kind!r} is defined twice: "
                              f"{_where(known)} and {_where(cls)}")
    if cls.ref_field is not None and not any(
            cls.ref_field in inspect.get_annotations(base) for base in cls.__mro__):
        raise RecordKindError(f"journal record {_where(cls)}: its ref_field "
                              f"{cls.ref_field!r} is not one of its fields")
    _KINDS[cls.kind] = cls


def load_record_kinds() -> None:
    """Import every module registered under `labtui.records`, registering their kinds.

    Raises:
        RecordKindError: a module cannot be imported, or it claims a kind already taken.
    """
    from importlib.metadata import entry_points

    for entry in entry_points(group=RECORDS_ENTRY_POINT_GROUP):
        try:
            entry.load()
        except RecordKindError:
            raise
        except Exception as exc:  # a plugin's import can fail in any way; name it and stop
            raise RecordKindError(f"journal records {entry.name!r}: cannot load {entry.value} "
                                  f"({type(exc).__name__}: {exc})") from None


def record_type(kind: str) -> type[Record]:
    """The class of a record kind, loading the installed records modules if it is new.

    Raises:
        UnknownKind: no installed plugin defines it.
    """
    if kind not in _KINDS:
        load_record_kinds()
    try:
        return _KINDS[kind]
    except KeyError:
        raise UnknownKind(f"no installed plugin knows the kind {kind!r}") from None


def decode(kind: str, ref: str, payload: Any) -> Record:
    """The record a stored entry (kind, ref, parsed JSON undo) holds.

    Raises:
        DamagedRecord: the payload is not an object or does not fit the kind.
        UnknownKind: no installed plugin defines the kind.
    """
    if not isinstance(payload, dict):
        raise DamagedRecord("its undo record is not a JSON object")
    return record_type(kind).from_stored(ref, payload)


@dataclass(frozen=True)
class JournalEntry:
    """A record as the journal holds it: its position (`seq`) and the record."""

    seq: int
    record: Record

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def ref(self) -> str:
        return self.record.ref


class Journal(Protocol):
    """The journal of one unit of work (a step in an environment), kept in the workspace."""

    def record(self, record: Record) -> JournalEntry:
        """Journal `record` before creating what it names; durable when this returns.
        Journaling the same kind and ref again replaces what its undo needs."""

    def entries(self) -> list[JournalEntry]:
        """Every recorded resource, oldest first."""

    def forget(self, entry: JournalEntry) -> None:
        """Drop an entry once its resource has been removed."""

    def record_once(self, record: Record) -> JournalEntry:
        """Journal `record` unless an earlier (interrupted) run of the unit journaled the
        same kind and ref: then that entry is kept as it was, and returned. Use it where the
        first record must win, such as what existed before the step changed it."""
        for entry in self.entries():
            if entry.kind == record.kind and entry.ref == record.ref:
                return entry
        return self.record(record)
