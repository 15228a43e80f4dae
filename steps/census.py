"""AdultCensusIncome.csv: its header, a row counter, and an offline stand-in.

The lab's file has 15 columns separated by ", " (comma and space). Without the file and without
a network, `write_sample` generates rows with the same header and value types, the same for the
same seed, so the rest of the lab (the notebook's reads, the regression) works unchanged.
"""

from __future__ import annotations

import random
from pathlib import Path

FILE_NAME = "AdultCensusIncome.csv"
COLUMNS: tuple[str, ...] = (
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
)
SEPARATOR = ", "
HEADER = SEPARATOR.join(COLUMNS)
SAMPLE_ROWS = 2000

_WORKCLASS = ("Private", "Self-emp-not-inc", "Self-emp-inc", "Federal-gov", "Local-gov",
              "State-gov", "Without-pay")
_EDUCATION = (("Bachelors", 13), ("HS-grad", 9), ("Some-college", 10), ("Masters", 14),
              ("Assoc-voc", 11), ("Assoc-acdm", 12), ("11th", 7), ("Doctorate", 16))
_MARITAL = ("Married-civ-spouse", "Never-married", "Divorced", "Separated", "Widowed")
_OCCUPATION = ("Tech-support", "Craft-repair", "Other-service", "Sales", "Exec-managerial",
               "Prof-specialty", "Handlers-cleaners", "Adm-clerical", "Transport-moving")
_RACE = ("White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other")
_COUNTRY = ("United-States", "Mexico", "Philippines", "Germany", "Canada", "India")


def sample_text(rows: int = SAMPLE_ROWS, seed: int = 1994) -> str:
    """A header line and `rows` plausible rows: integers where the real file has integers."""
    rng = random.Random(seed)
    lines = [HEADER]
    for _ in range(rows):
        sex = rng.choice(("Male", "Female"))
        marital = rng.choice(_MARITAL)
        relationship = (("Husband" if sex == "Male" else "Wife")
                        if marital == "Married-civ-spouse"
                        else rng.choice(("Not-in-family", "Own-child", "Unmarried")))
        education, years = rng.choice(_EDUCATION)
        no_job = rng.random() < 0.05
        income = ">50K" if rng.random() < 0.1 + 0.03 * (years - 9) else "<=50K"
        lines.append(SEPARATOR.join((
            str(rng.randint(17, 90)),
            "?" if no_job else rng.choice(_WORKCLASS),
            str(rng.randint(12285, 1484705)),
            education,
            str(years),
            marital,
            "?" if no_job else rng.choice(_OCCUPATION),
            relationship,
            rng.choice(_RACE),
            sex,
            str(rng.choice((0,) * 11 + (rng.randint(100, 99999),))),
            str(rng.choice((0,) * 20 + (rng.randint(100, 4356),))),
            str(max(1, min(99, round(rng.gauss(40, 12))))),
            rng.choice(_COUNTRY),
            income,
        )))
    return "\n".join(lines) + "\n"


def write_sample(path: Path, rows: int = SAMPLE_ROWS) -> Path:
    path.write_text(sample_text(rows), encoding="utf-8")
    return path


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
