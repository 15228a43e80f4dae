"""Signing in to Azure with a device code, inside the app.

When the target signs in with a device code (`--azure-credential device-code`, or `auto` with
nothing else set up), Microsoft Entra hands out a short code: the attendee opens the sign-in
page in any browser, on any device, types the code and signs in there. The app holds the
terminal, so a code printed on stderr would never be seen; instead the target is given a
prompt (`offer_device_code_prompt`) that opens `DeviceCodeScreen` with the page and the code.
The target goes on by itself once the attendee has signed in; the app then closes the dialog
(`close_device_code`).

Targets without a device-code sign-in (the local sandbox) are left as they are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class DeviceCodeScreen(ModalScreen[None]):
    """Where to sign in and the code to type there; closes once signed in (or with Esc)."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, url: str, code: str, expires_on: datetime) -> None:
        super().__init__()
        self.url = url
        self.code = code
        self.expires_on = expires_on

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("Sign in to Azure", style="bold"), id="dialog-title")
            yield Static(Text.assemble("In a browser, on this machine or your phone, open\n",
                                       (self.url, "bold underline")), classes="dialog-line")
            yield Static(Text.assemble("and enter the code ", (self.code, "bold reverse")),
                         id="device-code", classes="dialog-line")
            yield Static(f"The code is valid until {self.expires_on:%H:%M} UTC. labtui goes on "
                         "by itself once you have signed in there.", classes="dialog-line")
            with Horizontal(id="dialog-buttons"):
                yield Button("Close (esc)", id="close", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


def offer_device_code_prompt(app: App[Any], target: object) -> bool:
    """Have `target` show its device codes in `app` (from whichever thread it signs in on);
    False when the target signs in without one."""
    use = getattr(target, "use_device_code_prompt", None)
    if not callable(use):
        return False

    def prompt(url: str, code: str, expires_on: datetime) -> None:
        app.call_from_thread(app.push_screen, DeviceCodeScreen(url, code, expires_on))

    use(prompt)
    return True


def close_device_code(app: App[Any]) -> None:
    """Close the device-code dialog if it is on top: the sign-in is over (under another
    dialog it stays, for the attendee to close)."""
    if isinstance(app.screen, DeviceCodeScreen):
        app.screen.dismiss(None)
