"""Only a committed secret is a secret: what the attendee types on the way is not masked."""

from __future__ import annotations

from textual.widgets import Input

from tests.app.conftest import AppFactory
from tests.app.test_app import on_screen, ready

SECRET = "zq7Kx9-canary-Tok3n"


async def test_prefixes_typed_on_the_way_are_not_masked(make_app: AppFactory) -> None:
    app = make_app(focus="demo-canary")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        field = on_screen(app).query_one("#input-demo-secret", Input)
        field.focus()
        await pilot.press(*SECRET)
        await pilot.pause()
        masker = app.lab.masker
        # Each prefix of at least four characters went through the form as it was typed.
        assert masker.redact("cluster zq7K and zq7Kx9 stay readable") == (
            "cluster zq7K and zq7Kx9 stay readable")
        await pilot.press("enter")
        await pilot.pause()
        assert masker.redact(f"token {SECRET}") == "token ***"
        assert masker.redact("zq7K") == "zq7K", "a prefix of the secret is not the secret"
        assert app.lab.workspace.get_value("demo-secret", None) == SECRET


async def test_leaving_the_field_commits_the_secret(make_app: AppFactory) -> None:
    app = make_app(focus="demo-canary")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        field = on_screen(app).query_one("#input-demo-secret", Input)
        field.focus()
        await pilot.press(*SECRET)
        await pilot.press("tab")
        await pilot.pause()
        assert app.lab.masker.redact(SECRET) == "***"
        assert app.lab.masker.redact("zq7Kx9") == "zq7Kx9"
