"""AdultCensusIncome.csv: its header, a row counter, and an offline stand-in.

The lab's file has 15 columns separated by ", " (comma and space). Without the file and without
a network, `write_sample` writes the lab assets' generated stand-in with the same header and
value types, so the rest of the lab (the notebook's reads, the regression) works unchanged.
"""

from __future__ import annotations

from pathlib import Path

from labtui_assets import sample_data

FILE_NAME = "AdultCensusIncome.csv"
COLUMNS: tuple[str, ...] = sample_data.COLUMNS
SEPARATOR = sample_data.SEPARATOR
HEADER = SEPARATOR.join(COLUMNS)
SAMPLE_ROWS = 2000


def write_sample(path: Path, rows: int = SAMPLE_ROWS) -> Path:
    """Write the lab assets' generated stand-in (same header and value types) to `path`."""
    return sample_data.write(path, count=rows)


def describe(data: bytes) -> tuple[str, int]:
    """The header line and the number of data rows (non-empty lines after the header)."""
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    header = lines[0].strip() if lines else ""
    return header, sum(1 for line in lines[1:] if line.strip())


def header_problem(header: str) -> str | None:
    """Why `header` is not the lab file's header, or None."""
    if header == HEADER:
        return None
    found = [column.strip() for column in header.split(",")]
    if found == list(COLUMNS):
        return "its columns must be separated by ', ' as in the lab's file"
    return f"its header has {len(found)} columns ({', '.join(found[:3])} …), not the lab's 15"
