"""CloudWatch Logs subscription filters with a Lambda destination, delivered as CloudWatch Logs delivers them.

PutSubscriptionFilter is refused unless the function's resource-based policy lets logs.amazonaws.com (or
logs.<region>.amazonaws.com) invoke it for the log group (`arn:aws:logs:<region>:<account>:log-group:<name>:*`).
Each batch written to a stream (a function's invocation through the lab's log sink, or PutLogEvents) is
filtered with the subscription's pattern, and what matches reaches the function asynchronously as
`{"awslogs": {"data": base64(gzip(json))}}`. A function that subscribes to its own log group would feed
itself for ever on AWS; the lab counts such a chain like any recursive loop and stops it after
`_recursion.MAX_CHAIN` invocations, whatever the function's RecursiveLoop setting.
"""

from __future__ import annotations

import base64
import gzip
import json
import re

from moto.logs.exceptions import InvalidParameterException
from moto.logs.models import LogsBackend, LogStream

from .. import _recursion
from .._filter_pattern import compile_pattern
from . import _state
from ._records import push_allowed

NO_PERMISSION = ("Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to "
                 "execute your function.")
_REQUEST_ID = re.compile(r'(?:RequestId: |"requestId":\s*")([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})')


def _original(owner, attr):
    return _state.originals[(owner, attr)]


def logs_may_invoke(function_arn: str, region: str, account: str, group: str) -> tuple[bool, str]:
    """Whether CloudWatch Logs may invoke the function for this log group; and why not."""
    source = f"arn:aws:logs:{region}:{account}:log-group:{group}:*"
    answers = [push_allowed(function_arn, principal, source_arn=source, source_account=account)
               for principal in ("logs.amazonaws.com", f"logs.{region}.amazonaws.com")]
    return (True, "") if any(allowed for allowed, _ in answers) else answers[0]


def _put_subscription_filter(self: LogsBackend, log_group_name, filter_name, filter_pattern, destination_arn,
                             role_arn):
    """Refused without the function's permission for logs.amazonaws.com, or with a pattern CloudWatch rejects."""
    if destination_arn.split(":")[2] == "lambda" and log_group_name in self.groups:
        allowed, why = logs_may_invoke(destination_arn, self.region_name, self.account_id, log_group_name)
        if not allowed:
            if _state.service is not None:
                _state.service.refuse("logs", destination_arn, why)
            raise InvalidParameterException(NO_PERMISSION)
        try:
            compile_pattern(filter_pattern)
        except (ValueError, re.error) as problem:
            raise InvalidParameterException(f"Invalid filter pattern {filter_pattern!r}: {problem}") from None
    return _original(LogsBackend, "put_subscription_filter")(self, log_group_name, filter_name, filter_pattern,
                                                             destination_arn, role_arn)


def _send_log_events(self: LogStream, service: str, destination_arn: str, filter_name: str, log_events: list):
    """One write's events that match the filter's pattern, to the function, asynchronously."""
    if service != "lambda" or _state.service is None:
        return _original(LogStream, "_send_log_events")(self, service, destination_arn, filter_name, log_events)
    subscription = self.log_group.subscription_filters.get(filter_name)
    matches = compile_pattern(subscription.filter_pattern if subscription is not None else "")
    events = [{"id": f"{int(e['id']):056d}", "timestamp": e["timestamp"], "message": e["message"]}
              for e in log_events if matches(e["message"])]
    if not events:
        return None
    group = self.log_group.name
    allowed, why = logs_may_invoke(destination_arn, self.region, self.account_id, group)
    if not allowed:  # the permission was removed after the filter was made: CloudWatch's delivery fails
        return _state.service.refuse("logs", destination_arn, why)
    # the invocation that wrote the batch (START/END/REPORT name it): its place in a chain of invocations
    chain = max((_recursion.chain_of_request(m) for e in log_events for m in _REQUEST_ID.findall(e["message"])),
                default=0)
    if chain >= _recursion.MAX_CHAIN:  # a function reading its own logs: bounded like a recursive loop
        return _state.service.refuse("logs", destination_arn, f"recursive loop: the log events come from an "
                                     f"invocation {chain} deep in a chain of invocations; the lab stops it there")
    data = {"messageType": "DATA_MESSAGE", "owner": self.account_id, "logGroup": group,
            "logStream": self.log_stream_name, "subscriptionFilters": [filter_name], "logEvents": events}
    packed = base64.b64encode(gzip.compress(json.dumps(data, separators=(",", ":")).encode())).decode()
    from ._triggers import _invoke_async

    with _recursion.pending(None, chain + 1):
        _invoke_async(destination_arn, {"awslogs": {"data": packed}})
    return None


PATCHES = {
    (LogsBackend, "put_subscription_filter"): _put_subscription_filter,
    (LogStream, "_send_log_events"): _send_log_events,
}
