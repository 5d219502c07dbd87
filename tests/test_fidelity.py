"""docs/fidelity.md cannot drift: it lists botocore's Lambda actions exactly, in a fixed vocabulary, and says true things."""

import re
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ParamValidationError

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "fidelity.md"
VOCABULARY = {"emulated", "moto", "stored", "not available"}


def _rows(heading: str) -> list[list[str]]:
    """The body rows of the table under `heading`, as lists of stripped cells."""
    section = DOC.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[2:]]


def _category(cell: str) -> str:
    """`**emulated**` -> `emulated`; anything else is returned as written, so the vocabulary check names it."""
    match = re.fullmatch(r"\*\*([a-z ]+)\*\*", cell)
    return match.group(1) if match else cell


ACTIONS = {row[0].strip("`"): row for row in _rows("Lambda API actions")}
SOURCES = {row[0]: row for row in _rows("Event sources and integrations")}


def test_the_action_table_lists_exactly_botocores_lambda_operations():
    operations = set(botocore.session.get_session().get_service_model("lambda").operation_names)
    assert len(ACTIONS) == len(_rows("Lambda API actions")), "an action is listed twice"
    assert not operations - set(ACTIONS), f"botocore has actions docs/fidelity.md does not describe: " \
                                          f"{sorted(operations - set(ACTIONS))}"
    assert not set(ACTIONS) - operations, f"docs/fidelity.md lists actions botocore does not have: " \
                                          f"{sorted(set(ACTIONS) - operations)}"


def test_every_row_says_what_the_lab_does_in_the_fixed_vocabulary():
    for name, row in [*ACTIONS.items(), *SOURCES.items()]:
        assert _category(row[1]) in VOCABULARY, f"{name}: {row[1]!r} is not one of {sorted(VOCABULARY)}"


def test_emulated_rows_name_test_files_that_exist():
    for name, row in [*ACTIONS.items(), *SOURCES.items()]:
        files = re.findall(r"`([^`]+)`", row[-1])
        if _category(row[1]) == "emulated":
            assert files, f"{name} is marked emulated but names no test file"
        for file in files:
            assert (ROOT / "tests" / file).is_file(), f"{name} names tests/{file}, which does not exist"


NOT_AVAILABLE = {
    "InvokeWithResponseStream": lambda fn, arn: {"FunctionName": fn, "Payload": b"{}"},
    "GetRuntimeManagementConfig": lambda fn, arn: {"FunctionName": fn},
    "ListFunctionUrlConfigs": lambda fn, arn: {"FunctionName": fn},
    "CreateCodeSigningConfig": lambda fn, arn: {"AllowedPublishers": {"SigningProfileVersionArns": [
        arn.replace(":lambda:", ":signer:").split(":function:")[0] + ":/signing-profiles/p/abcdef1234"]}},
    "PutFunctionCodeSigningConfig": lambda fn, arn: {"FunctionName": fn, "CodeSigningConfigArn": arn.split(
        ":function:")[0] + ":code-signing-config:csc-0123456789abcdef0"},
    "GetFunctionScalingConfig": lambda fn, arn: {"FunctionName": fn, "Qualifier": "1"},
    "ListCapacityProviders": lambda fn, arn: {},
    "GetDurableExecution": lambda fn, arn: {"DurableExecutionArn": f"{arn}:1/durable-execution/a/b"},
}
AVAILABLE = {"GetAccountSettings": {}, "ListFunctions": {}, "ListLayers": {}, "ListEventSourceMappings": {}}


@pytest.fixture(scope="module")
def published(lab, lam):
    """One function with a published version 1: (name, unqualified ARN)."""
    import lambda_lab

    reply = lam.create_function(FunctionName="fidelity-probe", Runtime="python3.13", Role=lab.role_arn,
                                Handler="app.handler", Publish=True,
                                Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return {}\n")})
    return reply["FunctionName"], reply["FunctionArn"].removesuffix(":1")


@pytest.mark.parametrize("action", sorted(NOT_AVAILABLE))
def test_actions_marked_not_available_fail_on_a_lab(lam, published, action):
    assert _category(ACTIONS[action][1]) == "not available", f"{action} is called here as unavailable"
    with pytest.raises(Exception) as caught:  # moto's 404 ClientError, or NotImplementedError raised in-process
        reply = getattr(lam, xform_name(action))(**NOT_AVAILABLE[action](*published))
        if "EventStream" in reply:
            list(reply["EventStream"])
    assert not isinstance(caught.value, ParamValidationError), f"the test's own request is malformed: {caught.value}"


@pytest.mark.parametrize("action", sorted(AVAILABLE))
def test_actions_marked_available_answer_on_a_lab(lam, published, action):
    assert _category(ACTIONS[action][1]) != "not available"
    reply = getattr(lam, xform_name(action))(**AVAILABLE[action])
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("arn", ["arn:aws:kafka:us-east-1:123456789012:cluster/orders/abc",
                                 "arn:aws:mq:us-east-1:123456789012:broker:orders:b-1"])
def test_sources_marked_not_available_are_refused(lam, published, arn):
    kind = "Amazon MSK and self-managed Kafka" if ":kafka:" in arn else "Amazon MQ"
    assert _category(SOURCES[kind][1]) == "not available"
    extra = {"Topics": ["orders"], "StartingPosition": "LATEST"} if ":kafka:" in arn else {"Queues": ["orders"]}
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_event_source_mapping(FunctionName=published[0], EventSourceArn=arn, **extra)
