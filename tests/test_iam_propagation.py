"""IAM's delay on a stand-in account: a new role cannot be assumed at once, a new policy is not seen at once.

Its own module: the fixture installs the runtime into a fresh moto mock, which no module-scoped lab may share.
"""

import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

import lambda_lab
from lambda_lab._remote_views import when_iam_ready
from lambda_lab.service import provide_managed_policies

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                            "Principal": {"Service": "lambda.amazonaws.com"}}]})
CODE = {"ZipFile": lambda_lab.zip_source("def handler(event, context):\n    return 1\n")}
DELAY = 1.5


@pytest.fixture
def account():
    with mock_aws():
        lambda_lab.install(iam_delay_s=DELAY)
        provide_managed_policies("123456789012", ["AWSLambdaSQSQueueExecutionRole"])
        try:
            yield (boto3.client("iam", region_name="us-east-1"),
                   boto3.client("lambda", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1})),
                   boto3.client("sqs", region_name="us-east-1"))
        finally:
            lambda_lab.uninstall()


def _error(call, **params):
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_new_role_is_refused_until_iam_reaches_lambda(account):
    iam, lam, _ = account
    role = iam.create_role(RoleName="fresh", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    params = dict(FunctionName="f", Runtime="python3.13", Role=role, Handler="app.handler", Code=CODE)
    assert _error(lam.create_function, **params) == (
        "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
    started = time.monotonic()
    created = when_iam_ready(lam.create_function, (), params, timeout=30, retry=True)  # what lab.wait_for_iam does
    assert created["FunctionName"] == "f" and time.monotonic() - started >= DELAY - 0.5


def test_a_new_policy_is_not_seen_until_iam_reaches_lambda(account):
    iam, lam, sqs = account
    role = iam.create_role(RoleName="poller", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    time.sleep(DELAY)  # the role itself has reached Lambda
    lam.create_function(FunctionName="reader", Runtime="python3.13", Role=role, Handler="app.handler", Code=CODE)
    queue = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="work")["QueueUrl"],
                                     AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    iam.attach_role_policy(RoleName="poller",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    code, message = _error(lam.create_event_source_mapping, FunctionName="reader", EventSourceArn=queue)
    assert code == "InvalidParameterValueException"
    assert message.startswith("The provided execution role does not have permissions to call ReceiveMessage on SQS")
    mapping = when_iam_ready(lam.create_event_source_mapping, (), dict(FunctionName="reader", EventSourceArn=queue),
                             timeout=30, retry=True)
    assert mapping["EventSourceArn"] == queue


def test_cloudformation_waits_for_its_own_role_as_on_aws(account):
    """A stack's function uses the role the same stack just made: CloudFormation's handler waits out IAM."""
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    template = {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": json.loads(TRUST)}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.13", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"}}}}}
    cfn.create_stack(StackName="own-role", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    assert cfn.describe_stacks(StackName="own-role")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    _, lam, _ = account
    name = cfn.describe_stack_resource(StackName="own-role", LogicalResourceId="Fn")["StackResourceDetail"][
        "PhysicalResourceId"]
    assert lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active"
