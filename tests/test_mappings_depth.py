"""Event source mappings in depth: filters, stream failure handling and clean deletion, with plain boto3."""

import json
import re
import time

import boto3
import pytest
from botocore.exceptions import ClientError

# Each handler answers with what it received (decoded), or raises with it, so lab.invocations shows it.
SQS_BODIES = """
def handler(event, context):
    return [r["body"] for r in event["Records"]]
"""

KINESIS_DATA = """
import base64
def handler(event, context):
    return [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
"""

KINESIS_POISON = """
import base64, json
def handler(event, context):
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    if "poison" in data:
        raise ValueError(json.dumps(data))
    return data
"""

ALWAYS_FAILS = """
def handler(event, context):
    raise RuntimeError("always fails")
"""


@pytest.fixture(scope="module", autouse=True)
def poller_permissions(lab):
    lab.allow("AWSLambdaSQSQueueExecutionRole", "AWSLambdaKinesisExecutionRole", "AWSLambdaDynamoDBExecutionRole")


def calls(lab, name):
    """(failed, decoded payload) of each mapping invocation of `name`, oldest first."""
    return [(c.failed, json.loads(c.result.payload)) for c in lab.invocations
            if c.function_name == name and c.invocation_type == "EventSourceMapping" and c.result is not None]


def delivered(lab, name):
    """Every record the function processed successfully, in order."""
    return [item for failed, payload in calls(lab, name) if not failed for item in payload]


def queue(name, **attributes):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def kinesis_stream(name):
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]


def put(stream_name, *items, key="p"):
    kinesis = boto3.client("kinesis")
    return [kinesis.put_record(StreamName=stream_name, Data=(i if isinstance(i, str) else json.dumps(i)).encode(),
                               PartitionKey=key)["SequenceNumber"] for i in items]


def table_with_stream(name):
    return boto3.client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]


def received(url, count=10):
    sqs = boto3.client("sqs")
    return [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=count)
            .get("Messages", [])]


def patterns(*items):
    return {"Filters": [{"Pattern": json.dumps(p)} for p in items]}


ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# -- FilterCriteria ----------------------------------------------------------------------------------
def test_sqs_filters_delete_what_does_not_match_without_invoking(lab, lam, make_function):
    url, arn = queue("filtered-orders")
    name = make_function(SQS_BODIES)
    criteria = patterns({"body": {"kind": ["order"], "total": [{"numeric": [">", 10, "<=", 100]}]}},
                        {"body": ["PING"]})  # a plain-string body matches a plain-string rule only
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10,
                                              FilterCriteria=criteria, Enabled=False)
    assert mapping["FilterCriteria"] == criteria
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["FilterCriteria"] == criteria
    bodies = [{"kind": "order", "total": 50}, {"kind": "refund", "total": 50}, {"kind": "order", "total": 500},
              "PING", "PONG", '{"kind": "order", "total": 20}']
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body))
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    lab.wait_for_async()
    seen = sorted(delivered(lab, name))
    assert seen == sorted([json.dumps({"kind": "order", "total": 50}), "PING", '{"kind": "order", "total": 20}'])
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                    "ApproximateNumberOfMessagesNotVisible"])
    assert counts["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_kinesis_filters_on_decoded_data_and_metadata_with_every_operator(lab, lam, make_function):
    stream = kinesis_stream("filtered-clicks")
    name = make_function(KINESIS_DATA)
    criteria = patterns(
        {"data": {"city": [{"prefix": "Ams"}], "status": [{"anything-but": ["cancelled", "void"]}],
                  "coupon": [{"exists": False}]}},
        {"data": {"email": [{"suffix": "@example.com"}], "tier": [{"equals-ignore-case": "gold"}]}},
        {"partitionKey": ["vip"]},
        {"data": {"score": [{"numeric": ["=", 7]}], "tags": ["x"]}})
    lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=name, StartingPosition="TRIM_HORIZON",
                                    BatchSize=100, FilterCriteria=criteria)
    records = [
        {"n": 1, "city": "Amsterdam", "status": "new"},                       # filter 1
        {"n": 2, "city": "Amsterdam", "status": "cancelled"},                 # anything-but refuses it
        {"n": 3, "city": "Amsterdam", "status": "new", "coupon": "X"},        # exists: false refuses it
        {"n": 4, "city": "Berlin", "email": "a@example.com", "tier": "GOLD"},  # filter 2
        {"n": 5, "email": "a@example.org", "tier": "gold"},                   # wrong suffix
        {"n": 6, "score": 7.0, "tags": ["y", "x"]},                           # filter 4: numeric and an array
        {"n": 7, "score": 8, "tags": ["x"]},                                  # wrong number
        "not json at all",                                                    # no data rule can match it
    ]
    put("filtered-clicks", *records)
    put("filtered-clicks", {"n": 8}, key="vip")  # metadata: the partition key
    lab.wait_for_async()
    seen = [json.loads(item)["n"] for item in delivered(lab, name)]
    assert seen == [1, 4, 6, 8]


def test_dynamodb_stream_filters_on_event_name_and_new_image(lab, lam, make_function):
    stream = table_with_stream("filtered-payments")
    name = make_function("""
def handler(event, context):
    return [[r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]] for r in event["Records"]]
""")
    lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=name, StartingPosition="TRIM_HORIZON",
                                    FilterCriteria=patterns({"eventName": ["INSERT", "MODIFY"],
                                                             "dynamodb": {"NewImage": {"status": {"S": ["paid"]}}}}))
    ddb = boto3.client("dynamodb")
    ddb.put_item(TableName="filtered-payments", Item={"id": {"S": "a"}, "status": {"S": "open"}})
    ddb.put_item(TableName="filtered-payments", Item={"id": {"S": "a"}, "status": {"S": "paid"}})
    ddb.put_item(TableName="filtered-payments", Item={"id": {"S": "b"}, "status": {"S": "paid"}})
    ddb.delete_item(TableName="filtered-payments", Key={"id": {"S": "a"}})
    lab.wait_for_async()
    assert delivered(lab, name) == [["MODIFY", "a"], ["INSERT", "b"]]


@pytest.mark.parametrize("pattern", ["not json", "[]", "{}", json.dumps({"body": "order"}),
                                     json.dumps({"body": {"kind": []}}),
                                     json.dumps({"body": {"kind": [{"wildcard-ish": "x"}]}}),
                                     json.dumps({"body": {"n": [{"numeric": [">", "five"]}]}}),
                                     json.dumps({"body": {"n": [{"numeric": ["<", 5, ">", 1]}]}}),
                                     json.dumps({"body": {"n": [{"exists": "yes"}]}})])
def test_an_invalid_filter_pattern_is_refused(lab, lam, make_function, pattern):
    _, arn = queue("refused-filters")
    name = make_function(SQS_BODIES)
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                        FilterCriteria={"Filters": [{"Pattern": pattern}]})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"].startswith("Invalid filter pattern definition.")


def test_update_refuses_an_invalid_filter_and_keeps_a_valid_one(lab, lam, make_function):
    _, arn = queue("updated-filters")
    name = make_function(SQS_BODIES)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=False)
    with pytest.raises(ClientError) as refused:
        lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria={"Filters": [{"Pattern": "{"}]})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    good = patterns({"body": {"kind": [{"prefix": "ord"}]}})
    assert lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria=good)["FilterCriteria"] == good
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["FilterCriteria"] == good


# -- stream failure handling ---------------------------------------------------------------------------
def test_bisect_isolates_the_poison_record_and_sends_it_to_the_on_failure_queue(lab, lam, make_function):
    stream = kinesis_stream("poisoned")
    failures_url, failures_arn = queue("poisoned-failures")
    name = make_function(KINESIS_POISON)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=name, StartingPosition="TRIM_HORIZON", BatchSize=10,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}}, Enabled=False)
    sequence = put("poisoned", "a", "b", "poison", "d", "e")
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    lab.wait_for_async()
    assert delivered(lab, name) == ["a", "b", "d", "e"]  # the good records around it, in order
    poison_calls = [payload for failed, payload in calls(lab, name) if failed
                    and json.loads(payload["errorMessage"]) == ["poison"]]
    assert len(poison_calls) == 2  # the first try and one retry
    [record] = received(failures_url)
    assert set(record) == {"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"}
    context = record["requestContext"]
    assert (context["functionArn"], context["condition"], context["approximateInvokeCount"]) == (
        mapping["FunctionArn"], "RetryAttemptsExhausted", 2)
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["version"] == "1.0" and ISO_MILLIS.match(record["timestamp"])
    info = record["KinesisBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"],
            info["streamArn"]) == ("shardId-000000000000", sequence[2], sequence[2], 1, stream)
    assert ISO_MILLIS.match(info["approximateArrivalOfFirstRecord"])
    assert ISO_MILLIS.match(info["approximateArrivalOfLastRecord"])


def test_retries_exhausted_without_bisect_discard_the_whole_batch_to_sns(lab, lam, make_function):
    stream = table_with_stream("retried-orders")
    topic = boto3.client("sns").create_topic(Name="retried-orders-failures")["TopicArn"]
    inbox_url, inbox_arn = queue("retried-orders-inbox")
    boto3.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn,
                                  Attributes={"RawMessageDelivery": "true"})
    name = make_function(ALWAYS_FAILS)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=name, StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": topic}}, Enabled=False)
    ddb = boto3.client("dynamodb")
    for key in ("x", "y"):
        ddb.put_item(TableName="retried-orders", Item={"id": {"S": key}})
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    lab.wait_for_async()
    assert len(calls(lab, name)) == 3  # one try and two retries of the same batch
    [record] = received(inbox_url)
    info = record["DDBStreamBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert (info["batchSize"], info["streamArn"]) == (2, stream)
    assert int(info["endSequenceNumber"]) == int(info["startSequenceNumber"]) + 1
    assert ISO_SECONDS.match(info["approximateArrivalOfFirstRecord"])


def test_s3_on_failure_destination_gets_the_record_and_the_batch(lab, lam, make_function):
    stream = kinesis_stream("archived-failures")
    boto3.client("s3").create_bucket(Bucket="stream-failures")
    name = make_function(ALWAYS_FAILS)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=name, StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::stream-failures"}})
    put("archived-failures", "lost")
    lab.wait_for_async()
    s3 = boto3.client("s3")
    [obj] = s3.list_objects_v2(Bucket="stream-failures")["Contents"]
    assert re.match(rf"^aws/lambda/{mapping['UUID']}/shardId-000000000000/\d{{4}}/\d\d/\d\d/"
                    r"\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{36}$", obj["Key"])
    record = json.loads(s3.get_object(Bucket="stream-failures", Key=obj["Key"])["Body"].read())
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["KinesisBatchInfo"]["batchSize"] == 1
    assert [r["kinesis"]["data"] for r in record["payload"]["Records"]] == ["bG9zdA=="]  # base64 of "lost"


def test_record_age_is_measured_on_the_lab_clock(lab, lam, make_function):
    stream = kinesis_stream("aging")
    failures_url, failures_arn = queue("aging-failures")
    name = make_function(ALWAYS_FAILS)
    lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=name, StartingPosition="TRIM_HORIZON", MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    before = lab.clock.now()
    put("aging", "old news")
    after = lab.clock.now()
    lab.wait_for_async(timeout=30)  # infinite retries, but the record expires after a lab minute
    assert lab.clock.now() - before >= 60
    [record] = received(failures_url)
    assert record["requestContext"]["condition"] == "RecordAgeExpired"
    assert record["requestContext"]["approximateInvokeCount"] >= 2
    arrival = record["KinesisBatchInfo"]["approximateArrivalOfFirstRecord"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(before))
    assert stamp <= arrival[:19] <= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(after + 1))


def test_stream_partial_batch_response_checkpoints_at_the_first_failed_record(lab, lam, make_function):
    stream = kinesis_stream("checkpointed")
    name = make_function("""
import base64
TRIED = set()
def handler(event, context):
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    failed = [r["kinesis"]["sequenceNumber"] for r, d in zip(event["Records"], data) if d in ("c", "e")
              and d not in TRIED]
    TRIED.update(d for d in data if d in ("c", "e"))
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed], "saw": data}
""")
    mapping = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=name,
                                              StartingPosition="TRIM_HORIZON", BatchSize=10, Enabled=False,
                                              FunctionResponseTypes=["ReportBatchItemFailures"])
    put("checkpointed", "a", "b", "c", "d", "e")
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    lab.wait_for_async()
    assert [payload["saw"] for _, payload in calls(lab, name)] == [["a", "b", "c", "d", "e"], ["c", "d", "e"]]


def test_mapping_answers_with_lambdas_defaults_and_stored_stream_settings(lab, lam, make_function):
    stream = kinesis_stream("configured")
    _, sqs_arn = queue("configured-queue")
    name = make_function(KINESIS_DATA)
    made = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=name, StartingPosition="LATEST",
                                           ParallelizationFactor=2, TumblingWindowInSeconds=60, Enabled=False)
    got = lam.get_event_source_mapping(UUID=made["UUID"])
    for answer in (made, got):
        assert (answer["ParallelizationFactor"], answer["TumblingWindowInSeconds"]) == (2, 60)
        assert (answer["MaximumRetryAttempts"], answer["MaximumRecordAgeInSeconds"]) == (-1, -1)
        assert answer["BisectBatchOnFunctionError"] is False
        assert answer["DestinationConfig"] == {"OnFailure": {}}
        assert answer["MaximumBatchingWindowInSeconds"] == 0 and answer["FunctionResponseTypes"] == []
    with pytest.raises(ClientError) as refused:
        lam.update_event_source_mapping(UUID=made["UUID"], DestinationConfig={
            "OnFailure": {"Destination": f"arn:aws:lambda:us-east-1:123456789012:function:{name}"}})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(EventSourceArn=sqs_arn, FunctionName=name,
                                        DestinationConfig={"OnFailure": {"Destination": sqs_arn}})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    queue_mapping = lam.create_event_source_mapping(EventSourceArn=sqs_arn, FunctionName=name, Enabled=False)
    assert queue_mapping["MaximumBatchingWindowInSeconds"] == 0 and "MaximumRetryAttempts" not in queue_mapping


# -- deleting or disabling a mapping in the middle of its retries ---------------------------------------
def _wait_for_calls(lab, name, count):
    deadline = time.monotonic() + 60
    while len(calls(lab, name)) < count:
        assert time.monotonic() < deadline, f"{name} was not invoked {count} times"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["delete", "disable"])
def test_stopping_a_mapping_whose_batch_retries_forever_lets_wait_for_async_return(lab, lam, make_function, how):
    stream = kinesis_stream(f"forever-{how}")
    name = make_function(ALWAYS_FAILS)
    mapping = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=name,
                                              StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=-1)
    put(f"forever-{how}", "never works")
    _wait_for_calls(lab, name, 2)
    if how == "delete":
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    else:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    lab.wait_for_async(timeout=30)


def test_deleting_an_sqs_mapping_while_a_message_is_invisible_lets_wait_for_async_return(lab, lam, make_function):
    url, arn = queue("invisible-after-delete", VisibilityTimeout="600")
    name = make_function(ALWAYS_FAILS)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody="fails")
    _wait_for_calls(lab, name, 1)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    lab.wait_for_async(timeout=30)
    [message] = boto3.client("sqs").receive_message(QueueUrl=url).get("Messages", [])
    assert message["Body"] == "fails"  # visible again after its visibility timeout, on the lab clock


def test_the_moto_internals_the_pollers_read_are_still_there():
    import inspect

    from moto.awslambda.models import EventSourceMapping
    from moto.dynamodb.models.table import StreamRecord, StreamShard
    from moto.kinesis.models import Stream

    mapping = inspect.getsource(EventSourceMapping.__init__)
    for attribute in ("self.filter_criteria", "self.bisect_on_error", "self.max_record_age",
                      "self.destination_config", "self.max_retry_attempts", "self.function_response_types"):
        assert attribute in mapping, attribute
    assert list(inspect.signature(EventSourceMapping.get_configuration).parameters) == ["self"]
    # the lab replaces these two while it runs: read moto's own source files
    assert "return sequence_number, shard.shard_id" in inspect.getsource(inspect.getmodule(Stream))
    assert "self.items.append(StreamRecord(" in inspect.getsource(inspect.getmodule(StreamShard))
    assert 'self.record: dict[str, Any] = {' in inspect.getsource(StreamRecord.__init__)


# -- a failed SQS batch comes back whole -----------------------------------------------------------------
FAIL_FIRST = """
calls = 0
def handler(event, context):
    global calls
    calls += 1
    if calls == 1:
        raise RuntimeError('the whole batch fails once')
    return [r['body'] for r in event['Records']]
"""


@pytest.mark.parametrize("attempt", range(4))  # a split batch came back in about 1 run of 6
def test_a_failed_sqs_batch_becomes_visible_again_as_one_batch(lab, lam, make_function, attempt):
    name = make_function(FAIL_FIRST, Timeout=5)
    url, arn = queue(f"whole-batch-{attempt}", VisibilityTimeout="30")
    sqs = boto3.client("sqs")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(5)])
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=10)
    lab.wait_for_async()
    batches = [(failed, payload) for failed, payload in calls(lab, name)]
    assert [failed for failed, _ in batches] == [True, False], batches
    assert sorted(batches[1][1]) == ["m0", "m1", "m2", "m3", "m4"]


# -- what Lambda refuses when an SQS mapping is made -----------------------------------------------------
def test_an_sqs_mapping_needs_a_batching_window_above_ten_and_a_long_enough_visibility_timeout(lab, lam,
                                                                                              make_function):
    name = make_function("def handler(e, c):\n    return 1\n", Timeout=60)
    _, short = queue("visibility-30", VisibilityTimeout="30")
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=short)
    assert refused.value.response["Error"] == {
        "Code": "InvalidParameterValueException",
        "Message": "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"}
    _, long_enough = queue("visibility-360", VisibilityTimeout="360")
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=long_enough, BatchSize=100)
    assert refused.value.response["Error"]["Message"] == (
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    uuid = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=long_enough, BatchSize=100,
                                           MaximumBatchingWindowInSeconds=1, Enabled=False)["UUID"]
    with pytest.raises(ClientError, match="Maximum batch window in seconds must be greater than 0"):
        lam.update_event_source_mapping(UUID=uuid, MaximumBatchingWindowInSeconds=0)
    assert lam.update_event_source_mapping(UUID=uuid, BatchSize=10, MaximumBatchingWindowInSeconds=0)["BatchSize"] == 10
    lam.delete_event_source_mapping(UUID=uuid)
