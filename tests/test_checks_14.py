"""Exercises 14.1 (partial batch responses) and 14.2 (a stream mapping's failure settings): each solution passes,
a blank fails without giving the answer away, and plausible wrong answers fail with a message that says what is
wrong."""

import json
from pathlib import Path

import boto3
import pytest

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed

SOLUTIONS = Path(__file__).parents[1] / "solutions"


def solution_lines(name: str) -> list[str]:
    """The code lines of a solution notebook's `solution` cell (without the marker and comments)."""
    cells = json.loads((SOLUTIONS / name).read_text())["cells"]
    cell = next(c for c in cells if c["cell_type"] == "code" and "solution" in c["metadata"].get("tags", []))
    lines = [line.split("#")[0].strip() for line in "".join(cell["source"]).splitlines()]
    return [line for line in lines if len(line) > 3]  # not a lone bracket


# -- exercise 14.1: refunds that vanish ---------------------------------------------------------------
REFUNDS = """
import json

def handler(event, context):
    failures = []
    for record in event["Records"]:
        refund = json.loads(record["body"])
        if not refund.get("account"):
            print(f"FAILED refund {refund['id']}: no account to pay it to")
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        print(f"REFUNDED {refund['id']} to {refund['account']}")
    return {"batchItemFailures": failures}
"""

RAISES = """
import json

def handler(event, context):
    bad = []
    for record in event["Records"]:
        refund = json.loads(record["body"])
        if not refund.get("account"):
            print(f"FAILED refund {refund['id']}: no account to pay it to")
            bad.append(refund["id"])
            continue
        print(f"REFUNDED {refund['id']} to {refund['account']}")
    if bad:
        raise ValueError(f"refunds {bad} failed")
"""


@pytest.fixture
def refunds():
    """A fresh lab with the exercise's function, queue, DLQ and mapping (without partial batch responses)."""
    with lambda_lab.Lab(seed=141, quiet=True) as lab:
        lam, sqs = boto3.client("lambda"), boto3.client("sqs")
        lab.allow("AWSLambdaSQSQueueExecutionRole")
        lam.create_function(FunctionName="refunds", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Timeout=10, Code={"ZipFile": lambda_lab.zip_source(REFUNDS)})
        dlq = sqs.create_queue(QueueName="refunds-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(QueueName="refunds", Attributes={"VisibilityTimeout": "60", "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="refunds", BatchSize=10)["UUID"]
        yield lab, lam, uuid


def refund_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_14_partial_batch("refunds", queue_name="refunds")
    return str(failed.value)


def test_partial_batch_solution_passes(refunds, capsys):
    _, lam, uuid = refunds
    lam.update_event_source_mapping(UUID=uuid, FunctionResponseTypes=["ReportBatchItemFailures"])
    checks.ex_14_partial_batch("refunds", queue_name="refunds")
    assert capsys.readouterr().out.startswith("Check passed")


def test_partial_batch_blank_fails_without_the_answer(refunds):
    message = refund_failure()
    assert "reported the check's refund" in message and "never reached the queue's dead-letter queue" in message
    assert "'Partial batch responses'" in message  # where to look
    for line in solution_lines("14_event_sources_sol_01.ipynb"):
        assert line not in message, line
    for answer in ("ReportBatchItemFailures", "FunctionResponseTypes", "update_event_source_mapping"):
        assert answer not in message


def test_a_handler_that_raises_instead_is_named(refunds):
    """Wrong answer: change the code to fail the whole batch (the good refund is paid again and again)."""
    _, lam, _ = refunds
    lam.update_function_code(FunctionName="refunds", ZipFile=lambda_lab.zip_source(RAISES))
    lam.get_waiter("function_updated_v2").wait(FunctionName="refunds")
    message = refund_failure()
    assert "was paid " in message and "Did you make the handler raise?" in message


def test_a_handler_that_raises_is_named_when_the_refunds_arrive_in_batches_of_one(refunds):
    """Wrong answer again, when the good refund reaches the handler alone (SQS may split a batch): paid once,
    yet the failed refund's invocation raised."""
    _, lam, uuid = refunds
    lam.update_event_source_mapping(UUID=uuid, BatchSize=1)
    lam.update_function_code(FunctionName="refunds", ZipFile=lambda_lab.zip_source(RAISES))
    lam.get_waiter("function_updated_v2").wait(FunctionName="refunds")
    message = refund_failure()
    assert "made the handler raise" in message and "Did you make the handler raise?" in message


def test_a_function_dead_letter_queue_is_named(refunds):
    """Wrong answer: give the function a DLQ of its own (it only receives asynchronous events)."""
    lab, lam, _ = refunds
    lab.allow("AmazonSQSFullAccess")
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="refunds-function-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.update_function_configuration(FunctionName="refunds", DeadLetterConfig={"TargetArn": arn})
    lam.get_waiter("function_updated_v2").wait(FunctionName="refunds")
    message = refund_failure()
    assert "only receives failed asynchronous events" in message


def test_a_disabled_mapping_is_named(refunds):
    _, lam, uuid = refunds
    lam.update_event_source_mapping(UUID=uuid, Enabled=False, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert "Enable it again" in refund_failure()


# -- exercise 14.2: a payments stream ------------------------------------------------------------------
SETTLE = """
import base64
import json

def handler(event, context):
    records = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    for record in records:
        if record.get("type") != "payment":
            print(f"IGNORED {record['id']}: not a payment")
    bad = [r["id"] for r in records if r.get("type") == "payment" and "amount" not in r]
    if bad:
        raise ValueError(f"payments {bad} have no amount")
    for record in records:
        if record.get("type") == "payment":
            print(f"SETTLED {record['id']} {record['amount']}")
"""
GOOD = {"StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": 2, "BisectBatchOnFunctionError": True,
        "MaximumRecordAgeInSeconds": 600,
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"data": {"type": ["payment"]}})}]}}


@pytest.fixture
def payments():
    """A fresh lab with the exercise's function, stream (two payments waiting) and failure queue."""
    with lambda_lab.Lab(seed=142, quiet=True) as lab:
        lam, sqs, kinesis = boto3.client("lambda"), boto3.client("sqs"), boto3.client("kinesis")
        lab.allow("AWSLambdaKinesisExecutionRole", "AmazonSQSFullAccess")
        lam.create_function(FunctionName="settle", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Code={"ZipFile": lambda_lab.zip_source(SETTLE)})
        kinesis.create_stream(StreamName="payments", ShardCount=1)
        stream = kinesis.describe_stream(StreamName="payments")["StreamDescription"]["StreamARN"]
        url = sqs.create_queue(QueueName="settle-failures")["QueueUrl"]
        queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for n in (1, 2):
            kinesis.put_record(StreamName="payments", PartitionKey="shop-1",
                               Data=json.dumps({"type": "payment", "id": f"P-{n}", "amount": n}).encode())

        def create(**changes):
            settings = {**GOOD, "DestinationConfig": {"OnFailure": {"Destination": queue}}, **changes}
            lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="settle",
                                            **{k: v for k, v in settings.items() if v is not None})
            lab.wait_for_async()

        yield create


def stream_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_14_stream_settings("settle", stream_name="payments", queue_name="settle-failures")
    return str(failed.value)


def test_stream_solution_passes(payments, capsys):
    payments()
    checks.ex_14_stream_settings("settle", stream_name="payments", queue_name="settle-failures")
    out = capsys.readouterr().out
    assert out.startswith("Check passed") and "RetryAttemptsExhausted" in out


def test_stream_blank_fails_without_the_answer(payments):
    message = stream_failure()
    assert message.startswith("There is no event source mapping from the stream 'payments' to 'settle' yet.")
    for line in solution_lines("14_event_sources_sol_02.ipynb"):
        assert line not in message, line
    for answer in ("TRIM_HORIZON", "BisectBatchOnFunctionError", "MaximumRetryAttempts=", "600"):
        assert answer not in message


@pytest.mark.parametrize("changes, expected", [
    ({"StartingPosition": "LATEST"}, "starts at LATEST, so the payments that were already in 'payments'"),
    ({"MaximumRetryAttempts": None}, "is retried until its records expire"),
    ({"MaximumRetryAttempts": 5}, "is retried 5 times"),
    ({"BisectBatchOnFunctionError": False}, "the good payments of the same batch are given up with it"),
    ({"MaximumRecordAgeInSeconds": 3600}, "A payment of 3,600 s old may still be settled"),
    ({"DestinationConfig": None}, "skipped without a trace"),
    ({"FilterCriteria": None}, "audits included"),
], ids=["latest", "retries-forever", "too-many-retries", "no-bisect", "too-old", "no-destination", "no-filter"])
def test_a_setting_that_breaks_a_requirement_is_named(payments, changes, expected):
    payments(**changes)
    message = stream_failure()
    assert expected in message
    assert "Notebook 14" in message  # where to look


def test_a_filter_that_lets_audits_through_is_caught_by_running_one(payments):
    loose = {"Filters": [{"Pattern": json.dumps({"data": {"type": ["payment", "audit"]}})}]}
    payments(FilterCriteria=loose)
    assert "The check's audit record reached 'settle'" in stream_failure()
