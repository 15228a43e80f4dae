"""Terminal control sequences out of text that is kept or shown as plain lines.

Docker builds, pip and pytest colour their output and draw progress bars with ANSI/VT escape
sequences. In a log file, the run history or the app's log pane those are noise (`ESC[1m`,
`ESC]8;;…`), so every line a step logs goes through `strip_escapes` first.
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]                    # CSI: colours, cursor moves, erase line
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?       # OSC: window titles, hyperlinks (BEL or ST)
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?            # DCS, SOS, PM, APC strings
    | \x1b[ -/]*[0-~]                          # two-character and nF escapes (ESC 7, ESC(B)
    | \x9b[0-?]*[ -/]*[@-~]                    # the 8-bit CSI
    | [\x00-\x08\x0b\x0c\x0e-\x1f\x7f]         # other control characters (not \t \n \r)
    """,
    re.VERBOSE,
)


def strip_escapes(text: str) -> str:
    """`text` without terminal escape sequences and control characters (tabs and line
    breaks stay)."""
    return _ESCAPES.sub("", text)
