"""CloudWatch metric alarms, evaluated as CloudWatch does, and the messages their actions send.

Given one value per period (the alarm's statistic over its period, None where no data arrived), an alarm
is in ALARM when at least `DatapointsToAlarm` (default `EvaluationPeriods`) of its last
`EvaluationPeriods` periods breach the threshold; missing periods count as `TreatMissingData` says
(`missing` default: not at all, INSUFFICIENT_DATA when all are missing; `notBreaching`; `breaching`;
`ignore`: the state stays). The newest period may still be running: it counts once it has data, as
CloudWatch evaluates with the datapoints received so far.

>>> decide([None, 3.0], "GreaterThanOrEqualToThreshold", 1.0, 1, 1, "missing", "OK")[0]
'ALARM'
"""

from __future__ import annotations

import json
import operator
import time

__all__ = ["COMPARISONS", "window", "decide", "reason", "reason_data", "sns_message", "lambda_event", "iso"]

COMPARISONS = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
_REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
                 "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)",
                 "eu-west-3": "EU (Paris)", "eu-central-1": "EU (Frankfurt)", "eu-north-1": "EU (Stockholm)",
                 "ap-southeast-1": "Asia Pacific (Singapore)", "ap-southeast-2": "Asia Pacific (Sydney)",
                 "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-south-1": "Asia Pacific (Mumbai)",
                 "sa-east-1": "South America (Sao Paulo)", "ca-central-1": "Canada (Central)"}


def window(values: list, evaluation_periods: int) -> tuple[int, list]:
    """The periods evaluated, from `evaluation_periods + 1` values ending with the running period.

    Returns (index of the first evaluated value, the evaluated values): the running period counts once it
    has data, else the window ends with the last complete period.
    """
    first = 1 if values[-1] is not None else 0
    return first, values[first:first + evaluation_periods]


def decide(values: list, comparison: str, threshold: float, evaluation_periods: int, datapoints_to_alarm: int | None,
           treat_missing: str | None, state: str) -> tuple[str, list, list]:
    """(new state, indexes of breaching values, indexes of missing values) over the evaluated `values`."""
    compare = COMPARISONS[comparison][0]
    needed = datapoints_to_alarm or evaluation_periods
    treat = treat_missing or "missing"
    missing = [i for i, v in enumerate(values) if v is None]
    breaching = [i for i, v in enumerate(values) if v is not None and compare(v, threshold)]
    if treat == "breaching":
        breaching = sorted(breaching + missing)
    if len(missing) == len(values):
        if treat == "missing":
            return "INSUFFICIENT_DATA", [], missing
        if treat == "ignore":
            return state, [], missing
    return ("ALARM" if len(breaching) >= needed else "OK"), breaching, missing


def reason(new_state: str, old_state: str, values: list, starts: list, breaching: list, missing: list,
           comparison: str, threshold: float, datapoints_to_alarm: int, treat_missing: str | None) -> str:
    """StateReason in CloudWatch's words."""
    phrase = COMPARISONS[comparison][1]
    if new_state == "INSUFFICIENT_DATA":
        return f"Insufficient Data: {len(missing)} datapoint{_s(len(missing))} {_were(len(missing))} unknown."
    shown = breaching if new_state == "ALARM" else [i for i in range(len(values)) if values[i] is not None]
    points = ", ".join(f"{values[i]} ({_short(starts[i])})" for i in shown if values[i] is not None)
    if new_state == "ALARM":
        return (f"Threshold Crossed: {len(breaching)} out of the last {len(values)} datapoints [{points}] "
                f"{_were(len(breaching))} {phrase} the threshold ({float(threshold)}) (minimum {datapoints_to_alarm} "
                f"datapoint{_s(datapoints_to_alarm)} for {old_state} -> ALARM transition).")
    if not shown:
        treated = "[Breaching]" if treat_missing == "breaching" else "[NonBreaching]"
        return (f"Threshold Crossed: no datapoints were received for {len(missing)} period{_s(len(missing))} and "
                f"{len(missing)} missing datapoint{_s(len(missing))} {_were(len(missing))} treated as {treated}.")
    return (f"Threshold Crossed: {len(shown)} datapoint{_s(len(shown))} [{points}] {_were(len(shown))} not {phrase} "
            f"the threshold ({float(threshold)}).")


def reason_data(values: list, starts: list, statistic: str, period: int, threshold: float, now: float) -> str:
    """StateReasonData: the JSON CloudWatch attaches to a threshold crossing."""
    present = [i for i in range(len(values)) if values[i] is not None]
    return json.dumps({
        "version": "1.0", "queryDate": iso(now), "startDate": iso(starts[0]) if starts else iso(now),
        "statistic": statistic, "period": period, "recentDatapoints": [values[i] for i in present],
        "threshold": float(threshold),
        "evaluatedDatapoints": [{"timestamp": iso(starts[i]), "value": values[i]} for i in reversed(present)]})


def sns_message(alarm: dict, old_state: str, account: str, region: str) -> tuple[str, str]:
    """(Subject, Message) of the SNS notification CloudWatch sends for a state change."""
    where = _REGION_NAMES.get(region, region)
    trigger = {"MetricName": alarm["MetricName"], "Namespace": alarm["Namespace"],
               "StatisticType": "ExtendedStatistic" if alarm.get("ExtendedStatistic") else "Statistic",
               "Unit": alarm.get("Unit"),
               "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in alarm["Dimensions"]],
               "Period": alarm["Period"], "EvaluationPeriods": alarm["EvaluationPeriods"],
               "DatapointsToAlarm": alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"],
               "ComparisonOperator": alarm["ComparisonOperator"], "Threshold": float(alarm["Threshold"]),
               "TreatMissingData": alarm.get("TreatMissingData") or "missing",
               "EvaluateLowSampleCountPercentile": alarm.get("EvaluateLowSampleCountPercentile") or ""}
    if alarm.get("ExtendedStatistic"):
        trigger["ExtendedStatistic"] = alarm["ExtendedStatistic"]
    else:
        trigger["Statistic"] = (alarm.get("Statistic") or "").upper()
    message = {
        "AlarmName": alarm["AlarmName"], "AlarmDescription": alarm.get("AlarmDescription"), "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": iso(alarm["AlarmConfigurationUpdatedTimestamp"]),
        "NewStateValue": alarm["StateValue"], "NewStateReason": alarm["StateReason"],
        "StateChangeTime": iso(alarm["StateUpdatedTimestamp"]), "Region": where, "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": old_state, "OKActions": alarm["OKActions"], "AlarmActions": alarm["AlarmActions"],
        "InsufficientDataActions": alarm["InsufficientDataActions"], "Trigger": trigger}
    subject = f'{alarm["StateValue"]}: "{alarm["AlarmName"]}" in {where}'
    return subject[:100], json.dumps(message)


def lambda_event(alarm: dict, old: dict, account: str, region: str) -> dict:
    """The event a Lambda alarm action receives (source aws.cloudwatch)."""
    stat = {"metric": {"namespace": alarm["Namespace"], "name": alarm["MetricName"],
                       "dimensions": {d["Name"]: d["Value"] for d in alarm["Dimensions"]}},
            "period": alarm["Period"], "stat": alarm.get("ExtendedStatistic") or alarm.get("Statistic")}
    return {
        "source": "aws.cloudwatch", "alarmArn": alarm["AlarmArn"], "accountId": account,
        "time": iso(alarm["StateUpdatedTimestamp"]), "region": region,
        "alarmData": {
            "alarmName": alarm["AlarmName"],
            "state": {"value": alarm["StateValue"], "reason": alarm["StateReason"],
                      "reasonData": alarm["StateReasonData"], "timestamp": iso(alarm["StateUpdatedTimestamp"])},
            "previousState": {"value": old["StateValue"], "reason": old["StateReason"],
                              "reasonData": old["StateReasonData"], "timestamp": iso(old["StateUpdatedTimestamp"])},
            "configuration": {"description": alarm.get("AlarmDescription") or "", "metrics": [
                {"id": "m1", "metricStat": stat, "returnData": True}]}}}


def iso(epoch: float) -> str:
    """CloudWatch's timestamp format in alarm messages: 2026-11-30T09:41:00.000+0000."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}+0000"


def _short(epoch: float) -> str:
    return time.strftime("%d/%m/%y %H:%M:%S", time.gmtime(epoch))


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"
