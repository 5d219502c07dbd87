"""Where failed and finished async events land: SNS dead-letter topics, S3 and SNS destinations, message limits."""

import json
import time

import boto3
import pytest

import lambda_lab

FAILS_LONG = "def handler(event, context):\n    raise RuntimeError('m' * 2000)\n"
FAILS_EMPTY = "def handler(event, context):\n    raise RuntimeError()\n"
WORKS = "def handler(event, context):\n    return {'seen': event}\n"


@pytest.fixture(scope="module", autouse=True)
def may_deliver(lab):
    """The execution role may send to every kind of destination (the lab checks it when one is set, as AWS does)."""
    iam, role = boto3.client("iam"), lab.role_arn.split("/")[-1]
    for policy in ("AmazonSQSFullAccess", "AmazonSNSFullAccess", "service-role/AWSLambdaRole", "AmazonS3FullAccess"):
        iam.attach_role_policy(RoleName=role, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
    iam.put_role_policy(RoleName=role, PolicyName="put-events",
                                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]}))


def _queue(name):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _topic_into_queue(name):
    """An SNS topic whose notifications arrive, in SNS's JSON envelope, in an SQS queue."""
    url, queue_arn = _queue(name + "-q")
    topic = boto3.client("sns").create_topic(Name=name)["TopicArn"]
    boto3.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, url


def _receive(url, count=1):
    sqs, got = boto3.client("sqs"), []
    for _ in range(20):
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                   WaitTimeSeconds=0).get("Messages", [])
        if len(got) >= count:
            break
        time.sleep(0.05)
    return got


def _only_event(lab, name):
    [event] = [e for e in lab.async_events if e.function_name == name]
    return event


def test_sns_dead_letter_topic_gets_the_event_and_the_first_kilobyte_of_the_error(lab, lam, make_function):
    topic, url = _topic_into_queue("dlq-topic")
    name = make_function(FAILS_LONG, DeadLetterConfig={"TargetArn": topic})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 11}')
    lab.wait_for_async()
    event = _only_event(lab, name)
    assert event.outcome == "RetriesExhausted" and event.deliveries == [("DeadLetter", topic, "ok")]
    [message] = _receive(url)
    envelope = json.loads(message["Body"])
    assert envelope["TopicArn"] == topic and json.loads(envelope["Message"]) == {"n": 11}
    assert envelope["MessageAttributes"] == {
        "RequestID": {"Type": "String", "Value": event.request_id},
        "ErrorCode": {"Type": "Number", "Value": "200"},
        "ErrorMessage": {"Type": "String", "Value": "m" * 1024}}  # AWS keeps the first 1 KB


@pytest.mark.parametrize("text, kept", [("é" * 2000, "é" * 512), ("a" + "é" * 2000, "a" + "é" * 511)])
def test_the_first_kilobyte_of_the_error_is_counted_in_bytes(lab, lam, make_function, text, kept):
    """1 KB is 1,024 bytes of UTF-8, not 1,024 characters; a character cut in two at the end is left out."""
    url, arn = _queue(f"dlq-bytes-{len(kept)}")
    name = make_function(f"def handler(event, context):\n    raise RuntimeError({text!r})\n",
                         DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event")
    lab.wait_for_async()
    [message] = _receive(url)
    assert message["MessageAttributes"]["ErrorMessage"] == {"StringValue": kept, "DataType": "String"}
    assert len(kept.encode()) in (1023, 1024)


def test_an_empty_error_message_is_sent_as_none_in_brackets(lab, lam, make_function):
    url, arn = _queue("dlq-empty-message")
    name = make_function(FAILS_EMPTY, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event")  # no payload: the DLQ gets Lambda's "{}"
    lab.wait_for_async()
    [message] = _receive(url)
    assert message["Body"] == "{}"
    assert message["MessageAttributes"]["ErrorMessage"] == {"StringValue": "(none)", "DataType": "String"}
    assert message["MessageAttributes"]["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}


def test_s3_on_failure_destination_stores_the_record_under_the_function_and_day(lab, lam, make_function):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="failed-records")
    name = make_function(FAILS_EMPTY)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={
        "OnFailure": {"Destination": "arn:aws:s3:::failed-records"}})
    days = {time.strftime("%Y/%m/%d", time.gmtime())}
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 12}')
    lab.wait_for_async()
    days.add(time.strftime("%Y/%m/%d", time.gmtime()))  # the run may straddle midnight
    event = _only_event(lab, name)
    assert event.deliveries == [("OnFailure", "arn:aws:s3:::failed-records", "ok")]
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket="failed-records")["Contents"]]
    assert key in {f"aws/lambda/async/{name}/{day}/{event.request_id}" for day in days}
    record = json.loads(s3.get_object(Bucket="failed-records", Key=key)["Body"].read())
    assert record["requestContext"]["requestId"] == event.request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"n": 12}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}


def test_sns_and_eventbridge_on_success_destinations(lab, lam, make_function):
    topic, url = _topic_into_queue("success-topic")
    name = make_function(WORKS)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": topic}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 13}')
    lab.wait_for_async()
    [message] = _receive(url)
    record = json.loads(json.loads(message["Body"])["Message"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert (record["requestPayload"], record["responsePayload"]) == ({"n": 13}, {"seen": {"n": 13}})
    # an EventBridge bus: the detail type names the success
    bus_url, bus_queue = _queue("success-bus-target")
    events = boto3.client("events")
    events.put_rule(Name="lambda-successes", EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule="lambda-successes", Targets=[{"Id": "q", "Arn": bus_queue}])
    bus = events.describe_event_bus()["Arn"]
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": bus}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 14}')
    lab.wait_for_async()
    [message] = _receive(bus_url)
    envelope = json.loads(message["Body"])
    assert envelope["detail-type"] == "Lambda Function Invocation Result - Success"
    assert envelope["detail"]["requestPayload"] == {"n": 14}


def test_a_destination_that_is_gone_is_kept_as_the_delivery_error(lab, lam, make_function):
    url, arn = _queue("deleted-destination")
    name = make_function(FAILS_EMPTY)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    boto3.client("sqs").delete_queue(QueueUrl=url)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 15}')
    lab.wait_for_async()
    event = _only_event(lab, name)
    assert event.outcome == "RetriesExhausted"  # the event still ends, once
    [(kind, where, status)] = event.deliveries
    assert (kind, where) == ("OnFailure", arn)
    assert status.startswith("QueueDoesNotExist: ") and "does not exist" in status


@pytest.mark.parametrize("payload", [b'"just text"', b"[1, 2]"])
def test_records_carry_any_json_event_as_it_was_sent(lab, lam, make_function, payload):
    url, arn = _queue(f"any-json-{len(payload)}")
    name = make_function(WORKS)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    lab.wait_for_async()
    [message] = _receive(url)
    record = json.loads(message["Body"])
    assert record["requestPayload"] == json.loads(payload)
    assert record["responsePayload"] == {"seen": json.loads(payload)}


def test_queues_and_topics_in_another_region_get_their_messages_there(lab, lam, make_function):
    # the ARN names the region: the lab delivers there, not to a same-named queue in the function's region
    far_sqs, far_sns = boto3.client("sqs", region_name="eu-west-1"), boto3.client("sns", region_name="eu-west-1")
    urls, arns = {}, {}
    for kind in ("dlq", "fail", "ok"):
        boto3.client("sqs").create_queue(QueueName=f"far-{kind}")  # the decoy at home
        urls[kind] = far_sqs.create_queue(QueueName=f"far-{kind}")["QueueUrl"]
        arns[kind] = far_sqs.get_queue_attributes(QueueUrl=urls[kind], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
    topic = far_sns.create_topic(Name="far-topic")["TopicArn"]
    far_sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arns["ok"])
    failing = make_function(FAILS_EMPTY, DeadLetterConfig={"TargetArn": arns["dlq"]})
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": arns["fail"]}})
    working = make_function(WORKS)
    lam.put_function_event_invoke_config(FunctionName=working, DestinationConfig={"OnSuccess": {"Destination": topic}})
    lam.invoke(FunctionName=failing, InvocationType="Event", Payload=b'{"n": 16}')
    lam.invoke(FunctionName=working, InvocationType="Event", Payload=b'{"n": 17}')
    lab.wait_for_async()
    assert {d[2] for e in lab.async_events if e.function_name in (failing, working) for d in e.deliveries} == {"ok"}
    got = {kind: far_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
           for kind, url in urls.items()}
    assert json.loads(got["dlq"][0]["Body"]) == {"n": 16}
    assert json.loads(got["fail"][0]["Body"])["requestPayload"] == {"n": 16}
    assert json.loads(json.loads(got["ok"][0]["Body"])["Message"])["requestPayload"] == {"n": 17}
    assert [len(m) for m in got.values()] == [1, 1, 1]


def test_a_function_destination_is_invoked_asynchronously_with_the_record(lab, lam, make_function):
    receiver = make_function(WORKS)
    receiver_arn = lam.get_function(FunctionName=receiver)["Configuration"]["FunctionArn"]
    name = make_function(FAILS_EMPTY)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": receiver_arn}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 18}')
    lab.wait_for_async()
    [run] = [i for i in lab.invocations if i.function_name == receiver]
    assert run.invocation_type == "Event"  # Lambda hands the record to the destination as an async event
    queued = _only_event(lab, receiver)
    assert json.loads(queued.payload)["requestPayload"] == {"n": 18}
    assert queued.outcome == "Success" and json.loads(run.result.payload)["seen"]["requestContext"]["condition"] == (
        "RetriesExhausted")


def test_a_function_destination_in_another_region_runs_there(lab, lam, make_function):
    far = boto3.client("lambda", region_name="eu-west-1")
    far.create_function(FunctionName="far-receiver", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(WORKS)})
    receiver_arn = far.get_function(FunctionName="far-receiver")["Configuration"]["FunctionArn"]
    name = make_function(WORKS)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": receiver_arn}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 19}')
    lab.wait_for_async()
    assert _only_event(lab, name).deliveries == [("OnSuccess", receiver_arn, "ok")]
    assert json.loads(_only_event(lab, "far-receiver").payload)["requestPayload"] == {"n": 19}


def test_an_event_bus_in_another_region_gets_the_record_there(lab, lam, make_function):
    far_sqs, far_events = boto3.client("sqs", region_name="eu-west-1"), boto3.client("events", region_name="eu-west-1")
    url = far_sqs.create_queue(QueueName="far-bus-target")["QueueUrl"]
    target = far_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    far_events.put_rule(Name="far-results", EventPattern=json.dumps({"source": ["lambda"]}))
    far_events.put_targets(Rule="far-results", Targets=[{"Id": "q", "Arn": target}])
    bus = far_events.describe_event_bus()["Arn"]
    name = make_function(FAILS_EMPTY)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": bus}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 20}')
    lab.wait_for_async()
    [message] = far_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert envelope["detail"]["requestPayload"] == {"n": 20}


def test_the_s3_record_key_uses_the_utc_day_whatever_the_local_time_zone(tmp_path):
    # a learner far from UTC: at any hour, UTC+14 or UTC-12 is on another calendar day than UTC
    import subprocess
    import sys

    zone = "Etc/GMT-14" if time.gmtime().tm_hour >= 10 else "Etc/GMT+12"
    script = """
import time, boto3, lambda_lab
with lambda_lab.Lab(seed=1, quiet=True) as lab:
    boto3.client("iam").attach_role_policy(RoleName=lab.role_arn.split("/")[-1],
                                           PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    boto3.client("s3").create_bucket(Bucket="records")
    lam = boto3.client("lambda")
    lam.create_function(FunctionName="f", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\\n    raise ValueError()\\n")})
    lam.put_function_event_invoke_config(FunctionName="f", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::records"}})
    before = time.strftime("%Y/%m/%d", time.gmtime())
    lam.invoke(FunctionName="f", InvocationType="Event", Payload=b"{}")
    lab.wait_for_async()
    [key] = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="records")["Contents"]]
    print(key.split("/")[4:7] in (before.split("/"), time.strftime("%Y/%m/%d", time.gmtime()).split("/")),
          time.strftime("%Y/%m/%d") != before, key)
"""
    done = subprocess.run([sys.executable, "-c", script], env={**__import__("os").environ, "TZ": zone},
                          capture_output=True, text=True, timeout=60)
    utc_day, local_differs, key = done.stdout.split()
    assert local_differs == "True"  # the set-up holds: local and UTC days differ
    assert utc_day == "True", key


def test_an_sns_dead_letter_topic_in_another_region_gets_the_event_there(lab, lam, make_function):
    far_sqs, far_sns = boto3.client("sqs", region_name="eu-west-1"), boto3.client("sns", region_name="eu-west-1")
    url = far_sqs.create_queue(QueueName="far-dead-letters")["QueueUrl"]
    queue = far_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = far_sns.create_topic(Name="far-dlq-topic")["TopicArn"]
    far_sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
    name = make_function(FAILS_EMPTY, DeadLetterConfig={"TargetArn": topic})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 21}')
    lab.wait_for_async()
    assert _only_event(lab, name).deliveries == [("DeadLetter", topic, "ok")]
    [message] = far_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(json.loads(message["Body"])["Message"]) == {"n": 21}


def test_deliveries_after_a_new_install_use_that_installs_clients():
    """A local lab that delivered once, then the runtime installed into a moto server: records reach the server."""
    from conftest import run_in_fresh_process

    got = run_in_fresh_process("""
        import json, os, boto3, lambda_lab
        from moto.server import ThreadedMotoServer

        def destined(lab, name):
            lam, sqs = boto3.client("lambda"), boto3.client("sqs")
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\\n    return 1\\n")})
            lab.wait_until_ready(name)
            lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}})
            lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
            return sqs, url

        local = lambda_lab.Lab(quiet=True)  # delivers once: the delivery clients are made for this lab
        local.allow("AmazonSQSFullAccess")
        sqs, url = destined(local, "first")
        local.wait_for_async()
        first = len(sqs.receive_message(QueueUrl=url).get("Messages", []))
        local.stop()

        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            os.environ.pop(key, None)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        engine = lambda_lab.install()
        from lambda_lab._lab import LESSON_POLICIES
        from lambda_lab.service import provide_managed_policies
        provide_managed_policies("123456789012", LESSON_POLICIES)
        host, port = server.get_host_and_port()
        remote = lambda_lab.Lab(backend="endpoint", endpoint_url=f"http://{host}:{port}", quiet=True, role_wait_s=0)
        remote.allow("AmazonSQSFullAccess")
        sqs, url = destined(remote, "second")
        engine.wait_for_async(30)
        second = len(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", []))
        remote.stop()
        lambda_lab.uninstall()
        server.stop()
        print(json.dumps([first, second]))
    """, timeout=120)
    assert got == [1, 1]
