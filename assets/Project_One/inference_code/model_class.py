"""MyModel: the provider score.py delegates to, kept apart so tests (and coverage) reach it.

The training notebook pickles three files into the registered model's folder: `x_scaler.pkl`
(scales age and hours-per-week), `model.pkl` (a LinearRegression on the scaled features,
fitted on 2-D targets) and `y_scaler.pkl` (turns the model's scaled output back into fnlwgt,
the "wages" the lab estimates). `init()` loads them from the folder the container is given.
"""

import os
import pickle

import numpy as np

from inference_code.utility import (
    MODEL_FILES,
    find_model_folder,
    is_batch,
    load_request,
    transform_input,
    transform_output,
)


class MyModel:
    """Estimates wages from age and hours-per-week with the trained model files."""

    x_scaler = None
    y_scaler = None
    model = None

    def __init__(self, model_dir=None):
        self.model_dir = model_dir

    def init(self):
        """Load the model files from `model_dir`, else from AZUREML_MODEL_DIR (Azure ML sets it
        to the registered model's folder in the container)."""
        model_dir = self.model_dir or os.environ.get("AZUREML_MODEL_DIR")
        if not model_dir:
            raise FileNotFoundError("no model folder: set AZUREML_MODEL_DIR or pass model_dir")
        folder = find_model_folder(model_dir)
        for name in MODEL_FILES:
            with open(folder / name, "rb") as handle:
                setattr(self, name.removesuffix(".pkl"), pickle.load(handle))

    def predict(self, input_package):
        """Estimated wages for a request (JSON text or a parsed object), as a 2-D array with one
        row per estimate: `predict(request)[0][0]` is the first estimate.

        Raises InvalidInput (a ValueError) for a request that cannot be scored.
        """
        if self.model is None:
            raise RuntimeError("the model is not loaded: call init() first")
        x = self.x_scaler.transform(transform_input(input_package))
        y = np.asarray(self.model.predict(x)).reshape(-1, 1)
        return self.y_scaler.inverse_transform(y)

    def score(self, input_package):
        """What score.run answers: {"estimated_wages": number} (a list for a request of lists).

        Raises InvalidInput (a ValueError) for a request that cannot be scored.
        """
        request = load_request(input_package)
        return transform_output(self.predict(request), batch=is_batch(request))
