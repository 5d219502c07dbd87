"""Exercises 13.1 (every release rolls back: a hook that never reports) and 13.2 (a deployment preference for
stated release rules): the solution passes, a blank fails without the answer, plausible wrong answers fail with a
message that says what is wrong. The exercises' own setup cells build the stacks, as a learner runs them."""

import json
from pathlib import Path

import pytest

from lambda_lab import checks
from lambda_lab.checks import CheckFailed

ROOT = Path(__file__).parents[1]


def code_cells(name: str) -> list[dict]:
    return [c for c in json.loads((ROOT / "solutions" / name).read_text())["cells"] if c["cell_type"] == "code"]


def solution_lines(name: str) -> list[str]:
    """The code lines of a solution notebook's `solution` cells."""
    return [line.strip() for c in code_cells(name) if "solution" in c["metadata"].get("tags", [])
            for line in "".join(c["source"]).splitlines()[1:] if line.strip() and not line.strip().startswith("#")]


@pytest.fixture
def exercise(capsys):
    """Run a solution notebook's setup cell (its first code cell) and hand over its namespace; stop its lab after."""
    namespaces = []

    def setup(name: str) -> dict:
        namespace = {"__name__": "__main__"}
        exec(compile("".join(code_cells(name)[0]["source"]), name, "exec"), namespace)
        namespaces.append(namespace)
        capsys.readouterr()
        return namespace

    yield setup
    for namespace in namespaces:
        namespace["lab"].stop()


def run_solution(name: str, namespace: dict) -> None:
    for cell in code_cells(name)[1:]:
        if "solution" in cell["metadata"].get("tags", []):
            exec(compile("".join(cell["source"]), name, "exec"), namespace)


def failure(check, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as failed:
        check(*args, **kwargs)
    return str(failed.value)


# -- exercise 13.1 ------------------------------------------------------------------------------------------

SOL_1 = "13_deployment_sol_01.ipynb"


def test_hook_solution_passes(exercise, capsys):
    namespace = exercise(SOL_1)
    run_solution(SOL_1, namespace)
    capsys.readouterr()
    checks.ex_13_hook_reports("quotes", function_name="quotes", release="2")
    assert capsys.readouterr().out.startswith("Check passed: release 2 reached 'quotes:live' through a canary")


def test_hook_blank_fails_without_the_answer(exercise):
    exercise(SOL_1)
    message = failure(checks.ex_13_hook_reports, "quotes", function_name="quotes", release="2")
    assert message.startswith("'quotes:live' still runs release 1: the last update of 'quotes' rolled back")
    assert "HOOK_EXECUTION_FAILURE" in message and "The pre-traffic hook" in message
    for line in solution_lines(SOL_1):
        assert line not in message, line
    assert "put_lifecycle" not in message and "LifecycleEventHookExecutionId" not in message


def test_dropping_the_hook_or_moving_the_alias_by_hand_fails(exercise):
    namespace = exercise(SOL_1)
    cfn, lam = namespace["cfn"], namespace["lam"]
    # by hand: version 2 is still published (SAM retains versions), so the alias can be pointed at it
    lam.update_alias(FunctionName="quotes", Name="live", FunctionVersion="2")
    message = failure(checks.ex_13_hook_reports, "quotes", function_name="quotes", release="2")
    assert message.startswith("Release 2 is live, but not through a successful CodeDeploy deployment")
    lam.update_alias(FunctionName="quotes", Name="live", FunctionVersion="1")
    # plausible: the hook is what fails, so take it out of the deployment preference
    untested = namespace["template"]("2", namespace["HOOK_CODE"]).replace("        Hooks: {PreTraffic: !Ref Check}\n", "")
    cfn.update_stack(StackName="quotes", TemplateBody=untested, Parameters=namespace["release_parameters"]("2"),
                     Capabilities=namespace["CAPABILITIES"])
    assert namespace["settle"]("quotes") == "UPDATE_COMPLETE"
    message = failure(checks.ex_13_hook_reports, "quotes", function_name="quotes", release="2")
    assert message.startswith("Release 2 went out, but its pre-traffic check was Skipped")
    assert "requirement 2" in message


# -- exercise 13.2 ------------------------------------------------------------------------------------------

SOL_2 = "13_deployment_sol_02.ipynb"


def test_release_rules_solution_passes(exercise, capsys):
    namespace = exercise(SOL_2)
    run_solution(SOL_2, namespace)
    capsys.readouterr()
    checks.ex_13_release_rules("payments", function_name="pay")
    assert capsys.readouterr().out.startswith(
        "Check passed: 'pay' releases as Canary10Percent10Minutes, watched by pay-live-errors")


def test_release_rules_blank_fails_without_the_answer(exercise):
    exercise(SOL_2)
    message = failure(checks.ex_13_release_rules, "payments", function_name="pay")
    assert message.startswith("'pay' has no deployment preference yet")
    for line in solution_lines(SOL_2):
        assert line not in message, line
    assert "Canary10Percent10Minutes" not in message and "Alarms" not in message


def test_plausible_wrong_preferences_are_named(exercise):
    namespace = exercise(SOL_2)
    cfn, cloudwatch = namespace["cfn"], namespace["cloudwatch"]

    def deploy(preference: str) -> str:
        # the lab cannot change a deployed deployment group yet (UpdateDeploymentGroup): each try starts over
        assert namespace["start_over"]() == "CREATE_COMPLETE"
        cfn.update_stack(StackName="payments", TemplateBody=namespace["TEMPLATE"] % {"preference": preference},
                         Capabilities=namespace["CAPABILITIES"])
        assert namespace["settle"]("payments") == "UPDATE_COMPLETE"
        return failure(checks.ex_13_release_rules, "payments", function_name="pay")

    hook = "\n        Hooks: {PreTraffic: !Ref Check}"
    linear = deploy("      DeploymentPreference:\n        Type: Linear10PercentEvery1Minute" + hook)
    assert linear.startswith("'pay' deploys with Linear10PercentEvery1Minute: each step adds 10 %")
    five = deploy("      DeploymentPreference:\n        Type: Canary10Percent5Minutes" + hook)
    assert "everyone gets the release after five minutes (rule 1" in five
    no_alarm = deploy("      DeploymentPreference:\n        Type: Canary10Percent10Minutes" + hook)
    assert no_alarm.startswith("Nothing stops a release of 'pay' that fails for customers")
    missing = deploy("      DeploymentPreference:\n        Type: Canary10Percent10Minutes"
                     "\n        Alarms: [pay-errors]" + hook)
    assert missing.startswith("The deployment watches pay-errors, but no such alarm counts the Errors of 'pay'")
    # an alarm on another function's errors does not watch this one
    cloudwatch.put_metric_alarm(AlarmName="pay-errors", Namespace="AWS/Lambda", MetricName="Errors",
                                Dimensions=[{"Name": "FunctionName", "Value": "CodeDeployHook_pay_check"}],
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanOrEqualToThreshold")
    assert "no such alarm counts the Errors of 'pay'" in failure(checks.ex_13_release_rules, "payments",
                                                                 function_name="pay")
