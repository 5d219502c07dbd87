"""Checks for the exercises of notebook 13_deployment."""

import json

import boto3

from . import passed, require

__all__ = ["ex_13_hook_reports", "ex_13_release_rules"]

WANTED_CONFIG = "CodeDeployDefault.LambdaCanary10Percent10Minutes"  # exercise 13.2: 10 % for 10 min, then all


def _stack(cfn, name: str) -> dict:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except cfn.exceptions.ClientError:
        require(False, f"There is no stack '{name}': run the exercise's setup cell first.")


def _resources(cfn, name: str) -> dict:
    """Logical id -> physical id of the stack's resources."""
    return {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.describe_stack_resources(StackName=name)["StackResources"]}


def _deployments(codedeploy, application: str, group: str) -> list[dict]:
    """What CodeDeploy knows of each deployment the stack started in the group (not rollbacks), newest first."""
    ids = codedeploy.list_deployments(applicationName=application, deploymentGroupName=group)["deployments"]
    infos = codedeploy.batch_get_deployments(deploymentIds=ids)["deploymentsInfo"] if ids else []
    return sorted((d for d in infos if d.get("creator") != "codeDeployRollback"), key=lambda d: d["createTime"],
                  reverse=True)


def ex_13_hook_reports(stack_name: str = "quotes", function_name: str = "quotes", release: str = "2") -> None:
    """Exercise 13.1: release `release` reached the alias through a canary whose pre-traffic hook passed."""
    cfn, lam, codedeploy = boto3.client("cloudformation"), boto3.client("lambda"), boto3.client("codedeploy")
    status = _stack(cfn, stack_name)["StackStatus"]
    require(not status.endswith("IN_PROGRESS"), f"The stack '{stack_name}' is still {status}: wait until the update "
                                                "is over (in the lab, lab.wait_for_async() fast-forwards the canary), "
                                                "then run the check again.")
    answer = json.loads(lam.invoke(FunctionName=function_name, Qualifier="live")["Payload"].read())
    made = _resources(cfn, stack_name)
    application = made.get("ServerlessDeploymentApplication")
    group = next((v for k, v in made.items() if k.endswith("DeploymentGroup")), None)
    require(group is not None, f"'{function_name}' has no CodeDeploy deployment group any more: the template lost its "
                               "DeploymentPreference, so releases go out all at once, untested (requirement 2).")
    latest = (_deployments(codedeploy, application, group) or [None])[0]
    if answer.get("release") != release:
        if status == "UPDATE_ROLLBACK_COMPLETE" and latest and latest["status"] != "Succeeded":
            error = latest.get("errorInformation") or {}
            require(False, f"'{function_name}:live' still runs release {answer.get('release')}: the last update of "
                           f"'{stack_name}' rolled back because its CodeDeploy deployment ended {latest['status']} "
                           f"({error.get('code')}). get_deployment's errorInformation says why; read the hook's log "
                           "group and compare what the hook does with what CodeDeploy waits for (notebook 13, 'The "
                           "pre-traffic hook'). Then deploy release " + release + " again with update_stack.")
        require(False, f"'{function_name}:live' runs release {answer.get('release')}, not release {release}. Deploy "
                       f"release {release} with update_stack.")
    require(latest is not None and latest["status"] == "Succeeded",
            f"Release {release} is live, but not through a successful CodeDeploy deployment of '{stack_name}': "
            "did the alias move by hand? Deploy it with update_stack, as the team does.")
    target = codedeploy.get_deployment_target(deploymentId=latest["deploymentId"],
                                              targetId=f"{function_name}:live")["deploymentTarget"]
    hooks = {e["lifecycleEventName"]: e["status"] for e in target["lambdaTarget"]["lifecycleEvents"]}
    require(hooks.get("BeforeAllowTraffic") == "Succeeded",
            f"Release {release} went out, but its pre-traffic check was {hooks.get('BeforeAllowTraffic', 'missing')}: "
            "the team requires that a release is tested before customers reach it (requirement 2). Keep the hook in "
            "the template and make it work (notebook 13, 'The pre-traffic hook').")
    require(latest["deploymentConfigName"].endswith("Canary10Percent5Minutes"),
            f"The release went out with {latest['deploymentConfigName']}; keep the team's canary "
            "(Canary10Percent5Minutes, requirement 3).")
    passed(f"release {release} reached '{function_name}:live' through a canary after its pre-traffic hook reported "
           "Succeeded; the stack is " + status + ".")


def _alarms_on(cloudwatch, names: list[str], function_name: str) -> list[str]:
    """The alarms among `names` that exist and count Errors of `function_name` (any dimension set naming it)."""
    found = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] if names else []
    return [a["AlarmName"] for a in found if a.get("MetricName") == "Errors" and a.get("Namespace") == "AWS/Lambda"
            and {"Name": "FunctionName", "Value": function_name} in a.get("Dimensions", [])]


def ex_13_release_rules(stack_name: str = "payments", function_name: str = "pay") -> None:
    """Exercise 13.2: the deployment preference and alarm meet the payment team's four rules."""
    cfn, codedeploy = boto3.client("cloudformation"), boto3.client("codedeploy")
    cloudwatch = boto3.client("cloudwatch")
    stack = _stack(cfn, stack_name)
    require(stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"),
            f"The stack '{stack_name}' is {stack['StackStatus']}: read its events (describe_stack_events) for the "
            "first failure, fix the template, and deploy again.")
    made = _resources(cfn, stack_name)
    group = next((v for k, v in made.items() if k.endswith("DeploymentGroup")), None)
    require(group is not None, f"'{function_name}' has no deployment preference yet, so a release would move every "
                               "caller at once (rules 1 and 3). Notebook 13, 'A canary with `DeploymentPreference`'.")
    info = codedeploy.get_deployment_group(applicationName=made["ServerlessDeploymentApplication"],
                                           deploymentGroupName=group)["deploymentGroupInfo"]
    config = info["deploymentConfigName"]
    short = config.removeprefix("CodeDeployDefault.Lambda")
    if config != WANTED_CONFIG:
        why = {"AllAtOnce": "every caller gets the release at once (rule 1)",
               "Canary10Percent5Minutes": "everyone gets the release after five minutes (rule 1 asks for ten of "
                                          "observation)",
               "Canary10Percent15Minutes": "nobody but the canary gets the release for fifteen minutes (rule 2)",
               "Canary10Percent30Minutes": "nobody but the canary gets the release for thirty minutes (rule 2)"}
        reason = why.get(short) or ("each step adds 10 %, so more than 10 % of requests reach the release before ten "
                                    "minutes have passed (rule 1), or the last step comes late (rule 2)"
                                    if short.startswith("Linear") else "it does not match rules 1 and 2")
        require(False, f"'{function_name}' deploys with {short}: {reason}. Compare the predefined types in notebook "
                       "13, 'A canary with `DeploymentPreference`'.")
    alarms = [a["name"] for a in info.get("alarmConfiguration", {}).get("alarms", [])]
    require(info.get("alarmConfiguration", {}).get("enabled") and alarms,
            f"Nothing stops a release of '{function_name}' that fails for customers: rule 3 asks for an automatic "
            "rollback. Which DeploymentPreference property does CodeDeploy watch during the shift? Notebook 13, 'A bad "
            "release rolls back'.")
    watching = _alarms_on(cloudwatch, alarms, function_name)
    require(watching, f"The deployment watches {', '.join(alarms)}, but no such alarm counts the Errors of "
                      f"'{function_name}' (AWS/Lambda, with its FunctionName among the dimensions). Create the alarm "
                      "with put_metric_alarm before the stack names it.")
    rollback = info.get("autoRollbackConfiguration", {})
    require(rollback.get("enabled") and "DEPLOYMENT_STOP_ON_ALARM" in rollback.get("events", []),
            "The deployment group does not roll back when an alarm stops a deployment (rule 3).")
    passed(f"'{function_name}' releases as {short}, watched by {', '.join(watching)}, and rolls back on alarm.")
