"""What the lab puts in attendees' repositories, shipped with labtui as package data.

The layout is the one the lab text teaches: `Project_One/` (score.py, inference_code/, the
training notebook, requirements and the inference image's Dockerfile) and `Project_One-Tests/`
(the unit tests and the test image's Dockerfile). `sample_data` writes an offline stand-in for
AdultCensusIncome.csv.
"""

from __future__ import annotations

from pathlib import Path


def root() -> Path:
    """The folder holding the lab's assets, in a source checkout and in an installed wheel."""
    return Path(__file__).resolve().parent
