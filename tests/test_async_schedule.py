"""The async queue's schedule at its exact edges, on a lab clock that moves only when the queue jumps it."""

import contextlib
import datetime
import json
import re

import boto3
import pytest

FAILS = "def handler(event, context):\n    raise ValueError('bad ' + str(event['n']))\n"
WORKS = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="module", autouse=True)
def may_deliver(lab):
    """The execution role may send to every kind of destination (the lab checks it when one is set, as AWS does)."""
    iam, role = boto3.client("iam"), lab.role_arn.split("/")[-1]
    for policy in ("AmazonSQSFullAccess", "AmazonSNSFullAccess", "service-role/AWSLambdaRole", "AmazonS3FullAccess"):
        iam.attach_role_policy(RoleName=role, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
    iam.put_role_policy(RoleName=role, PolicyName="put-events",
                                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]}))


@contextlib.contextmanager
def frozen_clock(lab):
    """So slow that between two jumps simulated time does not move by one float step: every gap is exact."""
    speed, lab.clock.speed = lab.clock.speed, 1e-12
    try:
        yield
    finally:
        lab.clock.speed = speed


def _queue(name):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _one_message(url):
    [message] = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                    MessageAttributeNames=["All"])["Messages"]
    return message


def _event(lab, name):
    [event] = [e for e in lab.async_events if e.function_name == name]
    return event


def _offsets(event):
    return [a.at - event.received_at for a in event.attempts]


def test_a_throttled_retry_due_exactly_at_the_maximum_age_still_runs(lab, lam, make_function):
    # throttled at 0, 1, 3, 7, 15 and 31 s; the next try is due at 31 + 32 = 63 s: not older than 63, so it runs
    name = make_function(WORKS)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=63)
    with frozen_clock(lab):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
        lab.wait_for_async()
    event = _event(lab, name)
    assert _offsets(event) == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert event.outcome == "EventAgeExceeded"


def test_a_function_error_retry_due_exactly_at_the_maximum_age_still_runs(lab, lam, make_function):
    # retries 60 s and then 120 s later: the third attempt is due at 180 s, which a 180 s limit still allows
    name = make_function(FAILS)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=180)
    with frozen_clock(lab):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 2}')
        lab.wait_for_async()
    event = _event(lab, name)
    assert _offsets(event) == [0.0, 60.0, 180.0] and event.outcome == "RetriesExhausted"


def test_a_retry_that_would_be_too_old_ends_the_event_with_its_last_response(lab, lam, make_function):
    # limit 179 s: the third attempt (180 s) would be too old, so the event ends after the second, and the
    # destination record and the dead-letter message still carry the function's error
    url, arn = _queue("age-after-errors")
    dlq_url, dlq_arn = _queue("age-after-errors-dlq")
    name = make_function(FAILS, DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=179,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    with frozen_clock(lab):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 3}')
        lab.wait_for_async()
        now = lab.clock.now()
    event = _event(lab, name)
    assert _offsets(event) == [0.0, 60.0] and event.outcome == "EventAgeExceeded"
    record = json.loads(_one_message(url)["Body"])
    assert record["requestContext"] == {"requestId": event.request_id, "functionArn": record["requestContext"][
        "functionArn"], "condition": "EventAgeExceeded", "approximateInvokeCount": 2}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "bad 3"
    # the record's time is the lab clock's, to the millisecond, in ISO 8601 with a Z
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    stamp = datetime.datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert now - 0.001 <= stamp <= now
    dead = _one_message(dlq_url)
    assert dead["MessageAttributes"]["ErrorCode"]["StringValue"] == "200"
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "bad 3"


@pytest.mark.parametrize("retries, offsets", [(0, [0.0]), (1, [0.0, 60.0])])
def test_maximum_retry_attempts_counts_retries_not_attempts(lab, lam, make_function, retries, offsets):
    name = make_function(FAILS)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=retries)
    with frozen_clock(lab):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 4}')
        lab.wait_for_async()
    event = _event(lab, name)
    assert _offsets(event) == offsets and event.outcome == "RetriesExhausted"
    assert [a.error_type for a in event.attempts] == ["ValueError"] * len(offsets)


def test_wait_for_async_fast_forwards_a_poller_retry_while_no_event_is_queued(lab, lam, make_function, tmp_path):
    # an SQS message that fails once comes back after its 30 s visibility timeout: with no async event queued,
    # wait_for_async must still jump the lab clock to it, and return once the retry has succeeded
    boto3.client("iam").attach_role_policy(RoleName=lab.role_arn.split("/")[-1], PolicyArn=(
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"))
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="retried-once", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    marker = tmp_path / "failed-once"
    name = make_function(f"""
import os
def handler(event, context):
    if not os.path.exists({str(marker)!r}):
        open({str(marker)!r}, "w").close()
        raise RuntimeError("first delivery fails")
    return len(event["Records"])
""")
    sqs.send_message(QueueUrl=url, MessageBody="once")
    with frozen_clock(lab):
        start = lab.clock.now()
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
        lab.wait_for_async()
        waited = lab.clock.now() - start
    runs = [i for i in lab.invocations if i.function_name == name]
    assert [r.failed for r in runs] == [True, False]
    assert waited >= 30.0  # the lab clock, not the wall clock, waited out the visibility timeout


def test_events_failing_at_the_same_time_each_retry_on_schedule(lab, lam, make_function, tmp_path):
    # two attempts in flight at once: the queue must count both, or the lab clock never jumps to their retries
    gate = tmp_path / "both-running"
    name = make_function(f"""
import os, time
def handler(event, context):
    open({str(gate)!r} + str(event["n"]), "w").close()
    while not all(os.path.exists({str(gate)!r} + n) for n in ("1", "2")):
        time.sleep(0.01)
    raise ValueError("together")
""", Timeout=30)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    with frozen_clock(lab):
        for n in (1, 2):
            lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n}).encode())
        lab.wait_for_async(timeout=30)
    events = [e for e in lab.async_events if e.function_name == name]
    assert [_offsets(e) for e in events] == [[0.0, 60.0], [0.0, 60.0]]
    assert [e.outcome for e in events] == ["RetriesExhausted"] * 2


def test_an_event_keeps_its_qualifier_and_an_empty_payload_is_recorded_as_an_empty_event(lab, lam, make_function):
    url, arn = _queue("qualified-records")
    name = make_function(WORKS)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier=version,
                                         DestinationConfig={"OnSuccess": {"Destination": arn}})
    lam.invoke(FunctionName=name, Qualifier=version, InvocationType="Event")
    lab.wait_for_async()
    event = _event(lab, name)
    assert (event.qualifier, event.attempts[0].executed_version) == (version, version)
    record = json.loads(_one_message(url)["Body"])
    assert record["requestPayload"] == {} and record["responsePayload"] == {}
    assert record["requestContext"]["functionArn"].endswith(f":function:{name}:{version}")
