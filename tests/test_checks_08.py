"""Exercise 08.1: a canary release, 10% of an alias's traffic on a new published version."""

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed

FLAT_SHIPPING = """
def handler(event, context):
    return {"shipping": 5.0, "version": context.function_version}
"""
FREE_FROM_THREE = """
def handler(event, context):
    shipping = 0.0 if event.get("items", 1) >= 3 else 5.0
    return {"shipping": shipping, "version": context.function_version}
"""


@pytest.fixture
def lam():
    """The exercise's setup: version 1 behind alias 'live', new code in $LATEST."""
    with lambda_lab.Lab(seed=80, quiet=True) as lab:
        client = boto3.client("lambda")
        client.create_function(FunctionName="checkout", Runtime="python3.13", Role=lab.role_arn,
                               Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source(FLAT_SHIPPING)})
        client.publish_version(FunctionName="checkout")
        client.create_alias(FunctionName="checkout", Name="live", FunctionVersion="1")
        client.update_function_code(FunctionName="checkout", ZipFile=lambda_lab.zip_source(FREE_FROM_THREE))
        client.get_waiter("function_updated_v2").wait(FunctionName="checkout")
        yield client


def route(lam, primary, weights):
    lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion=primary,
                     RoutingConfig={"AdditionalVersionWeights": weights})


def failure() -> str:
    with pytest.raises(CheckFailed) as info:
        checks.ex_08_canary("checkout", alias="live")
    return str(info.value)


def test_the_solution_passes(lam, capsys):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    route(lam, "1", {new: 0.1})
    checks.ex_08_canary("checkout", alias="live")
    out = capsys.readouterr().out
    assert out.startswith("Check passed: 'live' keeps version 1 and sends 10% to version 2:")


def test_doing_nothing_fails(lam):
    assert "The new code is only in $LATEST" in failure()


def test_publishing_without_routing_fails(lam):
    lam.publish_version(FunctionName="checkout")
    message = failure()
    assert "still sends every request to version 1" in message and "'2': 0.1" in message


def test_weight_on_latest_is_refused_and_the_check_says_why(lam):
    with pytest.raises(ClientError) as info:
        route(lam, "1", {"$LATEST": 0.1})
    assert info.value.response["Error"]["Code"] == "ValidationException"
    message = failure()
    assert "a weight on '$LATEST' is refused with a ValidationException" in message
    assert "publish_version" in message


def test_ninety_percent_to_the_new_version(lam):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    route(lam, "1", {new: 0.9})
    message = failure()
    assert "sends 90% of requests to the new version 2" in message
    assert "The weight is the share of the additional version" in message


def test_moving_the_whole_alias(lam):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion=new)
    message = failure()
    assert "You moved 'live' entirely to version 2" in message and "not a canary" in message


def test_reversed_roles(lam):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    route(lam, new, {"1": 0.9})
    assert "The roles are reversed" in failure()


def test_another_weight(lam):
    new = lam.publish_version(FunctionName="checkout")["Version"]
    route(lam, "1", {new: 0.25})
    assert "sends 25% of requests to version 2; the task asks for 10%" in failure()


def test_no_alias_says_to_run_the_setup():
    with lambda_lab.Lab(quiet=True) as lab:
        boto3.client("lambda").create_function(
            FunctionName="checkout", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
            Code={"ZipFile": lambda_lab.zip_source(FLAT_SHIPPING)})
        assert "Run the exercise's setup cell first" in failure()
