"""The lab's inputs, declared once and shared by every step that needs them.

A field with the same name must mean the same thing in every step (scripts and proctors set
`tenant-id` once), so steps import these objects instead of declaring their own. Names derived
from the `prefix` follow the lab's convention (`{prefix}-db-dev` …) and can be overridden like
any input, per environment with an `[env.dev]` table in the answers file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from labtui.step import Field
from labtui.validation import naming_rule

Values = Mapping[str, str]


def _from_prefix(
    template: str, limit: int | None = None
) -> Callable[[Values, str | None], str | None]:
    """A derived default: `template` filled with the prefix and the environment."""

    def derive(values: Values, env: str | None) -> str | None:
        if env is None:
            return None
        name = template.format(prefix=values["prefix"], env=env)
        return name[:limit] if limit else name

    return derive


PREFIX = Field(
    "prefix", "Name prefix", kind="azure-name", resource="prefix",
    help="Your short name for the lab's resources ([some-name] in the lab text), e.g. contoso7.",
)
def _one_word(value: str) -> str | None:
    return "no spaces or line breaks (copy the token alone)" if any(
        c.isspace() for c in value) else None


LOCATION = Field(
    "location", "Azure region", default="eastus", kind="azure-name", resource="location",
    help="Where the resources live; keep every service in the same region.",
)
TENANT_ID = Field(
    "tenant-id", "Tenant ID", kind="guid",
    help="Your Entra ID (Azure AD) tenant: 'appOwnerTenantId' of `az ad sp show`.",
)
SUBSCRIPTION_ID = Field(
    "subscription-id", "Subscription ID", kind="guid",
    help="The subscription of the Machine Learning workspace.",
)
CREATED_BY = Field(
    "created-by", "Created by", derive=lambda values, env: env, validate=naming_rule("person"),
    help="Who made the model versions; the lab uses the environment name (dev, pipeline).",
    per_environment=True,
)
LAB_HEADER_START = "age, workclass, fnlwgt"
"""How the first line of the lab's AdultCensusIncome.csv starts."""


def _lab_data_file(value: str) -> str | None:
    """The file exists, can be read, and is the lab's CSV (its header starts as the lab's).
    What the file holds is never repeated: it may be binary, or somebody else's data."""
    path = Path(value).expanduser()
    if not path.exists():
        return f"no such file: {path}"
    if not path.is_file():
        return f"{path} is not a file"
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        return f"cannot read {path} ({exc.strerror or type(exc).__name__})"
    rule = f"the lab's AdultCensusIncome.csv, whose first line starts {LAB_HEADER_START!r}"
    if b"\0" in head:
        return f"{path} is a binary file, not {rule}"
    if not head.decode("utf-8", errors="replace").lstrip("\ufeff").startswith(LAB_HEADER_START):
        return f"{path} is not {rule}"
    return None


DATA_FILE = Field(
    "data-file", "AdultCensusIncome.csv file", kind="path", required=False,
    validate=_lab_data_file,
    help="A local copy of the lab's data; without it labtui downloads the file, or, offline, "
    "generates a sample with the same columns.",
)
DATA_URL = Field(
    "data-url", "Address of the lab data", kind="url",
    default="https://amldockerdatasets.azureedge.net/AdultCensusIncome.csv",
    help="Where the lab text downloads AdultCensusIncome.csv from.",
)
DATABRICKS_PAT = re.compile(r"dapi[0-9a-f]{32}(-[0-9]+)?")
DATABRICKS_PAT_RULE = ("a Databricks personal access token is 'dapi' followed by 32 lowercase "
                       "hexadecimal digits, optionally with a suffix such as '-2'")


def _databricks_pat(value: str) -> str | None:
    problem = _one_word(value)
    if problem is None and not DATABRICKS_PAT.fullmatch(value):
        problem = f"not a token: {DATABRICKS_PAT_RULE}"
    return problem


DATABRICKS_TOKEN = Field(
    "databricks-token", "Databricks access token", kind="secret", required=False,
    validate=_databricks_pat,
    help="Optional: without it the workspace issues one (as User Settings > Developer > "
    "Access tokens > Generate new token does) and labtui keeps it. To use your own, give a "
    "personal access token: dapi followed by 32 hex digits.",
)

RESOURCE_GROUP = Field(
    "resource-group", "Resource group", kind="azure-name", resource="resource-group",
    derive=_from_prefix("{prefix}-db-{env}"),
    help="One per environment: {prefix}-db-dev, {prefix}-db-pipeline, {prefix}-db-prod.",
    per_environment=True,
)
ML_WORKSPACE = Field(
    "ml-workspace-name", "Machine Learning workspace", kind="azure-name", resource="ml-workspace",
    derive=_from_prefix("{prefix}-ml-{env}"),
    per_environment=True,
)
STORAGE_ACCOUNT = Field(
    "storage-account", "Storage account (data lake)", kind="azure-name",
    resource="storage-account", derive=_from_prefix("{prefix}dl{env}", 24),
    help="Globally unique: 3-24 lowercase letters and digits.",
    per_environment=True,
)
KEY_VAULT = Field(
    "key-vault", "Key Vault", kind="azure-name", resource="key-vault",
    derive=_from_prefix("{prefix}-kv-{env}"),
    help="Globally unique: 3-24 letters, digits and hyphens, starting with a letter.",
    per_environment=True,
)
DATABRICKS_WORKSPACE = Field(
    "databricks-workspace", "Databricks workspace", kind="azure-name",
    resource="databricks-workspace", derive=_from_prefix("{prefix}-adb-{env}"),
    per_environment=True,
)
CLUSTER_NAME = Field(
    "cluster-name", "Databricks cluster", derive=_from_prefix("{prefix}-{env}"),
    validate=naming_rule("databricks-cluster"),
    per_environment=True,
)
DATABRICKS_PROFILE = Field(
    "databricks-profile", "Databricks CLI profile", derive=_from_prefix("{prefix}-{env}"),
    validate=naming_rule("cli-profile"),
    help="The [profile] in ~/.databrickscfg (`databricks --profile NAME …`).",
    per_environment=True,
)
SERVICE_PRINCIPAL = Field(
    "service-principal", "Service principal name", derive=_from_prefix("{prefix}-sp-{env}"),
    validate=naming_rule("service-principal"),
    per_environment=True,
)
COMPUTE_NAME = Field(
    "compute-name", "ML compute name (pipeline)", derive=_from_prefix("{prefix}-dbc", 16),
    validate=naming_rule("ml-compute"),
    help="The name the pipeline's Databricks cluster is attached under in the ML workspace.",
)
MODEL_NAME = Field(
    "model-name", "Model name", default="worst_regression", validate=naming_rule("ml-model"),
    help="The registered model the training notebook creates.",
)
IMAGE_NAME = Field(
    "image-name", "Inference image name", derive=_from_prefix("{prefix}-inference"),
    validate=naming_rule("image-repository"),
)

# --- Azure DevOps (declared here so every section shares one definition) --------------------

DEVOPS_ORGANIZATION = Field(
    "devops-organization", "Azure DevOps organization", kind="url",
    derive=lambda values, env: f"https://dev.azure.com/{values['prefix']}",
    help="Your organization's address, e.g. https://dev.azure.com/contoso.",
)
DEVOPS_TOKEN = Field(
    "devops-token", "Azure DevOps personal access token", kind="secret", required=False,
    validate=_one_word,
    help="User settings > Personal access tokens, with Code (read & write) and Build scopes "
    "(the azure target needs it; the local sandbox does not).",
)
DEVOPS_PROJECT = Field(
    "devops-project", "Azure DevOps project", kind="azure-name", resource="devops-project",
    derive=lambda values, env: f"{values['prefix']}-mlops",
    help="The project (Git, Agile) that holds the lab's repository.",
)
BRANCH = Field(
    "branch", "Your branch", kind="azure-name", resource="git-branch",
    derive=lambda values, env: values["prefix"],
    help="The branch your Git folder is checked out on: your unique user id (default: the "
    "prefix).",
)


def _user_name(value: str) -> str | None:
    problem = naming_rule("person")(value)
    if problem is None and any(c.isspace() for c in value):
        return "no spaces (it names your folder under /Repos)"
    return problem


GIT_USERNAME = Field(
    "git-username", "Your user name", derive=lambda values, env: values["prefix"],
    validate=_user_name,
    help="Your Azure DevOps user (the e-mail you sign in with): the Git credential's user name "
    "and your folder of Git folders, /Repos/<user>/ (default: the prefix).",
)
BASE_IMAGE = Field(
    "base-image", "Base image of the inference container", default="python:3.11-slim",
    validate=naming_rule("image"),
    help="Any image with Python 3.11 and venv. Without a registry, build one from Debian "
    "packages with scripts/build-base-image.sh and use labtui/python:3.11-bookworm.",
)
CA_BUNDLE = Field(
    "ca-bundle", "CA bundle for the image builds", kind="path", required=False,
    help="Where a proxy intercepts TLS: the host's CA bundle (e.g. "
    "/etc/ssl/certs/ca-certificates.crt), so pip inside docker build trusts it.",
)
