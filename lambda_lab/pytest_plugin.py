"""pytest plugin: the `lambda_runtime` fixture runs Lambda handlers for real inside your moto mocks.

    def test_handler(lambda_runtime):
        with mock_aws():
            ...create the function with boto3...
            assert boto3.client("lambda").invoke(FunctionName="fn")["StatusCode"] == 200
"""

import pytest


@pytest.fixture
def lambda_runtime():
    """Install lambda-lab's runtime into moto for one test; yields the engine (runtime, service, endpoint)."""
    import lambda_lab

    engine = lambda_lab.install()
    try:
        yield engine
    finally:
        lambda_lab.uninstall()
