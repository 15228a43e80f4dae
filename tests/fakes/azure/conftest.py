"""Fixtures: the loopback Azure, a signed-in credential, and the SDK clients built as the Azure
target will build them (each kwarg here is one the real client needed; see `clients.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .cloud import FakeCloud


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[FakeCloud]:
    fake = FakeCloud.start(tmp_path)
    try:
        yield fake
    finally:
        fake.stop()
