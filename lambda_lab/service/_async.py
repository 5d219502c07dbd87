"""Asynchronous invocation: Lambda's internal queue, retries, event age, DLQs and destinations.

A function error or timeout is retried `MaximumRetryAttempts` times (default 2), about 1 and then 2
minutes apart; a throttled attempt is retried with backoff until the event is `MaximumEventAgeInSeconds`
old (default 6 hours). Every event ends exactly once: a success, or a failure sent to the on-failure
destination and/or the dead-letter queue (or dropped, if there is neither). Delays run on the lab clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..limits import value
from . import _deliver
from ._clock import LabClock
from ._errors import ServiceError

if TYPE_CHECKING:
    from ._target import Runner, Target

RETRY_DELAYS_S = (60.0, 120.0)  # after the first and the second failed attempt
THROTTLE_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 120.0, 300.0)  # then every 5 minutes
DEFAULT_MAX_AGE_S = value("event_age_max_s")
DEFAULT_RETRIES = value("async_retries_default")


@dataclass
class Attempt:
    at: float  # simulated epoch seconds
    outcome: str  # success | error | throttled
    executed_version: str
    error_type: str | None = None


@dataclass
class AsyncEvent:
    """One queued event and everything that happened to it, for the timeline chart."""

    request_id: str
    function_name: str
    qualifier: str | None
    payload: bytes = field(repr=False)
    received_at: float
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str | None = None  # Success | RetriesExhausted | EventAgeExceeded, once finished
    deliveries: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, arn, "ok" or the error)

    @property
    def finished(self) -> bool:
        return self.outcome is not None


class AsyncQueue:
    def __init__(self, service: Runner, clock: LabClock, workers: int = 8) -> None:
        self.service, self.clock = service, clock
        self.events: deque[AsyncEvent] = deque(maxlen=20_000)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda-lab-async")
        self._cond = threading.Condition()
        self._outstanding = 0  # events not yet finished
        self._running = 0  # attempts handed to the pool and not yet done
        self._waiting: dict[str, float] = {}  # request id -> simulated time of its next attempt

    def submit(self, target: Target, version: str, payload: bytes, context: dict | None,
               request_id: str) -> AsyncEvent:
        event = AsyncEvent(request_id, target.function_name, target.qualifier, payload, self.clock.now())
        self.events.append(event)
        self.service.metrics.count("AsyncEventsReceived", target, event.received_at)
        with self._cond:
            self._outstanding += 1
        self._start(event, target, version, context)
        return event

    @property
    def outstanding(self) -> int:
        return self._outstanding

    @property
    def running(self) -> int:
        return self._running

    def next_due(self) -> float | None:
        """Simulated time of the next retry waiting on the clock."""
        with self._cond:
            return min(self._waiting.values()) if self._waiting else None

    def wait_progress(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- attempts ------------------------------------------------------------------------------
    def _start(self, event: AsyncEvent, target: Target, version: str, context: dict | None) -> None:
        with self._cond:
            self._running += 1
            self._waiting.pop(event.request_id, None)
        self._pool.submit(self._attempt, event, target, version, context)

    def _later(self, delay: float, event: AsyncEvent, target: Target, version: str, context) -> None:
        with self._cond:
            self._waiting[event.request_id] = self.clock.now() + delay
        self.clock.call_later(delay, lambda: self._start(event, target, version, context))

    def _attempt(self, event: AsyncEvent, target: Target, version: str, context: dict | None) -> None:
        try:
            self._try(event, target, version, context)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def _try(self, event: AsyncEvent, target: Target, version: str, context: dict | None) -> None:
        config = self.service.event_configs.effective(target.function_name, target.qualifier)
        max_age = config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S)
        retries = config.get("MaximumRetryAttempts", DEFAULT_RETRIES)
        now = self.clock.now()
        if now - event.received_at > max_age:
            return self._finish(event, target, version, "EventAgeExceeded", None, config)
        # the time the event waited in the queue, retries and throttles included
        self.service.metrics.count("AsyncEventAge", target, now, (now - event.received_at) * 1000, "Milliseconds")
        try:
            result = self.service.run(target, version, event.payload, context, "Event", event.request_id)
        except ServiceError as error:
            if error.status != 429:
                raise
            event.attempts.append(Attempt(now, "throttled", version, error.fields.get("Reason")))
            throttles = sum(a.outcome == "throttled" for a in event.attempts)
            delay = THROTTLE_BACKOFF_S[min(throttles, len(THROTTLE_BACKOFF_S)) - 1]
            if now + delay - event.received_at > max_age:
                return self._finish(event, target, version, "EventAgeExceeded", None, config)
            return self._later(delay, event, target, version, context)
        event.attempts.append(Attempt(now, "error" if result.failed else "success", version, result.error_type))
        if not result.failed:
            return self._finish(event, target, version, "Success", result, config)
        failures = sum(a.outcome == "error" for a in event.attempts)
        if failures > retries:
            return self._finish(event, target, version, "RetriesExhausted", result, config)
        delay = RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S)) - 1]
        if now + delay - event.received_at > max_age:
            return self._finish(event, target, version, "EventAgeExceeded", result, config)
        self._later(delay, event, target, version, context)

    # -- the end of an event -------------------------------------------------------------------
    def _finish(self, event: AsyncEvent, target: Target, version: str, condition: str, result, config) -> None:
        destinations = config.get("DestinationConfig") or {}
        if condition == "Success":
            arn = (destinations.get("OnSuccess") or {}).get("Destination")
            if arn:
                self._deliver(event, "OnSuccess", arn, lambda: _deliver.send_record(
                    arn, self._record(event, target, version, condition, result), True))
        else:
            arn = (destinations.get("OnFailure") or {}).get("Destination")
            if arn:
                self._deliver(event, "OnFailure", arn, lambda: _deliver.send_record(
                    arn, self._record(event, target, version, condition, result), False))
            dlq = target.dead_letter_arn(version)
            if dlq:
                message = _error_message(result) if result is not None else "Event age exceeded"
                status = 200 if result is not None else 429
                self._deliver(event, "DeadLetter", dlq, lambda: _deliver.send_to_dead_letter(
                    dlq, event.payload, event.request_id, status, message))
        event.outcome = condition
        self._count_outcome(event, target, condition)
        with self._cond:
            self._outstanding -= 1
            self._cond.notify_all()

    def _count_outcome(self, event: AsyncEvent, target: Target, condition: str) -> None:
        """AsyncEventsDropped (a DLQ or destination copy or not), DeadLetterErrors, DestinationDeliveryFailures."""
        now = self.clock.now()
        if condition != "Success":
            self.service.metrics.count("AsyncEventsDropped", target, now)
        for kind, _, outcome in event.deliveries:
            if outcome != "ok":
                self.service.metrics.count("DeadLetterErrors" if kind == "DeadLetter" else
                                           "DestinationDeliveryFailures", target, now)

    @staticmethod
    def _deliver(event: AsyncEvent, kind: str, arn: str, send) -> None:
        try:
            send()
            event.deliveries.append((kind, arn, "ok"))
        except Exception as error:  # a deleted queue must not lose the record silently: keep why
            event.deliveries.append((kind, arn, f"{type(error).__name__}: {error}"))

    def _record(self, event: AsyncEvent, target: Target, version: str, condition: str, result) -> dict:
        stamp = self.clock.now()
        response = {"statusCode": 200 if result is not None else 429, "executedVersion": version}
        if result is not None and result.failed:
            response["functionError"] = "Unhandled"
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp * 1000) % 1000:03d}Z",
            "requestContext": {"requestId": event.request_id, "functionArn": f"{target.function_arn}:{version}",
                               "condition": condition, "approximateInvokeCount": len(event.attempts)},
            "requestPayload": _json_or_text(event.payload),
            "responseContext": response,
        }
        if result is not None:
            record["responsePayload"] = _json_or_text(result.payload)
        return record


def _json_or_text(data: bytes):
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return data.decode(errors="replace")


def _error_message(result) -> str:
    try:
        return json.loads(result.payload).get("errorMessage", "")
    except (ValueError, AttributeError):
        return ""
