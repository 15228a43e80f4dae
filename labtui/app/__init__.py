"""The Textual app. Only `run_app` lives here, so importing `labtui.app` stays cheap; the
widgets (and Textual) load when the app starts."""

from __future__ import annotations

from labtui.session import SessionOptions


def run_app(options: SessionOptions, *, focus: str | None = None) -> int:
    """Open the app on a workspace (read-only if another process holds it); return the exit
    code. Raises what `labtui.session.Session` raises for an unusable workspace or values."""
    from labtui.app.theme import terminal_theme

    theme = terminal_theme()  # asked before Textual takes over the terminal
    from labtui.app.app import build_app

    app = build_app(options, focus=focus, theme=theme)
    try:
        code = app.run()
    finally:
        app.lab.close()
    return int(code or 0)
