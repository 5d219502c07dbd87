"""Provisioned concurrency: the API with AWS's rules, environments initialised ahead, spillover, retirement."""

import threading
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab
from conftest import invoke

REPORTS_INIT_TYPE = """
import os, time
print("module init as", os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"])

def handler(event, context):
    if event.get("started"):  # hold the environment until the test says so
        open(event["started"], "w").close()
        deadline = time.time() + 30
        while not os.path.exists(event["release"]) and time.time() < deadline:
            time.sleep(0.01)
    return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]
"""
DEADLINE_S = 60


def error_of(call, **kw):
    with pytest.raises(ClientError) as raised:
        call(**kw)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


def ready(lab, lam, name, qualifier):
    lab.wait_for_async()
    config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
    assert config["Status"] == "READY", config
    return config


def provisioned_envs(lab, name):
    return [e for e in lab.environments(name) if e.provisioned]


def test_put_answers_in_progress_then_ready_on_the_lab_clock(lab, lam, make_function):
    name = make_function(REPORTS_INIT_TYPE)
    version = lam.publish_version(FunctionName=name)["Version"]
    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                                 ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (put["Status"], put["RequestedProvisionedConcurrentExecutions"],
            put["AllocatedProvisionedConcurrentExecutions"], put["AvailableProvisionedConcurrentExecutions"]) == \
        ("IN_PROGRESS", 2, 0, 0)
    assert put["LastModified"].endswith("+0000") and "T" in put["LastModified"]
    config = ready(lab, lam, name, version)
    assert (config["AllocatedProvisionedConcurrentExecutions"], config["AvailableProvisionedConcurrentExecutions"],
            config["LastModified"]) == (2, 2, put["LastModified"])
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert [(c["FunctionArn"], c["Status"], c["RequestedProvisionedConcurrentExecutions"]) for c in listed] == \
        [(f"{arn}:{version}", "READY", 2)]
    assert len(provisioned_envs(lab, name)) == 2


def test_module_code_runs_ahead_and_invokes_use_the_provisioned_environments(lab, lam, make_function):
    name = make_function(REPORTS_INIT_TYPE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    ready(lab, lam, name, version)
    logs = boto3.client("logs")
    before = [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
    assert before[0].startswith("INIT_START ") and "module init as provisioned-concurrency" in before[1]
    assert not any(m.startswith("START ") for m in before)  # init ran before any request
    response, body, log = invoke(lam, name, Qualifier=version)
    assert body == "provisioned-concurrency"
    assert "INIT_START" not in log and "Init Duration" not in log and "\tDuration: " in log
    latest_response, latest_body, latest_log = invoke(lam, name)
    assert latest_body == "on-demand" and "Init Duration" in latest_log
    assert [h.result.cold for h in lab.invocations if h.function_name == name] == [False, True]


def test_calls_above_the_provisioned_amount_spill_over_to_on_demand(lab, lam, make_function, tmp_path):
    name = make_function(REPORTS_INIT_TYPE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    ready(lab, lam, name, version)
    started, release = tmp_path / "started", tmp_path / "release"
    first = {}
    holder = threading.Thread(target=lambda: first.update(
        zip(("response", "body", "log"), invoke(lam, name, {"started": str(started), "release": str(release)},
                                                Qualifier=version))))
    holder.start()
    deadline = time.monotonic() + DEADLINE_S
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.exists()
    try:
        _, spilled, spilled_log = invoke(lam, name, Qualifier=version)  # the only provisioned one is busy
    finally:
        release.touch()
        holder.join(DEADLINE_S)
    assert first["body"] == "provisioned-concurrency" and "Init Duration" not in first["log"]
    assert spilled == "on-demand" and "Init Duration" in spilled_log
    _, again, again_log = invoke(lam, name, Qualifier=version)  # provisioned environments serve first
    assert again == "provisioned-concurrency" and "Init Duration" not in again_log
    assert metric_sum(lab, "ProvisionedConcurrencyInvocations", name) == 2
    assert metric_sum(lab, "ProvisionedConcurrencySpilloverInvocations", name) == 1


def metric_sum(lab, metric, name):
    """The metric's sum over the lab's last hour, FunctionName dimension."""
    end = datetime.fromtimestamp(lab.clock.now() + 60, timezone.utc)
    points = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=end - timedelta(hours=1), EndTime=end, Period=3600, Statistics=["Sum"])["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_an_alias_with_provisioned_concurrency_uses_it(lab, lam, make_function):
    name = make_function(REPORTS_INIT_TYPE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    ready(lab, lam, name, "live")
    _, body, log = invoke(lam, name, Qualifier="live")
    assert body == "provisioned-concurrency" and "Init Duration" not in log
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[-1] for c in listed] == ["live"]
    code, message, status = error_of(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier=version,
                                     ProvisionedConcurrentExecutions=1)
    assert (code, message, status) == ("ResourceConflictException",
                                       "Version is pointed by a Provisioned Concurrency alias", 409)


def test_delete_retires_the_environments(lab, lam, make_function):
    name = make_function(REPORTS_INIT_TYPE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=2)
    ready(lab, lam, name, version)
    assert len(provisioned_envs(lab, name)) == 2
    deleted = lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert provisioned_envs(lab, name) == []
    code, message, status = error_of(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier=version)
    assert (code, message, status) == ("ProvisionedConcurrencyConfigNotFoundException",
                                       "No Provisioned Concurrency Config found for this function", 404)
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)  # idempotent, as on AWS
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
    _, body, log = invoke(lam, name, Qualifier=version)
    assert body == "on-demand" and "Init Duration" in log


def test_unpublished_versions_and_missing_targets_are_refused_as_aws_does(lam, make_function):
    name = make_function(REPORTS_INIT_TYPE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="dev", FunctionVersion="$LATEST")
    unpublished = ("InvalidParameterValueException",
                   "Provisioned Concurrency Configs cannot be applied to unpublished function versions.", 400)
    for qualifier in ("$LATEST", "dev"):
        assert error_of(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier=qualifier,
                        ProvisionedConcurrentExecutions=1) == unpublished
    assert error_of(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="$LATEST") == \
        ("InvalidParameterValueException", "The function resource provided must be an alias or a published version.",
         400)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert error_of(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier="9",
                    ProvisionedConcurrentExecutions=1) == \
        ("ResourceNotFoundException", f"Function not found: {arn}:9", 404)
    assert error_of(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="nope") == \
        ("ResourceNotFoundException", f"Cannot find alias arn: {arn}:nope", 404)
    assert error_of(lam.list_provisioned_concurrency_configs, FunctionName=name + "-missing")[0] == \
        "ResourceNotFoundException"
    assert error_of(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier=version)[0] == \
        "ProvisionedConcurrencyConfigNotFoundException"


def test_weighted_aliases_and_double_provisioning_are_refused(lam, make_function):
    name = make_function(REPORTS_INIT_TYPE)
    one = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_configuration(FunctionName=name, Description="two")
    two = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion=one,
                     RoutingConfig={"AdditionalVersionWeights": {two: 0.1}})
    assert error_of(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier="canary",
                    ProvisionedConcurrentExecutions=1) == \
        ("InvalidParameterValueException", "Alias with weights can not be used with Provisioned Concurrency", 400)
    assert error_of(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="canary")[0] == \
        "ProvisionedConcurrencyConfigNotFoundException"  # reading one is no put
    lam.create_alias(FunctionName=name, Name="stable", FunctionVersion=two)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=two, ProvisionedConcurrentExecutions=1)
    assert error_of(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier="stable",
                    ProvisionedConcurrentExecutions=1) == \
        ("ResourceConflictException",
         "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version", 409)
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=two)


def test_provisioned_concurrency_counts_against_reserved_and_unreserved_concurrency(lab, lam, make_function):
    name = make_function(REPORTS_INIT_TYPE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    code, message, _ = error_of(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier=version,
                                ProvisionedConcurrentExecutions=2)
    assert code == "InvalidParameterValueException" and message.startswith(
        "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
    assert "put_function_concurrency" in message  # and the fix
    lam.delete_function_concurrency(FunctionName=name)
    # the account has 1,000; 100 always stay unreserved; another function reserves 850 of the 900 left
    other = make_function(REPORTS_INIT_TYPE)
    lam.put_function_concurrency(FunctionName=other, ReservedConcurrentExecutions=850)
    try:
        assert error_of(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier=version,
                        ProvisionedConcurrentExecutions=51) == \
            ("InvalidParameterValueException", "Specified ConcurrentExecutions for function decreases account's "
             "UnreservedConcurrentExecution below its minimum value of [100].", 400)
    finally:
        lam.delete_function_concurrency(FunctionName=other)


def test_an_init_that_fails_leaves_the_config_failed(lab, lam, make_function):
    name = make_function("raise RuntimeError('no database')\ndef handler(event, context):\n    return 1\n")
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    lab.wait_for_async()
    config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert (config["Status"], config["StatusReason"], config["AvailableProvisionedConcurrentExecutions"]) == \
        ("FAILED", "FUNCTION_ERROR_INIT_FAILURE", 0)
    assert provisioned_envs(lab, name) == []


def test_a_provisioned_environment_that_dies_is_replaced_and_put_again_resizes(lab, lam, make_function):
    name = make_function("import os\ndef handler(event, context):\n    if event.get('exit'):\n        os._exit(3)\n"
                         "    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n")
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    ready(lab, lam, name, version)
    first = provisioned_envs(lab, name)
    response, body, _ = invoke(lam, name, {"exit": True}, Qualifier=version)
    assert response["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ExitError"
    deadline = time.monotonic() + DEADLINE_S
    while not (envs := provisioned_envs(lab, name)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(envs) == 1 and envs[0] not in first
    assert invoke(lam, name, Qualifier=version)[1] == "provisioned-concurrency"
    grown = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                                   ProvisionedConcurrentExecutions=3)
    assert (grown["Status"], grown["RequestedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 3)
    assert ready(lab, lam, name, version)["AvailableProvisionedConcurrentExecutions"] == 3
    assert len(provisioned_envs(lab, name)) == 3
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    assert ready(lab, lam, name, version)["AllocatedProvisionedConcurrentExecutions"] == 1
    assert len(provisioned_envs(lab, name)) == 1


def test_deleting_the_function_retires_its_provisioned_environments(lab, lam, make_function):
    name = make_function(REPORTS_INIT_TYPE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    ready(lab, lam, name, version)
    lam.delete_function(FunctionName=name)
    assert lab.environments(name) == []
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(REPORTS_INIT_TYPE)}, Publish=True)
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
    assert invoke(lam, name, Qualifier="1")[1] == "on-demand"


def test_json_logs_show_a_provisioned_init_start(lab, lam, make_function):
    import json

    name = make_function(REPORTS_INIT_TYPE, LoggingConfig={"LogFormat": "JSON"})
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    ready(lab, lam, name, version)
    events = boto3.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    first = json.loads(events[0]["message"])
    assert first["type"] == "platform.initStart"
    assert first["record"]["initializationType"] == "provisioned-concurrency"
    assert first["record"]["functionVersion"] == version
    assert any("module init as provisioned-concurrency" in e["message"] for e in events[1:])
