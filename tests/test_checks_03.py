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
    assert "setLevel" not in str(failed.value)  # where to look, not the line to type


# plausible wrong answers: (what the learner wrote instead, what the check must say)
WRONG = {
    "basicConfig": (("logger.setLevel(logging.INFO)", "logging.basicConfig(level=logging.INFO)"), "basicConfig"),
    "print": (('logger.info("Handling request %s", context.aws_request_id)',
               'print("Handling request", context.aws_request_id)'), "print\\(\\), which has no level"),
    "warning": (("logger.info(", "logger.warning("), "at \\[WARNING\\], not \\[INFO\\]"),
    "method-not-called": (("get_remaining_time_in_millis()", "get_remaining_time_in_millis"),
                          "Runtime.MarshalError.*call it"),
    "node-names": (('"request_id": context.aws_request_id', '"request_id": context.awsRequestId'), "snake_case"),
    "made-up-id": (('"request_id": context.aws_request_id', '"request_id": "req-1"'), "travels in the context object"),
    "seconds": (("context.get_remaining_time_in_millis()", "context.get_remaining_time_in_millis() // 1000"),
                "looks like seconds"),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_a_plausible_wrong_answer_is_named(deploy, case):
    (old, new), message = WRONG[case]
    assert old in SOLUTION
    name = deploy(SOLUTION.replace(old, new))
    with pytest.raises(CheckFailed, match=message) as failed:
        ex_03_context_and_logging(name)
    for answer in ("aws_request_id", "get_remaining_time_in_millis", "setLevel"):
        assert answer not in str(failed.value)


def test_missing_keys_are_listed(deploy):
    name = deploy("def handler(event, context):\n    return {'id': context.aws_request_id}\n")
    with pytest.raises(CheckFailed, match="lacks 'request_id', 'remaining_ms'"):
        ex_03_context_and_logging(name)


# -- exercise 03.2: a deployed function that fails three ways ---------------------------------------------------------
from lambda_lab.checks import ex_03_fix_invoice_totals  # noqa: E402

BROKEN_TOTALS = """
import datetime
import time

def total(event, context):
    totals = []
    for invoice in event["invoices"]:
        time.sleep(0.15)                       # fetching the invoice's lines
        totals.append({"id": invoice["id"], "total": sum(invoice["lines"])})
    return {"totals": totals, "finished_at": datetime.datetime.now(datetime.timezone.utc)}
"""
FIXED_TOTALS = """
import datetime
import time

def total(event, context):
    totals, left = [], []
    for invoice in event["invoices"]:
        if left or context.get_remaining_time_in_millis() < 400:
            left.append(invoice["id"])
            continue
        time.sleep(0.15)                       # fetching the invoice's lines
        totals.append({"id": invoice["id"], "total": sum(invoice["lines"])})
    return {"totals": totals, "left": left,
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat()}
"""


@pytest.fixture
def invoices_fn(lab, lam):
    """The exercise's starting point: the code in billing/invoices.py, the handler still set to app.handler."""

    def make(code=BROKEN_TOTALS, handler="app.handler", timeout=2):
        name = f"invoice-totals-{next(_numbers)}"
        lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler=handler,
                            Timeout=timeout, Code={"ZipFile": lambda_lab.zip_source({"billing/invoices.py": code})})
        return name

    return make


def test_the_invoice_solution_passes(invoices_fn, capsys):
    ex_03_fix_invoice_totals(invoices_fn(FIXED_TOTALS, handler="billing/invoices.total"))
    assert capsys.readouterr().out.startswith("Check passed")


def test_the_untouched_function_fails_on_its_handler_without_naming_it(invoices_fn):
    with pytest.raises(CheckFailed, match="Runtime.ImportModuleError.*Compare the Handler setting") as failed:
        ex_03_fix_invoice_totals(invoices_fn())
    assert "billing/invoices.total" not in str(failed.value) and "billing.invoices" not in str(failed.value)


def test_a_handler_that_still_does_everything_times_out_and_is_told_to_stop_in_time(invoices_fn):
    no_time_check = FIXED_TOTALS.replace("left or context.get_remaining_time_in_millis() < 400", "False")
    with pytest.raises(CheckFailed, match="Sandbox.Timedout.*stop, and hand back") as failed:
        ex_03_fix_invoice_totals(invoices_fn(no_time_check, handler="billing/invoices.total"))
    assert "get_remaining_time_in_millis" not in str(failed.value)


def test_an_answer_holding_a_datetime_is_a_marshal_error(invoices_fn):
    code = FIXED_TOTALS.replace(".isoformat()", "")
    with pytest.raises(CheckFailed, match="Runtime.MarshalError.*values JSON can hold") as failed:
        ex_03_fix_invoice_totals(invoices_fn(code, handler="billing/invoices.total"))
    assert "isoformat" not in str(failed.value)


def test_raising_the_timeout_instead_is_refused(invoices_fn):
    with pytest.raises(CheckFailed, match="keeps it"):
        ex_03_fix_invoice_totals(invoices_fn(BROKEN_TOTALS, handler="billing/invoices.total", timeout=10))


def test_an_answer_without_the_invoices_left_is_named(invoices_fn):
    code = FIXED_TOTALS.replace('"left": left,', "")
    with pytest.raises(CheckFailed, match="a list 'left'"):
        ex_03_fix_invoice_totals(invoices_fn(code, handler="billing/invoices.total"))
