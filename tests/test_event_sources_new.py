"""Newer event-source behaviour: recursive loop detection, EventBridge Scheduler, S3 to EventBridge, log subscriptions."""

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"


def _allow_role(lab, policy):
    role = lab.role_arn.split("/")[-1]
    boto3.client("iam").attach_role_policy(RoleName=role, PolicyArn=f"arn:aws:iam::aws:policy/service-role/{policy}")


def _queue(name, **attributes):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _runs(lab, name):
    return [i for i in lab.invocations if i.function_name == name]


# -- recursive loop detection ---------------------------------------------------------------------
SQS_LOOP = """
import boto3, os
def handler(event, context):
    sqs = boto3.client("sqs")
    for record in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=record["body"])
    return os.environ.get("_X_AMZN_TRACE_ID")
"""


def test_recursion_config_defaults_to_terminate_and_can_allow(lab, lam, make_function):
    name = make_function("def handler(event, context):\n    return 1\n")
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    answer = lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert answer["RecursiveLoop"] == "Allow"
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert lam.get_function_recursion_config(FunctionName=arn)["RecursiveLoop"] == "Allow"
    with pytest.raises(ClientError) as info:
        lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Sometimes")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as info:
        lam.get_function_recursion_config(FunctionName="no-such-function")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_sqs_loop_stops_after_16_invocations_and_the_message_goes_to_the_dlq(lab, lam, make_function):
    _allow_role(lab, "AWSLambdaSQSQueueExecutionRole")
    dlq_url, dlq_arn = _queue("loop-dlq")
    url, arn = _queue("loop", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}))
    name = make_function(SQS_LOOP, Environment={"Variables": {"QUEUE_URL": url}})
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody="round and round")
    lab.wait_for_async()
    runs = _runs(lab, name)
    assert len(runs) == 16
    assert json.loads(runs[-1].result.payload).endswith("Lineage=" + _lineage_hash(runs[0]) + ":16")
    dead = boto3.client("sqs").receive_message(QueueUrl=dlq_url).get("Messages", [])
    assert [m["Body"] for m in dead] == ["round and round"]
    assert lab.refusals[-1]["source"] == "sqs" and "recursive loop" in lab.refusals[-1]["reason"]
    metrics = boto3.client("cloudwatch").list_metrics(Namespace="AWS/Lambda", MetricName="RecursiveInvocationsDropped",
                                                      Dimensions=[{"Name": "FunctionName", "Value": name}])
    assert len(metrics["Metrics"]) == 1


def _lineage_hash(run):
    return json.loads(run.result.payload).rsplit("Lineage=", 1)[1].split(":")[0]


def test_sns_loop_stops_unless_allowed(lab, lam, make_function):
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="echo")["TopicArn"]
    name = make_function(f"""
import boto3
def handler(event, context):
    n = int(event["Records"][0]["Sns"]["Message"])
    if n < 20:
        boto3.client("sns").publish(TopicArn="{topic}", Message=str(n + 1))
""")
    lam.add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="1")
    lab.wait_for_async()
    assert len(_runs(lab, name)) == 16
    lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    sns.publish(TopicArn=topic, Message="1")
    lab.wait_for_async()
    assert len(_runs(lab, name)) == 16 + 20  # allowed: the handler's own condition ends it


def test_s3_loop_stops_after_16_invocations(lab, lam, make_function):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="loop-bucket")
    name = make_function("""
import boto3
def handler(event, context):
    key = event["Records"][0]["s3"]["object"]["key"]
    boto3.client("s3").put_object(Bucket="loop-bucket", Key=key + "x", Body=b"again")
""")
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::loop-bucket")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    s3.put_bucket_notification_configuration(Bucket="loop-bucket", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket="loop-bucket", Key="k", Body=b"start")
    lab.wait_for_async()
    assert len(_runs(lab, name)) == 16
    assert len(s3.list_objects_v2(Bucket="loop-bucket")["Contents"]) == 17


# -- EventBridge Scheduler ------------------------------------------------------------------------
ECHO = "def handler(event, context):\n    return event\n"
SCHEDULER_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _scheduler_role(name, actions=("lambda:InvokeFunction",)):
    iam = boto3.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(SCHEDULER_TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="scheduler", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}))
    return arn


def _events_of(lab, name):
    return [json.loads(run.result.payload) for run in _runs(lab, name)]


def _at(epoch):
    import datetime as dt

    return "at(" + dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ")"


def test_scheduler_rate_schedule_invokes_with_its_input_on_the_lab_clock(lab, lam, make_function):
    scheduler = boto3.client("scheduler")
    name = make_function(ECHO)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    target = {"Arn": arn, "RoleArn": _scheduler_role("scheduler-rate"),
              "Input": json.dumps({"job": "report", "arn": "<aws.scheduler.schedule-arn>"})}
    schedule_arn = scheduler.create_schedule(Name="hourly", ScheduleExpression="rate(1 hour)",
                                             FlexibleTimeWindow={"Mode": "OFF"}, Target=target)["ScheduleArn"]
    lab.wait_for_async()
    assert _events_of(lab, name) == [{"job": "report", "arn": schedule_arn}]  # no StartDate: it starts at once
    assert _runs(lab, name)[0].invocation_type == "Event"  # Scheduler invokes asynchronously
    lab.clock.advance(3600)
    lab.wait_for_async()
    assert len(_runs(lab, name)) == 2
    scheduler.update_schedule(Name="hourly", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
                              Target=target, State="DISABLED")
    lab.clock.advance(2 * 3600)
    lab.wait_for_async()
    assert len(_runs(lab, name)) == 2  # disabled: no more runs
    scheduler.delete_schedule(Name="hourly")


def test_scheduler_cron_in_a_time_zone_runs_in_the_middle_of_its_flexible_window(lab, lam, make_function):
    scheduler = boto3.client("scheduler")
    name = make_function(ECHO)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    scheduler.create_schedule(
        Name="tokyo-9am", ScheduleExpression="cron(0 9 * * ? *)", ScheduleExpressionTimezone="Asia/Tokyo",
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 60},
        Target={"Arn": arn, "RoleArn": _scheduler_role("scheduler-cron"),
                "Input": json.dumps({"at": "<aws.scheduler.scheduled-time>"})})
    now = lab.clock.now()
    midnight_utc = (int(now) // 86400 + 1) * 86400  # 09:00 in Tokyo
    lab.clock.advance(midnight_utc - now + 20 * 60)
    lab.wait_for_async()
    assert _runs(lab, name) == []  # 20 minutes into the hour's window: not yet
    lab.clock.advance(20 * 60)
    lab.wait_for_async()
    import datetime as dt

    expected = dt.datetime.fromtimestamp(midnight_utc, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _events_of(lab, name) == [{"at": expected}]
    scheduler.delete_schedule(Name="tokyo-9am")


def test_scheduler_one_time_schedule_runs_once_and_deletes_itself(lab, lam, make_function):
    scheduler = boto3.client("scheduler")
    name = make_function(ECHO)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    scheduler.create_schedule(Name="once", ScheduleExpression=_at(lab.clock.now() + 7200),
                              FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
                              Target={"Arn": arn, "RoleArn": _scheduler_role("scheduler-once")})
    lab.clock.advance(7300)
    lab.wait_for_async()
    assert _events_of(lab, name) == [{}]  # no Input: an empty JSON object
    with pytest.raises(ClientError) as info:
        scheduler.get_schedule(Name="once")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_scheduler_without_invoke_permission_sends_the_run_to_its_dead_letter_queue(lab, lam, make_function):
    scheduler = boto3.client("scheduler")
    name = make_function(ECHO)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    dlq_url, dlq_arn = _queue("scheduler-dlq")
    schedule_arn = scheduler.create_schedule(
        Name="no-permission", ScheduleExpression=_at(lab.clock.now() + 3600), FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": _scheduler_role("scheduler-mute", actions=["sqs:SendMessage"]), "Input": '{"n": 1}',
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600},
                "DeadLetterConfig": {"Arn": dlq_arn}})["ScheduleArn"]
    lab.clock.advance(3700)
    lab.wait_for_async()
    assert _runs(lab, name) == []
    [dead] = boto3.client("sqs").receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert dead["Body"] == '{"n": 1}'
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "AccessDeniedException" and attributes["RETRY_ATTEMPTS"] == "0"
    assert attributes["SCHEDULE_ARN"] == schedule_arn and attributes["TARGET_ARN"] == arn
    assert "lambda:InvokeFunction" in lab.refusals[-1]["reason"]


def test_scheduler_rate_runs_from_start_date_to_end_date_then_deletes_itself(lab, lam, make_function):
    import datetime as dt

    scheduler = boto3.client("scheduler")
    name = make_function(ECHO)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    start = int(lab.clock.now()) + 2 * 3600
    scheduler.create_schedule(
        Name="bounded", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
        StartDate=dt.datetime.fromtimestamp(start, dt.timezone.utc),
        EndDate=dt.datetime.fromtimestamp(start + 2.5 * 3600, dt.timezone.utc), ActionAfterCompletion="DELETE",
        Target={"Arn": arn, "RoleArn": _scheduler_role("scheduler-bounded"),
                "Input": json.dumps({"at": "<aws.scheduler.scheduled-time>"})})
    lab.clock.advance(start - lab.clock.now() - 60)
    lab.wait_for_async()
    assert _runs(lab, name) == []  # not before StartDate
    lab.clock.advance(5 * 3600)
    lab.wait_for_async()
    stamps = [dt.datetime.fromtimestamp(start + h * 3600, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
              for h in range(3)]
    # StartDate, +1 h, +2 h (run side by side, so in any order); EndDate stops it
    assert sorted(e["at"] for e in _events_of(lab, name)) == stamps
    assert "bounded" not in [s["Name"] for s in scheduler.list_schedules()["Schedules"]]


# -- S3 to EventBridge ----------------------------------------------------------------------------
def _rule_to_function(lam, name, rule, pattern):
    events = boto3.client("events")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(pattern))["RuleArn"]
    lam.add_permission(FunctionName=name, StatementId=rule, Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule_arn)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": arn}])


def test_s3_eventbridge_notifications_reach_matching_rules_in_s3s_shape(lab, lam, make_function):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="eb-bucket")
    s3.put_bucket_notification_configuration(Bucket="eb-bucket",
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    created, deleted = make_function(ECHO), make_function(ECHO)
    _rule_to_function(lam, created, "eb-created", {"source": ["aws.s3"], "detail-type": ["Object Created"],
                                                   "detail": {"bucket": {"name": ["eb-bucket"]}}})
    _rule_to_function(lam, deleted, "eb-deleted", {"source": ["aws.s3"], "detail-type": ["Object Deleted"]})
    etag = s3.put_object(Bucket="eb-bucket", Key="in/a.txt", Body=b"hello")["ETag"].strip('"')
    s3.copy_object(Bucket="eb-bucket", Key="in/b.txt", CopySource={"Bucket": "eb-bucket", "Key": "in/a.txt"})
    s3.delete_object(Bucket="eb-bucket", Key="in/a.txt")
    lab.wait_for_async()
    made = sorted(_events_of(lab, created), key=lambda e: e["detail"]["object"]["key"])
    assert [e["detail"]["reason"] for e in made] == ["PutObject", "CopyObject"]
    put = made[0]
    assert put["source"] == "aws.s3" and put["detail-type"] == "Object Created" and put["account"] == ACCOUNT
    assert put["resources"] == ["arn:aws:s3:::eb-bucket"] and put["time"].endswith("Z")
    assert put["detail"]["version"] == "0" and put["detail"]["bucket"] == {"name": "eb-bucket"}
    obj = put["detail"]["object"]
    assert obj["key"] == "in/a.txt" and obj["size"] == 5 and obj["etag"] == etag and len(obj["sequencer"]) == 16
    assert put["detail"]["requester"] == ACCOUNT and len(put["detail"]["request-id"]) == 16
    [gone] = _events_of(lab, deleted)
    assert gone["detail-type"] == "Object Deleted" and gone["detail"]["reason"] == "DeleteObject"
    assert gone["detail"]["deletion-type"] == "Permanently Deleted" and gone["detail"]["object"]["key"] == "in/a.txt"


def test_s3_sends_nothing_to_eventbridge_without_the_configuration(lab, lam, make_function):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="quiet-bucket")
    name = make_function(ECHO)
    _rule_to_function(lam, name, "quiet-rule", {"source": ["aws.s3"], "detail": {"bucket": {"name": ["quiet-bucket"]}}})
    s3.put_object(Bucket="quiet-bucket", Key="k", Body=b"x")
    lab.wait_for_async()
    assert _runs(lab, name) == []


# -- CloudWatch Logs subscription filters ---------------------------------------------------------
READER = """
import base64, gzip, json
def handler(event, context):
    return json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
"""


def _allow_logs(lam, name, group):
    lam.add_permission(FunctionName=name, StatementId="logs", Action="lambda:InvokeFunction",
                       Principal="logs.amazonaws.com", SourceArn=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:*")


def test_subscription_filter_needs_the_functions_permission_for_cloudwatch_logs(lab, lam, make_function):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="/app/refused")
    name = make_function(READER)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    with pytest.raises(ClientError) as info:
        logs.put_subscription_filter(logGroupName="/app/refused", filterName="f", filterPattern="", destinationArn=arn)
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    assert info.value.response["Error"]["Message"] == ("Could not execute the lambda function. Make sure you have "
                                                       "given CloudWatch Logs permission to execute your function.")
    assert "logs.amazonaws.com may not call lambda:InvokeFunction" in lab.refusals[-1]["reason"]
    _allow_logs(lam, name, "/app/refused")
    logs.put_subscription_filter(logGroupName="/app/refused", filterName="f", filterPattern="", destinationArn=arn)
    assert logs.describe_subscription_filters(logGroupName="/app/refused")["subscriptionFilters"][0]["filterName"] == "f"


def test_put_log_events_that_match_the_pattern_arrive_gzipped_in_one_batch(lab, lam, make_function):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="/app/orders")
    logs.create_log_stream(logGroupName="/app/orders", logStreamName="web-1")
    name = make_function(READER)
    _allow_logs(lam, name, "/app/orders")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    logs.put_subscription_filter(logGroupName="/app/orders", filterName="errors", filterPattern="ERROR",
                                 destinationArn=arn)
    stamp = int(time.time() * 1000)  # CloudWatch Logs refuses events far ahead of real time; the lab clock runs ahead
    logs.put_log_events(logGroupName="/app/orders", logStreamName="web-1", logEvents=[
        {"timestamp": stamp, "message": "ERROR order 1 failed"}, {"timestamp": stamp + 1, "message": "INFO order 2"},
        {"timestamp": stamp + 2, "message": "ERROR order 3 failed"}])
    logs.put_log_events(logGroupName="/app/orders", logStreamName="web-1", logEvents=[
        {"timestamp": stamp + 3, "message": "INFO all quiet"}])
    lab.wait_for_async()
    [run] = _runs(lab, name)
    assert run.invocation_type == "Event"
    data = json.loads(run.result.payload)
    assert {k: data[k] for k in ("messageType", "owner", "logGroup", "logStream", "subscriptionFilters")} == {
        "messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": "/app/orders", "logStream": "web-1",
        "subscriptionFilters": ["errors"]}
    assert [(e["timestamp"], e["message"]) for e in data["logEvents"]] == [
        (stamp, "ERROR order 1 failed"), (stamp + 2, "ERROR order 3 failed")]
    assert all(len(e["id"]) == 56 and e["id"].isdigit() for e in data["logEvents"])


def test_a_functions_log_lines_reach_a_subscribed_function(lab, lam, make_function):
    writer = make_function("def handler(event, context):\n    print('ERROR boom')\n    print('fine')\n")
    reader = make_function(READER)
    group = f"/aws/lambda/{writer}"
    boto3.client("logs").create_log_group(logGroupName=group)
    _allow_logs(lam, reader, group)
    arn = lam.get_function(FunctionName=reader)["Configuration"]["FunctionArn"]
    boto3.client("logs").put_subscription_filter(logGroupName=group, filterName="boom", filterPattern="ERROR",
                                                 destinationArn=arn)
    lam.invoke(FunctionName=writer, Payload=b"{}")
    lab.wait_for_async()
    [run] = _runs(lab, reader)
    data = json.loads(run.result.payload)
    assert data["logGroup"] == group and data["logStream"].startswith(tuple("0123456789"))
    assert [e["message"].strip() for e in data["logEvents"]] == ["ERROR boom"]


def test_a_function_subscribed_to_its_own_logs_stops_after_16_invocations(lab, lam, make_function):
    name = make_function("def handler(event, context):\n    print('again')\n")
    group = f"/aws/lambda/{name}"
    boto3.client("logs").create_log_group(logGroupName=group)
    _allow_logs(lam, name, group)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    boto3.client("logs").put_subscription_filter(logGroupName=group, filterName="self", filterPattern="again",
                                                 destinationArn=arn)
    lam.invoke(FunctionName=name, Payload=b"{}")
    lab.wait_for_async()
    assert len(_runs(lab, name)) == 16
    assert "recursive loop" in lab.refusals[-1]["reason"]


def test_a_new_lab_with_the_same_seed_starts_every_chain_afresh():
    """Seeded labs repeat their request ids; the chains a stopped lab counted must not carry into the next one."""
    from conftest import run_in_fresh_process

    counts = run_in_fresh_process(f"""
        import json, boto3, lambda_lab
        SQS_LOOP = {SQS_LOOP!r}
        counts = []
        for warm_up in (40, 0):  # the first lab's first request ids go to plain invokes, outside any chain
            with lambda_lab.Lab(seed=11, quiet=True) as lab:
                boto3.client("iam").attach_role_policy(RoleName=lab.role_arn.split("/")[-1],
                    PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
                sqs, lam = boto3.client("sqs"), boto3.client("lambda")
                url = sqs.create_queue(QueueName="loop")["QueueUrl"]
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                lam.create_function(FunctionName="loop", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                    Code={{"ZipFile": lambda_lab.zip_source(SQS_LOOP)}},
                                    Environment={{"Variables": {{"QUEUE_URL": url}}}})
                lam.get_waiter("function_active_v2").wait(FunctionName="loop")
                lam.create_function(FunctionName="plain", Runtime="python3.13", Role=lab.role_arn,
                                    Handler="app.handler", Code={{"ZipFile": lambda_lab.zip_source(
                                        "def handler(e, c):\\n    return 1\\n")}})
                for _ in range(warm_up):
                    lam.invoke(FunctionName="plain", Payload=b"{{}}")
                lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="loop", BatchSize=1)
                sqs.send_message(QueueUrl=url, MessageBody="again")
                lab.wait_for_async()
                counts.append(len([i for i in lab.invocations if i.function_name == "loop"]))
        print(json.dumps(counts))
    """)
    assert counts == [16, 16]
