"""Exercise 09.1: an event source mapping from an SQS queue, with the execution role allowed to poll it."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed

HANDLER = """
def handler(event, context):
    bodies = [record["body"] for record in event["Records"]]
    print(f"batch of {len(bodies)}: {' '.join(bodies)}")
    return {"processed": len(bodies)}
"""
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"
SQS_READ = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
    "Resource": QUEUE_ARN}]}


@pytest.fixture
def lab():
    """The exercise's setup, in a lab of its own: the execution role starts with CloudWatch Logs only."""
    with lambda_lab.Lab(seed=90, quiet=True) as lab:
        boto3.client("sqs").create_queue(QueueName="orders")
        boto3.client("lambda").create_function(
            FunctionName="order-batches", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
            Code={"ZipFile": lambda_lab.zip_source(HANDLER)})
        yield lab


@pytest.fixture
def lam(lab):
    return boto3.client("lambda")


def failure() -> str:
    with pytest.raises(CheckFailed) as info:
        checks.ex_09_sqs_mapping("order-batches", queue_name="orders", batch_size=5)
    return str(info.value)


def test_the_solution_passes(lab, lam, capsys):
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    lam.create_event_source_mapping(EventSourceArn=QUEUE_ARN, FunctionName="order-batches", BatchSize=5)
    checks.ex_09_sqs_mapping("order-batches", queue_name="orders", batch_size=5)
    assert capsys.readouterr().out == ("Check passed: 'orders' feeds 'order-batches': the check's 12 messages reached "
                                       "the handler in batches of at most 5.\n")


def test_an_inline_policy_passes_too(lab, lam, capsys):
    boto3.client("iam").put_role_policy(RoleName=lab.role_arn.split("/")[-1], PolicyName="read-orders",
                                        PolicyDocument=json.dumps(SQS_READ))
    lam.create_event_source_mapping(EventSourceArn=QUEUE_ARN, FunctionName="order-batches", BatchSize=5)
    checks.ex_09_sqs_mapping()
    assert capsys.readouterr().out.startswith("Check passed")


def test_doing_nothing_fails(lab):
    message = failure()
    assert "no event source mapping from 'orders' to 'order-batches' yet" in message
    assert "InvalidParameterValueException" in message


def test_mapping_before_the_role_may_read_the_queue(lab, lam):
    with pytest.raises(ClientError) as info:
        lam.create_event_source_mapping(EventSourceArn=QUEUE_ARN, FunctionName="order-batches", BatchSize=5)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    message = failure()
    assert "The provided execution role does not have permissions to call ReceiveMessage on SQS" in message
    assert "execution role (not through the function's resource-based policy)" in message
    assert 'lab.allow("AWSLambdaSQSQueueExecutionRole")' in message


def test_permission_without_a_mapping(lab):
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    message = failure()
    assert "The execution role may read 'orders' now" in message and "BatchSize=5" in message


def test_default_batch_size(lab, lam):
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    lam.create_event_source_mapping(EventSourceArn=QUEUE_ARN, FunctionName="order-batches")
    message = failure()
    assert "The mapping's BatchSize is 10 (10 is what SQS mappings get when BatchSize is left out)" in message
    assert "update_event_source_mapping(UUID=" in message


def test_disabled_mapping(lab, lam):
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    lam.create_event_source_mapping(EventSourceArn=QUEUE_ARN, FunctionName="order-batches", BatchSize=5,
                                    Enabled=False)
    assert "The mapping is Disabled" in failure()


def test_mapping_to_another_function(lab, lam):
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    lam.create_function(FunctionName="other", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(HANDLER)})
    lam.create_event_source_mapping(EventSourceArn=QUEUE_ARN, FunctionName="other", BatchSize=5)
    assert "function:other, not to 'order-batches'" in failure()


def test_two_mappings_on_the_same_queue(lab, lam):
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    for _ in range(2):
        lam.create_event_source_mapping(EventSourceArn=QUEUE_ARN, FunctionName="order-batches", BatchSize=5,
                                        Enabled=False)
    assert "2 event source mappings read 'orders'" in failure()


def test_no_setup_says_to_run_it():
    with lambda_lab.Lab(quiet=True):
        assert "Run the exercise's setup cell first" in failure()
