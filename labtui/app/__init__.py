"""The Textual app. Only `run_app` lives here, so importing `labtui.app` stays cheap; the
widgets (and Textual) load when the app starts."""

from __future__ import annotations

import sys

from labtui.session import SessionOptions


def run_app(options: SessionOptions, *, focus: str | None = None) -> int:
    """Open the app on a workspace (read-only if another process holds it); return the exit
    code. Raises what `labtui.session.Session` raises for an unusable workspace or values."""
    from labtui.app.theme import terminal_theme

    theme = terminal_theme()  # asked before Textual takes over the terminal
    from labtui.app.app import build_app

    # A step's thread may hold the interpreter for the default 5 ms at a time, many times
    # per key press while it streams; 1 ms slices keep the keys within the 100 ms target.
    sys.setswitchinterval(0.001)
    app = build_app(options, focus=focus, theme=theme)
    try:
        code = app.run()
    finally:
        app.lab.close()
    return int(code or 0)
