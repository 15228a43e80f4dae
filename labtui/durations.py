"""Durations as people type them: a whole number with a unit, `30s`, `90m`, `12h`, `2d`.

A bare number is refused rather than guessed at: minutes and seconds are both common, and a
wrong guess makes a two-day approval window last two days' worth of seconds (or the other way
round). `duration_rule` is a `Field` validate function; `seconds` reads a valid value;
`duration_text` writes seconds back in the largest unit that holds them exactly.
"""

from __future__ import annotations

import re

UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RULE = "a whole number with a unit: s, m, h or d (30s, 90m, 2d)"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$", re.IGNORECASE)


def duration_rule(value: str) -> str | None:
    """The broken rule, or None for a valid duration above zero."""
    found = _DURATION.match(value)
    if found is None:
        if value.strip().isdigit():
            return f"{RULE}; {value.strip()} has no unit"
        return RULE
    if int(found.group(1)) == 0:
        return f"{RULE}, above zero"
    return None


def seconds(value: str) -> int:
    """The seconds a valid duration stands for.

    Raises:
        ValueError: it breaks `RULE` (the message says how).
    """
    problem = duration_rule(value)
    found = _DURATION.match(value)
    if problem is not None or found is None:
        raise ValueError(f"{value!r}: {problem or RULE}")
    return int(found.group(1)) * UNITS[found.group(2).lower()]


def duration_text(total: float) -> str:
    """`172800` → `2d`, `5400` → `90m`, `30` → `30s`: the largest unit that divides it."""
    whole = round(total)
    if abs(total - whole) > 1e-6:
        return f"{total:g}s"
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if whole >= size and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{total:g}s"
