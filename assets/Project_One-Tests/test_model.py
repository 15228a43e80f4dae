"""Unit tests of Project_One's inference code. They run inside the test image, which extends
the inference image: the model files are where Azure ML puts them (AZUREML_MODEL_DIR).

Add your own tests here (or in more test_*.py files): they follow pytest's conventions.
"""

from inference_code.model_class import MyModel


def test_init_populates_x_scaler():
    model = MyModel()
    model.init()
    assert model.x_scaler is not None
