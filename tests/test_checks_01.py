"""Exercise 01.1's check: the solution passes, a blank exercise fails, and the usual slips are named."""

import itertools
import json
import math
import re
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

import lambda_lab
from lambda_lab.checks import CheckFailed, ex_01_bill_from_logs

HANDLER = """
import time

def handler(event, context):
    time.sleep(event["seconds"])
"""
_numbers = itertools.count()


@pytest.fixture
def night(lab, lam):
    """The exercise's starting point: a 512 MB function that ran a burst of 4 calls, then 6 one at a time."""
    name = f"thumbnails-{next(_numbers)}"
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        MemorySize=512, Code={"ZipFile": lambda_lab.zip_source(HANDLER)})
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: lam.invoke(FunctionName=name, Payload=b'{"seconds": 0.3}'), range(4)))
    for _ in range(6):
        lam.invoke(FunctionName=name, Payload=b'{"seconds": 0.05}')
    return name


def solve(name):
    """What the solution notebook computes, from CloudWatch Logs alone."""
    logs = boto3.client("logs")
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    reports = [event["message"] for stream in streams
               for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
               if event["message"].startswith("REPORT ")]
    billed = [int(re.search(r"\tBilled Duration: (\d+) ms", r).group(1)) for r in reports]
    memory = [int(re.search(r"\tMemory Size: (\d+) MB", r).group(1)) for r in reports]
    gb_seconds = sum(b / 1000 * m / 1024 for b, m in zip(billed, memory))
    return {"environments": sum("\tInit Duration: " in r for r in reports), "invocations": len(reports),
            "billed_ms": sum(billed), "gb_seconds": gb_seconds,
            "cost_usd": len(reports) * 0.20 / 1e6 + gb_seconds * 0.0000166667}


def test_the_solution_passes(night, capsys):
    ex_01_bill_from_logs(solve(night), night)
    assert capsys.readouterr().out.startswith("Check passed: the night's environments")


def test_the_blank_answer_fails_without_giving_numbers(night):
    truth = solve(night)
    with pytest.raises(CheckFailed, match=r"answer\['environments'\] is None: fill in a number") as failed:
        ex_01_bill_from_logs(dict.fromkeys(truth), night)
    for value in truth.values():
        assert str(value) not in str(failed.value).replace(night, "")


def test_a_missing_log_group_says_to_run_the_setup(lab):
    with pytest.raises(CheckFailed, match="Run the exercise's setup cell"):
        ex_01_bill_from_logs({}, "thumbnails-never")


# plausible wrong answers: (how the learner got it wrong, what the check must say)
WRONG = {
    "environments-are-invocations": (lambda t, r: {**t, "environments": t["invocations"]},
                                     "That is the number of invocations"),
    "only-newest-stream": (lambda t, r: {**t, "invocations": 1}, "count them in every stream"),
    "summed-duration": (lambda t, r: {**t, "billed_ms": math.ceil(sum(x["duration"] for x in r))},
                        "the sum of the Duration fields"),
    "init-twice": (lambda t, r: {**t, "billed_ms": t["billed_ms"] + sum(x["init"] for x in r)},
                   "already includes it"),
    "decimal-gigabytes": (lambda t, r: {**t, "gb_seconds": t["gb_seconds"] * 1024 / 1000}, "divided the memory by 1,000"),
    "no-request-charge": (lambda t, r: {**t, "cost_usd": t["gb_seconds"] * 0.0000166667}, "requests are charged too"),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_a_plausible_wrong_answer_is_named(night, case):
    truth = solve(night)
    raw = [{"duration": lambda_lab.pricing.parse_report(c.result.log).duration_ms,
            "init": c.result.init_ms or 0} for c in lambda_lab.Lab.current().invocations if c.function_name == night]
    wrong, message = WRONG[case]
    with pytest.raises(CheckFailed, match=message) as failed:
        ex_01_bill_from_logs(wrong(truth, raw), night)
    right = {k: v for k, v in truth.items() if wrong(truth, raw)[k] != v}
    for value in right.values():  # the message names the learner's figure, never the right one
        assert f"{value}" not in str(failed.value).replace(night, "")
