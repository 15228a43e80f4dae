"""Logging commands a script prints (`##vso[area.event key=value;…]message`), parsed with
the agent's escapes (%3B ; %0D %0A %5D ] %25 %)."""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMAND = re.compile(r"##vso\[([A-Za-z]+)\.([A-Za-z]+)(?:\s+([^\]]*))?\](.*)$")
ESCAPES = (("%3B", ";"), ("%0D", "\r"), ("%0A", "\n"), ("%5D", "]"), ("%25", "%"))


def unescape(text: str) -> str:
    for escaped, plain in ESCAPES:
        text = text.replace(escaped, plain)
    return text


@dataclass(frozen=True)
class Command:
    area: str
    event: str
    properties: dict[str, str]
    message: str

    @property
    def name(self) -> str:
        return f"{self.area}.{self.event}".lower()

    def flag(self, key: str) -> bool:
        return self.properties.get(key.lower(), "").strip().lower() == "true"


def parse_command(line: str) -> Command | None:
    found = COMMAND.search(line)
    if not found:
        return None
    properties: dict[str, str] = {}
    for part in (found.group(3) or "").split(";"):
        key, sign, value = part.partition("=")
        if sign and key.strip():
            properties[key.strip().lower()] = unescape(value.strip())
    return Command(found.group(1), found.group(2), properties, unescape(found.group(4)))
