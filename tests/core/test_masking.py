"""Secrets never leak: not in logs, JSON events, exception text, state.db or files on disk."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

from labtui.masking import Masker, encodings
from tests.conftest import LabtuiRunner

CANARY = "c4n4ry/S3cr3t+value=&\"quoted\""


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]]


def test_masker_replaces_every_encoding_and_skips_short_values() -> None:
    masker = Masker()
    masker.register(CANARY)
    masker.register("abc")
    for form in forms(CANARY):
        assert masker.redact(f"before {form} after") == "before *** after"
    assert masker.redact("abc stays") == "abc stays"
    assert all(len(form) >= 4 for form in encodings("abcd"))


def test_base64_with_text_in_front_and_hex_are_masked() -> None:
    """A Basic auth header encodes "app-id:password": the password's own base64 is not in it."""
    masker = Masker()
    password = "zq7K~Pa55w0rd-4-the-lake"
    masker.register(password)
    for user in ("", "a", "ab", "abc", "0b1f6471-1bf0-4dda"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            header = "Authorization: Basic " + encode(f"{user}:{password}".encode()).decode()
            masked = masker.redact(header)
            assert "***" in masked, (user, header)
            assert masked.startswith("Authorization: Basic ")
    assert masker.redact(f"hex {password.encode().hex()} end") == "hex *** end"
    assert masker.redact(f"HEX {password.encode().hex().upper()}") == "HEX ***"
    unrelated = "Authorization: Basic " + base64.b64encode(b"ada:another-secret").decode()
    assert masker.redact(unrelated) == unrelated


def test_canary_is_nowhere_on_disk_or_in_output(labtui: LabtuiRunner, tmp_path: Path) -> None:
    env = {"LABTUI_DEMO_SECRET": CANARY}
    log_file = tmp_path / "out" / "run.log"
    outputs = []
    for crash in ("no", "expected", "unexpected"):
        ran = labtui("--step", "demo-canary", "--headless", "--force", "--json",
                     "--log-file", str(log_file), "--set", f"demo-crash={crash}",
                     extra_env=env)
        assert ran.code == (0 if crash == "no" else 1), ran.output
        assert "Traceback" not in ran.output
        outputs.append(ran.output)
    shown = labtui("logs", "demo-canary", extra_env=env)
    outputs.append(shown.output)
    verified = labtui("--step", "demo-canary", "--headless", "--verify", extra_env=env)
    outputs.append(verified.output)

    text = "\n".join(outputs)
    assert "***" in text and "unexpected error RuntimeError" in text
    generated = f"gen-{CANARY[::-1]}"
    needles = forms(CANARY) + forms(generated)
    for needle in needles:
        assert needle not in text, needle
    files = [p for p in [*labtui.workspace.rglob("*"), log_file] if p.is_file()]
    assert any(p.name == "labtui.log" for p in files), "the unexpected error was logged"
    for path in files:
        content = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in content, (path, needle)
