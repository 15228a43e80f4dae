"""Masking: every secret value, in every encoding it may be printed in, becomes `***`.

The engine registers each secret input and secret output with one `Masker`; everything that
leaves the process (log lines, JSON events, exception text, run history, exported files) goes
through `Masker.redact` first.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked: masking "dev" or "1" would garble every line."""


def encodings(secret: str) -> set[str]:
    """The forms a secret may appear in: raw, URL-quoted, JSON-escaped, hex, and base64
    (standard and URL-safe) both on its own and inside a longer encoded text."""
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        quote(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        raw.hex(),
        raw.hex().upper(),
    }
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(raw).decode()
        forms.add(text)
        forms.add(text.rstrip("="))
        forms |= embedded_base64(raw, encode)
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def embedded_base64(raw: bytes, encode: Callable[[bytes], bytes]) -> set[str]:
    """The base64 characters that depend on the secret's bytes alone, for each of the three
    places it can start in a group of three bytes: a secret after "user:" in a Basic auth
    header is encoded at an offset, and its plain base64 never appears (as the GitHub and
    Azure Pipelines runners mask it)."""
    forms = set()
    for offset in range(3):
        encoded = encode(bytes(offset) + raw).decode()
        first = -(-8 * offset // 6)  # the first character with no bit of the prefix
        last = 8 * (offset + len(raw)) // 6  # past the last character with no bit after it
        forms.add(encoded[first:last])
    return forms


class Masker:
    """Replaces registered secrets (and their encodings) with `***`. Thread-safe."""

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register(self, secret: str | None) -> None:
        """Mask `secret` from now on; values shorter than 4 characters are ignored."""
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            new = encodings(secret) - self._forms
            if not new:
                return
            self._forms |= new
            # Longest first, so a secret's base64 is not half-replaced by a shorter secret.
            ordered = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(form) for form in ordered))

    def redact(self, text: str) -> str:
        """`text` with every registered secret form replaced by `***`."""
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def __contains__(self, text: str) -> bool:
        pattern = self._pattern
        return pattern is not None and pattern.search(text) is not None
