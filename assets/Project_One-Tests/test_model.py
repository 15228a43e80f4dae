"""Unit tests of Project_One's inference code. They run inside the test image, which extends
the inference image: the model files are where Azure ML puts them (AZUREML_MODEL_DIR).

Add your own tests here (or in more test_*.py files): they follow pytest's conventions.
"""

from inference_code.model_provider import ModelProvider


def test_init_populates_x_scaler():
    provider = ModelProvider()
    provider.init()
    assert provider.x_scaler is not None
