"""Helpers of the inference code: find the model files, read a scoring request, shape the answer.

A request is a JSON object with the lab's two features, "age" and "hours-per-week", each a
number (one estimate) or a list of numbers of the same length (one estimate per position).
Other keys, such as the lab's "sex" and "occupation", are allowed and ignored. A request that
cannot be scored raises `InvalidInput`, whose message is one line saying why; score.py answers
it with HTTP 400.
"""

import json
import math
from pathlib import Path

import numpy as np

MODEL_FILES = ("x_scaler.pkl", "y_scaler.pkl", "model.pkl")
FEATURES = ("age", "hours-per-week")
ANSWER_KEY = "estimated_wages"


class InvalidInput(ValueError):
    """A request the model cannot score; the message says why, in one line."""


def find_model_folder(model_dir):
    """The folder at or under `model_dir` that holds the three model files (the shallowest).

    Azure ML gives the container the registered model's folder in AZUREML_MODEL_DIR, with the
    files directly in it or in subfolders such as <name>/<version>/outputs.
    """
    base = Path(model_dir)
    if not base.is_dir():
        raise FileNotFoundError(f"the model folder {base} does not exist")
    folders = sorted(
        {path.parent for path in base.rglob(MODEL_FILES[0])},
        key=lambda folder: (len(folder.parts), str(folder)),
    )
    for folder in folders:
        if all((folder / name).is_file() for name in MODEL_FILES):
            return folder
    raise FileNotFoundError(f"no model files ({', '.join(MODEL_FILES)}) in {base} or under it")


def load_request(input_package):
    """The request as a dict, checked: JSON text (or bytes, or an already parsed object)."""
    if isinstance(input_package, bytes):
        try:
            input_package = input_package.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the request body is not UTF-8 text") from None
    if isinstance(input_package, str):
        if not input_package.strip():
            raise InvalidInput("the request body is empty: send a JSON object with "
                               + " and ".join(FEATURES))
        try:
            input_package = json.loads(input_package)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"the request body is not JSON: {exc.msg} at line {exc.lineno} "
                               f"column {exc.colno}") from None
    if not isinstance(input_package, dict):
        raise InvalidInput(f"the request must be a JSON object with {' and '.join(FEATURES)}, "
                           f"not {_json_type(input_package)}")
    lengths = set()
    for name in FEATURES:
        if name not in input_package:
            raise InvalidInput(f"missing field {name!r}")
        value = input_package[name]
        values = value if isinstance(value, list) else [value]
        if not values:
            raise InvalidInput(f"field {name!r} is an empty list")
        for item in values:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise InvalidInput(f"field {name!r} must be a number or a list of numbers, "
                                   f"not {_json_type(item)} {json.dumps(item)[:40]}")
            if not math.isfinite(item):
                raise InvalidInput(f"field {name!r} must be a finite number, not {item}")
        lengths.add(len(values) if isinstance(value, list) else None)
    if len(lengths) > 1:
        raise InvalidInput(f"fields {' and '.join(map(repr, FEATURES))} must both be numbers "
                           "or both be lists of the same length")
    return input_package


def is_batch(request):
    """True when the (checked) request holds lists: the answer is then a list too."""
    return isinstance(request[FEATURES[0]], list)


def transform_input(input_package):
    """The features of a request as an (n, 2) float array, in the order the model was trained."""
    request = load_request(input_package)
    columns = [np.atleast_1d(np.asarray(request[name], dtype=float)) for name in FEATURES]
    return np.column_stack(columns)


def transform_output(y, batch=False):
    """The answer for estimates `y` (one row each): {"estimated_wages": number}, or a list of
    numbers for a batch request."""
    values = [float(value) for value in np.asarray(y, dtype=float).ravel()]
    return {ANSWER_KEY: values if batch else values[0]}


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a number"
