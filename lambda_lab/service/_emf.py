"""The CloudWatch Embedded Metric Format: log lines Lambda's log pipeline turns into CloudWatch metrics.

A line is a JSON object whose `_aws` member names `CloudWatchMetrics` directives: for each directive, each
dimension set (a list of member names; `[]` means no dimensions) and each metric (`Name`, optional `Unit`),
the metric's value is the root member of that name: a number or a list of numbers. Dimension values are the
root members named in the set. What does not follow the specification publishes nothing, as on AWS (the line
stays in the log either way).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from numbers import Real

__all__ = ["is_candidate", "metric_data"]

MAX_VALUES = 100  # values one metric may carry in one line
MAX_DIMENSIONS = 30  # dimensions one dimension set may name


def is_candidate(message: str) -> bool:
    """Cheap test: could this line be EMF? (Most log lines are not: keep the log sink fast.)"""
    return message.startswith("{") and '"_aws"' in message


def metric_data(message: str) -> list[tuple[str, list[dict]]]:
    """[(namespace, PutMetricData datums)] that one EMF line publishes; [] when it is not valid EMF."""
    try:
        root = json.loads(message)
        meta = root["_aws"]
        stamp = datetime.fromtimestamp(int(meta["Timestamp"]) / 1000, tz=timezone.utc).replace(tzinfo=None)
        directives = meta["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return []
    if not isinstance(directives, list):
        return []
    published = []
    for directive in directives:
        datums = _directive(root, directive, stamp) if isinstance(directive, dict) else []
        if datums:
            published.append((directive["Namespace"], datums))
    return published


def _directive(root: dict, directive: dict, stamp: datetime) -> list[dict]:
    namespace, dimension_sets, metrics = (directive.get(k) for k in ("Namespace", "Dimensions", "Metrics"))
    if not isinstance(namespace, str) or not namespace or not isinstance(metrics, list):
        return []
    if not isinstance(dimension_sets, list):
        return []
    resolved = []
    for keys in dimension_sets:
        if not isinstance(keys, list) or len(keys) > MAX_DIMENSIONS:
            return []
        values = [root.get(key) for key in keys]
        if not all(isinstance(value, str) for value in values):
            return []  # a dimension must name a string member of the root
        resolved.append([{"Name": key, "Value": value} for key, value in zip(keys, values)])
    datums = []
    for metric in metrics:
        name = metric.get("Name") if isinstance(metric, dict) else None
        values = _values(root.get(name)) if isinstance(name, str) else None
        if not values:
            continue
        for dimensions in resolved or [[]]:
            datum = {"MetricName": name, "Dimensions": dimensions, "Timestamp": stamp, "Values": values}
            if metric.get("Unit"):
                datum["Unit"] = metric["Unit"]
            datums.append(datum)
    return datums


def _values(value) -> list[float] | None:
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > MAX_VALUES:
        return None
    if not all(isinstance(item, Real) and not isinstance(item, bool) for item in items):
        return None
    return [float(item) for item in items]
