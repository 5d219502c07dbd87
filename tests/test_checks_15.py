"""Exercises 15.1 (provisioned concurrency left behind on an old version) and 15.2 (how much provisioned
concurrency, and for whom): the solution passes, a blank fails without the answer, plausible wrong answers fail
with a message that says what is wrong."""

import json
from pathlib import Path

import boto3
import pytest

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed

ROOT = Path(__file__).parents[1]
CHECKOUT = """
import os
import time
time.sleep(0.2)
RELEASE = "{release}"

def handler(event, context):
    print("initialised as", os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "- release", RELEASE)
    return {{"paid": True}}
"""


def solution_lines(name: str) -> list[str]:
    """The code lines of a solution notebook's `solution` cells."""
    cells = json.loads((ROOT / "solutions" / name).read_text())["cells"]
    return [line.strip() for c in cells if c["cell_type"] == "code" and "solution" in c["metadata"].get("tags", [])
            for line in "".join(c["source"]).splitlines()[1:] if line.strip() and not line.strip().startswith("#")]


@pytest.fixture
def released():
    """The exercise's setup: 3 provisioned on version 1, then `live` moved to version 2."""
    with lambda_lab.Lab(seed=151, quiet=True) as lab:
        lam = boto3.client("lambda")
        lam.create_function(FunctionName="checkout", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Code={"ZipFile": lambda_lab.zip_source(CHECKOUT.format(release="1"))}, Publish=True)
        lam.create_alias(FunctionName="checkout", Name="live", FunctionVersion="1")
        lam.put_provisioned_concurrency_config(FunctionName="checkout", Qualifier="1",
                                               ProvisionedConcurrentExecutions=3)
        lab.wait_for_async(progress=False)
        lam.update_function_code(FunctionName="checkout", ZipFile=lambda_lab.zip_source(CHECKOUT.format(release="2")))
        lam.publish_version(FunctionName="checkout")
        lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion="2")
        yield lab, lam


def cold_starts_back() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_15_cold_starts_back("checkout", alias="live")
    return str(failed.value)


def test_cold_starts_solution_passes(released, capsys):
    lab, lam = released
    lam.delete_provisioned_concurrency_config(FunctionName="checkout", Qualifier="1")
    lam.put_provisioned_concurrency_config(FunctionName="checkout", Qualifier="live", ProvisionedConcurrentExecutions=3)
    checks.ex_15_cold_starts_back("checkout", alias="live")
    assert capsys.readouterr().out.startswith("Check passed: calls through 'checkout:live' (version 2) start warm")


def test_cold_starts_blank_fails_without_the_answer(released):
    message = cold_starts_back()
    assert message.startswith("Calls through 'checkout:live' run version 2, and version 2 has no provisioned")
    assert "What is provisioned now: version 1" in message and "Provisioned concurrency vs on demand" in message
    for line in solution_lines("15_performance_sol_01.ipynb"):
        assert line not in message, line
    assert "Qualifier=" not in message and "delete_provisioned" not in message


def test_provisioning_the_new_version_is_not_enough(released):
    # plausible: it works today, but the next release leaves it behind again
    _, lam = released
    lam.delete_provisioned_concurrency_config(FunctionName="checkout", Qualifier="1")
    lam.put_provisioned_concurrency_config(FunctionName="checkout", Qualifier="2", ProvisionedConcurrentExecutions=3)
    message = cold_starts_back()
    assert "Version 2 has provisioned concurrency of its own" in message and "requirement 2" in message


def test_forgetting_the_old_version_is_named(released):
    _, lam = released
    lam.put_provisioned_concurrency_config(FunctionName="checkout", Qualifier="live", ProvisionedConcurrentExecutions=3)
    message = cold_starts_back()
    assert message.startswith("Still provisioned besides the alias: version 1 (3 environments)")
    assert "requirement 3" in message


def test_too_few_environments_are_named(released):
    _, lam = released
    lam.delete_provisioned_concurrency_config(FunctionName="checkout", Qualifier="1")
    lam.put_provisioned_concurrency_config(FunctionName="checkout", Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert "'checkout:live' has 1 provisioned environment, but the shop sends up to 3" in cold_starts_back()


# -- exercise 15.2 ------------------------------------------------------------------------------------------

@pytest.fixture
def travel():
    """Both functions of exercise 15.2, each with an alias `live` on version 1."""
    with lambda_lab.Lab(seed=152, quiet=True) as lab:
        lam = boto3.client("lambda")
        for name in ("search", "nightly-report"):
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                Code={"ZipFile": lambda_lab.zip_source("def handler(event, context):\n    return 1\n")},
                                Publish=True)
            lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        yield lab, lam


def right_size() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_15_right_size("search", "nightly-report", alias="live")
    return str(failed.value)


def test_right_size_solution_passes(travel, capsys):
    _, lam = travel
    lam.put_provisioned_concurrency_config(FunctionName="search", Qualifier="live", ProvisionedConcurrentExecutions=5)
    checks.ex_15_right_size("search", "nightly-report", alias="live")
    assert capsys.readouterr().out.startswith("Check passed: 'search:live' keeps 5 environments warm (80% utilised")


def test_right_size_blank_fails_without_the_answer(travel):
    message = right_size()
    assert message.startswith("'search' has no provisioned concurrency")
    assert "What provisioned concurrency costs" in message
    for line in solution_lines("15_performance_sol_02.ipynb"):
        assert line not in message, line
    assert "ProvisionedConcurrentExecutions" not in message and " 4 " not in message


def test_too_much_to_be_safe_is_priced(travel):
    _, lam = travel
    lam.put_provisioned_concurrency_config(FunctionName="search", Qualifier="live", ProvisionedConcurrentExecutions=8)
    message = right_size()
    assert message.startswith("8 provisioned environments for 'search' would be 50% utilised")
    assert "costs more than on demand" in message


def test_too_few_spill_over(travel):
    _, lam = travel
    lam.put_provisioned_concurrency_config(FunctionName="search", Qualifier="live", ProvisionedConcurrentExecutions=2)
    assert "fewer than the load keeps busy at once" in right_size()


def test_warming_the_nightly_report_is_refused_with_its_price(travel):
    _, lam = travel
    lam.put_provisioned_concurrency_config(FunctionName="search", Qualifier="live", ProvisionedConcurrentExecutions=5)
    lam.put_provisioned_concurrency_config(FunctionName="nightly-report", Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)
    message = right_size()
    assert message.startswith("'nightly-report' has 1 provisioned environment.") and "0.2% utilised" in message


def test_a_version_instead_of_the_alias_is_named(travel):
    _, lam = travel
    lam.put_provisioned_concurrency_config(FunctionName="search", Qualifier="1", ProvisionedConcurrentExecutions=5)
    assert right_size().startswith("Provisioned concurrency is on version 1, but the API calls 'search:live'")
