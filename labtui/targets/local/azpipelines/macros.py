"""Variables at run time: `$(name)` macros, the environment a step gets, and masking.

As an agent does: names compare case-insensitively; a macro whose variable does not exist is
left as written; a variable becomes the environment variable of its name upper-cased with `.`
and spaces turned into `_`; a secret variable is never put in a step's environment (a step
gets it only through its `env:`), and its value, and the obvious encodings of it, are masked
as `***` in every line written."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

MACRO = re.compile(r"\$\(([A-Za-z0-9_.\-]+)\)")
MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary text; labtui's masker does the same


def environment_name(name: str) -> str:
    """`Build.SourcesDirectory` → `BUILD_SOURCESDIRECTORY` (a `-`, which Key Vault secret names
    use, stays as it is)."""
    return re.sub(r"[. ]", "_", name).upper()


@dataclass
class Variable:
    name: str
    value: str
    secret: bool = False
    readonly: bool = False


class Variables:
    """A scope of variables (pipeline → stage → job); `child()` copies one for a narrower
    scope, so that what a job sets stays in that job."""

    def __init__(self, values: Mapping[str, Variable] | None = None) -> None:
        self.values: dict[str, Variable] = dict(values or {})

    def child(self) -> Variables:
        return Variables(self.values)

    def set(self, name: str, value: str, *, secret: bool = False,
            readonly: bool = False) -> None:
        self.values[name.lower()] = Variable(name, value, secret, readonly)

    def get(self, name: str) -> Variable | None:
        return self.values.get(name.lower())

    def __iter__(self) -> Iterator[Variable]:
        return iter(self.values.values())

    def expand(self, text: str) -> str:
        """Replace each `$(name)` of a known variable by its value; leave the others."""
        def replace(found: re.Match[str]) -> str:
            variable = self.get(found.group(1))
            return variable.value if variable is not None else found.group()
        return MACRO.sub(replace, text)

    def plain(self) -> dict[str, str]:
        """name → value for the expressions' `variables[...]`; secrets are there too, as in
        Azure (a condition may compare them)."""
        return {variable.name: variable.value for variable in self}

    def environment(self) -> dict[str, str]:
        return {environment_name(v.name): v.value for v in self if not v.secret}

    def secrets(self) -> list[str]:
        return [variable.value for variable in self if variable.secret]


def encodings(secret: str) -> set[str]:
    """The forms a secret takes when a script prints it encoded: base64 (at each of the three
    alignments it can have inside a longer encoded text), URL and JSON escaping."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    raw = secret.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode().rstrip("=")
        start = -(-shift * 4 // 3)  # the characters that carry the padding bytes
        end = len(encoded) - (1 if (shift + len(raw)) % 3 else 0)
        forms.add(encoded[start:end])
        if shift == 0:
            forms.add(base64.b64encode(raw).decode())
            forms.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    for line in secret.splitlines():
        forms.add(line)
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Masker:
    """Replaces every registered secret (and its encodings) by `***`; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.forms: list[str] = []

    def add(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            return
        with self.lock:
            known = set(self.forms) | encodings(secret)
            self.forms = sorted(known, key=len, reverse=True)

    def mask(self, text: str) -> str:
        with self.lock:
            forms = self.forms
        for form in forms:
            if form in text:
                text = text.replace(form, MASK)
        return text
