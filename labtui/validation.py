"""Validation rules for input values, by field kind and by Azure resource type.

Every rule returns None when the value is fine, or a short sentence that names the rule broken,
so the front ends can show "storage-account: 3-24 lowercase letters and digits (got 25 characters)".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

FIELD_KINDS: frozenset[str] = frozenset(
    {"text", "guid", "secret", "choice", "path", "bool", "int", "azure-name", "url"}
)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
BOOL_WORDS = {"true": True, "yes": True, "1": True, "on": True,
              "false": False, "no": False, "0": False, "off": False}


AZURE_REGIONS: frozenset[str] = frozenset({
    # Americas
    "eastus", "eastus2", "centralus", "northcentralus", "southcentralus", "westcentralus",
    "westus", "westus2", "westus3", "canadacentral", "canadaeast", "brazilsouth",
    "brazilsoutheast", "mexicocentral", "chilecentral",
    # Europe
    "northeurope", "westeurope", "uksouth", "ukwest", "francecentral", "francesouth",
    "germanywestcentral", "germanynorth", "norwayeast", "norwaywest", "swedencentral",
    "swedensouth", "switzerlandnorth", "switzerlandwest", "polandcentral", "italynorth",
    "spaincentral", "austriaeast", "belgiumcentral",
    # Asia Pacific
    "eastasia", "southeastasia", "japaneast", "japanwest", "koreacentral", "koreasouth",
    "centralindia", "southindia", "westindia", "jioindiacentral", "jioindiawest",
    "australiaeast", "australiasoutheast", "australiacentral", "australiacentral2",
    "newzealandnorth", "indonesiacentral", "malaysiawest",
    # Middle East and Africa
    "uaenorth", "uaecentral", "qatarcentral", "israelcentral", "southafricanorth",
    "southafricawest",
    # Sovereign clouds (Azure Government, Azure operated by 21Vianet)
    "usgovvirginia", "usgovarizona", "usgovtexas", "usdodcentral", "usdodeast",
    "chinaeast", "chinaeast2", "chinaeast3", "chinanorth", "chinanorth2", "chinanorth3",
})
"""Azure's region names, as `az account list-locations` spells them (the `name` column). A
fixed list, so a typo ("eastus3", "mars") is caught as it is typed, not when the step runs."""


@dataclass(frozen=True)
class NamingRule:
    """An Azure naming rule: a pattern, its length range and the sentence that states it."""

    pattern: re.Pattern[str]
    min_len: int
    max_len: int
    rule: str
    extra: Callable[[str], str | None] | None = None

    def check(self, value: str) -> str | None:
        if not self.min_len <= len(value) <= self.max_len:
            return f"{self.rule} (got {len(value)} characters)"
        if not self.pattern.fullmatch(value):
            return self.rule
        return self.extra(value) if self.extra else None


def _no_double_hyphen(value: str) -> str | None:
    return "no two hyphens in a row" if "--" in value else None


def _no_trailing_period(value: str) -> str | None:
    return "must not end in a period" if value.endswith(".") else None


AZURE_NAMING: dict[str, NamingRule] = {
    "resource-group": NamingRule(
        re.compile(r"[\w.()-]+"), 1, 90,
        "1-90 letters, digits, underscores, periods, hyphens and parentheses, not ending in '.'",
        _no_trailing_period,
    ),
    "storage-account": NamingRule(
        re.compile(r"[a-z0-9]+"), 3, 24, "3-24 lowercase letters and digits"
    ),
    "key-vault": NamingRule(
        re.compile(r"[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]"), 3, 24,
        "3-24 letters, digits and hyphens, starting with a letter, not ending in a hyphen",
        _no_double_hyphen,
    ),
    "ml-workspace": NamingRule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*"), 3, 33,
        "3-33 letters, digits, hyphens and underscores, starting with a letter or digit",
    ),
    "databricks-workspace": NamingRule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*"), 3, 64,
        "3-64 letters, digits, hyphens and underscores, starting with a letter or digit",
    ),
    "location": NamingRule(
        re.compile(r"[a-z][a-z0-9]*"), 4, 30,
        "an Azure region name like eastus or westeurope (lowercase letters and digits)",
        lambda v: None if v in AZURE_REGIONS else
        f"{v!r} is not an Azure region name (like eastus or westeurope; "
        "`az account list-locations` lists them)",
    ),
    "prefix": NamingRule(
        re.compile(r"[a-z][a-z0-9]*"), 3, 11,
        "3-11 lowercase letters and digits, starting with a letter "
        "(it becomes part of storage account and vault names)",
    ),
    "devops-project": NamingRule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]*[A-Za-z0-9_-]|[A-Za-z0-9]"), 1, 64,
        "1-64 letters, digits, spaces, periods, underscores and hyphens, not ending in '.'",
    ),
    "git-branch": NamingRule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*"), 1, 100,
        "1-100 letters, digits, '.', '_', '-' and '/', starting with a letter or digit",
        lambda v: "no '..' and no trailing '/' or '.lock'"
        if ".." in v or v.endswith(("/", ".lock")) else None,
    ),
}


TEXT_LIMIT = 1024
"""The longest free-text value (a name, a label) any of the lab's resources takes."""

SECRET_LIMIT = 25 * 1024
"""Key Vault keeps secret values of up to 25 KB; a longer token could never be stored."""


def control_character(value: str) -> str | None:
    """The rule broken by a control character (a line break, an escape …), else None. Such a
    value could forge a line in a log or an INI file (`\n[DEFAULT]`); it is never shown."""
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            kind = "a line break" if char in "\r\n\u2028\u2029\x85" else "a control character"
            return f"no control characters or line breaks (got {kind} at position {position})"
    return None


LAB_NAMING: dict[str, NamingRule] = {
    "databricks-cluster": NamingRule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]*"), 1, 100,
        "1-100 letters, digits, spaces, periods, underscores and hyphens, starting with a "
        "letter or digit",
    ),
    "cli-profile": NamingRule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"), 1, 64,
        "1-64 letters, digits, periods, underscores and hyphens, starting with a letter or "
        "digit (it is a [section] of ~/.databrickscfg)",
    ),
    "person": NamingRule(
        re.compile(r"[\w][\w .@+-]*"), 1, 64,
        "1-64 letters, digits, spaces and . @ + - _ (a name like ada or pipeline)",
    ),
    "ml-model": NamingRule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"), 1, 255,
        "1-255 letters, digits, periods, underscores and hyphens, starting with a letter or "
        "digit (Azure Machine Learning's rule for model names)",
    ),
    "service-principal": NamingRule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]*"), 1, 120,
        "1-120 letters, digits, spaces, periods, underscores and hyphens, starting with a "
        "letter or digit",
    ),
    "ml-compute": NamingRule(
        re.compile(r"[A-Za-z][A-Za-z0-9-]*"), 2, 16,
        "2-16 letters, digits and hyphens, starting with a letter (Azure Machine Learning's "
        "rule for compute names)",
    ),
    # Docker's reference grammar: [host[:port]/]path, each path component lowercase letters
    # and digits joined by '.', '_', '__' or '-'; labtui adds the tag (and "-tests") itself.
    "image-repository": NamingRule(
        re.compile(r"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?"
                   r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"),
        1, 200,
        "an image name without a tag: 1-200 lowercase letters, digits, '/', and '.', '_' or "
        "'-' between them (like contoso7-inference or myregistry.azurecr.io/inference)",
    ),
    "image": NamingRule(
        re.compile(r"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?"
                   r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
                   r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"),
        1, 255,
        "an image reference like python:3.11-slim or labtui/python:3.11-bookworm (lowercase "
        "name, optional :tag)",
    ),
}
"""Rules for the lab's names that are not Azure resource names, by what they name."""


def naming_rule(name: str) -> Callable[[str], str | None]:
    """A Field `validate` function for one of `LAB_NAMING`'s rules."""
    return LAB_NAMING[name].check


def validate_value(
    kind: str,
    value: str,
    *,
    resource: str | None = None,
    choices: tuple[str, ...] = (),
) -> str | None:
    """Check `value` against the rule of `kind`; return the broken rule or None."""
    if kind != "bool" and kind != "choice":
        problem = control_character(value)
        if problem:
            return problem
    if kind == "text":
        if len(value) > TEXT_LIMIT:
            return f"at most {TEXT_LIMIT} characters (got {len(value)})"
        return "must not be empty" if not value.strip() else None
    if kind == "secret":
        size = len(value.encode("utf-8"))
        if size > SECRET_LIMIT:
            return f"at most 25 KB, what Key Vault keeps (got {size:,} bytes)"
        return "must not be empty" if not value.strip() else None
    if kind == "guid":
        if _GUID.fullmatch(value.strip()):
            return None
        return "a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47 (8-4-4-4-12 hex digits)"
    if kind == "choice":
        return None if value in choices else f"one of {', '.join(choices)}"
    if kind == "bool":
        return None if value.lower() in BOOL_WORDS else "true or false"
    if kind == "int":
        try:
            int(value)
        except ValueError:
            return "a whole number"
        return None
    if kind == "url":
        parsed = urlparse(value)
        if parsed.scheme in ("http", "https") and parsed.netloc:
            return None
        return "an http(s) URL like https://dev.azure.com/contoso"
    if kind == "path":
        if not value.strip():
            return "must not be empty"
        try:
            Path(value).expanduser()
        except (ValueError, RuntimeError) as exc:
            return f"not a usable path ({exc})"
        return None
    if kind == "azure-name":
        if resource is None or resource not in AZURE_NAMING:
            return f"no naming rule for resource type {resource!r}"
        return AZURE_NAMING[resource].check(value)
    return f"unknown kind {kind!r}"
