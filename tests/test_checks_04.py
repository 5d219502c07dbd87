"""Exercise 04.1 (a dead-letter queue for failed asynchronous events): the solution passes, a blank fails,
and plausible wrong answers fail with a message that says what is wrong."""

import json

import boto3
import pytest

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed

PROCESS = """
def handler(event, context):
    if event.get("quantity", 0) <= 0:
        raise ValueError(f"order {event.get('order_id')}: quantity must be positive")
    return {"order_id": event["order_id"], "status": "processed"}
"""
RECEIPT = "def handler(event, context):\n    return {'receipt_for': event.get('order_id')}\n"


@pytest.fixture
def setup():
    """A fresh lab per test (the check looks at every function of the account), with the exercise's setup."""
    with lambda_lab.Lab(seed=40, quiet=True) as lab:
        lam = boto3.client("lambda")
        for name, source in (("process-order", PROCESS), ("send-receipt", RECEIPT)):
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                Code={"ZipFile": lambda_lab.zip_source(source)})
        yield lab, lam, boto3.client("sqs")


def queue(sqs, name="process-order-dlq"):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_the_solution_passes(setup, capsys):
    lab, lam, sqs = setup
    lab.allow("AmazonSQSFullAccess")
    url, arn = queue(sqs)
    lam.update_function_configuration(FunctionName="process-order", DeadLetterConfig={"TargetArn": arn})
    lam.get_waiter("function_updated_v2").wait(FunctionName="process-order")
    checks.ex_04_dead_letter("process-order")
    assert "Check passed" in capsys.readouterr().out
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # the check took only its own message


def test_an_on_failure_destination_passes_too(setup, capsys):
    lab, lam, sqs = setup
    lab.allow("AmazonSQSFullAccess")  # as on AWS, before the role may send there
    _, arn = queue(sqs, "failed-orders")
    lam.put_function_event_invoke_config(FunctionName="process-order",
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    checks.ex_04_dead_letter("process-order")
    assert "OnFailure (failed-orders)" in capsys.readouterr().out


def test_the_check_leaves_other_messages_in_the_queue(setup):
    lab, lam, sqs = setup
    lab.allow("AmazonSQSFullAccess")  # as on AWS, before the role may send there
    url, arn = queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order_id": "kept"}))
    lam.update_function_configuration(FunctionName="process-order", DeadLetterConfig={"TargetArn": arn})
    checks.ex_04_dead_letter("process-order")
    [left] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(left["Body"]) == {"order_id": "kept"}


def test_doing_nothing_fails(setup):
    with pytest.raises(CheckFailed, match="no dead-letter queue and no OnFailure destination") as failed:
        checks.ex_04_dead_letter("process-order")
    assert "Keeping failed events: a dead-letter queue" in str(failed.value)  # where to look
    assert "DeadLetterConfig=" not in str(failed.value) and "update_function_configuration" not in str(failed.value)


def test_a_dlq_on_the_wrong_function_is_named(setup):
    lab, lam, sqs = setup
    lab.allow("AmazonSQSFullAccess")  # as on AWS, before the role may send there
    _, arn = queue(sqs)
    lam.update_function_configuration(FunctionName="send-receipt", DeadLetterConfig={"TargetArn": arn})
    with pytest.raises(CheckFailed, match="set on 'send-receipt', not on 'process-order'"):
        checks.ex_04_dead_letter("process-order")


def test_on_success_instead_of_on_failure_is_named(setup):
    lab, lam, sqs = setup
    lab.allow("AmazonSQSFullAccess")  # as on AWS, before the role may send there
    _, arn = queue(sqs)
    lam.put_function_event_invoke_config(FunctionName="process-order",
                                         DestinationConfig={"OnSuccess": {"Destination": arn}})
    with pytest.raises(CheckFailed, match="OnSuccess only receives events that succeeded") as failed:
        checks.ex_04_dead_letter("process-order")
    assert "DestinationConfig=" not in str(failed.value) and "'OnFailure':" not in str(failed.value)


def test_a_queue_that_does_not_exist_is_named(setup):
    lab, lam, _ = setup
    lab.allow("AmazonSQSFullAccess")  # as on AWS, before the role may send there
    lam.update_function_configuration(FunctionName="process-order", DeadLetterConfig={
        "TargetArn": "arn:aws:sqs:us-east-1:123456789012:process-order-dlq"})
    with pytest.raises(CheckFailed, match="which does not exist"):
        checks.ex_04_dead_letter("process-order")


def test_an_sns_topic_is_not_what_the_exercise_asks(setup):
    lab, lam, _ = setup
    lab.allow("AmazonSNSFullAccess")  # as on AWS, before the role may send there
    topic = boto3.client("sns").create_topic(Name="failed-orders")["TopicArn"]
    lam.update_function_configuration(FunctionName="process-order", DeadLetterConfig={"TargetArn": topic})
    with pytest.raises(CheckFailed, match="asks for an SQS queue"):
        checks.ex_04_dead_letter("process-order")


def test_changed_code_that_no_longer_fails_is_caught(setup):
    lab, lam, sqs = setup
    lab.allow("AmazonSQSFullAccess")  # as on AWS, before the role may send there
    _, arn = queue(sqs)
    lam.update_function_configuration(FunctionName="process-order", DeadLetterConfig={"TargetArn": arn})
    lam.update_function_code(FunctionName="process-order", ZipFile=lambda_lab.zip_source(RECEIPT))
    with pytest.raises(CheckFailed, match="did not fail"):
        checks.ex_04_dead_letter("process-order")


def test_forgetting_the_permission_is_refused_and_the_check_gives_no_solution_away(setup):
    _, lam, sqs = setup
    _, arn = queue(sqs)
    with pytest.raises(lam.exceptions.InvalidParameterValueException,
                       match="The provided execution role does not have permissions to call SendMessage on SQS"):
        lam.update_function_configuration(FunctionName="process-order", DeadLetterConfig={"TargetArn": arn})
    with pytest.raises(CheckFailed, match="no dead-letter queue and no OnFailure destination") as failed:
        checks.ex_04_dead_letter("process-order")
    from pathlib import Path

    notebook = Path(__file__).parents[1] / "solutions" / "04_invocation_types_sol_01.ipynb"
    solution = [c for c in json.loads(notebook.read_text())["cells"] if "solution" in c["metadata"].get("tags", [])]
    for line in "".join(solution[0]["source"]).splitlines()[1:]:  # the code lines of the solution cell
        assert not line.strip() or line.strip() not in str(failed.value), line


# -- exercise 04.2: retries, event age and a failure destination for a payment service --------------------

CHARGE = """
class PaymentDeclined(Exception):
    pass

def handler(event, context):
    if event.get("card") == "declined":
        raise PaymentDeclined(f"charge {event.get('charge_id')}: the card was declined")
    return {"charge_id": event.get("charge_id"), "status": "charged"}
"""


@pytest.fixture
def payments():
    """A fresh lab with the exercise's charge-card function, its role already allowed to send to SQS."""
    with lambda_lab.Lab(seed=41, quiet=True) as lab:
        lam = boto3.client("lambda")
        lam.create_function(FunctionName="charge-card", Runtime="python3.13", Role=lab.role_arn,
                            Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source(CHARGE)})
        lab.allow("AmazonSQSFullAccess")
        sqs = boto3.client("sqs")
        yield lam, queue(sqs, "failed-charges")[1]


def payment_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_04_payment_failures("charge-card")
    return str(failed.value)


def test_payment_solution_passes(payments, capsys):
    lam, arn = payments
    lam.put_function_event_invoke_config(FunctionName="charge-card", MaximumRetryAttempts=0,
                                         MaximumEventAgeInSeconds=600,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    checks.ex_04_payment_failures("charge-card")
    out = capsys.readouterr().out
    assert out.startswith("Check passed") and "error PaymentDeclined" in out


def test_payment_blank_fails_without_the_answer(payments):
    message = payment_failure()
    assert message.startswith("'charge-card' still uses the default settings for asynchronous events")
    assert "Tuning retries" in message  # where to look
    for answer in ("MaximumRetryAttempts=0", "MaximumEventAgeInSeconds=600", "OnFailure':", "put_function_event"):
        assert answer not in message


def test_payment_default_retries_are_named(payments):
    lam, arn = payments
    lam.put_function_event_invoke_config(FunctionName="charge-card", MaximumEventAgeInSeconds=600,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    assert "would still retry a failed charge of 'charge-card' 2 times" in payment_failure()


def test_payment_six_hour_age_is_named(payments):
    lam, arn = payments
    lam.put_function_event_invoke_config(FunctionName="charge-card", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    assert "may still wait up to 21,600 s" in payment_failure()


def test_payment_dead_letter_queue_lacks_what_support_needs(payments):
    # a plausible wrong answer: a DLQ keeps the event, but not the error type or the condition
    lam, arn = payments
    lam.put_function_event_invoke_config(FunctionName="charge-card", MaximumRetryAttempts=0,
                                         MaximumEventAgeInSeconds=600)
    lam.update_function_configuration(FunctionName="charge-card", DeadLetterConfig={"TargetArn": arn})
    message = payment_failure()
    assert "keeps failed charges in a dead-letter queue (failed-charges)" in message
    assert "neither the error type nor why Lambda gave up" in message


def test_payment_without_permission_is_refused_as_on_aws():
    with lambda_lab.Lab(seed=41, quiet=True) as lab:
        lam = boto3.client("lambda")
        lam.create_function(FunctionName="charge-card", Runtime="python3.13", Role=lab.role_arn,
                            Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source(CHARGE)})
        _, arn = queue(boto3.client("sqs"), "failed-charges")
        with pytest.raises(lam.exceptions.InvalidParameterValueException, match="SendMessage"):
            lam.put_function_event_invoke_config(FunctionName="charge-card", MaximumRetryAttempts=0,
                                                 DestinationConfig={"OnFailure": {"Destination": arn}})
