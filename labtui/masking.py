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
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked: masking "dev" or "1" would garble every line."""


def encodings(secret: str) -> set[str]:
    """The forms a secret may appear in: raw, base64 (standard and URL-safe, with and without
    padding), URL-quoted and JSON-escaped."""
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        quote(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode()
        forms.add(text)
        forms.add(text.rstrip("="))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


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
