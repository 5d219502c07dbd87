"""Invoke as the Lambda service does it: payload checks, alias routing, concurrency, and the HTTP answer."""

from __future__ import annotations

import base64
import binascii
import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace

from ..limits import value
from ..runtime import FunctionConfig, InvokeRequest, InvokeResult, Runtime
from ._async import AsyncQueue
from ._clock import LabClock
from . import _recursion as recursion
from ._errors import ServiceError
from ._event_config import EventConfigStore
from ._function_states import FunctionStates
from ._iam_propagation import IamPropagation
from ._mappings import MappingEngine
from ._metrics import LambdaMetrics
from ._provisioned import ProvisionedConcurrency
from ._target import Target
from ._xray import Tracer

SYNC_PAYLOAD_LIMIT = value("sync_payload_max_bytes")  # 6,291,456 bytes, request and response
ASYNC_PAYLOAD_LIMIT = value("async_payload_max_bytes")  # raised from 256 KB in 2025
ACCOUNT_CONCURRENCY = value("account_concurrency")
HISTORY_LIMIT = 20_000
# The history keeps whole logs of its newest invocations up to this many characters; older entries keep the
# 4 KB tail LogResult would give, so a print loop run many times cannot fill the kernel (CloudWatch has the rest).
HISTORY_LOG_CHARS = 16 << 20
TRIMMED_LOG = "[lambda-lab] the start of this log was dropped from lab.invocations; CloudWatch Logs has it\n"


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes


@dataclass
class Invocation:
    """One entry of the lab's invocation history, for charts, widgets and tests."""

    function_name: str
    qualifier: str | None
    executed_version: str
    invocation_type: str
    request_id: str
    started_at: float
    result: InvokeResult | None = None  # None when throttled
    throttle_reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.result is None or self.result.failed


class LambdaService:
    """The service half of the lab: decides what runs, where and whether, then asks the runtime."""

    def __init__(self, runtime: Runtime, seed: int | None = None,
                 account_concurrency: int = ACCOUNT_CONCURRENCY, busy_window_s: float = 0.0,
                 iam_delay_s: float = 0.0) -> None:
        self.runtime = runtime
        self.account_concurrency = account_concurrency
        self.function_states = FunctionStates(busy_window_s)  # Pending / InProgress (see _function_states)
        self.iam = IamPropagation(iam_delay_s)  # how late IAM changes reach Lambda (0 here; a stand-in's: seconds)
        recursion.reset()
        self.history: deque[Invocation] = deque(maxlen=HISTORY_LIMIT)
        self._whole_logs: deque[Invocation] = deque()  # entries still holding their whole log, oldest first
        self._log_chars = 0
        self._routing = random.Random(seed)
        self._ids = random.Random(None if seed is None else seed + 1)
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._in_flight_unreserved = 0
        self._in_flight_total = 0  # all functions together, for the ConcurrentExecutions metric
        self.clock = LabClock()
        self.event_configs = EventConfigStore()
        self.queue = AsyncQueue(self, self.clock)
        self.mappings = MappingEngine(self, self.clock)
        self.provisioned = ProvisionedConcurrency(runtime, self.clock)  # environments initialised ahead
        self.metrics = LambdaMetrics(self.clock)  # AWS/Lambda datapoints, published off the hot path
        self.refusals: deque[dict] = deque(maxlen=1000)
        self.tracer = Tracer()  # X-Ray: trace headers, Lambda's segments, the daemon handler code sends to
        runtime.tracing_env = self.tracer.environment

    # -- the API -------------------------------------------------------------------------------
    def invoke(self, target: Target, payload: bytes, invocation_type: str = "RequestResponse",
               log_type: str | None = None, client_context: str | None = None,
               trace_header: str | None = None) -> Reply:
        """Answer an Invoke call: (status, headers, body) as Lambda's HTTP API would."""
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise ServiceError("InvalidParameterValueException",
                               f"Unsupported InvocationType '{invocation_type}': use RequestResponse, Event or DryRun.")
        limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
        if len(payload) > limit:
            raise ServiceError("RequestEntityTooLargeException",
                               f"{len(payload)} byte payload is too large for the {invocation_type} invocation "
                               f"type (limit {limit} bytes)", 413)
        check_json(payload)
        context = decode_client_context(client_context)
        if invocation_type == "DryRun":
            return Reply(204, {}, b"")
        version = self.route(target)
        if invocation_type == "Event":
            request_id = self.new_request_id()
            recursion.adopt(request_id)  # every attempt of this event keeps its place in a recursive chain
            # AWS passes ClientContext to synchronous invocations only
            event = self.queue.submit(target, version, payload, None, request_id)
            return Reply(202, {"x-amzn-RequestId": event.request_id}, b"")
        result = self.run(target, version, payload, context, "RequestResponse", trace_header=trace_header)
        # as on AWS, the response's request id is the invocation's (the one in START, END and REPORT)
        headers = {"X-Amz-Executed-Version": version, "x-amzn-RequestId": result.request_id}
        body = result.payload
        if len(body) > SYNC_PAYLOAD_LIMIT:
            body = json.dumps({"errorMessage": "Response payload size exceeded maximum allowed payload size "
                                               "(6291556 bytes).", "errorType": "Function.ResponseSizeTooLarge"}).encode()
            headers["X-Amz-Function-Error"] = "Unhandled"
        elif result.failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if log_type == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail.encode()).decode()
        return Reply(200, headers, body)

    def route(self, target: Target) -> str:
        """The version this call runs: the qualifier's, or the alias's pick by its weights."""
        if target.alias is None:
            return target.version or "$LATEST"
        with self._lock:
            draw = self._routing.random()
        for version, weight in target.alias.weights.items():
            if draw < weight:
                return str(version)
            draw -= weight
        return target.alias.version

    def new_request_id(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def run(self, target: Target, version: str, payload: bytes, client_context: dict | None,
            invocation_type: str, request_id: str | None = None, trace_header: str | None = None) -> InvokeResult:
        """Run one invocation of `version` under the function's concurrency limits (`trace_header`: the caller's)."""
        request_id = request_id or self.new_request_id()
        record = Invocation(target.function_name, target.qualifier, version, invocation_type, request_id,
                            time.time())
        at = self.clock.now()
        try:
            self._enter(target)
        except ServiceError as throttled:
            record.throttle_reason = throttled.fields.get("Reason")
            self._remember(record)
            self.metrics.throttled(target, version, at)
            raise
        # concurrency as this call starts (read without the lock: a metric sample, not a decision)
        running = (self._in_flight.get(target.function_name, 0), self._in_flight_unreserved,
                   self._in_flight_total)
        trace = None
        try:
            config = target.config_for(version)
            trace = self.tracer.begin(config, trace_header, record.started_at,
                                      recursion.trace_for(request_id, target.function_arn))
            request = InvokeRequest(request_id, payload or b"{}", target.invoked_arn, client_context,
                                    trace_header=trace.header)
            record.result = self.runtime.invoke(config, request)
        finally:
            self._leave(target)
            self._remember(record)
            if record.result is not None:
                self.metrics.invoked(target, version, at, record.result, running)
                if target.qualifier is not None:  # provisioned concurrency serves versions and aliases only
                    self.provisioned.count(self.metrics, target, at, record.result.provisioned)
            if trace is not None and trace.sampled:
                self.tracer.finish(trace, config, target.invoked_arn, record.result, time.time())
        return record.result

    def _remember(self, record: Invocation) -> None:
        """Add to the history; past HISTORY_LOG_CHARS of logs, the oldest entries keep only their tail."""
        with self._lock:
            self.history.append(record)
            if record.result is None:
                return
            self._whole_logs.append(record)
            self._log_chars += len(record.result.log)
            while self._log_chars > HISTORY_LOG_CHARS and len(self._whole_logs) > 1:
                old = self._whole_logs.popleft()
                self._log_chars -= len(old.result.log)
                # a new result object: whoever holds the original (an Invoke answer in flight) keeps it whole
                old.result = replace(old.result, log=TRIMMED_LOG + old.result.log_tail)

    def refuse(self, source: str, function_arn: str, reason: str) -> None:
        """A push source was not allowed to invoke: keep why, where a learner can read it."""
        self.refusals.append({"at": self.clock.now(), "source": source, "function": function_arn, "reason": reason})

    def wait_for_async(self, timeout: float | None = 60.0) -> None:
        """Block until every queued event, retry, delivery and poller batch has finished.

        Delays (retries, visibility timeouts, stream backoff) are fast-forwarded on the lab clock.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.mappings.wait_idle(0.5)
            queue_idle = self.queue.outstanding == 0
            mapping_due = self.mappings.next_due()
            provisioned_due = self.provisioned.next_due()
            if queue_idle and mapping_due is None and self.mappings.idle() and not self.clock.has_due() \
                    and provisioned_due is None and self.provisioned.idle():
                self.metrics.settle()  # metrics published, alarms evaluated: what the learner reads next is current
                if self.queue.outstanding == 0:  # else an alarm action queued work (SNS to a function): wait for it
                    return
                continue
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"still busy after {timeout} s: " + self._still_busy(mapping_due, provisioned_due))
            if self.queue.running == 0 and self.mappings.idle():
                dues = [d for d in (self.queue.next_due(), mapping_due, provisioned_due) if d is not None]
                if dues and min(dues) > self.clock.now():
                    self.clock.advance(min(dues) - self.clock.now())
            self.mappings.nudge()
            self.queue.wait_progress(0.01)

    def _still_busy(self, mapping_due: float | None, provisioned_due: float | None) -> str:
        """What keeps wait_for_async waiting, in words (its TimeoutError says it), from the dues it last read."""
        parts = [f"{self.queue.outstanding} asynchronous event(s) unfinished"]
        if not self.mappings.idle():
            parts.append("an event source mapping is running a batch")
        if mapping_due is not None:
            parts.append(f"an event source mapping retries {max(mapping_due - self.clock.now(), 0):.0f} s later "
                         "on the lab clock")
        if self.clock.has_due():
            parts.append("a lab-clock timer is due")
        if not self.provisioned.idle() or provisioned_due is not None:
            parts.append("provisioned concurrency is still being allocated")
        return "; ".join(parts)

    def shutdown(self) -> None:
        self.tracer.stop()
        self.clock.stop()
        self.mappings.stop()
        self.queue.shutdown()

    # -- concurrency ---------------------------------------------------------------------------
    def _enter(self, target: Target) -> None:
        name, reserved = target.function_name, target.reserved_concurrency
        with self._lock:
            running = self._in_flight.get(name, 0)
            if reserved is not None:
                if running >= reserved:
                    raise _throttle("ReservedFunctionConcurrentInvocationLimitExceeded")
            elif self._in_flight_unreserved >= self.account_concurrency - target.reserved_elsewhere:
                raise _throttle("ConcurrentInvocationLimitExceeded")
            else:
                self._in_flight_unreserved += 1
            self._in_flight[name] = running + 1
            self._in_flight_total += 1

    def _leave(self, target: Target) -> None:
        with self._lock:
            self._in_flight[target.function_name] -= 1
            self._in_flight_total -= 1
            if target.reserved_concurrency is None:
                self._in_flight_unreserved -= 1


def _throttle(reason: str) -> ServiceError:
    return ServiceError("TooManyRequestsException", "Rate Exceeded.", 429, Reason=reason, retryAfterSeconds="1")


def check_json(payload: bytes) -> None:
    """Lambda accepts only JSON events; say where the text stopped being JSON."""
    if not payload:
        return
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise ServiceError("InvalidRequestContentException",
                           f"Could not parse request body into json: Could not parse payload into json: {e}. "
                           "Pass Payload=json.dumps(event).encode().") from None


def decode_client_context(value: str | None) -> dict | None:
    if not value:
        return None
    try:
        decoded = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise ServiceError("InvalidRequestContentException",
                           "Client context must be a valid Base64-encoded JSON object.") from None
    if not isinstance(decoded, dict):
        raise ServiceError("InvalidRequestContentException", "Client context must be a JSON object.")
    return decoded
