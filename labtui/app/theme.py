"""Follow the terminal's light or dark background.

Asked before Textual takes the terminal: `LABTUI_THEME` (any Textual theme name) wins; then
`COLORFGBG` (set by many terminals, "15;0" = light text on dark); then the terminal itself is
asked for its background colour (OSC 11) followed by a device-attributes query that every
terminal answers, so we never wait for a terminal that ignores OSC 11 and no stray reply is
left for the app to read as keys.
"""

from __future__ import annotations

import os
import re
import select
import sys
import time
from collections.abc import Mapping

DARK_THEME = "textual-dark"
LIGHT_THEME = "textual-light"

_OSC11_REPLY = re.compile(
    rb"\]11;rgba?:([0-9a-fA-F]{1,4})/([0-9a-fA-F]{1,4})/([0-9a-fA-F]{1,4})")
_DA1_REPLY = re.compile(rb"\x1b\[\?[0-9;]*c")


def luminance_is_light(red: float, green: float, blue: float) -> bool:
    """Whether a background of these 0..1 channel values is light."""
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5


def from_colorfgbg(value: str) -> bool | None:
    """Light background (True), dark (False) or unknown (None) from COLORFGBG."""
    try:
        background = int(value.split(";")[-1])
    except ValueError:
        return None
    if background in (7, 15):
        return True
    if 0 <= background <= 6 or background == 8:
        return False
    return None


def parse_osc11(reply: bytes) -> bool | None:
    """Light (True) or dark (False) from a terminal's OSC 11 reply, None if it has none."""
    match = _OSC11_REPLY.search(reply)
    if not match:
        return None
    channels = [int(part, 16) / (16 ** len(part) - 1) for part in match.groups()]
    return luminance_is_light(*channels)


def _query_terminal(timeout: float) -> bool | None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    import termios
    import tty

    fd = sys.stdin.fileno()
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        return None
    reply = b""
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        os.write(sys.stdout.fileno(), b"\x1b]11;?\x1b\\\x1b[c")
        deadline = time.monotonic() + timeout
        while not _DA1_REPLY.search(reply):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            reply += os.read(fd, 1024)
    except OSError:
        return None
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
    return parse_osc11(reply)


def terminal_theme(environ: Mapping[str, str] | None = None, *, ask: bool = True,
                   timeout: float = 0.2) -> str:
    """The Textual theme matching the terminal: LABTUI_THEME, else light or dark."""
    environ = os.environ if environ is None else environ
    if environ.get("LABTUI_THEME"):
        return environ["LABTUI_THEME"]
    light = from_colorfgbg(environ["COLORFGBG"]) if environ.get("COLORFGBG") else None
    if light is None and ask:
        light = _query_terminal(timeout)
    return LIGHT_THEME if light else DARK_THEME
