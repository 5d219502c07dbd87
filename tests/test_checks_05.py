"""Exercise 05.1 (a function that times out): the solution passes, a blank fails, and raising memory instead
of the timeout (a plausible wrong answer) fails with a message that says why memory does not help."""

import pytest

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed
from conftest import lab_with_function

REPORT = """
import time
def handler(event, context):
    time.sleep(1.5)   # waiting on a slow service
    return {"status": "report ready"}
"""


@pytest.fixture
def lam():
    with lab_with_function(5, "report", REPORT, Timeout=1) as client:
        yield client


def configure(lam, **settings):
    lam.update_function_configuration(FunctionName="report", **settings)
    lam.get_waiter("function_updated_v2").wait(FunctionName="report")


def test_the_solution_passes(lam, capsys):
    configure(lam, Timeout=5)
    checks.ex_05_timeout("report")
    assert "Check passed: 'report' finishes in time with a 5 s timeout" in capsys.readouterr().out


def test_doing_nothing_fails(lam):
    with pytest.raises(CheckFailed, match="still fails \\(Sandbox.Timedout"):
        checks.ex_05_timeout("report")


def test_more_memory_instead_of_more_time_is_explained(lam):
    configure(lam, MemorySize=3008)
    with pytest.raises(CheckFailed, match="memory buys CPU, but this handler spends its time waiting"):
        checks.ex_05_timeout("report")


def test_the_maximum_timeout_is_not_a_good_answer(lam):
    configure(lam, Timeout=900)
    with pytest.raises(CheckFailed, match="lets a stuck call run"):
        checks.ex_05_timeout("report")


def test_changed_code_is_caught(lam):
    lam.update_function_code(FunctionName="report", ZipFile=lambda_lab.zip_source(
        "def handler(event, context):\n    return {'status': 'skipped'}\n"))
    lam.get_waiter("function_updated_v2").wait(FunctionName="report")
    with pytest.raises(CheckFailed, match="keep its code as it was"):
        checks.ex_05_timeout("report")
