"""The widgets, driven as a learner would (set a value, click a button) against a real lab, with no browser."""

import json
import pathlib
import re

import matplotlib

matplotlib.use("Agg")  # no display in tests; the figures' data is what we check

import boto3  # noqa: E402 - after choosing the backend
import pytest  # noqa: E402

import lambda_lab  # noqa: E402
from lambda_lab import plots, pricing, widgets  # noqa: E402

HELLO = ("import json\n"
         "def handler(event, context):\n"
         "    print('event', json.dumps(event)[:60])\n"
         "    if event.get('fail'):\n"
         "        raise ValueError('asked to fail')\n"
         "    return {'greeting': 'Hello, ' + event.get('name', 'world') + '!'}\n")
FAILS = "def handler(event, context):\n    raise RuntimeError('always')\n"


def classes(widget):
    return set(widget._dom_classes)


def test_each_factory_returns_a_widget_that_leads_to_its_controller_and_carries_css_classes(make_function):
    name = make_function(HELLO)
    expected = {
        widgets.invoke_console(name): ("lab-invoke-console", ["function", "qualifier", "event", "button", "result",
                                                              "report", "log"]),
        widgets.memory_tuner(name): ("lab-memory-tuner", ["memory", "architecture", "count", "reset_button",
                                                          "chart", "status_html"]),
        widgets.versions_manager(name): ("lab-versions-manager", ["publish_button", "weight", "send_button",
                                                                  "rollback_button", "split_html", "chart"]),
        widgets.logs_viewer(name): ("lab-logs-viewer", ["stream", "refresh_button", "events_html"]),
        widgets.cost_calculator(): ("lab-cost-calculator", ["requests", "duration", "memory", "summary", "chart"]),
    }
    for box, (root, parts) in expected.items():
        assert {"lab-widget", root} <= classes(box)
        for part in parts:  # each key part has a lab-* class of its own, for the browser test to wait on
            assert any(c.startswith("lab-") for c in classes(getattr(box.controller, part))), (root, part)


def test_widgets_use_only_the_public_aws_api():
    source = "".join(p.read_text() for p in pathlib.Path(widgets.__file__).parent.glob("*.py"))
    assert not re.search(r"\bmoto\b|\.service\b|\._engine\b", source)  # so they work on real AWS as well


# -- invoke console ------------------------------------------------------------------------------------

def test_console_invokes_and_shows_payload_report_and_cost(lab, make_function):
    name = make_function(HELLO)
    console = widgets.invoke_console(name).controller
    assert console.function.value == name and console.qualifier.value == "$LATEST"
    console.event.value = '{"name": "Ada"}'
    console.button.click()
    answer = console.answer
    assert answer["status"] == 200 and answer["executed_version"] == "$LATEST"
    assert json.loads(answer["payload"]) == {"greeting": "Hello, Ada!"}
    assert "Hello, Ada!" in console.result.value and "ExecutedVersion" in console.result.value
    report = pricing.parse_report(answer["log"])
    assert report.cold  # the first call: Init Duration in REPORT
    summary = console.report.value
    assert f"{report.billed_ms} ms" in summary and "cold start" in summary and "128 MB" in summary
    assert answer["cost"] == pricing.invocation_cost(answer["log"]) and pricing.usd(answer["cost"]) in summary
    assert "START RequestId" in console.log.value and 'event {"name": "Ada"}' in console.log.value
    console.button.click()
    assert "warm start" in console.report.value


def test_console_shows_the_function_error(make_function):
    name = make_function(HELLO)
    console = widgets.invoke_console(name).controller
    console.event.value = '{"fail": true}'
    console.invoke()
    assert console.answer["function_error"] == "Unhandled"
    assert "FunctionError" in console.result.value and "Unhandled" in console.result.value
    assert json.loads(console.answer["payload"])["errorType"] == "ValueError"
    assert "asked to fail" in console.result.value and "[ERROR] ValueError" in console.log.value


def test_bad_json_is_a_message_not_an_exception_nor_an_invocation(lab, make_function):
    name = make_function(HELLO)
    console = widgets.invoke_console(name).controller
    console.event.value = '{"name": "Ada",}'
    console.button.click()
    assert console.answer is None
    assert "not valid JSON" in console.result.value and "line 1" in console.result.value
    assert not [i for i in lab.invocations if i.function_name == name]


def test_console_sample_events_qualifiers_and_invocation_types(lab, lam, make_function):
    name = make_function(HELLO)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    console = widgets.invoke_console(name).controller
    assert list(console.qualifier.options) == ["$LATEST", "1", "live"]
    console.kind.value = "sqs"
    assert json.loads(console.event.value)["Records"][0]["eventSource"] == "aws:sqs"
    console.qualifier.value = "live"
    console.invoke()
    assert console.answer["executed_version"] == "1"
    console.invocation_type.value = "Event"
    console.invoke()
    assert console.answer["status"] == 202 and "Accepted" in console.result.value
    console.invocation_type.value = "DryRun"
    console.invoke()
    assert console.answer["status"] == 204
    lab.wait_for_async()


def test_console_reports_a_missing_function_in_the_widget():
    console = widgets.invoke_console("no-such-function").controller
    assert "No function named 'no-such-function'" in console.result.value


# -- memory tuner --------------------------------------------------------------------------------------

def test_tuner_changes_memory_adds_a_point_and_resets(lam, make_function):
    name = make_function(HELLO)
    tuner = widgets.memory_tuner(name, {"name": "tuner"}, invocations=3).controller
    assert tuner.memory.value == 128 and tuner.points == []
    tuner.memory.value = 512
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 512
    [point] = tuner.points
    assert point["memory_mb"] == 512 and point["invocations"] == 3 and point["errors"] == 0
    expected = pricing.cost_per_invocation(point["avg_billed_ms"], 512)
    assert point["cost_per_million"] == pytest.approx(expected * 1e6)
    lines = {line.get_label(): line for line in tuner.figure.axes[0].get_lines()}
    assert list(lines["x86_64: average duration (ms)"].get_xdata()) == [512]
    assert bytes(tuner.chart.value).startswith(b"\x89PNG")
    tuner.count.value = 2
    tuner.memory.value = 1024
    assert [p["memory_mb"] for p in tuner.points] == [512, 1024] and tuner.points[-1]["invocations"] == 2
    tuner.reset_button.click()
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 128
    assert tuner.memory.value == 128 and len(tuner.points) == 2  # reset does not measure again
    assert "Restored 128 MB" in tuner.status_html.value


def test_tuner_prices_the_chosen_architecture(lam, make_function):
    name = make_function(HELLO)
    tuner = widgets.memory_tuner(name, invocations=2, code=lambda_lab.zip_source(HELLO)).controller
    tuner.architecture.value = "arm64"
    [point] = tuner.points
    assert point["architecture"] == "arm64"
    assert point["cost"] == pytest.approx(pricing.cost_per_invocation(point["avg_billed_ms"], 128, "arm64"))
    assert lam.get_function_configuration(FunctionName=name)["Architectures"] == ["arm64"]
    tuner.reset()
    assert lam.get_function_configuration(FunctionName=name)["Architectures"] == ["x86_64"]


def test_tuner_switches_architecture_without_being_given_the_code(lam, make_function):
    """As notebook 06 shows it: the tuner fetches the package from GetFunction's Code.Location to re-upload it."""
    name = make_function(HELLO)
    tuner = widgets.memory_tuner(name, invocations=1).controller
    tuner.architecture.value = "arm64"
    assert [p["architecture"] for p in tuner.points] == ["arm64"], tuner.status_html.value
    assert lam.get_function_configuration(FunctionName=name)["Architectures"] == ["arm64"]
    assert json.loads(lam.invoke(FunctionName=name, Payload=b'{"name": "Ada"}')["Payload"].read()) == {
        "greeting": "Hello, Ada!"}


def test_tuner_shows_aws_errors_in_the_widget(make_function):
    name = make_function(HELLO)
    tuner = widgets.memory_tuner(name, invocations=1).controller
    tuner.measure(64, "x86_64")  # below Lambda's minimum: AWS's validation message, no traceback
    assert tuner.points == [] and "lab-note-error" in tuner.status_html.value


# -- versions manager ----------------------------------------------------------------------------------

def test_versions_manager_publishes_splits_about_ten_percent_and_rolls_back(lab, lam, make_function):
    name = make_function(HELLO)
    manager = widgets.versions_manager(name).controller
    manager.publish_button.click()
    assert manager.versions == ["1"]
    manager.move_button.click()  # the version dropdown offers the newest: 1
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    lam.update_function_configuration(FunctionName=name, Description="second")
    assert manager.publish() == "2" and manager.canary.value == "2"
    manager.weight.value = 0.1
    alias = lam.get_alias(FunctionName=name, Name="live")
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.1}
    assert "version 1 (90%) + version 2 (10%)" in manager.state_html.value
    manager.count.value = 400
    manager.send_button.click()
    assert sum(manager.split.values()) == 400 and set(manager.split) == {"1", "2"}
    assert 0.05 <= manager.split["2"] / 400 <= 0.15
    assert "ExecutedVersion" in manager.split_html.value
    bottom = manager.figure.axes[1]  # plots.versions_chart of this batch, from the lab's history
    labels = [line.get_label() for line in bottom.get_lines()]
    assert f"version 2: {manager.split['2']} of 400 ({100 * manager.split['2'] / 400:.0f}%)" in labels
    manager.rollback_button.click()
    alias = lam.get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] == "1" and not alias["RoutingConfig"]["AdditionalVersionWeights"]
    assert manager.weight.value == 0.0
    manager.point_alias("2")
    assert manager.roll_back() == "1"  # a move is undone by pointing back where the alias was
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"


def test_versions_manager_explains_what_is_missing(make_function):
    name = make_function(HELLO)
    manager = widgets.versions_manager(name).controller
    manager.weight.value = 0.2
    assert "Create the alias first" in manager.message_html.value
    manager.rollback_button.click()
    assert "no alias to roll back" in manager.message_html.value


# -- logs viewer ---------------------------------------------------------------------------------------

def test_logs_viewer_lists_streams_newest_first_and_shows_events(lam, make_function):
    name = make_function(HELLO)
    viewer = widgets.logs_viewer(name).controller
    assert viewer.streams == [] and "No log group" in viewer.message_html.value
    lam.publish_version(FunctionName=name)
    lam.invoke(FunctionName=name, Payload=b'{"name": "first"}')
    lam.invoke(FunctionName=name, Qualifier="1", Payload=b'{"name": "second"}')  # another environment, stream
    viewer.refresh_button.click()
    names = [s["logStreamName"] for s in viewer.streams]
    stamps = [s["lastEventTimestamp"] for s in viewer.streams]
    assert len(names) == 2 and stamps == sorted(stamps, reverse=True)
    assert "[1]" in names[0] and viewer.stream.value == names[0]
    assert "second" in viewer.events_html.value and "REPORT RequestId" in viewer.events_html.value
    viewer.stream.value = names[1]
    assert "first" in viewer.events_html.value
    lam.invoke(FunctionName=name, Payload=b'{"name": "third"}')
    viewer.refresh()
    assert viewer.stream.value == names[1] and "third" in viewer.events_html.value  # the choice survives
    assert viewer.streams[0]["logStreamName"] == names[1]  # and that stream is the newest now


# -- cost calculator -----------------------------------------------------------------------------------

# AWS's us-east-1 price sheet (aws.amazon.com/lambda/pricing), written out here so the widget is checked
# against the sheet, not against the code it calls
X86_GB_S, ARM_GB_S, PER_REQUEST = 0.0000166667, 0.0000133334, 0.20 / 1_000_000
STORAGE_GB_S, FREE_REQUESTS, FREE_GB_S = 0.0000000309, 1_000_000, 400_000


def test_calculator_matches_the_price_sheet_worked_by_hand():
    calc = widgets.cost_calculator().controller
    calc.requests.value = 30_000_000
    calc.duration.value = 250
    calc.memory.value = 1024
    calc.architecture.value = "arm64"
    calc.storage.value = 2048
    gb_s = 30_000_000 * 0.250 * 1024 / 1024  # 7,500,000 GB-s, all in arm64's first tier (7.5 billion)
    requests, compute = 30_000_000 * PER_REQUEST, gb_s * ARM_GB_S  # $6.00 and $100.0005
    storage = 30_000_000 * 0.250 * (2048 - 512) / 1024 * STORAGE_GB_S  # 11,250,000 GB-s of /tmp: $0.347625
    free = FREE_REQUESTS * PER_REQUEST + FREE_GB_S * ARM_GB_S  # $0.20 + $5.33336
    assert calc.without_free_tier.total == pytest.approx(requests + compute + storage, abs=1e-9)  # $106.348125
    assert calc.with_free_tier.total == pytest.approx(requests + compute + storage - free, abs=1e-9)  # $100.814765
    assert calc.with_free_tier.gb_s == pytest.approx(gb_s)
    assert "$106.35" in calc.summary.value and "$100.81" in calc.summary.value
    # x86_64 at the widget's defaults: 3M x 120 ms x 512 MB = 180,000 GB-s, under the free 400,000
    calc = widgets.cost_calculator().controller
    paid = 3_000_000 * PER_REQUEST + 180_000 * X86_GB_S  # $0.60 + $3.000006
    assert calc.without_free_tier.total == pytest.approx(paid, abs=1e-9)
    assert calc.with_free_tier.total == pytest.approx(paid - FREE_REQUESTS * PER_REQUEST - 180_000 * X86_GB_S,
                                                      abs=1e-9)  # $0.40: only the 2M requests above the free 1M
    assert "$3.60" in calc.summary.value and "$0.40" in calc.summary.value
    heights = [bar.get_height() for bar in calc.figure.axes[0].patches]
    assert heights[-1] == pytest.approx(calc.with_free_tier.total)  # the chart is cost_breakdown_chart's


def test_calculator_defaults_match_the_pricing_doctest():
    calc = widgets.cost_calculator(30_000_000, 120, 512).controller
    assert pricing.usd(calc.with_free_tier.total) == "$29.13" and pricing.usd(calc.without_free_tier.total) == "$36.00"
    assert "$29.13" in calc.summary.value and "$36.00" in calc.summary.value


# -- plots.async_timeline_chart ------------------------------------------------------------------------

def test_async_timeline_chart_shows_retries_and_endings(lab, lam, make_function):
    failing, working = make_function(FAILS), make_function(HELLO)
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="timeline-dlq")["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lab.allow("AmazonSQSFullAccess")  # as on AWS, the role may send to the DLQ before it is set
    lam.update_function_configuration(FunctionName=failing, DeadLetterConfig={"TargetArn": dlq})
    speed, lab.clock.speed = lab.clock.speed, 1e-6  # lab time moves only when wait_for_async jumps it: exact gaps
    try:
        lam.invoke(FunctionName=failing, InvocationType="Event", Payload=b"{}")
        lam.invoke(FunctionName=working, InvocationType="Event", Payload=b"{}")
        lab.wait_for_async()
    finally:
        lab.clock.speed = speed
    chosen = [e for e in lab.async_events if e.function_name in (failing, working)]
    fig = plots.async_timeline_chart(chosen)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    errors = lines["attempt: error (3)"]
    start = min(e.received_at for e in chosen)
    [failed] = [e for e in chosen if e.function_name == failing]
    times = list(errors.get_xdata())
    assert times == pytest.approx([a.at - start for a in failed.attempts])  # seconds since the first event
    assert [round(b - a) for a, b in zip(times, times[1:])] == [60, 120]  # Lambda's 1- and 2-minute retry delays
    row_of = {e.function_name: row for row, e in enumerate(chosen)}
    assert set(errors.get_ydata()) == {row_of[failing]}
    assert list(lines["attempt: success (1)"].get_ydata()) == [row_of[working]]
    assert list(lines["ended: RetriesExhausted (1)"].get_xdata()) == [times[2]]
    assert "ended: Success (1)" in lines
    notes = [t.get_text() for t in ax.texts]
    assert "RetriesExhausted -> DeadLetter ok" in notes and "Success" in notes
    assert ax.get_xlabel().startswith("time since the first event")
    with pytest.raises(ValueError, match="no asynchronous events"):
        plots.async_timeline_chart([])


def test_a_widget_whose_lab_stopped_says_so_in_one_line():
    from conftest import run_in_fresh_process

    shown = run_in_fresh_process("""
        import json, boto3, lambda_lab
        from lambda_lab import widgets
        lab = lambda_lab.Lab(quiet=True)
        boto3.client("lambda").create_function(FunctionName="hello", Runtime="python3.13", Role=lab.role_arn,
            Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\\n    return 1\\n")})
        console = widgets.invoke_console("hello")
        lab.stop()
        console.controller.invoke()
        print(json.dumps(console.controller.result.value))
    """)
    assert "lab behind this widget has stopped" in shown and "setup cell" in shown
    assert shown.count("<div") == 1 and "Traceback" not in shown
