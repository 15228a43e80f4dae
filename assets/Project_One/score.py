"""The entry script Azure ML serves: `init()` once at start, `run(raw_data)` per request.

Both delegate in one line to the provider in inference_code/, where the tests (and coverage)
reach the real logic.
"""

from inference_code.model_provider import ModelProvider

provider = ModelProvider()


def init():
    provider.init()


def run(raw_data):
    return provider.run(raw_data)
