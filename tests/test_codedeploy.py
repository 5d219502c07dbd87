"""CodeDeploy deployments of Lambda aliases with plain boto3, on the lab clock: shifts, hooks, alarms, rollback."""

import contextlib
import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab
from lambda_lab import plots
from lambda_lab.service import _deployments

VERSION = "def handler(event, context):\n    return {'version': %d}\n"
FAILING = "def handler(event, context):\n    raise RuntimeError('version 2 is broken')\n"
# a hook that checks the event CodeDeploy sends and reports Succeeded only when it has the right shape
HOOK = """import boto3

def handler(event, context):
    codedeploy = boto3.client("codedeploy")
    shape_ok = sorted(event) == ["DeploymentId", "LifecycleEventHookExecutionId"]
    running = codedeploy.get_deployment(deploymentId=event["DeploymentId"])["deploymentInfo"]["status"]
    status = "%s" if shape_ok and running == "InProgress" else "Failed"
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"], lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status)
"""
SILENT_HOOK = "def handler(event, context):\n    return 'never reports'\n"
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]


@pytest.fixture(scope="module")
def cd(lab):
    return boto3.client("codedeploy")


@pytest.fixture(scope="module")
def app(cd):
    cd.create_application(applicationName="shop", computePlatform="Lambda")
    return "shop"


@contextlib.contextmanager
def stopped_clock(lab):
    """Lab time that moves only when the test advances it (or lab.wait_for_async() fast-forwards it)."""
    speed, lab.clock.speed = lab.clock.speed, 1e-6
    try:
        yield
    finally:
        lab.clock.speed = speed


@pytest.fixture
def two_versions(lam, make_function):
    """A function with versions 1 and 2 and an alias `live` on version 1; returns its name."""

    def make(second=None):
        name = make_function(VERSION % 1)
        lam.publish_version(FunctionName=name)
        lam.update_function_code(FunctionName=name, ZipFile=lambda_lab.zip_source(second or VERSION % 2))
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        return name

    return make


_groups = iter(range(10_000))


def group(cd, app, config, alarms=(), rollback=True):
    name = f"g{next(_groups)}"
    cd.create_deployment_group(
        applicationName=app, deploymentGroupName=name, deploymentConfigName=config,
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        alarmConfiguration={"enabled": bool(alarms), "alarms": [{"name": a} for a in alarms]},
        autoRollbackConfiguration={"enabled": rollback, "events": ROLLBACK_EVENTS})
    return name


def deploy(cd, app, group_name, function, hooks=None, yaml_spec=True):
    properties = {"Name": function, "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}
    if yaml_spec:
        content = ("version: 0.0\nResources:\n  - web:\n      Type: AWS::Lambda::Function\n      Properties:\n"
                   + "".join(f"        {k}: \"{v}\"\n" for k, v in properties.items()))
        if hooks:
            content += "Hooks:\n" + "".join(f"  - {k}: {v}\n" for k, v in hooks.items())
    else:
        content = json.dumps({"version": 0.0, "Resources": [{"web": {"Type": "AWS::Lambda::Function",
                                                                       "Properties": properties}}],
                              "Hooks": [{k: v} for k, v in (hooks or {}).items()]})
    return cd.create_deployment(applicationName=app, deploymentGroupName=group_name, revision={
        "revisionType": "AppSpecContent", "appSpecContent": {"content": content}})["deploymentId"]


def info(cd, deployment_id):
    return cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]


def routing(lam, function):
    alias = lam.get_alias(FunctionName=function, Name="live")
    return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def poll(what, wanted, deadline_s=30.0):
    """Read `what()` until it equals `wanted` (generous deadline: the machine may be busy); the last value."""
    deadline = time.monotonic() + deadline_s
    value = what()
    while value != wanted and time.monotonic() < deadline:
        time.sleep(0.02)
        value = what()
    return value


def test_canary_shifts_ten_percent_then_all_after_the_interval(lab, lam, cd, app, two_versions):
    function = two_versions()
    with stopped_clock(lab):
        deployment_id = deploy(cd, app, group(cd, app, "CodeDeployDefault.LambdaCanary10Percent5Minutes"), function)
        assert deployment_id.startswith("d-")
        assert poll(lambda: routing(lam, function), ("1", {"2": 0.1})) == ("1", {"2": 0.1})
        assert info(cd, deployment_id)["status"] == "InProgress"
        lab.clock.advance(240)  # four minutes in: still the canary
        time.sleep(0.2)
        assert routing(lam, function) == ("1", {"2": 0.1})
        lab.wait_for_async()
    assert routing(lam, function) == ("2", {})
    done = info(cd, deployment_id)
    assert done["status"] == "Succeeded" and done["deploymentConfigName"].endswith("Canary10Percent5Minutes")
    assert (done["completeTime"] - done["startTime"]).total_seconds() == pytest.approx(300, abs=1)
    assert done["deploymentOverview"]["Succeeded"] == 1 and "errorInformation" not in done
    assert lam.invoke(FunctionName=function, Qualifier="live")["ExecutedVersion"] == "2"


def test_linear_moves_ten_percent_every_minute(lab, lam, cd, app, two_versions):
    function = two_versions()
    with stopped_clock(lab):
        deploy(cd, app, group(cd, app, "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"), function)
        seen = []
        for step in range(1, 10):
            wanted = ("1", {"2": step / 10})
            seen.append(poll(lambda: routing(lam, function), wanted))
            lab.clock.advance(60)
        assert seen == [("1", {"2": step / 10}) for step in range(1, 10)]
        assert poll(lambda: routing(lam, function), ("2", {})) == ("2", {})


def test_all_at_once_and_its_lifecycle_events(lab, lam, cd, app, two_versions):
    function = two_versions()
    deployment_id = deploy(cd, app, group(cd, app, "CodeDeployDefault.LambdaAllAtOnce"), function, yaml_spec=False)
    lab.wait_for_async()
    assert routing(lam, function) == ("2", {})
    assert info(cd, deployment_id)["status"] == "Succeeded"
    target_id = cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"][0]
    target = cd.get_deployment_target(deploymentId=deployment_id, targetId=target_id)["deploymentTarget"]
    events = {e["lifecycleEventName"]: e["status"] for e in target["lambdaTarget"]["lifecycleEvents"]}
    assert events == {"BeforeAllowTraffic": "Skipped", "AllowTraffic": "Succeeded", "AfterAllowTraffic": "Skipped"}
    assert target["lambdaTarget"]["lambdaFunctionInfo"] == {
        "functionName": function, "functionAlias": "live", "currentVersion": "1", "targetVersion": "2",
        "targetVersionWeight": 1.0}
    assert deployment_id in cd.list_deployments(applicationName=app, deploymentGroupName=info(
        cd, deployment_id)["deploymentGroupName"], includeOnlyStatuses=["Succeeded"])["deployments"]


def test_hooks_get_the_event_codedeploy_sends_and_succeed(lab, lam, cd, app, two_versions, make_function):
    function = two_versions()
    before, after = make_function(HOOK % "Succeeded"), make_function(HOOK % "Succeeded")
    deployment_id = deploy(cd, app, group(cd, app, "CodeDeployDefault.LambdaAllAtOnce"), function,
                           hooks={"BeforeAllowTraffic": before, "AfterAllowTraffic": after})
    lab.wait_for_async()
    assert info(cd, deployment_id)["status"] == "Succeeded", info(cd, deployment_id).get("errorInformation")
    target = cd.get_deployment_target(deploymentId=deployment_id, targetId=f"{function}:live")["deploymentTarget"]
    assert [e["status"] for e in target["lambdaTarget"]["lifecycleEvents"]] == ["Succeeded"] * 3
    assert routing(lam, function) == ("2", {})
    hook_runs = [i for i in lab.invocations if i.function_name in (before, after)]
    assert len(hook_runs) == 2 and all(not i.failed for i in hook_runs)


def test_a_failing_pre_traffic_hook_rolls_back(lab, lam, cd, app, two_versions, make_function):
    function = two_versions()
    hook = make_function(HOOK % "Failed")
    group_name = group(cd, app, "CodeDeployDefault.LambdaCanary10Percent5Minutes")
    deployment_id = deploy(cd, app, group_name, function, hooks={"BeforeAllowTraffic": hook})
    lab.wait_for_async()
    failed = info(cd, deployment_id)
    assert failed["status"] == "Failed"
    assert failed["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert hook in failed["errorInformation"]["message"]
    assert routing(lam, function) == ("1", {})  # no traffic ever reached version 2
    rollback_id = failed["rollbackInfo"]["rollbackDeploymentId"]
    rollback = info(cd, rollback_id)
    assert rollback["creator"] == "codeDeployRollback" and rollback["status"] == "Succeeded"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment_id
    listed = cd.list_deployments(applicationName=app, deploymentGroupName=group_name)["deployments"]
    assert set(listed) == {deployment_id, rollback_id}
    both = cd.batch_get_deployments(deploymentIds=[deployment_id, rollback_id])["deploymentsInfo"]
    assert {d["status"] for d in both} == {"Failed", "Succeeded"}


def test_a_hook_that_never_reports_fails_after_an_hour_of_lab_time(lab, lam, cd, app, two_versions, make_function):
    function = two_versions()
    hook = make_function(SILENT_HOOK)
    deployment_id = deploy(cd, app, group(cd, app, "CodeDeployDefault.LambdaAllAtOnce"), function,
                           hooks={"BeforeAllowTraffic": hook})
    lab.wait_for_async()
    failed = info(cd, deployment_id)
    assert failed["status"] == "Failed" and "60 minutes" in failed["errorInformation"]["message"]
    assert (failed["completeTime"] - failed["startTime"]).total_seconds() == pytest.approx(3600, abs=1)
    assert routing(lam, function) == ("1", {})


def test_an_alarm_in_alarm_stops_and_rolls_back_the_canary(lab, lam, cd, app, two_versions):
    function = two_versions(second=FAILING)
    cw = boto3.client("cloudwatch")
    cw.put_metric_alarm(AlarmName=f"{function}-errors", Namespace="AWS/Lambda", MetricName="Errors",
                        Dimensions=[{"Name": "FunctionName", "Value": function}], Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold")
    group_name = group(cd, app, "CodeDeployDefault.LambdaCanary10Percent30Minutes", alarms=[f"{function}-errors"])
    with stopped_clock(lab):
        deployment_id = deploy(cd, app, group_name, function)
        assert poll(lambda: routing(lam, function), ("1", {"2": 0.1})) == ("1", {"2": 0.1})
        for _ in range(3):  # the canary's version fails: CloudWatch counts Errors
            lam.invoke(FunctionName=function, Qualifier="2")
        lab.wait_for_async()
    stopped = info(cd, deployment_id)
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert f"{function}-errors" in stopped["errorInformation"]["message"]
    assert (stopped["completeTime"] - stopped["startTime"]).total_seconds() < 30 * 60  # long before the shift
    assert "rollbackDeploymentId" in stopped["rollbackInfo"]
    assert routing(lam, function) == ("1", {})
    groups = cd.get_deployment_group(applicationName=app, deploymentGroupName=group_name)["deploymentGroupInfo"]
    assert groups["alarmConfiguration"]["alarms"] == [{"name": f"{function}-errors"}]
    ax = plots.deployment(deployment_id).axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines["version 2"] == [0, 10, 0, 0] and lines["version 1"] == [100, 90, 100, 100]  # canary, rollback
    spans = [p for p in ax.patches if p.get_label() == f"alarm {function}-errors in ALARM"]
    assert len(spans) == 1 and spans[0].get_width() > 0  # from the alarm's state change until the stop


def test_a_custom_deployment_config(lab, lam, cd, app, two_versions):
    cd.create_deployment_config(deploymentConfigName="Canary25Percent2Minutes", computePlatform="Lambda",
                                trafficRoutingConfig={"type": "TimeBasedCanary", "timeBasedCanary": {
                                    "canaryPercentage": 25, "canaryInterval": 2}})
    config = cd.get_deployment_config(deploymentConfigName="Canary25Percent2Minutes")["deploymentConfigInfo"]
    assert config["computePlatform"] == "Lambda"
    assert config["trafficRoutingConfig"]["timeBasedCanary"] == {"canaryPercentage": 25, "canaryInterval": 2}
    assert "Canary25Percent2Minutes" in cd.list_deployment_configs()["deploymentConfigsList"]
    with pytest.raises(ClientError) as bad:
        cd.create_deployment_config(deploymentConfigName="Broken", computePlatform="Lambda",
                                    trafficRoutingConfig={"type": "TimeBasedLinear", "timeBasedLinear": {
                                        "linearPercentage": 0, "linearInterval": 1}})
    assert bad.value.response["Error"]["Code"] == "InvalidTrafficRoutingConfigurationException"
    function = two_versions()
    with stopped_clock(lab):
        deployment_id = deploy(cd, app, group(cd, app, "Canary25Percent2Minutes"), function)
        assert poll(lambda: routing(lam, function), ("1", {"2": 0.25})) == ("1", {"2": 0.25})
        lab.wait_for_async()
    done = info(cd, deployment_id)
    assert done["status"] == "Succeeded" and routing(lam, function) == ("2", {})
    assert (done["completeTime"] - done["startTime"]).total_seconds() == pytest.approx(120, abs=1)


def test_predefined_lambda_configs_as_aws_names_them(cd, lab):
    names = cd.list_deployment_configs()["deploymentConfigsList"]
    lambda_names = sorted(n for n in names if n.startswith("CodeDeployDefault.Lambda"))
    assert lambda_names == sorted(
        ["CodeDeployDefault.LambdaAllAtOnce"]
        + [f"CodeDeployDefault.LambdaCanary10Percent{m}Minutes" for m in (5, 10, 15, 30)]
        + ["CodeDeployDefault.LambdaLinear10PercentEvery1Minute"]
        + [f"CodeDeployDefault.LambdaLinear10PercentEvery{m}Minutes" for m in (2, 3, 10)])
    linear = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.LambdaLinear10PercentEvery3Minutes")
    assert linear["deploymentConfigInfo"]["trafficRoutingConfig"] == {
        "type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 3}}
    with pytest.raises(ClientError) as missing:
        cd.get_deployment_config(deploymentConfigName="NoSuchConfig")
    assert missing.value.response["Error"]["Code"] == "DeploymentConfigDoesNotExistException"


def test_stop_deployment_rolls_back_when_asked(lab, lam, cd, app, two_versions):
    function = two_versions()
    with stopped_clock(lab):
        deployment_id = deploy(cd, app, group(cd, app, "CodeDeployDefault.LambdaCanary10Percent15Minutes"), function)
        assert poll(lambda: routing(lam, function), ("1", {"2": 0.1})) == ("1", {"2": 0.1})
        with pytest.raises(ClientError) as busy:  # one deployment at a time per deployment group
            deploy(cd, app, info(cd, deployment_id)["deploymentGroupName"], function)
        assert busy.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
        answer = cd.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
        assert answer["status"] == "Pending"
        stopped = info(cd, deployment_id)
        assert stopped["status"] == "Stopped" and stopped["errorInformation"]["code"] == "MANUAL_STOP"
        assert routing(lam, function) == ("1", {})
        with pytest.raises(ClientError) as again:
            cd.stop_deployment(deploymentId=deployment_id)
        assert again.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"
        with pytest.raises(ClientError) as late:
            cd.put_lifecycle_event_hook_execution_status(deploymentId=deployment_id,
                                                         lifecycleEventHookExecutionId="nope", status="Succeeded")
        assert late.value.response["Error"]["Code"] == "InvalidLifecycleEventHookExecutionIdException"


def test_begin_alias_deployment_interface_and_chart(lab, lam, cd, app, two_versions):
    """The interface CloudFormation's alias update uses, and the chart of what happened."""
    function = two_versions()
    group_name = group(cd, app, "CodeDeployDefault.LambdaCanary10Percent10Minutes")
    with stopped_clock(lab):
        deployment_id = _deployments.begin_alias_deployment(lab.region, app, group_name, function, "live", "1", "2")
        assert poll(lambda: _deployments.deployment_status(lab.region, deployment_id), "InProgress") == "InProgress"
        assert poll(lambda: routing(lam, function), ("1", {"2": 0.1})) == ("1", {"2": 0.1})
        lab.wait_for_async()
    assert _deployments.deployment_status(lab.region, deployment_id) == "Succeeded"
    assert deployment_id in cd.list_deployments()["deployments"]
    appspec = json.loads(info(cd, deployment_id)["revision"]["appSpecContent"]["content"])
    assert appspec["Resources"][0][function]["Properties"] == {
        "Name": function, "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}
    fig = plots.deployment(deployment_id)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["version 2"].get_ydata()) == [0, 10, 100, 100]
    assert list(lines["version 1"].get_ydata()) == [100, 90, 0, 0]
    assert list(lines["version 2"].get_xdata())[1:3] == [pytest.approx(0, abs=0.05), pytest.approx(10, abs=0.05)]
    assert "Succeeded" in ax.get_title()


def test_a_clock_advanced_while_a_step_is_applied_does_not_delay_the_next_step():
    """The learner (or wait_for_async) may advance the clock while a step runs: the next one stays on time."""
    from lambda_lab.service._clock import LabClock

    clock = LabClock(speed=1e-6)
    shifts = []

    def set_alias(account, region, function, alias, version, weights):
        shifts.append((version, weights))
        if len(shifts) == 1:
            clock.advance(60)  # one minute passes while the first 10 % is being applied

    ports = _deployments.Ports(set_alias, lambda *a: None, lambda *a: {}, lambda *a: {})
    engine = _deployments.Deployments(clock, ports, seed=1)
    try:
        engine.start("123456789012", "us-east-1", "app", "group", "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
                     "fn", "live", "1", "2")
        assert poll(lambda: shifts[:2], [("1", {"2": 0.1}), ("1", {"2": 0.2})], 10.0) == [
            ("1", {"2": 0.1}), ("1", {"2": 0.2})]
    finally:
        clock.stop()


def test_deleting_the_alias_mid_deployment_fails_it_instead_of_hanging(lab, lam, cd, app, two_versions):
    function = two_versions()
    with stopped_clock(lab):
        deployment_id = deploy(cd, app, group(cd, app, "CodeDeployDefault.LambdaCanary10Percent5Minutes"), function)
        assert poll(lambda: routing(lam, function), ("1", {"2": 0.1})) == ("1", {"2": 0.1})
        lam.delete_alias(FunctionName=function, Name="live")
        lab.wait_for_async(timeout=30)
    failed = info(cd, deployment_id)
    assert failed["status"] == "Failed" and failed["errorInformation"]["code"] == "INVALID_LAMBDA_CONFIGURATION"
    assert "live" in failed["errorInformation"]["message"]


def test_update_deployment_group_changes_the_next_deployments_config_and_name(lab, lam, cd, app, two_versions):
    name = group(cd, app, "CodeDeployDefault.LambdaCanary10Percent30Minutes")
    with pytest.raises(ClientError) as refused:
        cd.update_deployment_group(applicationName=app, currentDeploymentGroupName=name,
                                   deploymentConfigName="CodeDeployDefault.OneAtATime")
    assert refused.value.response["Error"]["Code"] == "InvalidDeploymentConfigNameException"
    assert cd.update_deployment_group(applicationName=app, currentDeploymentGroupName=name,
                                      newDeploymentGroupName=name + "-renamed",
                                      deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce")["hooksNotCleanedUp"] == []
    got = cd.get_deployment_group(applicationName=app, deploymentGroupName=name + "-renamed")["deploymentGroupInfo"]
    assert got["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
    with pytest.raises(ClientError) as gone:
        cd.get_deployment_group(applicationName=app, deploymentGroupName=name)
    assert gone.value.response["Error"]["Code"] == "DeploymentGroupDoesNotExistException"
    function = two_versions()
    deployment = deploy(cd, app, name + "-renamed", function)
    lab.wait_for_async()
    assert info(cd, deployment)["status"] == "Succeeded" and routing(lam, function) == ("2", {})


def test_deleting_a_group_and_an_application(cd, lab):
    """Stacks delete what they made: moto has neither action; the lab answers as CodeDeploy does."""
    cd.create_application(applicationName="short-lived", computePlatform="Lambda")
    name = group(cd, "short-lived", "CodeDeployDefault.LambdaAllAtOnce")
    assert cd.delete_deployment_group(applicationName="short-lived", deploymentGroupName=name)[
        "hooksNotCleanedUp"] == []
    assert cd.list_deployment_groups(applicationName="short-lived")["deploymentGroups"] == []
    with pytest.raises(cd.exceptions.DeploymentGroupDoesNotExistException):
        cd.delete_deployment_group(applicationName="short-lived", deploymentGroupName=name)
    group(cd, "short-lived", "CodeDeployDefault.LambdaAllAtOnce")
    cd.delete_application(applicationName="short-lived")
    assert "short-lived" not in cd.list_applications()["applications"]
    with pytest.raises(cd.exceptions.ApplicationDoesNotExistException):
        cd.delete_deployment_group(applicationName="short-lived", deploymentGroupName=name)
