"""CloudWatch as the lab needs it: Lambda's metrics stored, queried and alarmed on as CloudWatch does.

moto matches a query's dimensions as a subset, ignores the namespace when dimensions are given, has no
percentiles, stamps data and alarms with real time, starts alarms in OK and never evaluates them. Here:
exact dimension matching (`get_metric_data`, `get_metric_statistics`; `list_metrics` filters by
containment, as CloudWatch does), percentiles (`p99`, nearest rank), periods aligned to the minute,
lab-clock timestamps, alarms that start in INSUFFICIENT_DATA, are evaluated on the lab clock and send
their actions (SNS topics, Lambda functions), and `describe_alarm_history`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
import threading
from collections import defaultdict

from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue, ValidationError
from moto.cloudwatch.metric_data_expression_parser import parse_expression
from moto.cloudwatch.models import Alarm, CloudWatchBackend, MetricAggregatedDatum, MetricDatum, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from .. import _alarms
from . import _state

__all__ = ["publish", "flush", "evaluate_alarms", "PATCHES"]

_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?|100)$")
_lock = threading.RLock()  # one writer of buckets and alarm states at a time (requests, the clock's ticks)


def _original(owner, attr):
    return _state.originals[(owner, attr)]


class _Minute(MetricAggregatedDatum):
    """One minute of one metric (CloudWatch's standard resolution): a statistic set and its values."""

    def __init__(self, namespace: str, name: str, dims: list, minute: float, unit: str | None) -> None:
        super().__init__(namespace, name, 0.0, 0.0, 0.0, 0.0, dims, _datetime(minute), unit)
        self.values: list[float] = []

    def add(self, value: float, count: int = 1) -> None:
        self.min = value if not self.values else min(self.min, value)
        self.max = value if not self.values else max(self.max, value)
        self.values.extend([value] * count)
        self.sample_count += count
        self.sum += value * count


# -- writing ---------------------------------------------------------------------------------------
def publish(account: str, region: str, namespace: str, datums: list[dict]) -> None:
    """Store metric datapoints in the lab's CloudWatch, as Lambda (or any AWS service) would publish them.

    `datums` has PutMetricData's MetricData shape (MetricName, Dimensions, Value or Values/Counts, Unit);
    `Timestamp` is epoch seconds (not EMF's milliseconds) or a datetime, the lab clock's now when absent.
    Other parts of the lab publish through this function too: Powertools' Embedded Metric Format lines
    become metrics with `publish(account, region, namespace, datums)` (also `service._moto.publish_metrics`).
    """
    now = _now()
    with _lock:
        backend = cloudwatch_backends[account][region]
        index = backend.__dict__.setdefault("lab_minutes", {})
        for datum in datums:
            at = _epoch(datum.get("Timestamp")) if datum.get("Timestamp") is not None else now
            minute = at // 60 * 60
            dims = sorted((d["Name"], d["Value"]) for d in datum.get("Dimensions") or [])
            key = (namespace, datum["MetricName"], tuple(dims), minute, datum.get("Unit"))
            bucket = index.get(key)
            if bucket is None:
                named = [{"Name": n, "Value": v} for n, v in dims]
                bucket = index[key] = _Minute(namespace, datum["MetricName"], named, minute, datum.get("Unit"))
                backend.metric_data.append(bucket)
            if "Values" in datum:
                counts = datum.get("Counts") or [1] * len(datum["Values"])
                for value, count in zip(datum["Values"], counts):
                    bucket.add(float(value), int(count))
            else:
                bucket.add(float(datum.get("Value", 0.0)))


def flush() -> None:
    """Publish the lab's pending AWS/Lambda datapoints: a CloudWatch read must see every invocation so far."""
    if _state.service is not None:
        _state.service.metrics.flush()


def _put_metric_data(self: CloudWatchBackend, namespace, metric_data):
    """A datapoint sent without a Timestamp is stamped on arrival: on the lab clock."""
    stamp = _datetime(_now())
    for member in metric_data:
        if not member.get("Timestamp"):
            member["Timestamp"] = stamp
    return _original(CloudWatchBackend, "put_metric_data")(self, namespace, metric_data)


# -- reading ---------------------------------------------------------------------------------------
def _matching(backend: CloudWatchBackend, namespace: str, name: str, dimensions: list, unit: str | None,
              start: float, end: float) -> list[tuple[float, object]]:
    """Datapoints of exactly this metric (CloudWatch matches every dimension, no more, no fewer) in [start, end)."""
    wanted = {(d["Name"], d.get("Value")) for d in dimensions or []}
    found = []
    for datum in backend.get_all_metrics():
        if datum.namespace != namespace or datum.name != name or (unit and datum.unit != unit):
            continue
        if {(d.name, d.value) for d in datum.dimensions} != wanted:
            continue
        at = _epoch(datum.timestamp)
        if start <= at < end:
            found.append((at, datum))
    return found


def _by_period(points: list, start: float, period: int) -> dict[int, list]:
    groups: dict[int, list] = defaultdict(list)
    for at, datum in points:
        groups[int((at - start) // period)].append(datum)
    return groups


def statistic(data: list, stat: str) -> float | None:
    """Sum, Average, Minimum, Maximum, SampleCount or a percentile (pNN, nearest rank) of datapoints."""
    singles = [d.value for d in data if isinstance(d, MetricDatum)]
    sets = [d for d in data if isinstance(d, MetricAggregatedDatum)]
    count = len(singles) + sum(s.sample_count for s in sets)
    if not count:
        return None
    if stat == "SampleCount":
        return float(count)
    if stat == "Sum":
        return float(sum(singles) + sum(s.sum for s in sets))
    if stat == "Average":
        return float(sum(singles) + sum(s.sum for s in sets)) / count
    if stat == "Minimum":
        return float(min(singles + [s.min for s in sets]))
    if stat == "Maximum":
        return float(max(singles + [s.max for s in sets]))
    match = _PERCENTILE.match(stat or "")
    if match:
        values = sorted(singles + [v for s in sets for v in getattr(s, "values", ())])
        if not values:
            return None  # statistic sets without their values cannot give a percentile, on AWS either
        rank = max(1, -(-float(match.group(1)) * len(values) // 100))
        return float(values[int(rank) - 1])
    return None


def _get_metric_data(self: CloudWatchBackend, queries, start_time, end_time, scan_by="TimestampAscending"):
    flush()
    start, end = _on_lab_clock(_epoch(start_time), _epoch(end_time))
    if start > end:
        raise ValidationError("The parameter EndTime must be greater than StartTime.")
    if start == end:
        raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
    start = start // 60 * 60  # CloudWatch rounds a recent StartTime down to the minute
    results, returned = [], []
    with _lock:
        for query in queries:
            if "MetricStat" not in query:
                continue
            stat, metric = query["MetricStat"]["Stat"], query["MetricStat"]["Metric"]
            period = int(query["MetricStat"]["Period"])
            points = _matching(self, metric.get("Namespace"), metric.get("MetricName"), metric.get("Dimensions"),
                               query["MetricStat"].get("Unit"), start, end)
            series = []
            for index, data in sorted(_by_period(points, start, period).items()):
                value = statistic(data, stat)
                if value is not None:
                    series.append((_datetime(start + index * period, aware=True), value))
            if scan_by != "TimestampAscending":
                series.reverse()
            result = {"id": query["Id"], "label": query.get("Label") or metric.get("MetricName"),
                      "values": [v for _, v in series], "timestamps": [t for t, _ in series],
                      "status_code": "Complete"}
            results.append(result)
            if query.get("ReturnData", True):
                returned.append(result)
    for query in queries:
        if "Expression" in query:
            values, stamps = parse_expression(query["Expression"], results)
            returned.append({"id": query["Id"], "label": query.get("Label") or query["Id"], "values": values,
                             "timestamps": stamps, "status_code": "Complete"})
    return returned


def _get_metric_statistics(self: CloudWatchResponse):
    flush()
    statistics = self._get_param("Statistics", [])
    extended = self._get_param("ExtendedStatistics", [])
    if not statistics and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    start, end = _on_lab_clock(_epoch(self._get_param("StartTime")), _epoch(self._get_param("EndTime")))
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    start = start // 60 * 60
    period, name = self._get_int_param("Period"), self._get_param("MetricName")
    with _lock:
        points = _matching(self.cloudwatch_backend, self._get_param("Namespace"), name,
                           self._get_param("Dimensions", []), self._get_param("Unit"), start, end)
        datapoints = []
        for index, data in sorted(_by_period(points, start, period).items()):
            point = {"Timestamp": _datetime(start + index * period, aware=True),
                     "Unit": self._get_param("Unit") or data[0].unit or "None"}
            for stat in statistics:
                point[stat] = statistic(data, stat)
            if extended:
                point["ExtendedStatistics"] = {p: statistic(data, p) for p in extended}
            datapoints.append(point)
    return ActionResult({"Label": name, "Datapoints": datapoints})


def _get_filtered_metrics(self: CloudWatchBackend, metric_name, namespace, dimensions):
    """ListMetrics: each metric once; a dimension filter matches metrics that have it (a name alone: any value)."""
    flush()
    unique: dict = {}
    with _lock:
        for datum in self.get_all_metrics():
            if (namespace and datum.namespace != namespace) or (metric_name and datum.name != metric_name):
                continue
            have = {(d.name, d.value) for d in datum.dimensions}
            names = {d.name for d in datum.dimensions}
            if all(((f["Name"], f["Value"]) in have) if f.get("Value") is not None else f["Name"] in names
                   for f in dimensions or []):
                unique.setdefault((datum.namespace, datum.name, frozenset(have)), datum)
    return list(unique.values())


# -- alarms ----------------------------------------------------------------------------------------
def _put_metric_alarm(self: CloudWatchBackend, name, *args, **kwargs) -> Alarm:
    """A new alarm starts in INSUFFICIENT_DATA; an updated one keeps its state and history (as on AWS)."""
    with _lock:
        old = self.alarms.get(name)
        alarm = _original(CloudWatchBackend, "put_metric_alarm")(self, name, *args, **kwargs)
        now = _datetime(_now())
        alarm.configuration_updated_timestamp = now
        if old is not None:
            for attr in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp"):
                setattr(alarm, attr, getattr(old, attr))
        else:
            alarm.state_value, alarm.state_updated_timestamp = "INSUFFICIENT_DATA", now
        alarm.lab_history = getattr(old, "lab_history", [])
        verb = "updated" if old is not None else "created"
        _history(alarm, "ConfigurationUpdate", f'Alarm "{name}" {verb}', {"type": verb.capitalize()})
    return alarm


def _update_state(self: Alarm, reason: str, reason_data: str, state_value: str) -> None:
    """Every state change (evaluation or SetAlarmState) is stamped on the lab clock, kept and acted on."""
    old = _view(self)
    _original(Alarm, "update_state")(self, reason, reason_data, state_value)
    self.state_updated_timestamp = _datetime(_now())
    if not hasattr(self, "lab_history"):
        self.lab_history = []
    _history(self, "StateUpdate", f"Alarm updated from {old['StateValue']} to {state_value}", {
        "version": "1.0", "oldState": {"stateValue": old["StateValue"], "stateReason": old["StateReason"]},
        "newState": {"stateValue": state_value, "stateReason": reason,
                     "stateReasonData": json.loads(reason_data) if reason_data else {}}})
    if old["StateValue"] != state_value and self.actions_enabled:
        actions = {"ALARM": self.alarm_actions, "OK": self.ok_actions,
                   "INSUFFICIENT_DATA": self.insufficient_data_actions}[state_value]
        for arn in actions or []:
            _act(self, old, arn)


def evaluate_alarms() -> None:
    """Evaluate every metric alarm of the lab at the lab clock's now; changed states run their actions."""
    if _state.service is None:
        return
    now = _now()
    with _lock:
        for regions in list(dict.values(cloudwatch_backends)):
            for backend in list(dict.values(regions)):
                for alarm in list(backend.alarms.values()):
                    if alarm.rule is None and alarm.metric_name and alarm.comparison_operator in _alarms.COMPARISONS:
                        _evaluate(backend, alarm, now)


def _evaluate(backend: CloudWatchBackend, alarm: Alarm, now: float) -> None:
    period, periods = int(alarm.period), int(alarm.evaluation_periods)
    current = now // period * period
    starts = [current - (periods - i) * period for i in range(periods + 1)]  # the last one is still running
    stat = alarm.extended_statistic or alarm.statistic
    dims = [{"Name": d.name, "Value": d.value} for d in alarm.dimensions]
    groups = _by_period(_matching(backend, alarm.namespace, alarm.metric_name, dims, alarm.unit, starts[0],
                                  current + period), starts[0], period)
    values = [statistic(groups[i], stat) if i in groups else None for i in range(periods + 1)]
    first, evaluated = _alarms.window(values, periods)
    starts = starts[first:first + periods]
    to_alarm = int(alarm.datapoints_to_alarm or periods)
    state, breaching, missing = _alarms.decide(evaluated, alarm.comparison_operator, float(alarm.threshold), periods,
                                               to_alarm, alarm.treat_missing_data, alarm.state_value)
    if state == alarm.state_value:
        return
    why = _alarms.reason(state, alarm.state_value, evaluated, starts, breaching, missing, alarm.comparison_operator,
                         float(alarm.threshold), to_alarm, alarm.treat_missing_data)
    alarm.update_state(why, _alarms.reason_data(evaluated, starts, stat, period, float(alarm.threshold), now), state)


def _act(alarm: Alarm, old: dict, arn: str) -> None:
    """Run one alarm action: notify an SNS topic or invoke a function (asynchronously); keep the outcome."""
    parts = arn.split(":")
    service, region, account = (parts + [""] * 5)[2:5]
    new = _view(alarm)
    try:
        if service == "sns":
            from moto.sns.models import sns_backends

            subject, message = _alarms.sns_message(new, old["StateValue"], account, region)
            sns_backends[account][region].get_topic(arn).publish(message, subject=subject)
        elif service == "lambda":
            from ._records import push_allowed
            from ._triggers import _invoke_async

            allowed, why = push_allowed(arn, "lambda.alarms.cloudwatch.amazonaws.com", source_arn=alarm.alarm_arn)
            if not allowed:
                _state.service.refuse("cloudwatch", arn, why)
                raise PermissionError(f"CloudWatch Alarms is not authorized to invoke {arn}: {why}")
            _invoke_async(arn, _alarms.lambda_event(new, old, account, region))
        else:
            raise NotImplementedError(f"the lab delivers alarm actions to SNS topics and Lambda functions, not {arn}")
    except Exception as error:  # a deleted topic must not stop the evaluation: AWS records the failure too
        _history(alarm, "Action", f"Failed to execute action {arn}. Received error: {error}", {
            "actionState": "Failed", "notificationResource": arn, "error": str(error)})
        return
    _history(alarm, "Action", f"Successfully executed action {arn}", {
        "actionState": "Succeeded", "notificationResource": arn})


def _describe_alarm_history(self: CloudWatchResponse) -> ActionResult:
    """DescribeAlarmHistory (moto has none): configuration updates, state changes and actions, newest first."""
    name, kind = self._get_param("AlarmName"), self._get_param("HistoryItemType")
    start, end = self._get_param("StartDate"), self._get_param("EndDate")
    items = []
    with _lock:
        for alarm in self.cloudwatch_backend.alarms.values():
            if name and alarm.name != name:
                continue
            for item in getattr(alarm, "lab_history", []):
                at = _epoch(item["Timestamp"])
                if (kind and item["HistoryItemType"] != kind) or (start and at < _epoch(start)) or (
                        end and at > _epoch(end)):
                    continue
                items.append((at, len(items), item))  # the count keeps equal times in the order they happened
    items.sort(reverse=(self._get_param("ScanBy") or "TimestampDescending") == "TimestampDescending")
    return ActionResult({"AlarmHistoryItems": [i for _, _, i in items[:int(self._get_param("MaxRecords") or 100)]]})


def _history(alarm: Alarm, kind: str, summary: str, data: dict) -> None:
    alarm.lab_history.append({"AlarmName": alarm.name, "AlarmType": "MetricAlarm",
                              "Timestamp": _datetime(_now(), aware=True), "HistoryItemType": kind,
                              "HistorySummary": summary, "HistoryData": json.dumps(data)})


def _view(alarm: Alarm) -> dict:
    """An alarm's fields as the message builders read them (epoch seconds for times)."""
    return {"AlarmName": alarm.name, "AlarmDescription": alarm.description or None, "AlarmArn": alarm.alarm_arn,
            "AlarmConfigurationUpdatedTimestamp": _epoch(alarm.configuration_updated_timestamp),
            "StateValue": alarm.state_value, "StateReason": alarm.state_reason,
            "StateReasonData": alarm.state_reason_data, "StateUpdatedTimestamp": _epoch(alarm.state_updated_timestamp),
            "MetricName": alarm.metric_name, "Namespace": alarm.namespace, "Statistic": alarm.statistic,
            "ExtendedStatistic": alarm.extended_statistic, "Unit": alarm.unit,
            "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
            "Period": int(alarm.period), "EvaluationPeriods": int(alarm.evaluation_periods),
            "DatapointsToAlarm": alarm.datapoints_to_alarm and int(alarm.datapoints_to_alarm),
            "ComparisonOperator": alarm.comparison_operator, "Threshold": alarm.threshold,
            "TreatMissingData": alarm.treat_missing_data,
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile,
            "OKActions": list(alarm.ok_actions or []), "AlarmActions": list(alarm.alarm_actions or []),
            "InsufficientDataActions": list(alarm.insufficient_data_actions or [])}


# -- time ------------------------------------------------------------------------------------------
def _now() -> float:
    import time

    return _state.service.clock.now() if _state.service is not None else time.time()


REAL_NOW_SLACK_S = 300.0
MACHINE_NOW_S = 5.0  # an end this close to the machine's clock was datetime.now() a moment ago


def _on_lab_clock(start: float, end: float) -> tuple[float, float]:
    """A window that ends at the machine's "now" ends at the lab clock's now instead.

    Metrics are stamped on the lab clock, which runs ahead of real time (60x): a learner asking for "the last
    hour" with `datetime.now(timezone.utc)` means the lab's last hour, and gets it. A window ending anywhere
    else (at `lab.clock.now()`, or in the past) is taken as it is.
    """
    import time

    real = time.time()
    if _state.service is None or abs(end - real) > REAL_NOW_SLACK_S:
        return start, end
    lab_now = _now()
    if abs(end - lab_now) <= REAL_NOW_SLACK_S:  # a young lab: the clocks are minutes apart, so which is meant?
        if abs(end - real) <= MACHINE_NOW_S < lab_now - end:  # "now" by the machine: reach the lab's now
            return start, lab_now
        return start, end
    return start + lab_now - real, end + lab_now - real


def _epoch(value) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # moto keeps naive UTC datetimes
            return calendar.timegm(value.timetuple()) + value.microsecond / 1e6
        return value.timestamp()
    if isinstance(value, str):
        return _epoch(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    return float(value)


def _datetime(epoch: float, aware: bool = False) -> dt.datetime:
    stamp = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return stamp if aware else stamp.replace(tzinfo=None)


PATCHES = {
    (CloudWatchBackend, "put_metric_data"): _put_metric_data,
    (CloudWatchBackend, "get_metric_data"): _get_metric_data,
    (CloudWatchBackend, "get_filtered_metrics"): _get_filtered_metrics,
    (CloudWatchBackend, "put_metric_alarm"): _put_metric_alarm,
    (CloudWatchResponse, "get_metric_statistics"): _get_metric_statistics,
    (CloudWatchResponse, "describe_alarm_history"): _describe_alarm_history,
    (Alarm, "update_state"): _update_state,
}
