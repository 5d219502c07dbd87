"""Exercise 06.1 (the cheapest memory for an I/O-bound handler): the solution passes, a blank fails, and the
fastest size (a plausible wrong answer) fails with a message that tells cheapest from fastest."""

import pytest

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed
from conftest import lab_with_function

ENRICH = """
import time

def handler(event, context):
    time.sleep(0.1)  # the partner's API takes about 100 ms to answer
    return {"status": "enriched"}
"""


@pytest.fixture
def lam():
    with lab_with_function(60, "enrich", ENRICH, MemorySize=2048) as client:
        yield client


def set_memory(lam, memory):
    lam.update_function_configuration(FunctionName="enrich", MemorySize=memory)
    lam.get_waiter("function_updated_v2").wait(FunctionName="enrich")


def test_the_solution_passes(lam, capsys):
    result = lambda_lab.power_tune("enrich", strategy="cost", invocations=5, progress=False)
    assert result.power == 128
    set_memory(lam, result.power)
    checks.ex_06_cheapest_memory("enrich")
    assert "Check passed: 'enrich' runs at 128 MB" in capsys.readouterr().out


def test_doing_nothing_fails(lam):
    with pytest.raises(CheckFailed, match="still has the 2,048 MB it was created with"):
        checks.ex_06_cheapest_memory("enrich")


def test_the_fastest_size_is_not_the_cheapest(lam):
    set_memory(lam, 3008)
    with pytest.raises(CheckFailed, match="The cheapest size is not the fastest") as failed:
        checks.ex_06_cheapest_memory("enrich")
    assert "strategy='cost'" in str(failed.value) and "at 128 MB" in str(failed.value)


def test_a_middle_size_is_not_the_cheapest_either(lam):
    set_memory(lam, 256)
    with pytest.raises(CheckFailed, match="waits rather than computes"):
        checks.ex_06_cheapest_memory("enrich")


def test_changed_code_is_caught(lam):
    lam.update_function_code(FunctionName="enrich", ZipFile=lambda_lab.zip_source(
        "def handler(event, context):\n    return {'status': 'skipped'}\n"))
    lam.get_waiter("function_updated_v2").wait(FunctionName="enrich")
    set_memory(lam, 128)
    with pytest.raises(CheckFailed, match="keep its code as it was"):
        checks.ex_06_cheapest_memory("enrich")
