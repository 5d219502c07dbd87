"""Exercise 02.1's check: the solution passes, a blank exercise fails, and wrong permissions are named."""

import itertools

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab
from lambda_lab.checks import CheckFailed, ex_02_s3_trigger

HANDLER = """
from urllib.parse import unquote_plus

def handler(event, context):
    for record in event["Records"]:
        print(f"New invoice: s3://{record['s3']['bucket']['name']}/{unquote_plus(record['s3']['object']['key'])}")
"""
_numbers = itertools.count()


@pytest.fixture
def setup(lab, lam):
    """The exercise's starting point: a bucket and a function, not connected; returns (name, bucket, arn)."""
    n = next(_numbers)
    name, bucket = f"new-invoice-{n}", f"lab-invoices-{n}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    arn = lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                              Code={"ZipFile": lambda_lab.zip_source(HANDLER)})["FunctionArn"]
    return name, bucket, arn


def permit(lam, name, **overrides):
    kwargs = dict(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                  SourceAccount="123456789012")
    lam.add_permission(**{**kwargs, **overrides})


def notify(bucket, arn, events=("s3:ObjectCreated:*",)):
    boto3.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": list(events)}]})


def test_the_solution_passes(lam, setup, capsys):
    name, bucket, arn = setup
    permit(lam, name, SourceArn=f"arn:aws:s3:::{bucket}")
    notify(bucket, arn)
    ex_02_s3_trigger(name, bucket)
    assert capsys.readouterr().out.startswith("Check passed")


def test_doing_nothing_fails_and_says_to_add_the_permission(setup):
    name, bucket, _ = setup
    with pytest.raises(CheckFailed, match="has no resource-based policy.*add_permission") as failed:
        ex_02_s3_trigger(name, bucket)
    for answer in ("s3.amazonaws.com", f"arn:aws:s3:::{bucket}", "lambda:InvokeFunction", "ObjectCreated"):
        assert answer not in str(failed.value)  # the check says what is missing, not what to type


def test_the_execution_roles_principal_is_named_as_the_wrong_one(lam, setup):
    name, bucket, arn = setup
    permit(lam, name, Principal="lambda.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")
    with pytest.raises(ClientError) as refused:  # S3 itself refuses: it may not invoke the function
        notify(bucket, arn)
    assert (refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]) == (
        "InvalidArgument", "Unable to validate the following destination configurations")
    with pytest.raises(CheckFailed) as failed:
        ex_02_s3_trigger(name, bucket)
    assert "its own service principal" in str(failed.value) and "execution role" in str(failed.value)
    assert "s3.amazonaws.com" not in str(failed.value)


@pytest.mark.parametrize("source_arn,hint", [
    ("arn:aws:s3:::lab-invoices-elsewhere", "does not match the bucket"),
    ("arn:aws:s3:::BUCKET/*", "not the objects in it"),
    ("arn:aws:s3:us-east-1:123456789012:BUCKET", "no region and no account"),
])
def test_a_wrong_source_arn_is_named(lam, setup, source_arn, hint):
    name, bucket, arn = setup
    permit(lam, name, SourceArn=source_arn.replace("BUCKET", bucket))
    with pytest.raises(ClientError) as refused:
        notify(bucket, arn)
    assert (refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]) == (
        "InvalidArgument", "Unable to validate the following destination configurations")
    with pytest.raises(CheckFailed, match="SourceArn") as failed:
        ex_02_s3_trigger(name, bucket)
    assert hint in str(failed.value)


def test_a_permission_without_source_arn_is_too_wide(lam, setup):
    name, bucket, arn = setup
    permit(lam, name)
    notify(bucket, arn)  # S3 accepts it: any bucket may invoke the function
    with pytest.raises(CheckFailed, match="any bucket") as failed:
        ex_02_s3_trigger(name, bucket)
    assert f"arn:aws:s3:::{bucket}" not in str(failed.value)


def test_permission_without_the_notification_says_what_to_configure(lam, setup):
    name, bucket, _ = setup
    permit(lam, name, SourceArn=f"arn:aws:s3:::{bucket}")
    with pytest.raises(CheckFailed, match="put_bucket_notification_configuration") as failed:
        ex_02_s3_trigger(name, bucket)
    assert "ObjectCreated" not in str(failed.value) and "LambdaFunctionConfigurations" not in str(failed.value)


def test_a_notification_for_deletions_only_is_not_enough(lam, setup):
    name, bucket, arn = setup
    permit(lam, name, SourceArn=f"arn:aws:s3:::{bucket}")
    notify(bucket, arn, events=["s3:ObjectRemoved:*"])
    with pytest.raises(CheckFailed, match="which uploads do not send.*eventName") as failed:
        ex_02_s3_trigger(name, bucket)
    assert "ObjectCreated" not in str(failed.value)


def test_a_missing_function_is_a_check_failure_not_a_crash(lab):
    with pytest.raises(CheckFailed, match="no function"):
        ex_02_s3_trigger("never-created", "nowhere")


# -- exercise 02.2: a poison message in an SQS batch ------------------------------------------------------------------
from lambda_lab.checks import ex_02_poison_message  # noqa: E402

import json  # noqa: E402

BROKEN = """
import json

def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])
        print(f"Charged order {order['id']}: {order['amount']} EUR")
"""
FIXED = """
import json

def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            order = json.loads(record["body"])
            print(f"Charged order {order['id']}: {order['amount']} EUR")
        except (ValueError, KeyError, TypeError):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""


@pytest.fixture
def poisoned(lab, lam):
    """The exercise's starting point: a queue with a DLQ, a mapping, one malformed order; returns a fixer."""
    n = next(_numbers)
    name, queue = f"charge-orders-{n}", f"orders-{n}"
    sqs = boto3.client("sqs")
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": "30", "RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler", Timeout=10,
                        Code={"ZipFile": lambda_lab.zip_source(BROKEN)})
    for body in ('{"id": "o-1", "amount": 5}', "order o-2 for 7 EUR", '{"id": "o-3", "amount": 9}'):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)["UUID"]
    lab.wait_for_async()

    def fix(code=FIXED, report=True, visibility="60", timeout=None):
        if code != BROKEN:
            lam.update_function_code(FunctionName=name, ZipFile=lambda_lab.zip_source(code))
        if timeout:
            lam.update_function_configuration(FunctionName=name, Timeout=timeout)
        if report:
            lam.update_event_source_mapping(UUID=uuid, FunctionResponseTypes=["ReportBatchItemFailures"])
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": visibility})
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        return name, queue

    return fix


def test_the_poison_message_solution_passes(poisoned, capsys):
    ex_02_poison_message(*poisoned())
    assert capsys.readouterr().out.startswith("Check passed")


def test_the_untouched_setup_fails_without_giving_the_answer(poisoned):
    name, queue = poisoned(code=BROKEN, report=False, visibility="30")
    with pytest.raises(CheckFailed, match="returns the whole batch.*When a batch fails") as failed:
        ex_02_poison_message(name, queue)
    for answer in ("ReportBatchItemFailures", "batchItemFailures", "itemIdentifier", "messageId", "60"):
        assert answer not in str(failed.value)


def test_the_setting_without_a_handler_that_reports_is_named(poisoned):
    with pytest.raises(CheckFailed, match="charged [1-3] and 0 times.*must not raise") as failed:
        ex_02_poison_message(*poisoned(code=BROKEN))
    assert "itemIdentifier" not in str(failed.value) and "messageId" not in str(failed.value)


def test_a_handler_that_swallows_the_bad_message_loses_it(poisoned):
    swallowing = FIXED.replace('failures.append({"itemIdentifier": record["messageId"]})', 'print("skipped")')
    with pytest.raises(CheckFailed, match="never reached the dead-letter queue"):
        ex_02_poison_message(*poisoned(code=swallowing))


def test_reporting_failures_by_the_wrong_id_fails_the_whole_batch(poisoned):
    by_receipt = FIXED.replace('record["messageId"]', 'record["receiptHandle"]')
    with pytest.raises(CheckFailed, match="charged [2-3] and [2-3] times.*the way Lambda identifies a message"):
        ex_02_poison_message(*poisoned(code=by_receipt))


def test_lowering_the_function_timeout_instead_of_raising_the_visibility_timeout_is_refused(poisoned):
    with pytest.raises(CheckFailed, match="keeps it at 10 s") as failed:
        ex_02_poison_message(*poisoned(visibility="30", timeout=5))
    assert "60" not in str(failed.value)


def test_a_visibility_timeout_below_the_recommendation_is_named(poisoned):
    with pytest.raises(CheckFailed, match="visibility timeout is 30 s: less than AWS recommends") as failed:
        ex_02_poison_message(*poisoned(visibility="30"))
    assert "60" not in str(failed.value) and "six" not in str(failed.value)
