"""Function states on a stand-in account: a new function stays Pending, an update InProgress, until a look.

Its own module: the fixture installs the runtime into a fresh moto mock, which no module-scoped lab may share.
"""

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

import lambda_lab

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"
PENDING = ("The operation cannot be performed at this time. The function is currently in the following state: "
           "Pending")


@pytest.fixture
def busy_lab():
    """The runtime as a stand-in account installs it: functions stay busy for 60 s unless someone looks."""
    with mock_aws():
        lambda_lab.install(busy_window_s=60)
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="states-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))
        try:
            yield boto3.client("lambda", region_name="us-east-1",
                               config=Config(retries={"total_max_attempts": 1})), role["Role"]["Arn"]
        finally:
            lambda_lab.uninstall()


def _code(code):
    with pytest.raises(ClientError) as caught:
        code()
    error = caught.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_a_pending_function_refuses_invokes_and_updates_until_the_waiter_looks(busy_lab):
    lam, role = busy_lab
    lam.create_function(FunctionName="fresh", Runtime="python3.13", Role=role, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(SOURCE)})
    for invocation_type in ("RequestResponse", "Event"):
        assert _code(lambda: lam.invoke(FunctionName="fresh", InvocationType=invocation_type)) == (
            "ResourceConflictException", PENDING, 409)
    assert _code(lambda: lam.update_function_configuration(FunctionName="fresh", Timeout=9)) == (
        "ResourceConflictException", PENDING, 409)
    assert _code(lambda: lam.publish_version(FunctionName="fresh"))[0] == "ResourceConflictException"
    lam.get_waiter("function_active_v2").wait(FunctionName="fresh", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert json.loads(lam.invoke(FunctionName="fresh")["Payload"].read()) == {"ok": True}


def test_an_update_in_progress_refuses_the_next_change_but_still_invokes(busy_lab):
    lam, role = busy_lab
    lam.create_function(FunctionName="busy", Runtime="python3.13", Role=role, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(SOURCE)})
    lam.get_waiter("function_active_v2").wait(FunctionName="busy")
    lam.update_function_code(FunctionName="busy", ZipFile=lambda_lab.zip_source(SOURCE.replace("True", "False")))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:busy"
    expected = ("ResourceConflictException", "The operation cannot be performed at this time. An update is in "
                f"progress for resource: {arn}", 409)
    assert _code(lambda: lam.update_function_configuration(FunctionName="busy", Timeout=9)) == expected
    assert _code(lambda: lam.publish_version(FunctionName="busy")) == expected
    assert lam.invoke(FunctionName="busy")["StatusCode"] == 200  # an update in progress does not stop invokes
    lam.get_waiter("function_updated_v2").wait(FunctionName="busy", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert lam.publish_version(FunctionName="busy")["Version"] == "1"


def test_a_deleted_and_recreated_function_starts_pending_again(busy_lab):
    lam, role = busy_lab
    kwargs = dict(FunctionName="again", Runtime="python3.13", Role=role, Handler="app.handler",
                  Code={"ZipFile": lambda_lab.zip_source(SOURCE)})
    lam.create_function(**kwargs)
    lam.delete_function(FunctionName="again")
    lam.create_function(**kwargs)
    assert _code(lambda: lam.invoke(FunctionName="again"))[0] == "ResourceConflictException"
