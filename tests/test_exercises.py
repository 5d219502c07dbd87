"""Exercises are generated from their solutions, and every exercise left blank fails its checks."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
EXERCISES = sorted((ROOT / "exercises").glob("*_ex_*.ipynb"))


def test_generated_exercises_are_current():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_exercises.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_solution_has_its_exercise_and_a_check():
    solutions = sorted((ROOT / "solutions").glob("*_sol_*.ipynb"))
    assert [p.name.replace("_sol_", "_ex_") for p in solutions] == [p.name for p in EXERCISES]
    for path in solutions:
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        assert "checks." in text, f"{path.name} calls no check"


# what a learner who wrote nothing sees: (code cell, exception, how its message begins)
BLANK = {
    "02_functions_and_events_ex_01": [(3, "CheckFailed", "'new-invoice' has no resource-based policy, so S3 may not "
                                                         "invoke it (S3 answers 'Unable to validate the following "
                                                         "destination configurations'). Add a statement with "
                                                         "lam.add_permission that lets the S3 service invoke it")],
    "01_lambda_essentials_ex_01": [(3, "CheckFailed", "answer['environments'] is None: fill in a number for each of ")],
    "02_functions_and_events_ex_02": [(4, "CheckFailed", "The mapping from 'orders' to 'charge-orders' still returns "
                                                         "the whole batch to the queue when the function fails")],
    "03_programming_model_ex_02": [(4, "CheckFailed", "Invoked with 3 invoices, the function failed: "
                                                      "Runtime.ImportModuleError: Unable to import module 'app'")],
    "03_programming_model_ex_01": [(2, "NameError", "name 'source' is not defined"),
                                   (3, "CheckFailed", "There is no function 'request-reporter' yet. Write the handler "
                                                      "in `source`, then run the cell that calls deploy(source).")],
    "04_invocation_types_ex_01": [(2, "CheckFailed", "'process-order' has no dead-letter queue and no OnFailure "
                                                     "destination, so Lambda drops its failed asynchronous events "
                                                     "after the last retry.")],
    "04_invocation_types_ex_02": [(2, "CheckFailed", "'charge-card' still uses the default settings for asynchronous "
                                                     "events")],
    "05_function_configuration_ex_01": [(2, "CheckFailed", "'report' still fails (Sandbox.Timedout: RequestId: ")],
    "05_function_configuration_ex_02": [(3, "CheckFailed", "At its peak 8 calls reach 'quote-api' at the same moment, "
                                                           "and its reserved concurrency of 2 lets only 2 run")],
    "06_memory_and_cost_ex_01": [(2, "CheckFailed", "'enrich' still has the 2,048 MB it was created with. Find its "
                                                    "cheapest memory size")],
    "06_memory_and_cost_ex_02": [(2, "CheckFailed", "At 128 MB a warm call of 'thumbnail' takes about ")],
    "07_function_packages_ex_01": [(2, "CheckFailed", "'stock-report' still cannot import tabulate "
                                                      "(Runtime.ImportModuleError: Unable to import module 'app': "
                                                      "No module named 'tabulate').")],
    "07_function_packages_ex_02": [(2, "CheckFailed", "'invoice-total' still fails: Runtime.ImportModuleError: Unable "
                                                      "to import module 'app': No module named 'helpers'.")],
    "08_versions_and_aliases_ex_01": [(2, "CheckFailed", "The new code is only in $LATEST: no published version holds "
                                                         "it yet")],
    "08_versions_and_aliases_ex_02": [(2, "CheckFailed", "Orders from 'new-orders' still run version 1 of 'checkout', "
                                                         "while 'live' points at version 2")],
    "09_api_actions_ex_02": [(2, "CheckFailed", "'settle' answers each batch with the message ids of the payments it "
                                                "could not settle")],
    "09_api_actions_ex_01": [(2, "CheckFailed", "There is no event source mapping from 'orders' to 'order-batches' "
                                                "yet, and the function's execution role cannot read the queue")],
    "15_performance_ex_01": [(4, "CheckFailed", "Calls through 'checkout:live' run version 2, and version 2 has no "
                                                "provisioned concurrency")],
    "15_performance_ex_02": [(3, "CheckFailed", "'search' has no provisioned concurrency")],
    "10_capstone_ex_02": [(2, "CheckFailed", "A record 'notify' cannot handle is retried for as long as it stays in "
                                             "the stream")],
    "10_capstone_ex_01": [(3, "CheckFailed", "Broken link: S3 -> 'import-upload'. The bucket 'lab-receipt-uploads' "
                                             "sends no notification to the function, so uploads go nowhere.")],
    "11_security_ex_01": [(3, "CheckFailed", "'charge' still cannot read its API key. Its log group ")],
    "11_security_ex_02": [(2, "CheckFailed", "GET /orders of 'partner-api' has authorizationType 'NONE'")],
    "12_observability_ex_01": [(3, "CheckFailed", "Warm requests of 'checkout' still take about ")],
    "12_observability_ex_02": [(3, "CheckFailed", "'resize' may run only 2 copies at once, fewer than the 6 "
                                                  "requests of a peak, so the rest are refused (requirement 1).")],
    "13_deployment_ex_01": [(3, "CheckFailed", "'quotes:live' still runs release 1: the last update of 'quotes' rolled "
                                               "back because its CodeDeploy deployment ended Failed")],
    "13_deployment_ex_02": [(2, "CheckFailed", "'pay' has no deployment preference yet")],
    "14_event_sources_ex_01": [(3, "CheckFailed", "The handler reported the check's refund check-")],
    "14_event_sources_ex_02": [(2, "CheckFailed", "There is no event source mapping from the stream 'payments' to "
                                                  "'settle' yet.")],
}


def test_every_exercise_has_its_blank_answer():
    assert sorted(BLANK) == [p.stem for p in EXERCISES]


@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_blank_exercise_fails_its_checks(path):
    """Run the exercise as a learner who wrote nothing would: its check must say what is missing."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    namespace: dict = {"__name__": "__main__"}
    raised = []
    with contextlib.redirect_stdout(io.StringIO()):
        for index, cell in enumerate(cells):
            try:
                exec(compile("".join(cell["source"]), path.name, "exec"), namespace)
            except Exception as error:  # a blank cell may break what follows it: each is listed in BLANK
                raised.append((index, type(error).__name__, str(error)))
    lab = namespace.get("lab")
    if lab is not None:
        lab.stop()
    expected = BLANK[path.stem]
    assert [(index, kind) for index, kind, _ in raised] == [(index, kind) for index, kind, _ in expected], raised
    for (_, _, message), (_, _, start) in zip(raised, expected):
        assert message.startswith(start), message


@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_a_blank_cell_prints_nothing(path):
    """A cell ending in a bare `...` would show `Ellipsis` under it: blanks are comments or inside a block."""
    import ast

    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            body = ast.parse("".join(cell["source"])).body
            last = body[-1] if body else None
            assert not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Constant)
                        and last.value.value is Ellipsis), "".join(cell["source"])
