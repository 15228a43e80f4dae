"""A deterministic stand-in for AdultCensusIncome.csv, for machines without the real file.

It has the real file's 15 columns in the same order, the same ", " separator (so Spark and
pandas read column names and string values with a leading space, as they do for the real
file), integer values where the real file has them and "?" for a few missing categories.
The values are plausible, not real: the regression trained on them is as bad as on the real
data, which is the point of the lab's "world's worst regression".
"""

from __future__ import annotations

import random
from pathlib import Path

COLUMNS: tuple[str, ...] = (
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
)
SEPARATOR = ", "

_WORKCLASSES = ("Private", "Self-emp-not-inc", "Self-emp-inc", "Federal-gov", "Local-gov",
                "State-gov", "Without-pay")
_EDUCATION = (("Bachelors", 13), ("HS-grad", 9), ("Some-college", 10), ("Masters", 14),
              ("Assoc-voc", 11), ("Assoc-acdm", 12), ("11th", 7), ("Doctorate", 16),
              ("Prof-school", 15), ("9th", 5))
_MARITAL = ("Married-civ-spouse", "Never-married", "Divorced", "Separated", "Widowed",
            "Married-spouse-absent")
_OCCUPATIONS = ("Tech-support", "Craft-repair", "Other-service", "Sales", "Exec-managerial",
                "Prof-specialty", "Handlers-cleaners", "Machine-op-inspct", "Adm-clerical",
                "Farming-fishing", "Transport-moving", "Protective-serv")
_RACES = ("White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other")
_COUNTRIES = ("United-States", "Mexico", "Philippines", "Germany", "Canada", "India", "England")


def rows(count: int = 2000, seed: int = 777) -> list[list[str]]:
    """`count` rows of values (as the file spells them), the same for the same seed."""
    rng = random.Random(seed)
    out: list[list[str]] = []
    for _ in range(count):
        age = rng.randint(17, 90)
        sex = rng.choice(("Male", "Female"))
        marital = rng.choice(_MARITAL)
        if marital == "Married-civ-spouse":
            relationship = "Husband" if sex == "Male" else "Wife"
        else:
            relationship = rng.choice(("Not-in-family", "Own-child", "Unmarried",
                                       "Other-relative"))
        education, education_num = rng.choice(_EDUCATION)
        missing_job = rng.random() < 0.05
        workclass = "?" if missing_job else rng.choice(_WORKCLASSES)
        occupation = "?" if missing_job else rng.choice(_OCCUPATIONS)
        capital_gain = rng.choice((0,) * 11 + (rng.randint(100, 99999),))
        capital_loss = rng.choice((0,) * 20 + (rng.randint(100, 4356),))
        hours = max(1, min(99, round(rng.gauss(40, 12))))
        fnlwgt = max(12285, min(1484705, round(rng.lognormvariate(12.0, 0.5))))
        income = ">50K" if rng.random() < 0.1 + 0.02 * (education_num - 9) else "<=50K"
        out.append([
            str(age), workclass, str(fnlwgt), education, str(education_num), marital,
            occupation, relationship, rng.choice(_RACES), sex, str(capital_gain),
            str(capital_loss), str(hours), rng.choice(_COUNTRIES), income,
        ])
    return out


def text(count: int = 2000, seed: int = 777) -> str:
    """The CSV text: a header line and `count` data lines, each ending in a newline."""
    lines = [SEPARATOR.join(COLUMNS)]
    lines.extend(SEPARATOR.join(row) for row in rows(count, seed))
    return "\n".join(lines) + "\n"


def write(path: Path, count: int = 2000, seed: int = 777) -> Path:
    """Write the sample to `path` (creating its folder) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text(count, seed), encoding="utf-8")
    return path


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("AdultCensusIncome.csv")
    print(write(target))
