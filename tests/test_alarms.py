"""CloudWatch alarms that fire: evaluated on the lab clock, with history and actions, read with plain boto3."""

import contextlib
import json

import boto3
import pytest

FLAKY = "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('nope')\n    return 'ok'\n"
RECORDS = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="module")
def cw(lab):
    return boto3.client("cloudwatch")


@contextlib.contextmanager
def stopped_clock(lab):
    """Lab time that moves only when the test advances it, starting 1 s into a fresh minute."""
    speed, lab.clock.speed = lab.clock.speed, 1e-6
    now = lab.clock.now()
    lab.clock.advance(60 - now % 60 + 1)
    try:
        yield
    finally:
        lab.clock.speed = speed


def alarm(cw, name):
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def errors_alarm(cw, alarm_name, function, **extra):
    settings = {"Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold", **extra}
    cw.put_metric_alarm(AlarmName=alarm_name, Namespace="AWS/Lambda", MetricName="Errors",
                        Dimensions=[{"Name": "FunctionName", "Value": function}], **settings)


def next_minute(lab):
    """Move the stopped lab clock into the next minute and let the lab settle (alarms are evaluated)."""
    lab.clock.advance(60)
    lab.wait_for_async()


@pytest.fixture
def topic_queue(lab):
    """An SNS topic with an SQS queue subscribed: returns (topic arn, a function reading the queue's messages)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    url = sqs.create_queue(QueueName="alarm-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"})

    def read():
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in got]

    yield topic, read
    sns.delete_topic(TopicArn=topic)
    sqs.delete_queue(QueueUrl=url)


def test_a_new_alarm_starts_in_insufficient_data(lab, cw, make_function):
    name = make_function(FLAKY)
    errors_alarm(cw, f"{name}-new", name)
    state = alarm(cw, f"{name}-new")
    assert (state["StateValue"], state["StateReason"]) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")


def test_errors_fire_the_alarm_and_notify_its_topic(lab, lam, cw, make_function, topic_queue):
    topic, inbox = topic_queue
    name = make_function(FLAKY)
    with stopped_clock(lab):
        errors_alarm(cw, f"{name}-errors", name, AlarmActions=[topic], AlarmDescription="errors happen")
        for event in (b'{"fail": 1}', b"{}", b'{"fail": 1}'):
            lam.invoke(FunctionName=name, Payload=event)
        lab.wait_for_async()
        fired = lab.clock.now()
    state = alarm(cw, f"{name}-errors")
    assert state["StateValue"] == "ALARM"
    assert state["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [2.0 (")
    assert state["StateReason"].endswith("was greater than or equal to the threshold (1.0) (minimum 1 datapoint "
                                         "for INSUFFICIENT_DATA -> ALARM transition).")
    assert json.loads(state["StateReasonData"])["recentDatapoints"] == [2.0]
    assert abs(state["StateUpdatedTimestamp"].timestamp() - fired) < 1  # the lab clock's time, not the machine's
    [notification] = inbox()
    assert notification["Subject"] == f'ALARM: "{name}-errors" in US East (N. Virginia)'
    message = json.loads(notification["Message"])
    assert {k: message[k] for k in ("AlarmName", "AlarmDescription", "NewStateValue", "OldStateValue",
                                    "AlarmActions")} == {
        "AlarmName": f"{name}-errors", "AlarmDescription": "errors happen", "NewStateValue": "ALARM",
        "OldStateValue": "INSUFFICIENT_DATA", "AlarmActions": [topic]}
    assert message["NewStateReason"] == state["StateReason"]
    trigger = message["Trigger"]
    assert {k: trigger[k] for k in ("MetricName", "Namespace", "Statistic", "Dimensions", "Period",
                                    "EvaluationPeriods", "ComparisonOperator", "Threshold")} == {
        "MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "SUM",
        "Dimensions": [{"value": name, "name": "FunctionName"}], "Period": 60, "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1.0}
    history = cw.describe_alarm_history(AlarmName=f"{name}-errors")["AlarmHistoryItems"]
    assert [(h["HistoryItemType"], h["HistorySummary"]) for h in history] == [
        ("Action", f"Successfully executed action {topic}"),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("ConfigurationUpdate", f'Alarm "{name}-errors" created')]


def test_missing_data_is_treated_as_asked(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    treatments = ("missing", "notBreaching", "breaching", "ignore")
    with stopped_clock(lab):
        for treat in treatments:
            errors_alarm(cw, f"{name}-{treat}", name, TreatMissingData=treat)
        lam.invoke(FunctionName=name, Payload=b'{"fail": 1}')
        lab.wait_for_async()
        assert {t: alarm(cw, f"{name}-{t}")["StateValue"] for t in treatments} == dict.fromkeys(treatments, "ALARM")
        next_minute(lab)  # the error's minute is over; this one has no data yet
        next_minute(lab)  # a whole minute without data
        states = {t: alarm(cw, f"{name}-{t}")["StateValue"] for t in treatments}
    assert states == {"missing": "INSUFFICIENT_DATA", "notBreaching": "OK", "breaching": "ALARM", "ignore": "ALARM"}
    assert alarm(cw, f"{name}-missing")["StateReason"] == "Insufficient Data: 1 datapoint was unknown."


def test_datapoints_to_alarm_m_out_of_n(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    with stopped_clock(lab):
        errors_alarm(cw, f"{name}-2of3", name, EvaluationPeriods=3, DatapointsToAlarm=2,
                     TreatMissingData="notBreaching")
        lam.invoke(FunctionName=name, Payload=b'{"fail": 1}')
        lab.wait_for_async()
        first = alarm(cw, f"{name}-2of3")["StateValue"]
        next_minute(lab)
        lam.invoke(FunctionName=name)  # a minute without errors
        next_minute(lab)
        lam.invoke(FunctionName=name, Payload=b'{"fail": 1}')
        lab.wait_for_async()
        second = alarm(cw, f"{name}-2of3")
    assert first == "OK"
    assert second["StateValue"] == "ALARM"
    assert "2 out of the last 3 datapoints" in second["StateReason"]


def test_a_percentile_alarm_on_the_learners_own_metric(lab, cw):
    with stopped_clock(lab):
        cw.put_metric_alarm(AlarmName="slow-checkout", Namespace="Shop", MetricName="Latency", ExtendedStatistic="p99",
                            Period=60, EvaluationPeriods=1, Threshold=95.0, ComparisonOperator="GreaterThanThreshold")
        cw.put_metric_data(Namespace="Shop", MetricData=[
            {"MetricName": "Latency", "Values": [float(v) for v in range(1, 101)], "Unit": "Milliseconds"}])
        lab.wait_for_async()
        state = alarm(cw, "slow-checkout")
    assert state["StateValue"] == "ALARM"
    assert state["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [99.0 (")


def test_an_alarm_reaches_a_function_through_sns(lab, lam, cw, make_function):
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="alarm-to-function")["TopicArn"]
    watched, reader = make_function(FLAKY), make_function(RECORDS)
    lam.add_permission(FunctionName=reader, StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    reader_arn = lam.get_function(FunctionName=reader)["Configuration"]["FunctionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=reader_arn)
    with stopped_clock(lab):
        errors_alarm(cw, f"{watched}-sns", watched, AlarmActions=[topic])
        lam.invoke(FunctionName=watched, Payload=b'{"fail": 1}')
        lab.wait_for_async()
    [run] = [i for i in lab.invocations if i.function_name == reader]
    record = json.loads(run.result.payload)
    message = json.loads(record["Records"][0]["Sns"]["Message"])
    assert (message["AlarmName"], message["NewStateValue"]) == (f"{watched}-sns", "ALARM")


def test_a_lambda_alarm_action_needs_permission_and_gets_the_alarm_event(lab, lam, cw, make_function):
    watched, reader = make_function(FLAKY), make_function(RECORDS)
    reader_arn = lam.get_function(FunctionName=reader)["Configuration"]["FunctionArn"]
    with stopped_clock(lab):
        errors_alarm(cw, f"{watched}-denied", watched, AlarmActions=[reader_arn])
        lam.invoke(FunctionName=watched, Payload=b'{"fail": 1}')
        lab.wait_for_async()
        history = cw.describe_alarm_history(AlarmName=f"{watched}-denied", HistoryItemType="Action")
        assert history["AlarmHistoryItems"][0]["HistorySummary"].startswith(f"Failed to execute action {reader_arn}")
        assert not [i for i in lab.invocations if i.function_name == reader]
        alarm_arn = alarm(cw, f"{watched}-denied")["AlarmArn"].replace("-denied", "-allowed")
        lam.add_permission(FunctionName=reader, StatementId="alarms", Action="lambda:InvokeFunction",
                           Principal="lambda.alarms.cloudwatch.amazonaws.com", SourceArn=alarm_arn)
        errors_alarm(cw, f"{watched}-allowed", watched, AlarmActions=[reader_arn])
        lab.wait_for_async()
    [run] = [i for i in lab.invocations if i.function_name == reader]
    event = json.loads(run.result.payload)
    assert (event["source"], event["alarmArn"], event["alarmData"]["state"]["value"],
            event["alarmData"]["previousState"]["value"]) == ("aws.cloudwatch", alarm_arn, "ALARM", "INSUFFICIENT_DATA")
    assert event["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"] == {
        "namespace": "AWS/Lambda", "name": "Errors", "dimensions": {"FunctionName": watched}}


def test_set_alarm_state_runs_actions_and_is_kept_in_history(lab, cw, topic_queue):
    topic, inbox = topic_queue
    cw.put_metric_alarm(AlarmName="manual", Namespace="Shop", MetricName="Orders", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="LessThanThreshold",
                        OKActions=[topic])
    cw.set_alarm_state(AlarmName="manual", StateValue="OK", StateReason="testing the action")
    [notification] = inbox()
    assert json.loads(notification["Message"])["NewStateReason"] == "testing the action"
    summaries = [h["HistorySummary"] for h in cw.describe_alarm_history(AlarmName="manual")["AlarmHistoryItems"]]
    assert summaries[:2] == [f"Successfully executed action {topic}", "Alarm updated from INSUFFICIENT_DATA to OK"]


def test_alarms_are_evaluated_as_the_lab_clock_passes_a_minute(lab, lam, cw, make_function):
    import time

    name = make_function(FLAKY)
    with stopped_clock(lab):
        errors_alarm(cw, f"{name}-tick", name)
        lam.invoke(FunctionName=name, Payload=b'{"fail": 1}')
        assert alarm(cw, f"{name}-tick")["StateValue"] == "INSUFFICIENT_DATA"  # not evaluated yet
        lab.clock.advance(60)  # the clock's minute tick evaluates alarms, with no wait_for_async
        deadline = time.monotonic() + 30
        while alarm(cw, f"{name}-tick")["StateValue"] != "ALARM" and time.monotonic() < deadline:
            time.sleep(0.05)
        state = alarm(cw, f"{name}-tick")
    assert state["StateValue"] == "ALARM"
