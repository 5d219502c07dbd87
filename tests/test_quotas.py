"""An account with a lowered concurrency quota (a new account's is 10): Lambda's refusals, and the lab's warning."""

import ast
import doctest
import json
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

import lambda_lab
from lambda_lab import _quotas, limits
from lambda_lab.limits import min_unreserved

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "def handler(event, context):\n    return 1\n"


def test_the_minimum_left_unreserved_is_100_or_10_in_a_small_account():
    assert [min_unreserved(q) for q in (1000, 3000, 101, 100, 24, 10)] == [100, 100, 100, 10, 10, 10]
    assert doctest.testmod(limits).failed == 0 and doctest.testmod(_quotas).failed == 0


@pytest.fixture
def new_account():
    """The lab's runtime in an account whose concurrency quota is 10, as a new AWS account's can be."""
    with mock_aws():
        lambda_lab.install(account_concurrency=10)
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="quota-role", AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "lambda.amazonaws.com"}}]}))
        lam = boto3.client("lambda", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
        lam.create_function(FunctionName="f", Runtime="python3.13", Role=role["Role"]["Arn"], Handler="app.handler",
                            Code={"ZipFile": lambda_lab.zip_source(SOURCE)}, Publish=True)
        try:
            yield lam
        finally:
            lambda_lab.uninstall()


def _refusal(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_new_account_can_reserve_nothing(new_account):
    lam = new_account
    assert lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 10
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 10
    assert _refusal(lambda: lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=1)) == (
        "InvalidParameterValueException", "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [10].")
    assert _refusal(lambda: lam.put_provisioned_concurrency_config(
        FunctionName="f", Qualifier="1", ProvisionedConcurrentExecutions=1)) == (
        "InvalidParameterValueException", "Specified ConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [10].")
    # reserving 0 (switching a function off) takes nothing from the others and is allowed
    assert lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=0)[
        "ReservedConcurrentExecutions"] == 0


def test_the_lab_warns_when_the_lessons_reservations_cannot_fit():
    ten = _quotas.quota_warning({"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": 10})
    assert "quota is 10" in ten and "nothing can be reserved" in ten and "04, 05, 12 and 15" in ten
    small = _quotas.quota_warning({"ConcurrentExecutions": 160, "UnreservedConcurrentExecutions": 130})
    assert "at most 30 can be reserved" in small  # 130 left, 100 kept unreserved
    assert _quotas.quota_warning({"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}) is None
    assert _quotas.quota_warning({"ConcurrentExecutions": 150, "UnreservedConcurrentExecutions": 150}) is None


def _asked_outside_try(tree, inside=False):
    """Reserved/provisioned numbers the cell asks for, except where a `try:` expects the refusal."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in ("ReservedConcurrentExecutions", "ProvisionedConcurrentExecutions") and \
                        isinstance(keyword.value, ast.Constant) and not inside:
                    yield keyword.value.value
        yield from _asked_outside_try(node, inside or isinstance(node, ast.Try))


def test_the_warning_names_the_lessons_that_reserve_and_their_largest_reservation():
    found, largest = set(), 0
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            asked = [n for n in _asked_outside_try(ast.parse("".join(cell["source"]))) if n > 0]
            if asked:
                found.add(path.name[:2])
                largest = max(largest, *asked)
    assert tuple(sorted(found)) == _quotas.RESERVING_LESSONS
    assert largest == _quotas.LARGEST_RESERVATION
