"""Exercise 03.1's check: the solution passes, a blank exercise fails, and the usual slips are named."""

import itertools

import pytest

import lambda_lab
from lambda_lab.checks import CheckFailed, ex_03_context_and_logging

SOLUTION = """
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    logger.info("Handling request %s", context.aws_request_id)
    return {"request_id": context.aws_request_id, "remaining_ms": context.get_remaining_time_in_millis()}
"""
_numbers = itertools.count()


@pytest.fixture
def deploy(lab, lam):
    """Create a function like the exercise's deploy(source) does; returns its name."""

    def make(source):
        name = f"request-reporter-{next(_numbers)}"
        lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Timeout=5, Code={"ZipFile": lambda_lab.zip_source(source)})
        return name

    return make


def test_the_solution_passes(deploy, capsys):
    ex_03_context_and_logging(deploy(SOLUTION))
    assert capsys.readouterr().out.startswith("Check passed")


def test_doing_nothing_fails_and_says_to_deploy(lab):
    with pytest.raises(CheckFailed, match=r"no function 'request-reporter-never' yet.*deploy\(source\)"):
        ex_03_context_and_logging("request-reporter-never")


def test_logging_info_without_setting_the_level_names_the_root_loggers_default(deploy):
    name = deploy(SOLUTION.replace("logger.setLevel(logging.INFO)\n", ""))
    with pytest.raises(CheckFailed, match="no \\[INFO\\] line") as failed:
        ex_03_context_and_logging(name)
    assert "root logger at its default level, WARNING" in str(failed.value)


def test_basic_config_is_explained_too(deploy):
    name = deploy(SOLUTION.replace("logger.setLevel(logging.INFO)", "logging.basicConfig(level=logging.INFO)"))
    with pytest.raises(CheckFailed, match="basicConfig"):
        ex_03_context_and_logging(name)


def test_printing_the_id_is_not_logging_at_info(deploy):
    name = deploy(SOLUTION.replace('logger.info("Handling request %s", context.aws_request_id)',
                                   'print("Handling request", context.aws_request_id)'))
    with pytest.raises(CheckFailed, match="print\\(\\), which has no level"):
        ex_03_context_and_logging(name)


def test_logging_at_warning_is_named(deploy):
    name = deploy(SOLUTION.replace("logger.info(", "logger.warning("))
    with pytest.raises(CheckFailed, match="at \\[WARNING\\], not \\[INFO\\]"):
        ex_03_context_and_logging(name)


def test_the_method_itself_instead_of_its_result(deploy):
    name = deploy(SOLUTION.replace("get_remaining_time_in_millis()", "get_remaining_time_in_millis"))
    with pytest.raises(CheckFailed, match="Runtime.MarshalError.*call it"):
        ex_03_context_and_logging(name)


def test_node_style_names_are_explained(deploy):
    name = deploy(SOLUTION.replace('"request_id": context.aws_request_id', '"request_id": context.awsRequestId'))
    with pytest.raises(CheckFailed, match="snake_case"):
        ex_03_context_and_logging(name)


def test_a_request_id_not_from_the_context(deploy):
    name = deploy(SOLUTION.replace('"request_id": context.aws_request_id', '"request_id": "req-1"'))
    with pytest.raises(CheckFailed, match="context.aws_request_id"):
        ex_03_context_and_logging(name)


def test_remaining_time_in_seconds(deploy):
    name = deploy(SOLUTION.replace("context.get_remaining_time_in_millis()",
                                   "context.get_remaining_time_in_millis() // 1000"))
    with pytest.raises(CheckFailed, match="looks like seconds"):
        ex_03_context_and_logging(name)


def test_missing_keys_are_listed(deploy):
    name = deploy("def handler(event, context):\n    return {'id': context.aws_request_id}\n")
    with pytest.raises(CheckFailed, match="lacks 'request_id', 'remaining_ms'"):
        ex_03_context_and_logging(name)
