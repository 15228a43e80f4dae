"""The lab's "Infrastructure Set Up" section: one module per step, named after its id
(`key-vault` → `key_vault.py`), and `common.py` for what they share.

Every step talks to the lab's resources only through the target's ports, so the same code
drives the local sandbox and Azure. Each `run` journals what it is about to create *before*
creating it and leaves alone what existed before it (it is not journaled, so a rollback never
removes it). `verify` is read-only and says, in the attendee's words, what is missing.
"""

from __future__ import annotations

from labtui_steps.infrastructure.cli_profiles import CliProfiles
from labtui_steps.infrastructure.common import AUTOTERMINATION_MINUTES, InfrastructureStep
from labtui_steps.infrastructure.data_lake import DataLake
from labtui_steps.infrastructure.databricks import Databricks
from labtui_steps.infrastructure.key_vault import KeyVault
from labtui_steps.infrastructure.ml_workspace import MlWorkspace
from labtui_steps.infrastructure.resource_groups import ResourceGroups
from labtui_steps.infrastructure.secret_scope import SecretScope
from labtui_steps.infrastructure.secrets import Secrets
from labtui_steps.infrastructure.service_principal import ServicePrincipal
from labtui_steps.infrastructure.upload_data import UploadData

__all__ = [
    "AUTOTERMINATION_MINUTES", "CliProfiles", "DataLake", "Databricks", "InfrastructureStep",
    "KeyVault", "MlWorkspace", "ResourceGroups", "SecretScope", "Secrets", "ServicePrincipal",
    "UploadData",
]
