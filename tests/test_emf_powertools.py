"""Embedded Metric Format lines become CloudWatch metrics, and Powertools for AWS Lambda (Python) runs unmodified
in a package that brings it: Logger's JSON lines, Metrics through EMF, Idempotency on a DynamoDB table."""

import datetime
import json
import re
import shutil
from pathlib import Path

import aws_lambda_powertools
import boto3
import pytest
import typing_extensions

import lambda_lab
from conftest import invoke

POWERTOOLS_HANDLER = '''
import uuid
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent

logger = Logger(service="orders")
metrics = Metrics(namespace="Shop", service="orders")
persistence = DynamoDBPersistenceLayer(table_name="idempotency")


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    logger.info("order received", extra={"order_id": event["order_id"]})
    metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=event["items"])
    return {"order_id": event["order_id"]}


@idempotent(persistence_store=persistence)
def pay(event, context):
    return {"payment_id": str(uuid.uuid4()), "order_id": event["order_id"]}
'''


def _metric_sum(namespace, name, dimensions, unit=None):
    """The metric's Sum over the last hour, read back with plain boto3 as a learner would."""
    cloudwatch = boto3.client("cloudwatch")
    now = datetime.datetime.now(datetime.timezone.utc)
    stat = {"Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
            "Period": 3600, "Stat": "Sum"}
    if unit:
        stat["Unit"] = unit
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": stat}],
        StartTime=now - datetime.timedelta(hours=1), EndTime=now + datetime.timedelta(minutes=5))
    return sum(result["MetricDataResults"][0]["Values"])


@pytest.fixture(scope="module")
def powertools_zip(tmp_path_factory):
    """The handler with Powertools and its one dependency beside it, copied from this venv (offline)."""
    root = tmp_path_factory.mktemp("powertools-package")
    (root / "app.py").write_text(POWERTOOLS_HANDLER)
    shutil.copytree(Path(aws_lambda_powertools.__file__).parent, root / "aws_lambda_powertools",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(typing_extensions.__file__, root / "typing_extensions.py")
    return lambda_lab.zip_folder(root)


def test_emf_lines_printed_by_a_handler_become_metrics(lam, make_function):
    name = make_function("""
        import json, time
        def handler(event, context):
            print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
                "Namespace": "Checkout", "Dimensions": [["Stage"], []],
                "Metrics": [{"Name": "CartValue", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}]}]},
                "Stage": "prod", "CartValue": event["value"], "Latency": [10, 30]}))
            print(json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Broken",
                "Dimensions": [["Missing"]], "Metrics": [{"Name": "X"}]}]}, "X": 1}))
            return "ok"
    """)
    before = _metric_sum("Checkout", "CartValue", [{"Name": "Stage", "Value": "prod"}])
    invoke(lam, name, {"value": 3})
    invoke(lam, name, {"value": 4})
    assert _metric_sum("Checkout", "CartValue", [{"Name": "Stage", "Value": "prod"}]) - before == 7
    assert _metric_sum("Checkout", "Latency", [{"Name": "Stage", "Value": "prod"}], "Milliseconds") == 80
    listed = boto3.client("cloudwatch").list_metrics(Namespace="Checkout", MetricName="CartValue")["Metrics"]
    assert {tuple((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in listed} == {(("Stage", "prod"),), ()}
    assert not boto3.client("cloudwatch").list_metrics(Namespace="Broken")["Metrics"]  # invalid EMF: no metric


def test_powertools_logger_and_metrics_run_unmodified(lab, lam, powertools_zip):
    lam.create_function(FunctionName="pt-orders", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": powertools_zip}, Timeout=30, MemorySize=512)
    response, payload, tail = invoke(lam, "pt-orders", {"order_id": "o-1", "items": 2})
    assert "FunctionError" not in response, payload
    assert payload == {"order_id": "o-1"}
    logged = [json.loads(line) for line in tail.splitlines() if line.startswith('{"level"')]
    assert len(logged) == 1
    record = logged[0]
    request_id = re.search(r"REPORT RequestId: (\S+)", tail).group(1)
    assert (record["message"], record["order_id"], record["service"]) == ("order received", "o-1", "orders")
    assert (record["cold_start"], record["function_name"], record["function_request_id"]) == (
        True, "pt-orders", request_id)
    assert record["function_memory_size"] == "512"
    invoke(lam, "pt-orders", {"order_id": "o-2", "items": 5})
    _, _, warm_tail = invoke(lam, "pt-orders", {"order_id": "o-3", "items": 1})
    warm = [json.loads(line) for line in warm_tail.splitlines() if line.startswith('{"level"')]
    assert warm[0]["cold_start"] is False
    dims = [{"Name": "service", "Value": "orders"}]
    assert _metric_sum("Shop", "OrdersPlaced", dims, "Count") == 8
    assert _metric_sum("Shop", "ColdStart", [{"Name": "function_name", "Value": "pt-orders"},
                                             {"Name": "service", "Value": "orders"}]) == 1


def test_powertools_idempotency_uses_the_labs_dynamodb(lab, lam, powertools_zip):
    boto3.client("dynamodb").create_table(
        TableName="idempotency", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    lam.create_function(FunctionName="pt-pay", Runtime="python3.13", Role=lab.role_arn, Handler="app.pay",
                        Code={"ZipFile": powertools_zip}, Timeout=30, MemorySize=512)
    _, first, _ = invoke(lam, "pt-pay", {"order_id": "o-9"})
    _, again, _ = invoke(lam, "pt-pay", {"order_id": "o-9"})
    _, other, _ = invoke(lam, "pt-pay", {"order_id": "o-10"})
    assert first == again and first["order_id"] == "o-9"  # the second call answered from the table
    assert other["payment_id"] != first["payment_id"]
    items = boto3.client("dynamodb").scan(TableName="idempotency")["Items"]
    assert len(items) == 2 and {item["status"]["S"] for item in items} == {"COMPLETED"}
    assert json.loads(next(i for i in items if "o-9" in i["data"]["S"])["data"]["S"]) == first

