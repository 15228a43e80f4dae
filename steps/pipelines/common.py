"""What the Pipelines steps share: the branch everything merges into, and the names of the
variable group and the build pipeline (inputs of more than one step).
"""

from __future__ import annotations

from labtui.step import Field
from labtui.validation import naming_rule

TARGET_BRANCH = "master"
"""The branch the pull request merges into, the build runs on and the release deploys from."""

VARIABLE_GROUP = Field(
    "variable-group", "Variable group", default="Staging Environment Variable Group",
    help="The library variable group the build pipeline links (the lab's name for the "
    "pipeline environment's group).",
)
PIPELINE_NAME = Field(
    "build-pipeline-name", "Build pipeline", default="model-build",
    validate=naming_rule("image-repository"),
    help="The build pipeline's name in the DevOps project.",
)
