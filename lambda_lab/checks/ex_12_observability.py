"""Checks for the exercises of notebook 12_observability: a slow downstream call found in a trace, and a
throttling problem found in the metrics."""

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from . import function_config, passed, require

__all__ = ["ex_12_slow_downstream", "ex_12_throttling"]

# exercise 12.1: what the setup deploys, and the goal
CART = {"currency": "EUR", "items": [{"sku": "MUG", "price_usd": 12.5, "qty": 2},
                                     {"sku": "TEE", "price_usd": 20.0, "qty": 1}]}
EXPECTED = {"total": 41.4, "currency": "EUR", "rates_as_of": "2026-11-30"}
SETUP_MEMORY_MB, SETUP_TIMEOUT_S = 256, 10
GOAL_MS = 200
PARTNER_MIN_MS = 400  # fx-rates sleeps 600 ms: anything much faster means it was changed


def _invoke(lam, name: str, payload: dict | None = None) -> tuple[dict, object, str]:
    """One synchronous call with the log tail: (response, decoded payload, REPORT line)."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), LogType="Tail")
    body = response["Payload"].read()
    try:
        answer = json.loads(body)
    except ValueError:
        answer = body.decode(errors="replace")
    tail = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    reports = [line for line in tail.splitlines() if line.startswith("REPORT") or '"platform.report"' in line]
    return response, answer, reports[-1] if reports else ""


def _duration_ms(report: str) -> float | None:
    found = re.search(r"\tDuration: ([\d.]+) ms", report) or re.search(r'"durationMs":\s*([\d.]+)', report)
    return float(found.group(1)) if found else None


def _cold(report: str) -> bool:
    return "Init Duration" in report or "initDurationMs" in report


def ex_12_slow_downstream(function_name: str = "checkout", downstream: str = "fx-rates") -> None:
    """Exercise 12.1: warm requests of `function_name` take under 200 ms, with the same answers, and the partner's
    `downstream` function is unchanged."""
    lam = boto3.client("lambda")
    config = function_config(function_name, "Run the exercise's setup cell first: it creates the functions.")
    function_config(downstream, "Run the exercise's setup cell first: it creates the functions.")

    _, _, partner_report = _invoke(lam, downstream)
    partner_ms = _duration_ms(partner_report)
    require(partner_ms is None or partner_ms >= PARTNER_MIN_MS,
            f"'{downstream}' now answers in {partner_ms:.0f} ms. It is the partner team's service and must stay as "
            f"it was: change '{function_name}' instead (run the exercise from the top to restore '{downstream}').")

    calls = [_invoke(lam, function_name, CART) for _ in range(4)]
    for response, answer, _ in calls:
        if "FunctionError" in response:
            detail = f"{answer.get('errorType')}: {answer.get('errorMessage')}" if isinstance(answer, dict) else answer
            require(False, f"'{function_name}' fails now ({detail}). Read its log (LogType='Tail' or CloudWatch "
                           f"Logs, /aws/lambda/{function_name}) and fix the code.")
        require(answer == EXPECTED,
                f"'{function_name}' answers {answer!r} for the exercise's cart, not {EXPECTED!r} as before: the fix "
                f"must keep its answers, with the rates still coming from '{downstream}'.")
    warm = [_duration_ms(report) for _, _, report in calls if not _cold(report)]
    warm = [ms for ms in warm if ms is not None]
    require(warm, f"Every call of '{function_name}' was a cold start; run the check again.")
    slowest = max(warm)
    if slowest >= GOAL_MS:
        changed = []
        if config["MemorySize"] != SETUP_MEMORY_MB:
            changed.append(f"memory ({SETUP_MEMORY_MB} -> {config['MemorySize']} MB)")
        if config["Timeout"] != SETUP_TIMEOUT_S:
            changed.append(f"timeout ({SETUP_TIMEOUT_S} -> {config['Timeout']} s)")
        also = (f" You changed its {' and '.join(changed)}: that does not shorten time spent waiting for another "
                "service.") if changed else ""
        require(False, f"Warm requests of '{function_name}' still take about {slowest:.0f} ms; the goal is under "
                       f"{GOAL_MS} ms.{also} Where does a warm request spend its time? Read one of its traces "
                       "(notebook 12, 'X-Ray traces: a cold start and a downstream call'): which subsegment is the "
                       "longest, and must that work happen on every request?")
    passed(f"warm requests of '{function_name}' take under {GOAL_MS} ms, its answers are unchanged, and "
           f"'{downstream}' was left as it was.")


# exercise 12.2: the peak, the database's limit, the topic
PEAK = 6
DB_CONNECTIONS = 10


def _throttle_alarm_problem(alarm: dict, topic_arn: str) -> str | None:
    """What keeps this Throttles alarm from notifying the topic within a minute of one refusal (None: nothing)."""
    name = alarm["AlarmName"]
    if topic_arn not in alarm.get("AlarmActions", []):
        return (f"The alarm '{name}' watches the right metric, but its AlarmActions ({alarm.get('AlarmActions') or 'none'}) "
                f"do not include the topic '{topic_arn.split(':')[-1]}', so nobody is told (requirement 3).")
    if not alarm.get("ActionsEnabled", True):
        return f"The alarm '{name}' has its actions disabled (ActionsEnabled=False), so nobody is told."
    if alarm.get("Period", 60) > 60:
        return (f"The alarm '{name}' looks at periods of {alarm['Period']} s: requirement 3 asks for a notification "
                "within a minute.")
    if (alarm.get("DatapointsToAlarm") or alarm.get("EvaluationPeriods", 1)) > 1:
        return (f"The alarm '{name}' needs several breaching periods before it fires; one minute with a refusal "
                "must be enough (requirement 3).")
    stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
    if stat not in ("Sum", "Maximum", "Average", "SampleCount"):
        return f"The alarm '{name}' uses the statistic {stat!r}; which statistic counts the refusals in a minute?"
    operator, threshold = alarm.get("ComparisonOperator"), alarm.get("Threshold", 0)
    fires_on_one = (operator == "GreaterThanOrEqualToThreshold" and threshold <= 1) or \
                   (operator == "GreaterThanThreshold" and threshold < 1)
    if not fires_on_one:
        return (f"The alarm '{name}' fires only when the metric is {operator} {threshold:g}: a minute with a single "
                "refused request must already notify the team (requirement 3).")
    return None


def _alarms_on(cloudwatch, function_name: str) -> list[dict]:
    alarms = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
        for alarm in page["MetricAlarms"]:
            dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
            if alarm.get("Namespace") == "AWS/Lambda" and dims.get("FunctionName") == function_name:
                alarms.append(alarm)
    return alarms


def _peak(function_name: str, n: int) -> int:
    """Send n simultaneous requests, as the site does (no retries); how many were refused."""
    client = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))

    def one(i):
        try:
            client.invoke(FunctionName=function_name, Payload=json.dumps({"image": f"check-{i}.jpg"}).encode())
            return 0
        except ClientError as error:
            if error.response["Error"]["Code"] != "TooManyRequestsException":
                raise
            return 1

    with ThreadPoolExecutor(max_workers=n) as pool:
        return sum(pool.map(one, range(n)))


def ex_12_throttling(function_name: str = "resize", topic_name: str = "ops-alerts") -> None:
    """Exercise 12.2: a peak of 6 is served, never more than 10 copies run, and refusals notify the topic."""
    lam, cloudwatch, sns = boto3.client("lambda"), boto3.client("cloudwatch"), boto3.client("sns")
    function_config(function_name, "Run the exercise's setup cell first: it creates the function.")
    reserved = lam.get_function_concurrency(FunctionName=function_name).get("ReservedConcurrentExecutions")
    require(reserved is not None,
            f"'{function_name}' has no reserved concurrency now. It serves the peak, but nothing keeps it under "
            f"{DB_CONNECTIONS} copies: at a bigger peak it would open more connections than the database accepts "
            "(requirement 2). Notebook 05, 'Concurrency', and notebook 12, 'Throttles and concurrency'.")
    require(reserved >= PEAK,
            f"'{function_name}' may run only {reserved} cop{'y' if reserved == 1 else 'ies'} at once, fewer than the "
            f"{PEAK} requests of a peak, so the rest are refused (requirement 1). Did you read its metrics for the "
            "last peak? Notebook 12, 'Throttles and concurrency'.")
    require(reserved <= DB_CONNECTIONS,
            f"'{function_name}' may run {reserved} copies at once, and each holds a database connection: the database "
            f"accepts {DB_CONNECTIONS} (requirement 2).")

    topics = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]
              if t["TopicArn"].split(":")[-1] == topic_name]
    require(topics, f"There is no SNS topic '{topic_name}': run the exercise's setup cell first.")
    alarms = _alarms_on(cloudwatch, function_name)
    watching = [a for a in alarms if a.get("MetricName") == "Throttles"]
    if not watching:
        others = sorted({a["MetricName"] for a in alarms})
        if others:
            require(False, f"Your alarm on '{function_name}' watches {', '.join(others)}. A refused request never "
                           "runs, so it is neither an invocation nor an error: that alarm stays quiet while users get "
                           "errors. Which metric counts refused requests? Notebook 12, 'Throttles and concurrency'.")
        require(False, f"No CloudWatch alarm watches '{function_name}', so nobody is told when it refuses requests "
                       "again (requirement 3). Notebook 12, 'An alarm that fires and notifies'.")
    problems = [_throttle_alarm_problem(alarm, topics[0]) for alarm in watching]
    require(None in problems, problems[0] or "")

    refused = _peak(function_name, PEAK)
    require(refused == 0, f"A peak of {PEAK} simultaneous requests still had {refused} refused. Is something else "
                          "using the account's concurrency?")
    good = watching[problems.index(None)]["AlarmName"]
    passed(f"a peak of {PEAK} requests was served, '{function_name}' never runs more than {reserved} copies, and "
           f"the alarm '{good}' tells '{topic_name}' about refusals within a minute.")
