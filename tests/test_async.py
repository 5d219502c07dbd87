"""Asynchronous invocation: the queue, retries on the lab clock, DLQs, destinations and their settings."""

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

FAILS = "def handler(event, context):\n    print(context.aws_request_id)\n    raise RuntimeError('nope: ' + str(event.get('n')))\n"
WORKS = "def handler(event, context):\n    return {'seen': event}\n"


@pytest.fixture
def queue():
    sqs = boto3.client("sqs")

    def make(name):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    return make


def drain(url, expect):
    sqs = boto3.client("sqs")
    messages = []
    for _ in range(50):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        for m in got.get("Messages", []):
            messages.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(messages) >= expect and not got.get("Messages"):
            break
    return messages


def events_of(lab, name):
    return [e for e in lab._engine.service.queue.events if e.function_name == name]


def test_event_invocation_answers_202_and_runs_in_the_background(lab, lam, make_function):
    name = make_function("import time\ndef handler(e, c):\n    time.sleep(0.2)\n    return e\n")
    started = time.monotonic()
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    assert response["StatusCode"] == 202 and time.monotonic() - started < 0.15
    lab.wait_for_async()
    [event] = events_of(lab, name)
    assert event.outcome == "Success" and [a.outcome for a in event.attempts] == ["success"]


def test_failures_retry_twice_a_minute_then_two_apart_then_go_to_the_dlq(lab, lam, make_function, queue):
    url, arn = queue("dlq-retries")
    name = make_function(FAILS, DeadLetterConfig={"TargetArn": arn})
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": arn}
    real_start = time.monotonic()
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 7}')
    lab.wait_for_async()
    assert time.monotonic() - real_start < 10  # three simulated minutes, fast-forwarded
    [event] = events_of(lab, name)
    assert [a.outcome for a in event.attempts] == ["error", "error", "error"]
    gaps = [b.at - a.at for a, b in zip(event.attempts, event.attempts[1:])]
    assert 59 <= gaps[0] <= 70 and 119 <= gaps[1] <= 130
    assert event.outcome == "RetriesExhausted"
    # the same request id on every attempt, as on AWS
    runs = [i for i in lab.invocations if i.function_name == name]
    assert len({r.request_id for r in runs}) == 1 and runs[0].request_id == event.request_id
    [message] = drain(url, 1)
    assert json.loads(message["Body"]) == {"n": 7}
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"StringValue": event.request_id, "DataType": "String"}
    assert attributes["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attributes["ErrorMessage"]["StringValue"] == "nope: 7"


def test_retry_attempts_setting_and_on_failure_destination(lab, lam, make_function, queue):
    url, arn = queue("on-failure")
    name = make_function(FAILS)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    lab.wait_for_async()
    [message] = drain(url, 1)
    record = json.loads(message["Body"])
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["functionArn"].endswith(f":function:{name}:$LATEST")
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_on_success_destinations_of_every_kind(lab, lam, make_function, queue):
    sqs_url, sqs_arn = queue("on-success")
    receiver = make_function("import boto3, json\ndef handler(e, c):\n"
                             "    boto3.client('s3').put_object(Bucket='records', Key='r', Body=json.dumps(e).encode())\n")
    boto3.client("s3").create_bucket(Bucket="records")
    name = make_function(WORKS)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": sqs_arn}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 2}')
    lab.wait_for_async()
    [message] = drain(sqs_url, 1)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert "functionError" not in record["responseContext"]
    assert record["responsePayload"] == {"seen": {"n": 2}}
    # another function as the destination: it receives the record as its event
    receiver_arn = lam.get_function(FunctionName=receiver)["Configuration"]["FunctionArn"]
    lam.update_function_event_invoke_config(FunctionName=name,
                                            DestinationConfig={"OnSuccess": {"Destination": receiver_arn}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 3}')
    lab.wait_for_async()
    body = json.loads(boto3.client("s3").get_object(Bucket="records", Key="r")["Body"].read())
    assert body["requestPayload"] == {"n": 3} and body["requestContext"]["condition"] == "Success"


def test_eventbridge_destination_wraps_the_record(lab, lam, make_function, queue):
    url, arn = queue("bus-target")
    events = boto3.client("events")
    events.put_rule(Name="lambda-results", EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule="lambda-results", Targets=[{"Id": "q", "Arn": arn}])
    bus = events.describe_event_bus()["Arn"]
    name = make_function(FAILS)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": bus}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 4}')
    lab.wait_for_async()
    [message] = drain(url, 1)
    envelope = json.loads(message["Body"])
    assert envelope["source"] == "lambda"
    assert envelope["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert envelope["detail"]["requestContext"]["approximateInvokeCount"] == 2


def test_throttled_events_age_out(lab, lam, make_function, queue):
    url, arn = queue("aged-out")
    name = make_function(WORKS)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 5}')
    lab.wait_for_async()
    [event] = events_of(lab, name)
    assert event.outcome == "EventAgeExceeded"
    assert {a.outcome for a in event.attempts} == {"throttled"} and len(event.attempts) >= 4
    [message] = drain(url, 1)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["responseContext"]["statusCode"] == 429


def test_event_invoke_config_api(lam, make_function):
    name = make_function(WORKS)
    lam.publish_version(FunctionName=name)
    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                               MaximumEventAgeInSeconds=300)
    assert put["FunctionArn"].endswith(f":{name}:$LATEST") and put["MaximumRetryAttempts"] == 1
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumRetryAttempts=0)
    # Update merges, Put replaces
    lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert (got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (2, 300)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert "MaximumEventAgeInSeconds" not in lam.get_function_event_invoke_config(FunctionName=name)
    assert lam.get_function_event_invoke_config(FunctionName=name, Qualifier="1")["MaximumRetryAttempts"] == 0
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert sorted(c["FunctionArn"].rsplit(":", 1)[1] for c in listed) == ["$LATEST", "1"]
    lam.delete_function_event_invoke_config(FunctionName=name, Qualifier="1")
    with pytest.raises(ClientError) as info:
        lam.get_function_event_invoke_config(FunctionName=name, Qualifier="1")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    for bad in ({"MaximumRetryAttempts": 3}, {"MaximumEventAgeInSeconds": 30000}):  # minimums: botocore checks
        with pytest.raises(ClientError) as info:
            lam.put_function_event_invoke_config(FunctionName=name, **bad)
        assert info.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as info:
        lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={
            "OnSuccess": {"Destination": "arn:aws:s3:::bucket"}})
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_nothing_is_lost_under_load(lab, lam, make_function, queue):
    """Thousands of events, a fifth failing: each ends exactly once, as a success or in the DLQ."""
    url, arn = queue("load-dlq")
    name = make_function("def handler(event, context):\n    if event['n'] % 5 == 0:\n"
                         "        raise ValueError(event['n'])\n    return event['n']\n",
                         DeadLetterConfig={"TargetArn": arn}, MemorySize=1769)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    total = 2000
    for n in range(total):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n}).encode())
    lab.wait_for_async(timeout=240)
    events = events_of(lab, name)
    assert len(events) == total and all(e.finished for e in events)
    succeeded = {json.loads(e.payload)["n"] for e in events if e.outcome == "Success"}
    dead = [json.loads(m["Body"])["n"] for m in drain(url, total // 5)]
    assert len(dead) == len(set(dead)) == total // 5  # exactly once each
    assert succeeded.isdisjoint(dead) and len(succeeded) + len(dead) == total
    assert all(n % 5 == 0 for n in dead)
    failed = [e for e in events if e.outcome != "Success"]
    assert all(len(e.attempts) == 2 for e in failed)
