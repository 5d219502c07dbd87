"""Lambda's service semantics over moto: qualifiers, aliases, validation, payload limits, concurrency."""

import json
import re
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lambda_lab
from conftest import invoke, run_in_fresh_process

VERSIONED = "def handler(e, c):\n    return c.function_version\n"


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response


@pytest.fixture
def versioned(lam, make_function):
    """A function with versions 1 and 2 and an alias 'live' on 1."""
    name = make_function(VERSIONED)
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Description="second")
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return name


@pytest.mark.parametrize("how", ["param", "suffix", "arn", "partial_arn"])
def test_qualifier_in_every_form(lam, versioned, how):
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{versioned}"
    forms = {"param": {"FunctionName": versioned, "Qualifier": "2"},
             "suffix": {"FunctionName": f"{versioned}:2"},
             "arn": {"FunctionName": f"{arn}:2"},
             "partial_arn": {"FunctionName": f"123456789012:function:{versioned}:2"}}
    response = lam.invoke(**forms[how])
    assert response["ExecutedVersion"] == "2"
    assert json.loads(response["Payload"].read()) == "2"


def test_alias_runs_its_version_and_latest_is_default(lam, versioned):
    assert lam.invoke(FunctionName=versioned, Qualifier="live")["ExecutedVersion"] == "1"
    assert lam.invoke(FunctionName=versioned)["ExecutedVersion"] == "$LATEST"
    assert lam.invoke(FunctionName=versioned, Qualifier="$LATEST")["ExecutedVersion"] == "$LATEST"


def test_unknown_function_version_or_alias_is_404(lam, versioned):
    for kwargs, arn_suffix in [({"FunctionName": "nope"}, "nope"),
                               ({"FunctionName": versioned, "Qualifier": "9"}, f"{versioned}:9"),
                               ({"FunctionName": versioned, "Qualifier": "beta"}, f"{versioned}:beta")]:
        response = error_of(lam.invoke, **kwargs)
        assert response["Error"]["Code"] == "ResourceNotFoundException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert response["Error"]["Message"].endswith(f":function:{arn_suffix}")


def test_mismatched_qualifiers_are_refused(lam, versioned):
    response = error_of(lam.invoke, FunctionName=f"{versioned}:1", Qualifier="2")
    assert response["Error"]["Code"] == "InvalidParameterValueException"


def test_weighted_alias_splits_traffic_by_its_weights_repeatably():
    # Lab(seed=...) is what makes a notebook's split repeatable: the same seed in two labs, one after the other
    # (each new Lab replaces the running one, so in a fresh process), and another seed for contrast
    runs = run_in_fresh_process("""
        import json, boto3, lambda_lab
        def split(seed):
            with lambda_lab.Lab(seed=seed, quiet=True) as lab:
                lam = boto3.client("lambda")
                lam.create_function(FunctionName="f", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                    Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\\n    return 1\\n")})
                lam.publish_version(FunctionName="f")
                lam.update_function_configuration(FunctionName="f", Description="second")
                lam.publish_version(FunctionName="f")
                lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1",
                                 RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
                answers = [lam.invoke(FunctionName="f", Qualifier="live") for _ in range(80)]
                return ("".join(a["ExecutedVersion"] for a in answers),
                        [a["ResponseMetadata"]["RequestId"] for a in answers[:3]])
        print(json.dumps([split(11), split(11), split(12)]))
    """)
    (first, first_ids), (again, again_ids), (other, other_ids) = runs
    assert first == again  # the same seed, the same versions in the same order
    assert other != first
    assert first_ids == again_ids and other_ids != first_ids  # and the same request ids, so outputs repeat
    assert len(set(first_ids)) == 3
    assert set(first) == {"1", "2"}
    assert 8 <= first.count("2") <= 32  # 25% of 80 = 20, within three standard deviations (sd ~3.9)


@pytest.mark.parametrize("routing,code,fragment", [
    ({"AdditionalVersionWeights": {"$LATEST": 0.5}}, "ValidationException", "regular expression pattern: [0-9]+"),
    ({"AdditionalVersionWeights": {"2": 1.5}}, "ValidationException", "less than or equal to 1.0"),
    ({"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}}, "InvalidParameterValueException", "at most one"),
    ({"AdditionalVersionWeights": {"7": 0.1}}, "ResourceNotFoundException", "version 7"),
])
def test_routing_rules(lam, versioned, routing, code, fragment):
    response = error_of(lam.update_alias, FunctionName=versioned, Name="live", FunctionVersion="1",
                        RoutingConfig=routing)
    assert response["Error"]["Code"] == code
    assert fragment in response["Error"]["Message"]


def test_both_versions_of_a_weighted_alias_need_the_same_role_and_dead_letter_queue(lab, lam, make_function):
    """AWS: the two versions share their execution role and their DLQ configuration (or both have none)."""
    name = make_function(VERSIONED)
    sqs, iam = boto3.client("sqs"), boto3.client("iam")
    queue_a, queue_b = (sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName=f"{name}-{q}")["QueueUrl"],
                                                 AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                        for q in ("a", "b"))
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    send = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
                                                               "Resource": "*"}]})
    role, other_role = (iam.create_role(RoleName=f"{name}-{r}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
                        for r in ("role", "other"))
    iam.put_role_policy(RoleName=f"{name}-role", PolicyName="dlq", PolicyDocument=send)  # a DLQ needs it

    def publish(description: str, **config) -> str:
        lam.update_function_configuration(FunctionName=name, Description=description, **config)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        return lam.publish_version(FunctionName=name)["Version"]

    plain = publish("no DLQ", Role=role)
    to_a = publish("DLQ a", DeadLetterConfig={"TargetArn": queue_a})
    to_a_again = publish("DLQ a again")
    to_b = publish("DLQ b", DeadLetterConfig={"TargetArn": queue_b})
    plain_again = publish("DLQ removed", DeadLetterConfig={"TargetArn": ""})
    other = publish("another role", Role=other_role)
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name, Qualifier=plain_again)

    def alias(alias_name: str, primary: str, extra: str) -> dict | None:
        try:
            lam.create_alias(FunctionName=name, Name=alias_name, FunctionVersion=primary,
                             RoutingConfig={"AdditionalVersionWeights": {extra: 0.1}})
        except ClientError as refused:
            return refused.response["Error"]
        return None

    assert alias("same-queue", to_a, to_a_again) is None
    assert alias("no-queues", plain, plain_again) is None
    for alias_name, primary, extra in (("one-queue", plain, to_a), ("two-queues", to_a, to_b)):
        error = alias(alias_name, primary, extra)
        assert error == {"Code": "InvalidParameterValueException", "Message":
                         "The dead-letter queue configuration of the versions of this alias must be the same (or "
                         f"absent from both): version {primary} and version {extra} differ."}
    assert alias("two-roles", plain_again, other) == {
        "Code": "InvalidParameterValueException", "Message": "The execution role of the versions of this alias "
        f"must be the same: version {plain_again} and version {other} differ."}
    # updating either side of an alias is checked against the other side
    error = error_of(lam.update_alias, FunctionName=name, Name="same-queue", FunctionVersion=to_b)
    assert error["Error"]["Code"] == "InvalidParameterValueException" and "dead-letter" in error["Error"]["Message"]
    error = error_of(lam.update_alias, FunctionName=name, Name="same-queue",
                     RoutingConfig={"AdditionalVersionWeights": {plain: 0.1}})
    assert error["Error"]["Code"] == "InvalidParameterValueException" and "dead-letter" in error["Error"]["Message"]
    assert lam.get_alias(FunctionName=name, Name="same-queue")["RoutingConfig"] == {
        "AdditionalVersionWeights": {to_a_again: 0.1}}  # a refused update leaves the alias as it was
    assert {a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]} == {"same-queue", "no-queues"}


def test_weighted_alias_cannot_point_at_latest(lam, versioned):
    response = error_of(lam.create_alias, FunctionName=versioned, Name="canary", FunctionVersion="$LATEST",
                        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert "$LATEST is not supported" in response["Error"]["Message"]


def test_alias_names_cannot_be_all_digits(lam, versioned):
    response = error_of(lam.create_alias, FunctionName=versioned, Name="123", FunctionVersion="1")
    assert response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize("config,code,fragment", [
    ({"MemorySize": 99999}, "ValidationException", "Member must have value less than or equal to 32768"),
    ({"MemorySize": 20000}, "InvalidParameterValueException", "128 to 10240"),
    ({"Timeout": 5000}, "InvalidParameterValueException", "1 to 900 seconds"),
    ({"EphemeralStorage": {"Size": 20000}}, "ValidationException", "less than or equal to 10240"),
    ({"Runtime": "python3.9"}, "InvalidParameterValueException", "no longer supported"),
    ({"Runtime": "python9.9"}, "ValidationException", "enum value set"),
    ({"Handler": "a" * 129}, "ValidationException", "length less than or equal to 128"),
    ({"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}}, "InvalidParameterValueException",
     "Reserved keys used in this request: AWS_REGION"),
    ({"Environment": {"Variables": {"BIG": "x" * 5000}}}, "InvalidParameterValueException", "exceeded the 4KB limit"),
    ({"Environment": {"Variables": {"1BAD": "x"}}}, "ValidationException", "Map keys must satisfy constraint"),
    ({"Architectures": ["x86_64", "arm64"]}, "ValidationException", "length less than or equal to 1"),
])
def test_create_function_validation(lab, lam, config, code, fragment):
    spec = {"FunctionName": "validated", "Runtime": "python3.13", "Role": lab.role_arn, "Handler": "app.handler",
            "Code": {"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    pass\n")}, **config}
    response = error_of(lam.create_function, **spec)
    assert response["Error"]["Code"] == code
    assert fragment in response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_function_names_are_checked(lab, lam):
    response = error_of(lam.create_function, FunctionName="has space", Runtime="python3.13", Role=lab.role_arn,
                        Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source("x = 1\n")})
    assert response["Error"]["Code"] in ("ValidationException", "InvalidParameterValueException")
    response = error_of(lam.create_function, FunctionName="n" * 65, Runtime="python3.13", Role=lab.role_arn,
                        Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source("x = 1\n")})
    assert response["Error"]["Code"] == "InvalidParameterValueException"


def test_update_configuration_is_validated_too(lam, make_function):
    name = make_function(VERSIONED)
    response = error_of(lam.update_function_configuration, FunctionName=name, Timeout=901)
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 3


def sized(total: int) -> bytes:
    """A JSON event of exactly `total` bytes."""
    event = json.dumps({"data": "x" * (total - len(b'{"data": ""}'))}).encode()
    assert len(event) == total
    return event


def test_payload_of_exactly_6_mb_is_accepted_and_one_byte_more_is_not(lam, make_function):
    name = make_function("def handler(e, c):\n    return len(e['data'])\n", MemorySize=1024)
    response = lam.invoke(FunctionName=name, Payload=sized(6_291_456))
    assert json.loads(response["Payload"].read()) == 6_291_456 - 12 and "FunctionError" not in response
    response = error_of(lam.invoke, FunctionName=name, Payload=sized(6_291_457))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"] == {"Code": "RequestEntityTooLargeException", "Message": (
        "6291457 byte payload is too large for the RequestResponse invocation type (limit 6291456 bytes)")}
    # asynchronous: exactly 1,048,576 bytes is queued, one more is refused
    assert lam.invoke(FunctionName=name, Payload=sized(1_048_576), InvocationType="Event")["StatusCode"] == 202
    response = error_of(lam.invoke, FunctionName=name, Payload=sized(1_048_577), InvocationType="Event")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"] == {"Code": "RequestEntityTooLargeException", "Message": (
        "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)")}


def test_response_of_exactly_6_mb_is_returned_and_one_byte_more_is_not(lam, make_function):
    # json.dumps of a string of n characters is n + 2 bytes (its quotes)
    name = make_function("def handler(e, c):\n    return 'x' * e['n']\n", MemorySize=1024)
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 6_291_454}).encode())
    assert "FunctionError" not in response and len(response["Payload"].read()) == 6_291_456
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 6_291_455}).encode())
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge"}


def test_payload_limits(lam, make_function):
    name = make_function("def handler(e, c):\n    return len(e['data'])\n", MemorySize=1024)
    ok = json.dumps({"data": "x" * (6 * 1024 * 1024 - 100)}).encode()
    assert json.loads(lam.invoke(FunctionName=name, Payload=ok)["Payload"].read()) == 6 * 1024 * 1024 - 100
    too_big = json.dumps({"data": "x" * (6 * 1024 * 1024)}).encode()
    response = error_of(lam.invoke, FunctionName=name, Payload=too_big)
    assert response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"]["Message"] == (f"{len(too_big)} byte payload is too large for the RequestResponse "
                                            "invocation type (limit 6291456 bytes)")
    async_big = json.dumps({"data": "x" * (1024 * 1024)}).encode()
    response = error_of(lam.invoke, FunctionName=name, Payload=async_big, InvocationType="Event")
    assert response["Error"]["Message"] == (f"{len(async_big)} byte payload is too large for the Event invocation "
                                            "type (limit 1048576 bytes)")


def test_non_json_payload_is_refused(lam, make_function):
    name = make_function(VERSIONED)
    response = error_of(lam.invoke, FunctionName=name, Payload=b"hello there")
    assert response["Error"]["Code"] == "InvalidRequestContentException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Could not parse request body into json" in response["Error"]["Message"]


def test_empty_payload_is_an_empty_event(lam, make_function):
    name = make_function("def handler(e, c):\n    return e\n")
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == {}


def test_dry_run_and_event_invocation_types(lab, lam, make_function):
    name = make_function("def handler(e, c):\n    print('ran', e)\n    return 1\n")
    dry = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204 and not [i for i in lab.invocations if i.function_name == name]
    queued = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    assert queued["StatusCode"] == 202 and queued["Payload"].read() == b""
    assert "ExecutedVersion" not in queued
    lab.wait_for_async()
    records = [i for i in lab.invocations if i.function_name == name]
    assert [r.invocation_type for r in records] == ["Event"] and records[0].result.status == "success"


def test_reserved_concurrency_zero_throttles_every_call(lam, make_function):
    name = make_function(VERSIONED)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    response = error_of(lam.invoke, FunctionName=name)
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Error"]["Message"] == "Rate Exceeded."
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.delete_function_concurrency(FunctionName=name)
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200


HELD = """
import os, pathlib, time
def handler(event, context):
    folder = pathlib.Path(event["folder"])
    (folder / context.aws_request_id).touch()  # in the handler now
    deadline = time.time() + 120
    while not (folder / "release").exists() and time.time() < deadline:
        time.sleep(0.02)
    return "done"
"""


def hold(name, folder, count):
    """Start `count` invocations that stay in the handler until `folder/release` exists; wait until all are in."""
    client = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))
    outcomes = []

    def call():
        try:
            outcomes.append(json.loads(client.invoke(FunctionName=name, Payload=json.dumps(
                {"folder": str(folder)}).encode())["Payload"].read()))
        except ClientError as e:
            outcomes.append(e.response["Reason"])

    threads = [threading.Thread(target=call) for _ in range(count)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 180
    while len(list(folder.iterdir())) < count and not outcomes:
        assert time.monotonic() < deadline, f"only {len(list(folder.iterdir()))} of {count} calls started"
        time.sleep(0.05)

    def release():
        (folder / "release").touch()
        for t in threads:
            t.join()
        return outcomes

    return release


def test_reserved_concurrency_throttles_beyond_the_limit(lab, lam, make_function, tmp_path):
    name = make_function(HELD, Timeout=150)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    release = hold(name, tmp_path, 2)
    for _ in range(2):  # both reserved slots are busy: a third and a fourth call are throttled
        response = error_of(lam.invoke, FunctionName=name, Payload=json.dumps({"folder": str(tmp_path)}).encode())
        assert response["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
        assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert release() == ["done", "done"]
    throttled = [i for i in lab.invocations if i.function_name == name and i.throttle_reason]
    assert [i.throttle_reason for i in throttled] == ["ReservedFunctionConcurrentInvocationLimitExceeded"] * 2
    again = tmp_path / "again"
    again.mkdir()
    release = hold(name, again, 2)  # finished calls gave their slots back: two run again, and only two
    response = error_of(lam.invoke, FunctionName=name, Payload=json.dumps({"folder": str(again)}).encode())
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert release() == ["done", "done"]


def test_reserved_concurrency_elsewhere_shrinks_the_unreserved_pool(lab, lam, make_function, tmp_path):
    # the account has 1,000; reserving 900 in all (earlier tests' functions included) leaves 100 for every
    # unreserved function together
    hog = make_function(VERSIONED)
    reserved = sum(lam.get_function_concurrency(FunctionName=f["FunctionName"]).get("ReservedConcurrentExecutions", 0)
                   for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"])
    lam.put_function_concurrency(FunctionName=hog, ReservedConcurrentExecutions=900 - reserved)
    wide, other = make_function(HELD, Timeout=150), make_function(VERSIONED)
    try:
        release = hold(wide, tmp_path, 100)
        for name in (wide, other):  # the 101st unreserved call, of any function, is throttled account-wide
            response = error_of(lam.invoke, FunctionName=name)
            assert response["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
            assert response["Reason"] == "ConcurrentInvocationLimitExceeded"
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert lam.invoke(FunctionName=hog)["StatusCode"] == 200  # its reserved 900 are its own
        assert release() == ["done"] * 100
        assert lam.invoke(FunctionName=other)["StatusCode"] == 200  # the pool is free again
    finally:
        lam.delete_function_concurrency(FunctionName=hog)
        lam.delete_function(FunctionName=wide)  # and its 100 environments


def test_reserved_concurrency_must_leave_100_unreserved(lam, make_function):
    name = make_function(VERSIONED)
    response = error_of(lam.put_function_concurrency, FunctionName=name, ReservedConcurrentExecutions=950)
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert "below its minimum value of [100]" in response["Error"]["Message"]


def test_publish_without_changes_returns_the_same_version(lam, make_function):
    name = make_function(VERSIONED)
    first = lam.publish_version(FunctionName=name)["Version"]
    assert lam.publish_version(FunctionName=name)["Version"] == first


def test_deleting_a_function_ends_its_environments(lab, lam, make_function):
    name = make_function(VERSIONED)
    invoke(lam, name)
    assert lab.environments(name)
    lam.delete_function(FunctionName=name)
    assert lab.environments(name) == []


SLOW = """
import time
def handler(event, context):
    time.sleep(event["seconds"])
    return "slept"
"""


def still_busy(lab, timeout: float) -> str:
    """What lab.wait_for_async's TimeoutError says when it gives up after `timeout` s."""
    with pytest.raises(TimeoutError) as caught:
        lab.wait_for_async(timeout=timeout)
    return str(caught.value)


def queue(name: str):
    """An SQS queue whose messages come back a minute (of lab time) after a failed batch: client, URL, ARN."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    return sqs, url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_wait_for_async_gives_up_after_its_timeout_and_says_what_is_left(lab, lam, make_function):
    name = make_function(SLOW, Timeout=30)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"seconds": 3}')
    assert still_busy(lab, 0.5) == "still busy after 0.5 s: 1 asynchronous event(s) unfinished"
    [event] = [e for e in lab.async_events if e.function_name == name]
    assert event.outcome is None  # it did not wait for the handler's 3 s
    lab.wait_for_async(timeout=None)  # no timeout at all: it waits for the event to end
    [event] = [e for e in lab.async_events if e.function_name == name]
    assert event.outcome == "Success"


SLOW_BATCH = """
import json, time
def handler(event, context):
    time.sleep(json.loads(event["Records"][0]["body"])["seconds"])
"""


def test_wait_for_async_names_a_mapping_still_running_its_batch(lab, lam, make_function):
    sqs, url, arn = queue("still-busy")
    name = make_function(SLOW_BATCH, Timeout=30)
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)["UUID"]
    sqs.send_message(QueueUrl=url, MessageBody='{"seconds": 3}')
    try:
        assert still_busy(lab, 1.5) == ("still busy after 1.5 s: 0 asynchronous event(s) unfinished; an event "
                                        "source mapping is running a batch")
    finally:
        lab.wait_for_async(timeout=None)
        lam.delete_event_source_mapping(UUID=mapping)  # its poller would be busy in the next tests' messages
    assert [i.result.failed for i in lab.invocations if i.function_name == name] == [False]


FAILS_FIRST_DELIVERY = """
def handler(event, context):
    if event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1":
        raise RuntimeError("the first delivery fails")
"""


def _poll(predicate, what: str, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def test_wait_for_async_names_a_mapping_retry_and_an_allocation_not_yet_ready(lab, lam, make_function):
    """Lab time is stopped, and an async event holds wait_for_async, so nothing is fast-forwarded: both dues show."""
    sqs, url, arn = queue("retry-later")
    flaky = make_function(FAILS_FIRST_DELIVERY)
    slow = make_function(SLOW, Timeout=30)
    lab.allow("AWSLambdaSQSQueueExecutionRole")
    mapping = lam.create_event_source_mapping(FunctionName=flaky, EventSourceArn=arn, BatchSize=1)["UUID"]
    speed, lab.clock.speed = lab.clock.speed, 1e-6
    try:
        version = lam.publish_version(FunctionName=slow)["Version"]
        lam.put_provisioned_concurrency_config(FunctionName=slow, Qualifier=version,
                                               ProvisionedConcurrentExecutions=1)
        sqs.send_message(QueueUrl=url, MessageBody="{}")
        _poll(lambda: [i.result.failed for i in lab.invocations if i.function_name == flaky and i.result] == [True],
              "the first delivery failed")
        _poll(lambda: lam.get_provisioned_concurrency_config(FunctionName=slow, Qualifier=version)[
            "AllocatedProvisionedConcurrentExecutions"] == 1, "the environment is allocated")
        assert lam.get_provisioned_concurrency_config(FunctionName=slow, Qualifier=version)["Status"] == "IN_PROGRESS"
        lam.invoke(FunctionName=slow, InvocationType="Event", Payload=b'{"seconds": 2}')
        message = still_busy(lab, 1.0)
        # (the mapping's poller may be looking at the queue just then: it says so)
        assert re.fullmatch(r"still busy after 1\.0 s: 1 asynchronous event\(s\) unfinished(; an event source mapping "
                            r"is running a batch)?; an event source mapping retries 60 s later on the lab clock; "
                            r"provisioned concurrency is still being allocated", message), message
    finally:
        lab.clock.speed = speed
        lab.wait_for_async(timeout=None)
        lam.delete_event_source_mapping(UUID=mapping)
    assert [i.result.failed for i in lab.invocations if i.function_name == flaky] == [True, False]
    assert lam.get_provisioned_concurrency_config(FunctionName=slow, Qualifier=version)["Status"] == "READY"


SLOW_INIT = """
import time
time.sleep(2)
def handler(event, context):
    return "ready"
"""


def test_wait_for_async_names_an_allocation_still_starting_its_environments(lab, lam, make_function):
    name = make_function(SLOW_INIT)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    try:
        # the minute an allocation takes on the lab clock is fast-forwarded at once; the 2 s init is not
        assert still_busy(lab, 1.0) == ("still busy after 1.0 s: 0 asynchronous event(s) unfinished; provisioned "
                                        "concurrency is still being allocated")
    finally:
        lab.wait_for_async(timeout=None)
    assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)["Status"] == "READY"


def test_wait_for_async_names_a_lab_clock_timer_still_running(lab):
    release = threading.Event()
    lab.clock.call_later(0, lambda: release.wait(30))  # a timer as a schedule's or an alarm's: it holds the clock
    try:
        assert still_busy(lab, 0.5) == "still busy after 0.5 s: 0 asynchronous event(s) unfinished; a lab-clock " \
                                       "timer is due"
    finally:
        release.set()
    lab.wait_for_async()


def test_each_invocations_request_id_is_a_uuid4_shared_by_the_answer_and_the_history(lab, lam, make_function):
    name = make_function(VERSIONED)
    before = time.time()
    answer = lam.invoke(FunctionName=name)
    after = time.time()
    record = lab.invocations[-1]
    assert record.function_name == name
    assert record.request_id == answer["ResponseMetadata"]["RequestId"]
    assert uuid.UUID(record.request_id).version == 4 and str(uuid.UUID(record.request_id)) == record.request_id
    assert before <= record.started_at <= after
    queued = lam.invoke(FunctionName=name, InvocationType="Event")
    lab.wait_for_async()
    [event] = [e for e in lab.async_events if e.function_name == name]
    assert queued["ResponseMetadata"]["RequestId"] == event.request_id  # the 202's request id is the event's
    assert uuid.UUID(event.request_id).version == 4
    assert [i.request_id for i in lab.invocations if i.function_name == name][-1] == event.request_id


def test_the_history_keeps_recent_logs_whole(lab, lam, make_function):
    """Only past 16 M characters of logs do the oldest entries shrink to their tail: recent ones stay whole."""
    from lambda_lab.service._invoke import TRIMMED_LOG

    name = make_function("def handler(event, context):\n    print('line ' * 2000)\n    return 1\n")
    for _ in range(3):
        lam.invoke(FunctionName=name)
    logs = [i.result.log for i in lab.invocations if i.function_name == name]
    assert len(logs) == 3
    assert not any(log.startswith(TRIMMED_LOG) for log in logs)
    assert all(len(log) > 10_000 and log.count("line ") >= 2000 for log in logs)  # more than LogResult's 4 KB
