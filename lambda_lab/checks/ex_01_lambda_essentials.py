"""Checks for the exercises of notebook 01_lambda_essentials."""

import math

from ..pricing import GB_IN_MB, PRICES, parse_report
from . import log_streams, passed, require

__all__ = ["ex_01_bill_from_logs"]

_PAYING = "notebook 01, section 'Paying per millisecond'"
_KEYS = ("environments", "invocations", "billed_ms", "gb_seconds", "cost_usd")


def ex_01_bill_from_logs(answer: dict, function_name: str = "thumbnails") -> None:
    """`answer` holds what the function's CloudWatch Logs say about the night: environments, calls and the bill."""
    streams = log_streams(f"/aws/lambda/{function_name}")
    require(streams, f"The log group /aws/lambda/{function_name} is empty or missing. Run the exercise's setup "
                     "cell first: it runs the night's work.")
    require(isinstance(answer, dict), f"answer is {type(answer).__name__}; make it a dict with the keys "
                                      f"{', '.join(_KEYS)}.")
    missing = [key for key in _KEYS if not isinstance(answer.get(key), (int, float)) or isinstance(answer[key], bool)]
    if missing:
        require(False, f"answer[{missing[0]!r}] is {answer.get(missing[0])!r}: fill in a number for each of "
                       f"{', '.join(_KEYS)}, computed from the log group /aws/lambda/{function_name}.")
    reports = [parse_report(line) for stream in streams for line in stream if line.startswith("REPORT ")]
    truth = {"environments": len(streams), "invocations": len(reports),
             "billed_ms": sum(r.billed_ms for r in reports)}
    truth["gb_seconds"] = sum(r.billed_ms / 1000 * r.memory_mb / GB_IN_MB for r in reports)
    price = PRICES.duration_tiers["x86_64"][0].usd_per_gb_s
    truth["cost_usd"] = truth["invocations"] * PRICES.requests_usd_per_million / 1e6 + truth["gb_seconds"] * price

    _check_counts(answer, truth, reports)
    _check_billed(answer, truth, reports)
    _check_gb_seconds(answer, truth, reports)
    _check_cost(answer, truth, price)
    passed("the night's environments, invocations and bill, read from CloudWatch Logs alone.")


def _check_counts(answer: dict, truth: dict, reports: list) -> None:
    if answer["invocations"] != truth["invocations"]:
        require(False, f"answer['invocations'] is {answer['invocations']}, but the log group has a different number "
                       "of invocations. Each invocation ends with exactly one REPORT line; count them in every "
                       "stream, not only the newest.")
    if answer["environments"] != truth["environments"]:
        hint = ""
        if answer["environments"] == truth["invocations"]:
            hint = " That is the number of invocations: one environment serves many invocations, one after another."
        require(False, f"answer['environments'] is {answer['environments']}, which the logs do not bear out.{hint} "
                       "Where does each execution environment write its lines, and which lines does only a cold "
                       "start write? (notebook 00, sections 'Logs live in CloudWatch Logs' and 'Read the log')")


def _check_billed(answer: dict, truth: dict, reports: list) -> None:
    given = answer["billed_ms"]
    if given == truth["billed_ms"]:
        return
    if math.isclose(given, sum(r.duration_ms for r in reports), abs_tol=1) or given == sum(
            math.ceil(r.duration_ms) for r in reports):
        require(False, f"answer['billed_ms'] is {given}: the sum of the Duration fields. The bill is not based on "
                       f"Duration but on another field of the REPORT line ({_PAYING}).")
    if math.isclose(given, truth["billed_ms"] + sum(r.init_ms or 0 for r in reports), abs_tol=len(reports)):
        require(False, f"answer['billed_ms'] is {given}: you added the Init Duration of the cold starts to Billed "
                       "Duration, but Billed Duration already includes it (notebook 00, section 'Read the log').")
    require(False, f"answer['billed_ms'] is {given}, which is not the total of the night's Billed Duration fields. "
                   "Add up that field of every REPORT line, in every stream.")


def _check_gb_seconds(answer: dict, truth: dict, reports: list) -> None:
    given = answer["gb_seconds"]
    if math.isclose(given, truth["gb_seconds"], rel_tol=1e-6):
        return
    if math.isclose(given, sum(r.billed_ms / 1000 * r.memory_mb / 1000 for r in reports), rel_tol=1e-6):
        require(False, f"answer['gb_seconds'] is {given}: you divided the memory by 1,000. Lambda counts memory in "
                       f"binary gigabytes ({_PAYING}; notebook 06 has the arithmetic).")
    if math.isclose(given, sum(r.billed_ms * r.memory_mb / GB_IN_MB for r in reports), rel_tol=1e-6):
        require(False, f"answer['gb_seconds'] is {given}: Billed Duration is in milliseconds, GB-seconds count "
                       "seconds.")
    require(False, f"answer['gb_seconds'] is {given}, which does not match the Billed Duration and Memory Size of "
                   f"the REPORT lines. GB-seconds are billed seconds times configured gigabytes ({_PAYING}).")


def _check_cost(answer: dict, truth: dict, price: float) -> None:
    given = answer["cost_usd"]
    if math.isclose(given, truth["cost_usd"], rel_tol=1e-6):
        return
    if math.isclose(given, truth["gb_seconds"] * price, rel_tol=1e-6):
        require(False, f"answer['cost_usd'] is {given}: the duration charge alone. Every invocation is a request, "
                       f"and requests are charged too ({_PAYING}).")
    require(False, f"answer['cost_usd'] is {given}, which is not the night's x86_64 price in us-east-1 (requests "
                   f"plus GB-seconds, no free tier; {_PAYING} lists both prices).")
