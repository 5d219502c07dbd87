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
    with pytest.raises(CheckFailed, match="still fails \\(Sandbox.Timedout") as failed:
        checks.ex_05_timeout("report")
    assert "section 'Timeout'" in str(failed.value) and "Timeout=" not in str(failed.value)


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


# -- exercise 05.2: reserved concurrency that serves the peak and protects the database -------------------

QUOTE = """
import time

def handler(event, context):
    time.sleep(0.5)   # a query on the small database
    return {"quote": "ok"}
"""


@pytest.fixture
def quote_api():
    with lab_with_function(52, "quote-api", QUOTE) as client:
        client.put_function_concurrency(FunctionName="quote-api", ReservedConcurrentExecutions=2)
        yield client


def concurrency_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_05_reserved_concurrency("quote-api")
    return str(failed.value)


def test_concurrency_solution_passes(quote_api, capsys):
    quote_api.put_function_concurrency(FunctionName="quote-api", ReservedConcurrentExecutions=12)
    checks.ex_05_reserved_concurrency("quote-api")
    assert capsys.readouterr().out.startswith("Check passed: 'quote-api' may run 12 calls at once")


def test_concurrency_blank_fails_without_the_answer(quote_api):
    message = concurrency_failure()
    assert message.startswith("At its peak 8 calls reach 'quote-api' at the same moment, and its reserved "
                              "concurrency of 2 lets only 2 run")
    assert "section 'Concurrency'" in message
    assert "put_function_concurrency" not in message and "ReservedConcurrentExecutions=" not in message


def test_removing_the_cap_is_a_plausible_wrong_answer(quote_api):
    quote_api.delete_function_concurrency(FunctionName="quote-api")
    message = concurrency_failure()
    assert "no reserved concurrency now, so nothing caps it" in message
    assert "more environments, each with its own database connection" in message


def test_too_much_reserved_concurrency_overloads_the_database(quote_api):
    quote_api.put_function_concurrency(FunctionName="quote-api", ReservedConcurrentExecutions=100)
    assert "more than the 15 the database accepts" in concurrency_failure()


def test_changed_code_is_caught_for_concurrency(quote_api):
    quote_api.put_function_concurrency(FunctionName="quote-api", ReservedConcurrentExecutions=10)
    quote_api.update_function_code(FunctionName="quote-api", ZipFile=lambda_lab.zip_source(
        "def handler(event, context):\n    return {'quote': 'cached'}\n"))
    quote_api.get_waiter("function_updated_v2").wait(FunctionName="quote-api")
    assert "keep its code as it was" in concurrency_failure()
