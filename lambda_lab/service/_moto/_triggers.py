"""Triggers moto fires, run the lab's way: S3 notifications, SNS, EventBridge rules and schedules, pollers.

Push sources check the function's resource-based policy as AWS does; poll-based sources (event source
mappings) are read by the lab's own pollers instead of moto's one-message-at-a-time shortcuts.
"""

from __future__ import annotations

import copy
import functools
import json
import time
import uuid

from moto.awslambda.models import lambda_backends
from moto.awslambda_simple.models import lambda_simple_backends
from moto.dynamodb.models.table import StreamShard
from moto.events.models import EventsBackend, Rule
from moto.kinesis.models import Stream
from moto.s3 import notifications as s3_notifications
from moto.s3.exceptions import InvalidArgumentError
from moto.s3.models import FakeBucket
from moto.sns.models import Subscription
from moto.sqs.models import Queue

from .. import _recursion
from .._filters import FilterError, compile_criteria
from .._mappings import Mapping
from .._schedule import next_fire
from . import _state
from ._loops import PATCHES as _LOOP_PATCHES
from ._s3_events import PATCHES as _S3_EVENTS_PATCHES
from ._schedules import PATCHES as _SCHEDULER_PATCHES
from ._subscriptions import PATCHES as _SUBSCRIPTION_PATCHES
from ._records import function_by_arn, push_allowed, resolve


def _original(owner, attr):
    return _state.originals[(owner, attr)]


# -- S3 ----------------------------------------------------------------------------------------------
def _set_notification_configuration(self: FakeBucket, notification_config) -> None:
    """S3 refuses a notification to a function that does not let s3.amazonaws.com invoke it."""
    for config in (notification_config or {}).get("CloudFunctionConfiguration") or []:
        arn = config.get("CloudFunction", "")
        allowed, why = push_allowed(arn, "s3.amazonaws.com", source_arn=f"arn:aws:s3:::{self.name}",
                                    source_account=self.account_id)
        if not allowed:
            _state.service.refuse("s3", arn, why)
            raise InvalidArgumentError("Unable to validate the following destination configurations", arn,
                                       f"Not authorized to invoke function [{arn}]")
    return _original(FakeBucket, "set_notification_configuration")(self, notification_config)


# -- SNS ---------------------------------------------------------------------------------------------
def _sns_publish(self: Subscription, message, message_id, subject=None, message_attributes=None, *args, **kwargs):
    if self.protocol != "lambda":
        return _original(Subscription, "publish")(self, message, message_id, subject, message_attributes,
                                                  *args, **kwargs)
    if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(message_attributes, message):
        return None
    allowed, why = push_allowed(self.endpoint, "sns.amazonaws.com", source_arn=self.topic.arn)
    if not allowed:
        return _state.service.refuse("sns", self.endpoint, why)
    event = {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": self.arn,
        "Sns": {"Type": "Notification", "MessageId": message_id, "TopicArn": self.topic.arn, "Subject": subject,
                "Message": message, "Timestamp": _iso(_state.service.clock.now()), "SignatureVersion": "1",
                "Signature": "EXAMPLE", "SigningCertUrl": "EXAMPLE", "UnsubscribeUrl": "EXAMPLE",
                "MessageAttributes": {k: {"Type": v.get("DataType", v.get("Type")),
                                          "Value": v.get("StringValue", v.get("Value", v.get("BinaryValue")))}
                                      for k, v in (message_attributes or {}).items()}}}]}
    _invoke_continuing("sns", self.endpoint, event)
    return None


# -- EventBridge -------------------------------------------------------------------------------------
def _send_to_targets(self: Rule, original_event, transform_input: bool = True) -> None:
    """moto raises NotImplementedError for function targets; the lab invokes them, asynchronously."""
    functions = [t for t in self.targets if t["Arn"].split(":")[2] == "lambda"]
    if len(functions) < len(self.targets):
        others = copy.copy(self)
        others.targets = [t for t in self.targets if t not in functions]
        _original(Rule, "send_to_targets")(others, original_event, transform_input)
    if functions and self.event_pattern.matches_event(original_event):
        event = {k: v for k, v in original_event.items() if k != "ingestion-time"}  # moto's own bookkeeping
        if isinstance(event.get("time"), (int, float)):  # EventBridge sends an ISO time in UTC
            event["time"] = _iso(event["time"], millis=False)
        _deliver_to_functions(self, functions, event)


def _deliver_to_functions(rule: Rule, targets: list, event: dict) -> None:
    for target in targets:
        allowed, why = push_allowed(target["Arn"], "events.amazonaws.com", source_arn=rule.arn)
        if not allowed:
            _state.service.refuse("events", target["Arn"], why)
            continue
        payload = event
        if "Input" in target:
            payload = json.loads(target["Input"])
        elif "InputPath" in target:
            for part in target["InputPath"].lstrip("$").strip(".").split("."):
                payload = payload.get(part) if part and isinstance(payload, dict) else payload
        _invoke_async(target["Arn"], payload)


def _put_rule(self: EventsBackend, name, *args, **kwargs) -> Rule:
    rule = _original(EventsBackend, "put_rule")(self, name, *args, **kwargs)
    if rule.scheduled_expression and _state.service is not None:
        _schedule(self, rule.name, rule.scheduled_expression, _state.service.clock.now())
    return rule


def _schedule(backend: EventsBackend, name: str, expression: str, after: float) -> None:
    """Fire rule `name` at each time its expression names, on the lab clock, while it exists and is enabled."""
    service = _state.service
    due = next_fire(expression, after)

    def fire() -> None:
        rule = backend._get_event_bus("default").rules.get(name)
        if _state.service is not service or rule is None or rule.scheduled_expression != expression:
            return  # deleted, changed (its new schedule has its own timer) or another lab now
        if rule.state == "ENABLED":
            event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                     "source": "aws.events", "account": rule.account_id, "time": _iso(due, millis=False),
                     "region": rule.region_name, "resources": [rule.arn], "detail": {}}
            functions = [t for t in rule.targets if t["Arn"].split(":")[2] == "lambda"]
            _deliver_to_functions(rule, functions, event)
        _schedule(backend, name, expression, due)

    service.clock.call_later(due - service.clock.now(), fire)


# -- event source mappings -----------------------------------------------------------------------
def silence_moto_pollers() -> None:
    """moto invokes a mapping's function inside SendMessage/PutItem/PutRecord; the lab's pollers do it instead."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.kinesis.models import kinesis_backends
    from moto.sqs.models import sqs_backends

    for backends, collection in ((sqs_backends, "queues"), (kinesis_backends, "streams"),
                                 (dynamodb_backends, "tables")):
        for regions in dict.values(backends):
            for backend in dict.values(regions):
                for source in getattr(backend, collection).values():
                    source.lambda_event_source_mappings.clear()


def mappings() -> list[Mapping]:
    """Every event source mapping in the lab, as the pollers see it."""
    found = []
    for backends in (lambda_backends, lambda_simple_backends):
        for regions in dict.values(backends):
            for backend in dict.values(regions):
                for esm in list(backend._event_source_mappings.values()):
                    fn = function_by_arn(esm.function_arn)
                    found.append(Mapping(
                        uuid=esm.uuid, function_arn=esm.function_arn, source_arn=esm.event_source_arn,
                        batch_size=int(esm.batch_size or 10), enabled=bool(esm.enabled),
                        starting_position=esm.starting_position,
                        report_item_failures="ReportBatchItemFailures" in (esm.function_response_types or []),
                        max_retries=-1 if esm.max_retry_attempts is None else int(esm.max_retry_attempts),
                        role_arn=fn.role if fn is not None else "", filters=_patterns(esm.filter_criteria),
                        bisect=bool(esm.bisect_on_error),
                        max_record_age=-1 if esm.max_record_age is None else int(esm.max_record_age),
                        on_failure=((esm.destination_config or {}).get("OnFailure") or {}).get("Destination")))
    return found


def _patterns(criteria) -> list:
    """The mapping's compiled filters; compiled once per distinct FilterCriteria, not on every poll pass."""
    if not criteria:
        return []
    return _compiled(json.dumps(criteria, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _compiled(criteria_json: str) -> list:
    try:
        return compile_criteria(json.loads(criteria_json))
    except FilterError:  # refused at Create/UpdateEventSourceMapping; nothing invalid is stored
        return []


def _kinesis_put_record(self: Stream, *args, **kwargs):
    """Note the lab-clock arrival of a record (MaximumRecordAgeInSeconds is measured on it), then poll."""
    sequence, shard = _original(Stream, "put_record")(self, *args, **kwargs)
    if _state.service is not None:
        _state.service.mappings.arrived(self.arn, shard, sequence)
        _state.service.mappings.nudge()
    return sequence, shard


def _dynamodb_stream_add(self: StreamShard, *args, **kwargs):
    """The same for a DynamoDB stream record."""
    result = _original(StreamShard, "add")(self, *args, **kwargs)
    if _state.service is not None:
        if self.items and self.table.latest_stream_label:
            arn = f"{self.table.table_arn}/stream/{self.table.latest_stream_label}"
            _state.service.mappings.arrived(arn, self.id, self.items[-1].record["dynamodb"]["SequenceNumber"])
        _state.service.mappings.nudge()
    return result


def resolve_arn(arn: str):
    fn = function_by_arn(arn)
    from ._records import backend_of

    return resolve(backend_of(fn), arn, None)


def _nudging(owner, attr):
    def wrapper(self, *args, **kwargs):
        result = _original(owner, attr)(self, *args, **kwargs)
        if _state.service is not None:
            _state.service.mappings.nudge()
        return result

    return wrapper


# -- recursive loops -------------------------------------------------------------------------------
def _invoke_continuing(source: str, function_arn: str, event) -> None:
    """Invoke asynchronously as the next link of the caller's trace; a loop past 16 links is dropped."""
    header = _recursion.caller_header()
    if _recursion.stops(source, function_arn, header):
        return
    with _recursion.pending(header, _recursion.chain_of(header) + 1):
        _invoke_async(function_arn, event)


def _s3_invoke_function(account_id, event_body, fn_arn, region_name) -> None:
    """S3's notification to a function: the next link of the trace of the request that wrote the object."""
    header = _recursion.caller_header()
    if _recursion.stops("s3", fn_arn, header):
        return
    with _recursion.pending(header, _recursion.chain_of(header) + 1):
        _original(s3_notifications, "_invoke_awslambda")(account_id, event_body, fn_arn, region_name)


def _add_message(self: Queue, message) -> None:
    """A message a handler sends carries its trace header (AWSTraceHeader), as SQS keeps it for Lambda."""
    header = _recursion.caller_header()
    if header and "AWSTraceHeader" not in (message.system_attributes or {}):
        message.system_attributes = {**(message.system_attributes or {}),
                                     "AWSTraceHeader": {"DataType": "String", "StringValue": header}}
    return _queue_add_message(self, message)


# -- helpers -------------------------------------------------------------------------------------
def _invoke_async(function_arn: str, event) -> None:
    target = resolve_arn(function_arn)
    _state.service.invoke(target, json.dumps(event).encode(), "Event")


def _iso(epoch: float, millis: bool = True) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return stamp + (f".{int(epoch * 1000) % 1000:03d}Z" if millis else "Z")


_queue_add_message = _nudging(Queue, "add_message")

PATCHES = {
    (FakeBucket, "set_notification_configuration"): _set_notification_configuration,
    (Subscription, "publish"): _sns_publish,
    (Rule, "send_to_targets"): _send_to_targets,
    (EventsBackend, "put_rule"): _put_rule,
    (Queue, "add_message"): _add_message,
    (s3_notifications, "_invoke_awslambda"): _s3_invoke_function,
    **_LOOP_PATCHES,
    **_SCHEDULER_PATCHES,
    **_S3_EVENTS_PATCHES,
    **_SUBSCRIPTION_PATCHES,
    (StreamShard, "add"): _dynamodb_stream_add,
    (Stream, "put_record"): _kinesis_put_record,
}
