"""The entry script Azure ML serves: `init()` once when the server starts, `run()` per request.

Both delegate to MyModel in inference_code/, where the tests (and coverage) reach the logic.
A request the model cannot score (not JSON, a missing field, a value that is not a number)
gets HTTP 400 with the reason, through the server's AMLResponse, instead of a 500 or an error
hidden in a 200.
"""

from inference_code.model_class import MyModel
from inference_code.utility import InvalidInput

try:
    from azureml_inference_server_http.api.aml_response import AMLResponse
except ImportError:  # the server's older packaging
    from azureml.contrib.services.aml_response import AMLResponse

MODEL = MyModel()


def init():
    MODEL.init()


def run(input_package):
    try:
        return MODEL.score(input_package)
    except InvalidInput as exc:
        return AMLResponse(str(exc), 400)
