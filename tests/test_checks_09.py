"""Exercise 09.1: an event source mapping from an SQS queue, with the execution role allowed to poll it.
Exercise 09.2: failed SQS messages retried alone (partial batch responses) and kept by the queue's redrive policy."""

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
    assert "section 'CreateEventSourceMapping'" in message
    assert "create_event_source_mapping(" not in message and "BatchSize=" not in message  # the hint, not the answer


def test_permission_without_a_mapping(lab):
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    message = failure()
    assert "The execution role may read 'orders' now" in message and "batches of at most 5" in message


def test_default_batch_size(lab, lam):
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    lam.create_event_source_mapping(EventSourceArn=QUEUE_ARN, FunctionName="order-batches")
    message = failure()
    assert "The mapping's BatchSize is 10 (10 is what SQS mappings get when BatchSize is left out)" in message
    assert "Change the mapping you have (UpdateEventSourceMapping)" in message


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


# -- Exercise 09.2 ---------------------------------------------------------------------------------------

SETTLE = """
import json

def handler(event, context):
    failed = []
    for record in event["Records"]:
        payment = json.loads(record["body"])
        try:
            if payment["amount"] <= 0:
                raise ValueError(f"amount must be positive, got {payment['amount']}")
            print(f"settled {payment['id']}: {payment['amount']:.2f}")
        except (KeyError, TypeError, ValueError) as error:
            print(f"could not settle {payment.get('id')}: {error}")
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}
"""


@pytest.fixture
def payments():
    """Exercise 09.2's setup: `settle` reports failed messages, but its mapping from `payments` ignores them."""
    with lambda_lab.Lab(seed=92, quiet=True) as lab:
        lam, sqs = boto3.client("lambda"), boto3.client("sqs")
        lam.create_function(FunctionName="settle", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Timeout=20, Code={"ZipFile": lambda_lab.zip_source(SETTLE)})
        url = sqs.create_queue(QueueName="payments")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lab.allow("AWSLambdaSQSQueueExecutionRole")
        uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="settle", BatchSize=10)["UUID"]
        yield {"lab": lab, "lam": lam, "sqs": sqs, "url": url, "uuid": uuid}


def dead_letter_queue(sqs, url, receives="3", visibility="120"):
    dlq = sqs.create_queue(QueueName="payments-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": visibility, "RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": receives})})
    return dlq_arn


def report_failures(p):
    p["lam"].update_event_source_mapping(UUID=p["uuid"], FunctionResponseTypes=["ReportBatchItemFailures"])


def payment_failure() -> str:
    with pytest.raises(CheckFailed) as info:
        checks.ex_09_payment_failures("settle", queue_name="payments", dlq_name="payments-dlq")
    return str(info.value)


SOLUTION_WORDS = ("ReportBatchItemFailures", "FunctionResponseTypes", "RedrivePolicy", "maxReceiveCount", "120")


def test_payments_solution_passes(payments, capsys):
    dead_letter_queue(payments["sqs"], payments["url"])
    report_failures(payments)
    checks.ex_09_payment_failures("settle", queue_name="payments", dlq_name="payments-dlq")
    assert capsys.readouterr().out == (
        "Check passed: a failed payment is tried 3 times on its own and then kept in 'payments-dlq'; the good "
        "payments of its batch were settled once each; 'payments' hides messages for 120 s (function timeout 20 s).\n")


def test_payments_blank_fails_without_the_answer(payments):
    message = payment_failure()
    assert message.startswith("'settle' answers each batch with the message ids of the payments it could not settle")
    assert "section 'When a batch fails'" in message
    assert not [word for word in SOLUTION_WORDS if word in message], message


def test_payments_dead_letter_queue_without_partial_responses(payments):
    dead_letter_queue(payments["sqs"], payments["url"])
    assert "the mapping from 'payments' ignores that answer" in payment_failure()


def test_payments_function_dead_letter_queue_is_the_wrong_one(payments):
    report_failures(payments)
    payments["lab"].allow("AmazonSQSFullAccess")
    sqs = payments["sqs"]
    dlq = sqs.create_queue(QueueName="payments-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    payments["lam"].update_function_configuration(FunctionName="settle", DeadLetterConfig={"TargetArn": dlq_arn})
    message = payment_failure()
    assert "only receives asynchronous events that failed" in message
    assert not [word for word in SOLUTION_WORDS if word in message], message


def test_payments_mapping_destination_is_refused(payments):
    sqs = payments["sqs"]
    dlq = sqs.create_queue(QueueName="payments-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(ClientError) as info:
        payments["lam"].update_event_source_mapping(UUID=payments["uuid"],
                                                    DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    report_failures(payments)
    message = payment_failure()
    assert "nothing tells SQS to move it" in message
    assert not [word for word in SOLUTION_WORDS if word in message], message


def test_payments_wrong_receive_count(payments):
    dead_letter_queue(payments["sqs"], payments["url"], receives="5")
    report_failures(payments)
    assert "moves a message to 'payments-dlq' after 5 receives" in payment_failure()


def test_payments_short_visibility_timeout(payments):
    dead_letter_queue(payments["sqs"], payments["url"], visibility="30")
    report_failures(payments)
    message = payment_failure()
    assert "hides a received message for 30 s. That is less than AWS recommends" in message
    assert "120" not in message
