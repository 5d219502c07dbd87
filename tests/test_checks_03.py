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


# plausible wrong answers: (what the learner wrote instead, what the check must say)
WRONG = {
    "basicConfig": (("logger.setLevel(logging.INFO)", "logging.basicConfig(level=logging.INFO)"), "basicConfig"),
    "print": (('logger.info("Handling request %s", context.aws_request_id)',
               'print("Handling request", context.aws_request_id)'), "print\\(\\), which has no level"),
    "warning": (("logger.info(", "logger.warning("), "at \\[WARNING\\], not \\[INFO\\]"),
    "method-not-called": (("get_remaining_time_in_millis()", "get_remaining_time_in_millis"),
                          "Runtime.MarshalError.*call it"),
    "node-names": (('"request_id": context.aws_request_id', '"request_id": context.awsRequestId'), "snake_case"),
    "made-up-id": (('"request_id": context.aws_request_id', '"request_id": "req-1"'), "context.aws_request_id"),
    "seconds": (("context.get_remaining_time_in_millis()", "context.get_remaining_time_in_millis() // 1000"),
                "looks like seconds"),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_a_plausible_wrong_answer_is_named(deploy, case):
    (old, new), message = WRONG[case]
    assert old in SOLUTION
    name = deploy(SOLUTION.replace(old, new))
    with pytest.raises(CheckFailed, match=message):
        ex_03_context_and_logging(name)


def test_missing_keys_are_listed(deploy):
    name = deploy("def handler(event, context):\n    return {'id': context.aws_request_id}\n")
    with pytest.raises(CheckFailed, match="lacks 'request_id', 'remaining_ms'"):
        ex_03_context_and_logging(name)
