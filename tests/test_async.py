"""Asynchronous invocation: the queue, retries on the lab clock, DLQs, destinations and their settings."""

import contextlib
import json

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


@pytest.fixture(scope="module", autouse=True)
def role_may_deliver(lab):
    """As on AWS, the execution role may send to the DLQs and destinations these tests set."""
    lab.allow("AmazonSQSFullAccess", "AmazonSNSFullAccess", "AmazonS3FullAccess", "AWSLambdaRole")
    boto3.client("iam").put_role_policy(RoleName=lab.role_arn.split("/")[-1], PolicyName="put-events",
                                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                            "Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]}))


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
    return [e for e in lab.async_events if e.function_name == name]


@contextlib.contextmanager
def stopped_clock(lab):
    """Lab time that moves only when wait_for_async jumps it to the next retry: gaps come out exact."""
    speed, lab.clock.speed = lab.clock.speed, 1e-6
    try:
        yield
    finally:
        lab.clock.speed = speed


def gaps(event):
    return [round(b.at - a.at, 1) for a, b in zip(event.attempts, event.attempts[1:])]


def test_event_invocation_answers_202_and_runs_in_the_background(lab, lam, make_function, tmp_path):
    release = tmp_path / "release"
    name = make_function(f"""
        import os, time
        def handler(event, context):
            while not os.path.exists({str(release)!r}):  # held until the caller has its answer
                time.sleep(0.01)
            return event
    """, Timeout=60)
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    assert response["StatusCode"] == 202 and response["Payload"].read() == b""
    [event] = events_of(lab, name)
    assert event.outcome is None  # the caller got 202 while the handler still runs
    release.touch()
    lab.wait_for_async()
    assert event.outcome == "Success" and [a.outcome for a in event.attempts] == ["success"]


def test_failures_retry_twice_a_minute_then_two_apart_then_go_to_the_dlq(lab, lam, make_function, queue):
    url, arn = queue("dlq-retries")
    name = make_function(FAILS, DeadLetterConfig={"TargetArn": arn})
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": arn}
    with stopped_clock(lab):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 7}')
        lab.wait_for_async()  # three simulated minutes, fast-forwarded
    [event] = events_of(lab, name)
    assert [a.outcome for a in event.attempts] == ["error", "error", "error"]
    assert gaps(event) == [60.0, 120.0]  # AWS: "a one-minute wait ..., and two minutes between the second and third"
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
    dlq_url, dlq_arn = queue("aged-out-dlq")
    name = make_function(WORKS, DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    with stopped_clock(lab):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 5}')
        lab.wait_for_async()
    [event] = events_of(lab, name)
    assert event.outcome == "EventAgeExceeded"
    # throttled at 0, 1, 3, 7, 15 and 31 s; the next try (31 + 32 s) would be older than 60 s, so it ends there
    assert [a.outcome for a in event.attempts] == ["throttled"] * 6
    assert {a.error_type for a in event.attempts} == {"ReservedFunctionConcurrentInvocationLimitExceeded"}
    assert {a.executed_version for a in event.attempts} == {"$LATEST"}
    assert gaps(event) == [1.0, 2.0, 4.0, 8.0, 16.0]
    [message] = drain(url, 1)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 6
    assert record["responseContext"] == {"statusCode": 429, "executedVersion": "$LATEST"}
    assert "responsePayload" not in record and record["requestPayload"] == {"n": 5}
    # the dead-letter queue gets the event with ErrorCode 429: it never ran, it was throttled until too old
    [dead] = drain(dlq_url, 1)
    assert json.loads(dead["Body"]) == {"n": 5}
    assert dead["MessageAttributes"] == {
        "RequestID": {"StringValue": event.request_id, "DataType": "String"},
        "ErrorCode": {"StringValue": "429", "DataType": "Number"},
        "ErrorMessage": {"StringValue": "Event age exceeded", "DataType": "String"}}
    assert [(kind, status) for kind, _, status in event.deliveries] == [("OnFailure", "ok"), ("DeadLetter", "ok")]


def test_throttle_backoff_grows_from_one_second_to_five_minutes(lab, lam, make_function):
    # AWS: "The retry interval increases exponentially from 1 second after the first attempt to a maximum of
    # 5 minutes", until the event is MaximumEventAgeInSeconds old
    name = make_function(WORKS)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=1000)
    with stopped_clock(lab):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 6}')
        lab.wait_for_async()
    [event] = events_of(lab, name)
    assert event.outcome == "EventAgeExceeded" and event.deliveries == []  # no DLQ, no destination: dropped
    steps = gaps(event)
    assert steps[0] == 1.0 and max(steps) == 300.0
    assert all(a < b for a, b in zip(steps, steps[1:steps.index(300.0) + 1]))  # growing until the cap
    assert all(b <= 2.5 * a for a, b in zip(steps, steps[1:]))  # by at most x2.5 a step: no jump to the cap
    # the lab's schedule: doubling to 32 s, then 1, 2 and 5 minutes, then every 5 minutes; at 843 s the next
    # try (1,143 s) would be older than 1,000 s
    assert steps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 120.0, 300.0, 300.0]
    assert round(event.attempts[-1].at - event.received_at) == 843


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
    """Hundreds of events at once, a fifth failing: each ends exactly once, as a success or in the DLQ."""
    url, arn = queue("load-dlq")
    name = make_function("def handler(event, context):\n    if event['n'] % 5 == 0:\n"
                         "        raise ValueError(event['n'])\n    return event['n']\n",
                         DeadLetterConfig={"TargetArn": arn}, MemorySize=1769)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    total = 500  # far more than the lab's workers and the poller's batches; 2,000 took four times as long
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


def test_sns_dead_letter_topic_gets_the_event_and_its_attributes(lab, lam, make_function, queue):
    url, queue_arn = queue("sns-dlq-subscriber")
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="dead-letters")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    name = make_function(FAILS, DeadLetterConfig={"TargetArn": topic})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 8}')
    lab.wait_for_async()
    [event] = events_of(lab, name)
    assert event.outcome == "RetriesExhausted" and event.deliveries == [("DeadLetter", topic, "ok")]
    [message] = drain(url, 1)
    envelope = json.loads(message["Body"])  # SNS's notification, as a subscribed queue receives it
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    assert json.loads(envelope["Message"]) == {"n": 8}
    assert envelope["MessageAttributes"] == {
        "RequestID": {"Type": "String", "Value": event.request_id},
        "ErrorCode": {"Type": "Number", "Value": "200"},
        "ErrorMessage": {"Type": "String", "Value": "nope: 8"}}


def test_s3_on_failure_destination_stores_the_record(lab, lam, make_function):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="failed-invocations")
    name = make_function(FAILS)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={
        "OnFailure": {"Destination": "arn:aws:s3:::failed-invocations"}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 9}')
    lab.wait_for_async()
    [event] = events_of(lab, name)
    [stored] = s3.list_objects_v2(Bucket="failed-invocations")["Contents"]
    assert stored["Key"].startswith(f"aws/lambda/async/{name}/") and stored["Key"].endswith("/" + event.request_id)
    record = json.loads(s3.get_object(Bucket="failed-invocations", Key=stored["Key"])["Body"].read())
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload", "responseContext",
                           "responsePayload"}
    assert record["version"] == "1.0"
    assert record["requestContext"] == {"requestId": event.request_id,
                                        "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}:$LATEST",
                                        "condition": "RetriesExhausted", "approximateInvokeCount": 2}
    assert record["requestPayload"] == {"n": 9}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "nope: 9"
