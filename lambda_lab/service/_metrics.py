"""Lambda's own CloudWatch metrics (namespace AWS/Lambda), collected off the warm invoke path.

The hot path only appends a tuple (`invoked`, `throttled`, ...); `flush()` turns what piled up into
datapoints with Lambda's dimension sets and hands them to the bound publisher (the moto bridge's
`publish`). Flushes happen before any CloudWatch read, on each lab-clock minute and in
`lab.wait_for_async()`, so a learner reading metrics always sees every invocation so far.

Dimension sets, as Lambda publishes them: none (account-wide), `FunctionName`, `FunctionName`+`Resource`
(`name:qualifier`, for a call naming a version or alias) and `FunctionName`+`Resource`+`ExecutedVersion`
(the version an alias ran). Timestamps are lab-clock times.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ._clock import LabClock
    from ._target import Target

__all__ = ["NAMESPACE", "LambdaMetrics", "dimension_sets"]

NAMESPACE = "AWS/Lambda"
TICK_S = 60.0  # Lambda publishes at one-minute granularity; the lab flushes and evaluates alarms as often
PENDING_LIMIT = 50_000  # past this, the next tick comes at once: nobody reading must not mean unbounded memory

Publisher = Callable[[str, str, str, list], None]  # (account, region, namespace, datums)


def dimension_sets(target: Target, version: str | None, account_wide: bool = True) -> list[list[dict]]:
    """The dimension sets one invocation of `target` counts under, as Lambda publishes them."""
    name = target.function_name
    sets = [[]] if account_wide else []
    sets.append([_dim("FunctionName", name)])
    if target.qualifier:
        resource = [_dim("FunctionName", name), _dim("Resource", f"{name}:{target.qualifier}")]
        sets.append(resource)
        if target.alias is not None and version:
            sets.append(resource + [_dim("ExecutedVersion", version)])
    return sets


class LambdaMetrics:
    """Pending AWS/Lambda datapoints of one lab; `bind()` says where they go and how alarms are evaluated."""

    def __init__(self, clock: LabClock) -> None:
        self.clock = clock
        self._pending: deque = deque()
        self._publish: Publisher | None = None
        self._evaluate: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._ticking = False
        self._urgent = False

    def bind(self, publish: Publisher, evaluate: Callable[[], None] | None = None) -> None:
        self._publish, self._evaluate = publish, evaluate

    # -- the hot path: one append each -------------------------------------------------------------
    def invoked(self, target: Target, version: str, at: float, result, concurrency: tuple) -> None:
        """One invocation that ran: Invocations, Errors, Duration and the concurrency figures at its start."""
        # the figures, not the result: a pending entry must not keep a megabyte of log alive
        self._add(("invoked", target, version, at, result.failed, result.duration_ms, concurrency))

    def throttled(self, target: Target, version: str, at: float) -> None:
        self._add(("throttled", target, version, at))

    def count(self, metric: str, target: Target, at: float, value: float = 1.0, unit: str = "Count") -> None:
        """A per-function figure (async and event source mapping metrics), e.g. AsyncEventsReceived."""
        self._add(("count", target, metric, at, value, unit))

    def stream_batch(self, target: Target, event: dict) -> None:
        """IteratorAge of a stream batch: the age of its last record, on the real clock (moto stamps records so)."""
        last = event["Records"][-1]
        arrived = (last.get("kinesis") or {}).get("approximateArrivalTimestamp") or \
            (last.get("dynamodb") or {}).get("ApproximateCreationDateTime")
        if isinstance(arrived, (int, float)):
            self.count("IteratorAge", target, self.clock.now(), max(0.0, time.time() - arrived) * 1000, "Milliseconds")

    def _add(self, entry: tuple) -> None:
        self._pending.append(entry)
        if not self._ticking:
            self._start_ticking()
        elif len(self._pending) > PENDING_LIMIT and not self._urgent:
            self._urgent = True
            self.clock.call_later(0.0, self.flush)

    # -- off the hot path --------------------------------------------------------------------------
    def flush(self) -> None:
        """Publish every pending datapoint (before a CloudWatch read, on a tick, when the lab settles)."""
        if self._publish is None:
            return
        with self._lock:
            self._urgent = False
            batches: dict[tuple[str, str], list] = {}
            while self._pending:
                entry = self._pending.popleft()
                _, _, _, region, account = entry[1].function_arn.split(":")[:5]
                batches.setdefault((account, region), []).extend(_datums(entry))
            for (account, region), datums in batches.items():
                self._publish(account, region, NAMESPACE, datums)

    def settle(self) -> None:
        """Flush, then evaluate alarms: what `lab.wait_for_async()` leaves behind is up to date."""
        self.flush()
        if self._evaluate is not None:
            self._evaluate()

    def _start_ticking(self) -> None:
        with self._lock:  # one chain of ticks, however many threads invoke first
            if self._ticking:
                return
            self._ticking = True
        self._tick_later()

    def _tick_later(self) -> None:
        now = self.clock.now()
        self.clock.call_later((now // TICK_S + 1) * TICK_S - now, self._tick)  # on whole lab-clock minutes

    def _tick(self) -> None:
        try:
            self.settle()
        finally:
            self._tick_later()


def _dim(name: str, value: str) -> dict:
    return {"Name": name, "Value": value}


def _datum(name: str, dims: list, value: float, at: float, unit: str) -> dict:
    return {"MetricName": name, "Dimensions": dims, "Value": value, "Timestamp": at, "Unit": unit}


def _datums(entry: tuple) -> list[dict]:
    kind, target = entry[0], entry[1]
    if kind == "invoked":
        _, _, version, at, failed, duration_ms, (function_running, unreserved, account_running) = entry
        out = []
        for dims in dimension_sets(target, version):
            out.append(_datum("Invocations", dims, 1.0, at, "Count"))
            out.append(_datum("Errors", dims, 1.0 if failed else 0.0, at, "Count"))
            # exactly the figure the REPORT line prints (two decimals)
            out.append(_datum("Duration", dims, round(duration_ms, 2), at, "Milliseconds"))
        out.append(_datum("ConcurrentExecutions", [_dim("FunctionName", target.function_name)],
                          float(function_running), at, "Count"))
        out.append(_datum("ConcurrentExecutions", [], float(account_running), at, "Count"))
        out.append(_datum("UnreservedConcurrentExecutions", [], float(unreserved), at, "Count"))
        claimed = unreserved + target.reserved_elsewhere + (target.reserved_concurrency or 0)
        out.append(_datum("ClaimedAccountConcurrency", [], float(claimed), at, "Count"))
        return out
    if kind == "throttled":
        _, _, version, at = entry
        return [_datum("Throttles", dims, 1.0, at, "Count") for dims in dimension_sets(target, version)]
    _, _, metric, at, value, unit = entry
    return [_datum(metric, dims, value, at, unit) for dims in dimension_sets(target, None, account_wide=False)]
