"""AWS/Lambda metrics, read with plain boto3 CloudWatch calls after real invocations."""

import contextlib
import datetime as dt
import json
import re
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError

FLAKY = "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('nope')\n    return 'ok'\n"
NS = "AWS/Lambda"


@pytest.fixture(scope="module")
def cw(lab):
    return boto3.client("cloudwatch")


@contextlib.contextmanager
def minute_of_its_own(lab):
    """A stopped lab clock at the start of a fresh minute: every datapoint of the block lands in that minute."""
    speed, lab.clock.speed = lab.clock.speed, 1e-6
    now = lab.clock.now()
    lab.clock.advance(60 - now % 60 + 1)
    try:
        yield lab.clock.now() // 60 * 60
    finally:
        lab.clock.speed = speed


def stamp(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


def values(cw, metric, dims, stat, start, period=60, end=None):
    query = {"Id": "q", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": metric, "Dimensions": dims},
                                       "Period": period, "Stat": stat}}
    got = cw.get_metric_data(MetricDataQueries=[query], StartTime=stamp(start),
                             EndTime=stamp(end or start + period))["MetricDataResults"][0]
    return got["Values"]


def fn(name):
    return [{"Name": "FunctionName", "Value": name}]


def report_durations(lab, name):
    return [float(re.search(r"\tDuration: ([\d.]+) ms", i.result.log).group(1))
            for i in lab.invocations if i.function_name == name and i.result is not None]


def test_invocations_errors_and_duration_of_one_minute(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    with minute_of_its_own(lab) as minute:
        for event in ({}, {"fail": 1}, {}):
            lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert values(cw, "Invocations", fn(name), "Sum", minute) == [3.0]
    assert values(cw, "Errors", fn(name), "Sum", minute) == [1.0]
    durations = report_durations(lab, name)
    assert len(durations) == 3
    assert values(cw, "Duration", fn(name), "Maximum", minute) == [max(durations)]
    assert values(cw, "Duration", fn(name), "Minimum", minute) == [min(durations)]
    assert values(cw, "Duration", fn(name), "p50", minute) == [sorted(durations)[1]]
    assert values(cw, "Duration", fn(name), "SampleCount", minute) == [3.0]
    # the account-wide series (no dimensions) holds exactly this minute's invocations: the same three
    assert values(cw, "Invocations", [], "Sum", minute) == [3.0]
    # nothing in the minute before
    assert values(cw, "Invocations", fn(name), "Sum", minute - 60) == []


def test_get_metric_statistics_matches_dimensions_exactly_with_percentiles(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    lam.publish_version(FunctionName=name)
    with minute_of_its_own(lab) as minute:
        lam.invoke(FunctionName=name)
        lam.invoke(FunctionName=name, Qualifier="1")
    window = {"Namespace": NS, "StartTime": stamp(minute), "EndTime": stamp(minute + 60), "Period": 60}
    points = cw.get_metric_statistics(MetricName="Invocations", Dimensions=fn(name), Statistics=["Sum"],
                                      **window)["Datapoints"]
    assert [p["Sum"] for p in points] == [2.0]
    resource = fn(name) + [{"Name": "Resource", "Value": f"{name}:1"}]
    points = cw.get_metric_statistics(MetricName="Duration", Dimensions=resource, Statistics=["SampleCount"],
                                      ExtendedStatistics=["p99"], **window)["Datapoints"]
    [qualified] = [i for i in lab.invocations if i.function_name == name and i.qualifier == "1"]
    assert [(p["SampleCount"], p["ExtendedStatistics"]["p99"], p["Unit"]) for p in points] == [
        (1.0, round(qualified.result.duration_ms, 2), "Milliseconds")]


def test_an_alias_counts_under_its_resource_and_the_version_it_ran(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with minute_of_its_own(lab) as minute:
        for _ in range(2):
            lam.invoke(FunctionName=name, Qualifier="live")
        lam.invoke(FunctionName=name)
    alias = fn(name) + [{"Name": "Resource", "Value": f"{name}:live"}]
    assert values(cw, "Invocations", fn(name), "Sum", minute) == [3.0]
    assert values(cw, "Invocations", alias, "Sum", minute) == [2.0]
    assert values(cw, "Invocations", alias + [{"Name": "ExecutedVersion", "Value": "1"}], "Sum", minute) == [2.0]
    assert values(cw, "Invocations", [{"Name": "Resource", "Value": f"{name}:live"}], "Sum", minute) == []
    listed = cw.list_metrics(Namespace=NS, MetricName="Invocations", Dimensions=fn(name))["Metrics"]
    assert sorted(sorted(d["Name"] for d in m["Dimensions"]) for m in listed) == [
        ["ExecutedVersion", "FunctionName", "Resource"], ["FunctionName"], ["FunctionName", "Resource"]]


def test_throttles_count_and_are_not_invocations(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with minute_of_its_own(lab) as minute:
        for _ in range(2):
            with pytest.raises(ClientError) as refused:
                lam.invoke(FunctionName=name)
            assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert values(cw, "Throttles", fn(name), "Sum", minute) == [2.0]
    assert values(cw, "Invocations", fn(name), "Sum", minute) == []


def test_throttles_through_an_alias_count_under_its_resource_and_version(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with minute_of_its_own(lab) as minute:
        with pytest.raises(ClientError) as refused:
            lam.invoke(FunctionName=name, Qualifier="live")
        assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    alias = fn(name) + [{"Name": "Resource", "Value": f"{name}:live"}]
    assert values(cw, "Throttles", alias, "Sum", minute) == [1.0]
    assert values(cw, "Throttles", alias + [{"Name": "ExecutedVersion", "Value": "1"}], "Sum", minute) == [1.0]


MEET = """
import os, pathlib, time
def handler(event, context):
    folder = pathlib.Path(event["folder"])
    (folder / context.aws_request_id).touch()
    deadline = time.monotonic() + 20
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:  # wait for the other call to start
        time.sleep(0.01)
    return len(os.listdir(folder))
"""


def test_two_calls_at_once_are_two_concurrent_executions(lab, lam, cw, make_function, tmp_path):
    first, second = make_function(MEET), make_function(MEET)
    payload = json.dumps({"folder": str(tmp_path)})
    with minute_of_its_own(lab) as minute:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda name: lam.invoke(FunctionName=name, Payload=payload), (first, second)))
    assert [json.loads(a["Payload"].read()) for a in answers] == [2, 2]  # they did overlap
    assert values(cw, "ConcurrentExecutions", [], "Maximum", minute) == [2.0]  # account-wide: both functions
    assert values(cw, "ConcurrentExecutions", fn(first), "Maximum", minute) == [1.0]
    assert values(cw, "UnreservedConcurrentExecutions", [], "Maximum", minute) == [2.0]


def test_provisioned_invocations_count_in_the_minute_they_ran(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    lab.wait_for_async()
    assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)["Status"] == "READY"
    with minute_of_its_own(lab) as minute:
        for _ in range(2):
            lam.invoke(FunctionName=name, Qualifier=version)
        lab.clock.advance(60)  # read a minute later: they still count in the minute they ran
    assert values(cw, "ProvisionedConcurrencyInvocations", fn(name), "Sum", minute) == [2.0]
    assert values(cw, "ProvisionedConcurrencySpilloverInvocations", fn(name), "Sum", minute) == []


def test_concurrency_figures(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    reserved = sum(lam.get_function_concurrency(FunctionName=f["FunctionName"]).get("ReservedConcurrentExecutions", 0)
                   for f in lam.list_functions()["Functions"])
    with minute_of_its_own(lab) as minute:
        lam.invoke(FunctionName=name)
    assert values(cw, "ConcurrentExecutions", fn(name), "Maximum", minute) == [1.0]
    assert values(cw, "ConcurrentExecutions", [], "Maximum", minute) == [1.0]
    assert values(cw, "UnreservedConcurrentExecutions", [], "Maximum", minute) == [0.0]  # it ran on reserved
    assert values(cw, "ClaimedAccountConcurrency", [], "Maximum", minute) == [float(reserved)]


def test_asynchronous_events_received_aged_and_dropped(lab, lam, cw, make_function):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="metrics-dlq-gone")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lab.allow("AmazonSQSFullAccess")
    name = make_function(FLAKY, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    sqs.delete_queue(QueueUrl=url)  # the dead-letter and destination deliveries will fail
    with minute_of_its_own(lab) as minute:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": 1}')
        lab.wait_for_async()  # one retry a minute later: fast-forwarded on the lab clock
    [event] = [e for e in lab.async_events if e.function_name == name]
    assert [a.outcome for a in event.attempts] == ["error", "error"]
    end = minute + 600
    assert values(cw, "AsyncEventsReceived", fn(name), "Sum", minute, 600) == [1.0]
    assert values(cw, "AsyncEventsDropped", fn(name), "Sum", minute, 600) == [1.0]
    assert values(cw, "DeadLetterErrors", fn(name), "Sum", minute, 600) == [1.0]
    assert values(cw, "DestinationDeliveryFailures", fn(name), "Sum", minute, 600) == [1.0]
    assert values(cw, "Invocations", fn(name), "Sum", minute, 600) == [2.0]
    ages = values(cw, "AsyncEventAge", fn(name), "Maximum", minute, 600, end)
    retry_age = (event.attempts[1].at - event.received_at) * 1000
    assert ages == [pytest.approx(retry_age, abs=1)]


def test_only_the_delivery_that_failed_is_counted_and_under_its_own_metric(lab, lam, cw, make_function):
    """The destination queue exists and the dead-letter queue is gone: one DeadLetterErrors, no delivery failure."""
    sqs = boto3.client("sqs")
    urls, arns = [], []
    for queue in ("metrics-destination-ok", "metrics-dlq-deleted"):
        urls.append(sqs.create_queue(QueueName=queue)["QueueUrl"])
        arns.append(sqs.get_queue_attributes(QueueUrl=urls[-1], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
    lab.allow("AmazonSQSFullAccess")
    name = make_function(FLAKY, DeadLetterConfig={"TargetArn": arns[1]})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": arns[0]}})
    sqs.delete_queue(QueueUrl=urls[1])
    with minute_of_its_own(lab) as minute:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": 1}')
        lab.wait_for_async()
    [event] = [e for e in lab.async_events if e.function_name == name]
    assert [(kind, status == "ok") for kind, _, status in event.deliveries] == [("OnFailure", True),
                                                                               ("DeadLetter", False)]
    assert values(cw, "DeadLetterErrors", fn(name), "Sum", minute, 600) == [1.0]
    assert values(cw, "DestinationDeliveryFailures", fn(name), "Sum", minute, 600) == []
    assert values(cw, "AsyncEventsDropped", fn(name), "Sum", minute, 600) == [1.0]


def test_a_successful_asynchronous_event_is_received_and_not_dropped(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    with minute_of_its_own(lab) as minute:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
        lab.wait_for_async()
    assert values(cw, "AsyncEventsReceived", fn(name), "Sum", minute, 600) == [1.0]
    assert values(cw, "AsyncEventAge", fn(name), "Maximum", minute, 600) == [0.0]  # it ran on its first try
    [age] = cw.get_metric_statistics(Namespace=NS, MetricName="AsyncEventAge", Dimensions=fn(name),
                                     StartTime=stamp(minute), EndTime=stamp(minute + 600), Period=600,
                                     Statistics=["Maximum"])["Datapoints"]
    assert age["Unit"] == "Milliseconds"
    assert values(cw, "AsyncEventsDropped", fn(name), "Sum", minute, 600) == []
    assert values(cw, "Invocations", fn(name), "Sum", minute, 600) == [1.0]


def test_learner_metrics_are_stamped_on_the_lab_clock(lab, cw):
    with minute_of_its_own(lab) as minute:
        lab.clock.advance(3 * 3600)  # hours ahead of real time, as after fast-forwarded schedules
        cw.put_metric_data(Namespace="Shop", MetricData=[{"MetricName": "Orders", "Value": 4.0}])
        now = lab.clock.now()
    query = {"Id": "o", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Orders"}, "Period": 60,
                                       "Stat": "Sum"}}
    got = cw.get_metric_data(MetricDataQueries=[query], StartTime=stamp(now - 3600),
                             EndTime=stamp(now + 60))["MetricDataResults"][0]
    assert got["Values"] == [4.0] and got["Timestamps"][0].timestamp() == now // 60 * 60 > minute


def test_list_metrics_lists_each_metric_once(lab, lam, cw, make_function):
    name = make_function(FLAKY)
    for _ in range(3):
        lam.invoke(FunctionName=name)
    listed = cw.list_metrics(Namespace=NS, Dimensions=fn(name))["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == ["ConcurrentExecutions", "Duration", "Errors", "Invocations"]


def test_iterator_age_of_a_kinesis_batch(lab, lam, cw, make_function):
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="metrics-stream", ShardCount=1)
    stream = kinesis.describe_stream(StreamName="metrics-stream")["StreamDescription"]["StreamARN"]
    lab.allow("AWSLambdaKinesisExecutionRole")
    name = make_function(FLAKY)
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON")
    with minute_of_its_own(lab) as minute:
        kinesis.put_record(StreamName="metrics-stream", Data=b"{}", PartitionKey="k")
        lab.wait_for_async()
    ages = values(cw, "IteratorAge", fn(name), "SampleCount", minute)
    assert ages == [1.0]
    assert values(cw, "IteratorAge", fn(name), "Minimum", minute)[0] >= 0.0


def test_monitor_view_draws_what_get_metric_data_returns(lab, lam, make_function):
    import matplotlib

    matplotlib.use("Agg")
    from lambda_lab import plots

    name = make_function(FLAKY)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with minute_of_its_own(lab) as minute:
        with pytest.raises(ClientError) as throttled:
            lam.invoke(FunctionName=name)
        assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
        lam.delete_function_concurrency(FunctionName=name)
        for event in ({}, {"fail": 1}, {}, {}):
            lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        series = plots.monitor_metrics(name)
        fig = plots.monitor(name)
    at = stamp(minute)
    durations = sorted(report_durations(lab, name))
    assert series["invocations"] == [(at, 4.0)] and series["errors"] == [(at, 1.0)]
    assert series["throttles"] == [(at, 1.0)] and series["concurrency"] == [(at, 1.0)]
    assert series["duration_p50"] == [(at, durations[1])] and series["duration_p99"] == [(at, durations[-1])]
    invocations, duration, errors, throttles, concurrency, spare = fig.axes[:6]
    assert list(invocations.get_lines()[0].get_ydata()) == [4.0]
    assert {line.get_label(): list(line.get_ydata()) for line in duration.get_lines()} == {
        "p50": [durations[1]], "p99": [durations[-1]], "average": [pytest.approx(sum(durations) / 4)]}
    assert list(errors.get_lines()[0].get_ydata()) == [1.0]
    assert list(fig.axes[6].get_lines()[0].get_ydata()) == [75.0]  # success rate, on the errors panel's twin
    assert list(throttles.get_lines()[0].get_ydata()) == [1.0]
    assert list(concurrency.get_lines()[0].get_ydata()) == [1.0]
    assert not spare.axison


def test_monitor_widget_totals_and_chart(lab, lam, make_function):
    import matplotlib

    matplotlib.use("Agg")
    from lambda_lab import widgets

    name = make_function(FLAKY)
    with minute_of_its_own(lab):
        for event in ({"fail": 1}, {}, {}, {}):
            lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        view = widgets.monitor_view(name)
    monitor = view.controller
    assert {"lab-widget", "lab-monitor-view"} <= set(view._dom_classes)
    assert monitor.function.value == name
    assert monitor.totals == {"invocations": 4.0, "errors": 1.0, "success rate (%)": 75.0, "throttles": 0,
                              "worst p99 duration (ms)": max(report_durations(lab, name)), "peak concurrency": 1.0}
    assert "lab-monitor-totals" in monitor.summary.value and monitor.chart.value[:4] == b"\x89PNG"


def test_the_last_hour_by_the_machines_clock_is_the_labs_last_hour(lab, lam, make_function):
    """Metrics are stamped on the lab clock (ahead of real time); a window ending at real "now" reads the lab's now."""
    import datetime as dt

    name = make_function("def handler(e, c):\n    return 1\n")
    lab.clock.advance(3 * 3600)  # the lab is now hours ahead of the machine, as after a few minutes of lessons
    lam.invoke(FunctionName=name, Payload=b"{}")
    cloudwatch = boto3.client("cloudwatch")
    now = dt.datetime.now(dt.timezone.utc)
    query = [{"Id": "n", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                                                   "Dimensions": [{"Name": "FunctionName", "Value": name}]},
                                        "Period": 3600, "Stat": "Sum"}}]
    answer = cloudwatch.get_metric_data(MetricDataQueries=query, StartTime=now - dt.timedelta(hours=1), EndTime=now)
    assert answer["MetricDataResults"][0]["Values"] == [1.0]
    # a window in the machine's past (not ending "now") is taken as it is: nothing was stamped there
    past = now - dt.timedelta(hours=5)
    answer = cloudwatch.get_metric_data(MetricDataQueries=query, StartTime=past - dt.timedelta(hours=1), EndTime=past)
    assert answer["MetricDataResults"][0]["Values"] == []


def test_a_young_labs_last_minutes_by_the_machines_clock_include_what_just_ran():
    """Minutes into a lesson the lab clock is less than 5 minutes ahead: "the last 10 minutes" must still see it."""
    from conftest import run_in_fresh_process

    got = run_in_fresh_process("""
        import datetime as dt, json, boto3, lambda_lab
        lab = lambda_lab.Lab(quiet=True)
        lam = boto3.client("lambda")
        lam.create_function(FunctionName="young", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\\n    return 1\\n")})
        lab.clock.advance(120)
        lam.invoke(FunctionName="young", Payload=b"{}")
        now = dt.datetime.now(dt.timezone.utc)
        answer = boto3.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=[{"Name": "FunctionName", "Value": "young"}],
            StartTime=now - dt.timedelta(minutes=10), EndTime=now, Period=60, Statistics=["Sum"])
        print(json.dumps(sum(p["Sum"] for p in answer["Datapoints"])))
    """)
    assert got == 1.0


def test_datapoints_keep_the_minute_of_the_call_however_late_they_are_read(lab, lam, cw, make_function):
    """Each datapoint is stamped when its invocation (or throttle) happened, not when the lab publishes it."""
    name = make_function(FLAKY)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with minute_of_its_own(lab) as minute:
        with pytest.raises(ClientError) as throttled:
            lam.invoke(FunctionName=name)  # throttled: reserved concurrency 0
        assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
        lam.delete_function_concurrency(FunctionName=name)
        lam.invoke(FunctionName=name)
        lab.clock.advance(300)  # five lab minutes pass before anyone reads CloudWatch
    assert values(cw, "Invocations", fn(name), "Sum", minute) == [1.0]
    assert values(cw, "Throttles", fn(name), "Sum", minute) == [1.0]
    later = values(cw, "Invocations", fn(name), "Sum", minute + 60, end=minute + 600)
    assert later == []  # nothing was stamped with the time of the read
