"""The lab's "Azure DevOps" section: the project, the seeded repository, the Git integration.
One module per step, named after its id (`seed-repo` → `seed_repo.py`), and `common.py` for
what they share.

The lab creates a project (Git, Agile), initializes its repository, seeds it with the lab's
Project_One / Project_One-Tests layout, and links the Databricks notebook to a branch named
after the attendee. labtui does each through the DevOps and Databricks ports.
"""

from __future__ import annotations

from labtui_steps.devops.devops_project import DevOpsProject
from labtui_steps.devops.git_integration import GitIntegration
from labtui_steps.devops.seed_repo import SeedRepo

__all__ = ["DevOpsProject", "GitIntegration", "SeedRepo"]
