"""Durations as people type them: a number and a unit, read to seconds and written back in
the largest unit that holds them; anything else breaks the rule, which says what it wants."""

from __future__ import annotations

import pytest

from labtui.durations import RULE, duration_rule, duration_text, seconds


@pytest.mark.parametrize("given, expected", [
    ("30s", 30), ("90m", 5400), ("12h", 43200), ("2d", 172800), (" 2D ", 172800),
])
def test_a_number_with_a_unit_reads_as_seconds(given: str, expected: int) -> None:
    assert duration_rule(given) is None
    assert seconds(given) == expected


@pytest.mark.parametrize("given, problem", [
    ("2880", f"{RULE}; 2880 has no unit"),
    ("2 days", RULE), ("1.5h", RULE), ("", RULE), ("-3m", RULE),
    ("0s", f"{RULE}, above zero"),
])
def test_anything_else_breaks_the_rule(given: str, problem: str) -> None:
    assert duration_rule(given) == problem
    with pytest.raises(ValueError) as bad:
        seconds(given)
    assert problem in str(bad.value)


@pytest.mark.parametrize("total, text", [
    (172800, "2d"), (5400, "90m"), (3600, "1h"), (30, "30s"), (90, "90s"), (2.5, "2.5s"),
])
def test_seconds_are_written_in_the_largest_unit_that_holds_them(total: float,
                                                                 text: str) -> None:
    assert duration_text(total) == text
