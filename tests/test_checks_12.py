"""Exercises 12.1 (a slow downstream call found in a trace) and 12.2 (throttling found in the metrics): the solution
passes, a blank fails without giving the answer away, and plausible wrong answers fail with a message that says
what is wrong."""

import json
import shutil
from pathlib import Path

import aws_lambda_powertools
import aws_xray_sdk
import boto3
import pytest
import typing_extensions
import wrapt

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed

ROOT = Path(__file__).parents[1]


def solution_lines(name: str) -> list[str]:
    """The code lines of a solution notebook's `solution` cells (what a check must never print)."""
    cells = json.loads((ROOT / "solutions" / name).read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and "solution" in c["metadata"].get("tags", [])]
    return [line.strip() for c in code for line in "".join(c["source"]).splitlines()
            if line.strip() and not line.strip().startswith("#") and len(line.strip()) > 3]


def assert_gives_nothing_away(message: str, notebook: str) -> None:
    for line in solution_lines(notebook):
        assert line not in message, line


# -- exercise 12.1 -------------------------------------------------------------------------------------------

FX_RATES = """
import time

def handler(event, context):
    time.sleep(0.6)
    return {"as_of": "2026-11-30", "EUR": 0.92, "GBP": 0.79}
"""
CHECKOUT = """
import json
import boto3
from aws_lambda_powertools import Logger, Tracer
logger = Logger(service="checkout")
tracer = Tracer(service="checkout")
lam = boto3.client("lambda")

@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event, context):
    rates = json.loads(lam.invoke(FunctionName="fx-rates")["Payload"].read())
    total = sum(item["price_usd"] * item["qty"] for item in event["items"]) * rates[event["currency"]]
    return {"total": round(total, 2), "currency": event["currency"], "rates_as_of": rates["as_of"]}
"""
CACHED = CHECKOUT.replace("@logger.inject_lambda_context", "_rates = None\n\n@logger.inject_lambda_context").replace(
    '''    rates = json.loads(lam.invoke(FunctionName="fx-rates")["Payload"].read())''', '''    global _rates
    if _rates is None:  # a copy kept by the execution environment
        _rates = json.loads(lam.invoke(FunctionName="fx-rates")["Payload"].read())
    rates = _rates''')


@pytest.fixture(scope="module")
def powertools_layer_zip(tmp_path_factory):
    """Powertools, the X-Ray SDK and their small dependencies as a layer, copied from this venv (offline)."""
    folder = tmp_path_factory.mktemp("powertools-layer") / "python"
    for module in (aws_lambda_powertools, aws_xray_sdk, wrapt):
        shutil.copytree(Path(module.__file__).parent, folder / module.__name__,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(typing_extensions.__file__, folder)
    return lambda_lab.layer_zip(folder.parent)


@pytest.fixture
def shop(powertools_layer_zip):
    """A fresh lab with exercise 12.1's two functions, as its setup cell leaves them."""
    with lambda_lab.Lab(seed=121, quiet=True) as lab:
        lam = boto3.client("lambda")
        lab.allow("AWSXRayDaemonWriteAccess", "AWSLambdaRole")
        layer = lam.publish_layer_version(LayerName="powertools", Content={"ZipFile": powertools_layer_zip})
        lam.create_function(FunctionName="fx-rates", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Code={"ZipFile": lambda_lab.zip_source(FX_RATES)})
        lam.create_function(FunctionName="checkout", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Code={"ZipFile": lambda_lab.zip_source(CHECKOUT)}, Layers=[layer["LayerVersionArn"]],
                            MemorySize=256, Timeout=10, TracingConfig={"Mode": "Active"})
        yield lam


def deploy(lam, name, source):
    lam.update_function_code(FunctionName=name, ZipFile=lambda_lab.zip_source(source))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def slow_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_12_slow_downstream("checkout")
    return str(failed.value)


def test_caching_the_rates_passes(shop, capsys):
    deploy(shop, "checkout", CACHED)
    checks.ex_12_slow_downstream("checkout")
    assert capsys.readouterr().out.startswith("Check passed: warm requests of 'checkout' take under 200 ms")


def test_the_blank_fails_and_points_at_the_trace_without_the_fix(shop):
    message = slow_failure()
    assert message.startswith("Warm requests of 'checkout' still take about ")
    assert "'X-Ray traces: a cold start and a downstream call'" in message  # where to look
    assert "You changed" not in message
    assert_gives_nothing_away(message, "12_observability_sol_01.ipynb")


def test_more_memory_is_named_as_no_help_for_waiting(shop):
    shop.update_function_configuration(FunctionName="checkout", MemorySize=2048)
    shop.get_waiter("function_updated_v2").wait(FunctionName="checkout")
    message = slow_failure()
    assert "You changed its memory (256 -> 2048 MB): that does not shorten time spent waiting" in message


def test_speeding_up_the_partners_function_is_refused(shop):
    deploy(shop, "fx-rates", FX_RATES.replace("time.sleep(0.6)", "pass"))
    assert "It is the partner team's service and must stay as it was" in slow_failure()


def test_a_cache_that_breaks_the_answer_is_caught(shop):
    deploy(shop, "checkout", CACHED.replace('rates[event["currency"]]', "1.0"))
    assert "not {'total': 41.4" in slow_failure()


# -- exercise 12.2 -------------------------------------------------------------------------------------------

RESIZE = """
import time

def handler(event, context):
    time.sleep(1.0)
    return {"image": event["image"], "thumbnail": "thumbs/" + event["image"]}
"""


@pytest.fixture
def images():
    """A fresh lab with exercise 12.2's function (reserved concurrency 2) and topic."""
    with lambda_lab.Lab(seed=122, quiet=True):
        lam = boto3.client("lambda")
        lam.create_function(FunctionName="resize", Runtime="python3.13", Role=lambda_lab.Lab.current().role_arn,
                            Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source(RESIZE)}, Timeout=10)
        lam.put_function_concurrency(FunctionName="resize", ReservedConcurrentExecutions=2)
        topic = boto3.client("sns").create_topic(Name="ops-alerts")["TopicArn"]
        yield lam, boto3.client("cloudwatch"), topic


def alarm_on(cloudwatch, metric, topic, **changes):
    settings = {"AlarmName": f"resize-{metric.lower()}", "Namespace": "AWS/Lambda", "MetricName": metric,
                "Dimensions": [{"Name": "FunctionName", "Value": "resize"}], "Statistic": "Sum", "Period": 60,
                "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "AlarmActions": [topic], **changes}
    cloudwatch.put_metric_alarm(**settings)


def throttling_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_12_throttling("resize", topic_name="ops-alerts")
    return str(failed.value)


def test_enough_reserved_concurrency_and_a_throttles_alarm_pass(images, capsys):
    lam, cloudwatch, topic = images
    lam.put_function_concurrency(FunctionName="resize", ReservedConcurrentExecutions=8)
    alarm_on(cloudwatch, "Throttles", topic, ComparisonOperator="GreaterThanThreshold", Threshold=0)
    checks.ex_12_throttling("resize", topic_name="ops-alerts")
    assert "never runs more than 8 copies, and the alarm 'resize-throttles' tells 'ops-alerts'" in \
        capsys.readouterr().out


def test_the_blank_fails_on_the_peak_without_the_answer(images):
    message = throttling_failure()
    assert message.startswith("'resize' may run only 2 copies at once, fewer than the 6 requests of a peak")
    assert "'Throttles and concurrency'" in message
    assert_gives_nothing_away(message, "12_observability_sol_02.ipynb")


def test_removing_the_reservation_breaks_the_database_limit(images):
    lam, cloudwatch, topic = images
    lam.delete_function_concurrency(FunctionName="resize")
    alarm_on(cloudwatch, "Throttles", topic)
    assert "nothing keeps it under 10 copies" in throttling_failure()


def test_too_much_concurrency_is_named(images):
    lam, _, _ = images
    lam.put_function_concurrency(FunctionName="resize", ReservedConcurrentExecutions=50)
    assert "the database accepts 10 (requirement 2)" in throttling_failure()


def test_an_alarm_on_errors_is_explained(images):
    # the plausible wrong answer: refusals look like errors to the site, but not to the Errors metric
    lam, cloudwatch, topic = images
    lam.put_function_concurrency(FunctionName="resize", ReservedConcurrentExecutions=10)
    alarm_on(cloudwatch, "Errors", topic)
    message = throttling_failure()
    assert message.startswith("Your alarm on 'resize' watches Errors. A refused request never runs")
    assert "MetricName=\"Throttles\"" not in message


def test_a_throttles_alarm_that_tells_nobody_or_fires_late_is_named(images):
    lam, cloudwatch, topic = images
    lam.put_function_concurrency(FunctionName="resize", ReservedConcurrentExecutions=10)
    alarm_on(cloudwatch, "Throttles", topic, AlarmActions=[])
    assert "do not include the topic 'ops-alerts'" in throttling_failure()
    alarm_on(cloudwatch, "Throttles", topic, Threshold=5)
    assert "a minute with a single refused request must already notify" in throttling_failure()
    alarm_on(cloudwatch, "Throttles", topic, Period=300)
    assert "periods of 300 s" in throttling_failure()
