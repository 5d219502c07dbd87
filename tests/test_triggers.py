"""Event sources run the learner's real handler with the event AWS sends, under AWS's permission rules."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError


RECORDER = """
import boto3, json, time
def handler(event, context):
    key = f"{time.time_ns()}-{context.aws_request_id}"  # keys sort in the order the calls ran
    boto3.client("s3").put_object(Bucket="trigger-log", Key=key, Body=json.dumps(event).encode())
    return "ok"
"""


@pytest.fixture(scope="module", autouse=True)
def trigger_log(lab):
    boto3.client("s3").create_bucket(Bucket="trigger-log")


def recorded():
    """The events the recorder handlers received, oldest first."""
    s3 = boto3.client("s3")
    objects = s3.list_objects_v2(Bucket="trigger-log").get("Contents", [])
    events = [json.loads(s3.get_object(Bucket="trigger-log", Key=o["Key"])["Body"].read()) for o in objects]
    for o in objects:
        s3.delete_object(Bucket="trigger-log", Key=o["Key"])
    return events


def arn_of(lam, name):
    return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def test_s3_notification_needs_permission_then_delivers_the_s3_event(lab, lam, make_function):
    name = make_function(RECORDER)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="uploads")
    config = {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn_of(lam, name),
                                                "Events": ["s3:ObjectCreated:*"]}]}
    before = lab.clock.now()
    with pytest.raises(ClientError) as info:
        s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration=config)
    assert info.value.response["Error"]["Code"] == "InvalidArgument"
    assert info.value.response["Error"]["Message"] == "Unable to validate the following destination configurations"
    refusal = lab.refusals[-1]
    assert sorted(refusal) == ["at", "function", "reason", "source"]
    assert refusal["source"] == "s3" and refusal["function"] == arn_of(lam, name)
    assert before <= refusal["at"] <= lab.clock.now()  # when, on the lab clock
    assert "s3.amazonaws.com may not call lambda:InvokeFunction" in refusal["reason"]
    lam.add_permission(FunctionName=name, StatementId="s3-invoke", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::uploads", SourceAccount="123456789012")
    s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration=config)
    s3.put_object(Bucket="uploads", Key="photos/cat 1.jpg", Body=b"meow")
    lab.wait_for_async()
    [event] = recorded()
    record = event["Records"][0]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == "uploads"
    assert record["s3"]["object"]["key"] == "photos/cat+1.jpg"  # form-encoded, '/' kept


def test_permission_source_arn_must_match(lab, lam, make_function):
    name = make_function(RECORDER)
    boto3.client("s3").create_bucket(Bucket="other-bucket")
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::some-other-bucket")
    with pytest.raises(ClientError) as refused:
        boto3.client("s3").put_bucket_notification_configuration(Bucket="other-bucket", NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn_of(lam, name), "Events": ["s3:ObjectCreated:*"]}]})
    arn = arn_of(lam, name)
    assert refused.value.response["Error"] == {
        "Code": "InvalidArgument", "Message": "Unable to validate the following destination configurations",
        "ArgumentName": arn, "ArgumentValue": f"Not authorized to invoke function [{arn}]"}
    assert (lab.refusals[-1]["source"], lab.refusals[-1]["function"]) == ("s3", arn)
    assert lab.refusals[-1]["reason"] == (
        "s3.amazonaws.com may not call lambda:InvokeFunction: none of its 1 policy statement(s) matches. Grant it "
        "with boto3's lambda add_permission(FunctionName=..., StatementId=..., Action='lambda:InvokeFunction', "
        "Principal='s3.amazonaws.com', SourceArn='arn:aws:s3:::other-bucket').")


def test_duplicate_statement_id_is_a_conflict(lam, make_function):
    name = make_function(RECORDER)
    kwargs = dict(FunctionName=name, StatementId="same", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    lam.add_permission(**kwargs)
    with pytest.raises(ClientError) as info:
        lam.add_permission(**kwargs)
    assert info.value.response["Error"]["Code"] == "ResourceConflictException"
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["same"]


def test_sns_subscription_invokes_with_the_sns_event(lab, lam, make_function):
    name = make_function(RECORDER)
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn_of(lam, name))
    sns.publish(TopicArn=topic, Message="refused")
    lab.wait_for_async()
    assert recorded() == [] and lab.refusals[-1]["source"] == "sns"
    lam.add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    sns.publish(TopicArn=topic, Message="order 7", Subject="new order",
                MessageAttributes={"priority": {"DataType": "String", "StringValue": "high"}})
    lab.wait_for_async()
    [event] = recorded()
    message = event["Records"][0]["Sns"]
    assert event["Records"][0]["EventSource"] == "aws:sns"
    assert (message["TopicArn"], message["Message"], message["Subject"]) == (topic, "order 7", "new order")
    assert message["MessageAttributes"]["priority"] == {"Type": "String", "Value": "high"}


def test_eventbridge_rule_with_a_function_target(lab, lam, make_function):
    name = make_function(RECORDER)
    events = boto3.client("events")
    rule = events.put_rule(Name="orders-placed", EventPattern=json.dumps({"source": ["shop"]}))["RuleArn"]
    events.put_targets(Rule="orders-placed", Targets=[{"Id": "fn", "Arn": arn_of(lam, name)}])
    lam.add_permission(FunctionName=name, StatementId="events", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule)
    events.put_events(Entries=[{"Source": "shop", "DetailType": "Order Placed", "Detail": json.dumps({"id": 7})},
                               {"Source": "elsewhere", "DetailType": "Noise", "Detail": "{}"}])
    lab.wait_for_async()
    [event] = recorded()
    assert event["source"] == "shop" and event["detail-type"] == "Order Placed" and event["detail"] == {"id": 7}


def test_scheduled_rule_fires_on_the_lab_clock(lab, lam, make_function):
    name = make_function(RECORDER)
    events = boto3.client("events")
    rule = events.put_rule(Name="every-ten-minutes", ScheduleExpression="rate(10 minutes)")["RuleArn"]
    events.put_targets(Rule="every-ten-minutes", Targets=[{"Id": "fn", "Arn": arn_of(lam, name)}])
    lam.add_permission(FunctionName=name, StatementId="events", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule)
    lab.clock.advance(30 * 60 + 1)  # half an hour of lab time: three firings
    lab.wait_for_async()
    fired = recorded()
    events.disable_rule(Name="every-ten-minutes")
    assert len(fired) == 3
    assert all(e["detail-type"] == "Scheduled Event" and e["source"] == "aws.events" for e in fired)
    assert fired[0]["resources"] == [rule]
    lab.clock.advance(30 * 60)
    lab.wait_for_async()
    assert recorded() == []  # disabled


def _queue(name, **attributes):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _allow_role(lab, policy):
    role = lab.role_arn.split("/")[-1]
    boto3.client("iam").attach_role_policy(RoleName=role, PolicyArn=f"arn:aws:iam::aws:policy/service-role/{policy}")


def test_mapping_needs_the_execution_roles_permission(lab, lam, make_function):
    name = make_function(RECORDER)
    _, arn = _queue("unreadable")
    with pytest.raises(ClientError) as info:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "The provided execution role does not have permissions to call ReceiveMessage on SQS" in \
        info.value.response["Error"]["Message"]


def test_sqs_mapping_batches_and_partial_failures_and_redrive(lab, lam, make_function):
    _allow_role(lab, "AWSLambdaSQSQueueExecutionRole")
    sqs = boto3.client("sqs")
    dlq_url, dlq_arn = _queue("orders-dlq")
    url, arn = _queue("orders", VisibilityTimeout="30",
                      RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    name = make_function("""
        import json
        def handler(event, context):
            print("batch of", len(event["Records"]))
            bad = [r["messageId"] for r in event["Records"] if r["body"].startswith("bad")]
            return {"batchItemFailures": [{"itemIdentifier": m} for m in bad]}
    """)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=5,
                                              FunctionResponseTypes=["ReportBatchItemFailures"], Enabled=False)
    for i in range(9):
        sqs.send_message(QueueUrl=url, MessageBody=("bad" if i == 4 else "good") + f"-{i}")
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    lab.wait_for_async()
    batches = [b for b in lab._engine.service.mappings.batches if b["source"] == arn]
    assert [b["size"] for b in batches][:2] == [5, 4]
    # the bad message came back after the visibility timeout, failed again, and the queue moved it to its DLQ
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == ["bad-4"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_dynamodb_stream_mapping(lab, lam, make_function):
    _allow_role(lab, "AWSLambdaDynamoDBExecutionRole")
    ddb = boto3.client("dynamodb")
    table = ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST",
                             StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    stream = table["TableDescription"]["LatestStreamArn"]
    name = make_function(RECORDER)
    lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=name, BatchSize=2,
                                    StartingPosition="TRIM_HORIZON")
    ddb.put_item(TableName="orders", Item={"id": {"S": "1"}, "total": {"N": "5"}})
    ddb.put_item(TableName="orders", Item={"id": {"S": "1"}, "total": {"N": "7"}})
    ddb.delete_item(TableName="orders", Key={"id": {"S": "1"}})
    lab.wait_for_async()
    records = [r for e in recorded() for r in e["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1]["dynamodb"]["OldImage"]["total"] == {"N": "5"}
    assert records[1]["dynamodb"]["NewImage"]["total"] == {"N": "7"}
    assert all(r["eventSource"] == "aws:dynamodb" and r["eventSourceARN"] == stream for r in records)


def test_kinesis_mapping_retries_a_failing_batch_in_order(lab, lam, make_function):
    _allow_role(lab, "AWSLambdaKinesisExecutionRole")
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]
    name = make_function("""
        import base64, boto3, json, time
        FAILED = set()
        def handler(event, context):
            data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
            if "boom" in data and "boom" not in FAILED:
                FAILED.add("boom")
                raise RuntimeError("first try fails")
            boto3.client("s3").put_object(Bucket="trigger-log", Key=f"{time.time_ns()}",
                                          Body=json.dumps(data).encode())
    """)
    lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=name, BatchSize=10,
                                    StartingPosition="TRIM_HORIZON")
    for word in ("a", "boom", "c"):
        kinesis.put_record(StreamName="clicks", Data=word.encode(), PartitionKey="p")
    lab.wait_for_async()
    delivered = [w for batch in recorded() for w in batch]
    assert delivered == ["a", "boom", "c"]  # retried, in order, nothing lost or repeated after success


def test_each_version_and_alias_has_its_own_resource_based_policy(lab, lam, make_function):
    """A statement added with Qualifier=live governs name:live only, as on AWS: not the function, not version 1."""
    name = make_function(RECORDER, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="per-qualifier")["TopicArn"]
    lam.add_permission(FunctionName=name, Qualifier="live", StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    with pytest.raises(ClientError) as none:  # nothing on the unqualified function, nor on version 1
        lam.get_policy(FunctionName=name)
    assert none.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as none:
        lam.get_policy(FunctionName=name, Qualifier="1")
    assert none.value.response["Error"]["Code"] == "ResourceNotFoundException"
    [statement] = json.loads(lam.get_policy(FunctionName=name, Qualifier="live")["Policy"])["Statement"]
    assert statement["Resource"].endswith(f":{name}:live")
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn_of(lam, name))  # the function, not the alias
    sns.publish(TopicArn=topic, Message="unqualified")
    lab.wait_for_async()
    assert recorded() == [] and "another version or alias" in lab.refusals[-1]["reason"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn_of(lam, name) + ":live")
    sns.publish(TopicArn=topic, Message="to the alias")
    lab.wait_for_async()
    assert [e["Records"][0]["Sns"]["Message"] for e in recorded()] == ["to the alias"]
    # the same statement id on another qualifier is another policy's statement, not a conflict
    lam.add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    lam.remove_permission(FunctionName=name, Qualifier="live", StatementId="sns")
    assert [s["Resource"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]] == [
        arn_of(lam, name)]
