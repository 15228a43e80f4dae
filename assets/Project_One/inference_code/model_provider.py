"""The provider score.py delegates to: loads the model files, answers scoring requests.

The training notebook writes three files into the registered model folder: `x_scaler.pkl`
(scales age and hours-per-week), `model.pkl` (a LinearRegression on the scaled inputs) and
`y_scaler.pkl` (turns the scaled prediction back into fnlwgt). Azure ML puts registered
models under the folder named by AZUREML_MODEL_DIR, directly or in subfolders (such as
azureml-models/<name>/<version>/outputs); the shallowest folder holding all three is used.
"""

import json
import os
from pathlib import Path

import joblib
import numpy as np

MODEL_FILES = ("x_scaler.pkl", "model.pkl", "y_scaler.pkl")
FEATURES = ("age", "hours-per-week")


class ModelError(Exception):
    """The model files are missing or unreadable."""


def find_model_folder(model_dir):
    """The folder at or under `model_dir` that holds the three model files (the shallowest)."""
    base = Path(model_dir)
    if not base.is_dir():
        raise ModelError(f"the model folder {base} does not exist")
    folders = sorted(
        (path.parent for path in base.rglob(MODEL_FILES[0])),
        key=lambda folder: (len(folder.parts), str(folder)),
    )
    for folder in folders:
        if all((folder / name).is_file() for name in MODEL_FILES):
            return folder
    raise ModelError(f"no model files ({', '.join(MODEL_FILES)}) in {base} or under it")


class ModelProvider:
    """Scores fnlwgt from age and hours-per-week with the trained model files."""

    def __init__(self, model_dir=None):
        self.model_dir = model_dir
        self.x_scaler = None
        self.y_scaler = None
        self.model = None

    def init(self):
        """Load the model files from `model_dir`, or AZUREML_MODEL_DIR as Azure ML sets it."""
        model_dir = self.model_dir or os.environ.get("AZUREML_MODEL_DIR")
        if not model_dir:
            raise ModelError("no model folder: set AZUREML_MODEL_DIR or pass model_dir")
        folder = find_model_folder(model_dir)
        self.x_scaler = joblib.load(folder / "x_scaler.pkl")
        self.model = joblib.load(folder / "model.pkl")
        self.y_scaler = joblib.load(folder / "y_scaler.pkl")

    def run(self, raw_data):
        """Answer one request body: a JSON object with "age" and "hours-per-week" (other keys,
        like the lab's "sex" and "occupation", are ignored) or a list of such objects.

        Returns {"estimate": float} (or {"estimates": [...]} for a list), or {"error": message}
        for a request it cannot score.
        """
        if self.model is None:
            return {"error": "the model is not loaded: init() was not called or failed"}
        try:
            body = json.loads(raw_data) if isinstance(raw_data, (str, bytes)) else raw_data
        except json.JSONDecodeError as exc:
            return {"error": f"the request body is not JSON: {exc.msg}"}
        records = body if isinstance(body, list) else [body]
        try:
            inputs = np.array([self._features(record) for record in records], dtype=float)
        except ValueError as exc:
            return {"error": str(exc)}
        if not len(inputs):
            return {"error": "the request holds no records"}
        estimates = self.predict(inputs)
        if isinstance(body, list):
            return {"estimates": [float(value) for value in estimates]}
        return {"estimate": float(estimates[0])}

    def predict(self, inputs):
        """fnlwgt estimates for an (n, 2) array of age and hours-per-week."""
        scaled = self.model.predict(self.x_scaler.transform(inputs))
        return self.y_scaler.inverse_transform(np.asarray(scaled).reshape(-1, 1)).ravel()

    @staticmethod
    def _features(record):
        if not isinstance(record, dict):
            raise ValueError(f"expected a JSON object with {' and '.join(FEATURES)}")
        values = []
        for name in FEATURES:
            if name not in record:
                raise ValueError(f"missing field {name!r}")
            value = record[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"field {name!r} must be a number, not {value!r}")
            values.append(value)
        return values
