"""The lab's "Dev loop": train the model from the notebook, write a test, build the inference
image, and run the tests with coverage inside it. One module per step, named after its id
(`build-image` → `build_image.py`), and `common.py` for what they share.

Everything happens in the dev environment. The code comes from the attendee's working copy (their
branch, with whatever they changed), the model from the dev ML workspace's registry.
"""

from __future__ import annotations

from labtui_steps.devloop.build_image import BuildImage
from labtui_steps.devloop.test_image import TestImage
from labtui_steps.devloop.train_model import TrainModel
from labtui_steps.devloop.write_test import WriteTest

__all__ = ["BuildImage", "TestImage", "TrainModel", "WriteTest"]
