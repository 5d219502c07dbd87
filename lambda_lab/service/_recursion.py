"""Recursive loop detection: an event that went round SQS, SNS or S3 and back about 16 times is dropped.

Lambda tracks an event by its X-Ray trace header (`_X_AMZN_TRACE_ID` in the function's environment, which
botocore copies into every request's `X-Amzn-Trace-Id`). The lab does the same: each invocation's header
carries `Lineage=<hash>:<n>`, n being how many invocations the chain has had; the loopback endpoint reads
the header of a handler's request, the SQS message, SNS delivery or S3 notification it causes carries
n on, and the invocation it would cause (n + 1) is dropped past MAX_CHAIN unless the function's
`RecursiveLoop` setting is `Allow`. Here: the bookkeeping, without moto.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
import secrets
import threading
import time
import zlib
from collections import OrderedDict
from typing import Callable

from ..limits import value


__all__ = ["MAX_CHAIN", "caller_header", "chain_of", "chain_of_request", "serving", "pending", "adopt",
           "trace_for", "stops", "screen_sqs", "Traced", "reset"]

MAX_CHAIN = value("recursion_max_chain")  # AWS: stopped "after approximately 16 invocations"; the lab runs 16 and drops the 17th
_LINEAGE = re.compile(r"(?:^|;)\s*Lineage=([0-9a-f]+):(\d+)")
_ROOT = re.compile(r"(?:^|;)\s*Root=([^;]+)")
_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("lambda_lab_caller_trace", default=None)
_pending = threading.local()
_lock = threading.Lock()
_by_request: OrderedDict[str, tuple[str | None, int]] = OrderedDict()  # request id -> (root, chain)
_KEEP = 20_000  # request ids remembered for retries of asynchronous events

# The bridge to moto sets these: a function's RecursiveLoop setting, and what a dropped event leaves behind
loop_setting: Callable[[str], str] = lambda function_arn: "Terminate"  # noqa: E731
on_drop: Callable[[str, str], None] = lambda source, function_arn: None  # noqa: E731


def chain_of(header: str | None) -> int:
    """How many invocations the chain behind this trace header has had (0: not from a function)."""
    found = _LINEAGE.search(header or "")
    return int(found.group(2)) if found else 0


def root_of(header: str | None) -> str | None:
    found = _ROOT.search(header or "")
    return found.group(1) if found else None


def caller_header() -> str | None:
    """The trace header of the request the loopback endpoint is serving on this thread, if any."""
    return _caller.get()


@contextlib.contextmanager
def serving(header: str | None):
    """While the endpoint serves one request: what it causes continues this trace."""
    token = _caller.set(header)
    try:
        yield
    finally:
        _caller.reset(token)


@contextlib.contextmanager
def pending(header: str | None, chain: int):
    """The next invocation started on this thread is number `chain` of the trace `header` names."""
    _pending.value = (root_of(header), chain)
    try:
        yield
    finally:
        _pending.value = None


def adopt(request_id: str) -> None:
    """An asynchronous event queued on this thread keeps its place in the chain for every attempt."""
    value = getattr(_pending, "value", None)
    if value is None:
        return
    _pending.value = None
    with _lock:
        _remember(request_id, value)


def reset() -> None:
    """Forget every chain: a new lab starts with none (seeded labs repeat request ids, so stale ones would match)."""
    with _lock:
        _by_request.clear()


def _remember(request_id: str, value: tuple[str | None, int]) -> None:
    _by_request[request_id] = value
    while len(_by_request) > _KEEP:
        _by_request.popitem(last=False)


def chain_of_request(request_id: str) -> int:
    """Which link of its chain an invocation was (1 when nothing invoked it), 0 if the lab does not know it."""
    with _lock:
        known = _by_request.get(request_id)
    return 0 if known is None else max(known[1], 1)


def trace_for(request_id: str, function_arn: str) -> str:
    """The `_X_AMZN_TRACE_ID` this invocation's handler sees, with its Lineage (remembered by request id)."""
    value = getattr(_pending, "value", None)
    _pending.value = None
    with _lock:
        known = _by_request.get(request_id)  # an asynchronous event's retry keeps its place
        root, chain = known or value or (None, 0)
        if known is None:
            _remember(request_id, (root, chain))
    root = root or f"1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]}"
    lineage = f"{zlib.crc32(function_arn.encode()):08x}:{max(chain, 1)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0;Lineage={lineage}"


def stops(source: str, function_arn: str, header: str | None) -> bool:
    """Whether an invocation that continues the trace `header` is dropped as a recursive loop."""
    if chain_of(header) < MAX_CHAIN or loop_setting(function_arn) == "Allow":
        return False
    on_drop(source, function_arn)
    return True


def screen_sqs(function_arn: str, messages: list, sqs, url: str) -> tuple[list, tuple]:
    """A batch without the messages that close a loop (moved to the queue's DLQ if it has one, else deleted).

    Returns the kept messages and (header, chain) for `pending`: the batch continues its longest chain.
    """
    kept, longest = [], (None, 0)
    dlq_url = None
    for message in messages:
        header = message.get("Attributes", {}).get("AWSTraceHeader")
        if stops("sqs", function_arn, header):
            if dlq_url is None:
                dlq_url = _dead_letter_url(sqs, url) or ""
            if dlq_url:
                attributes = {name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                              for name, value in message.get("MessageAttributes", {}).items()}
                sqs.send_message(QueueUrl=dlq_url, MessageBody=message["Body"], MessageAttributes=attributes)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            continue
        kept.append(message)
        if chain_of(header) >= longest[1]:
            longest = (header, chain_of(header))
    return kept, (longest[0], longest[1] + 1)


def _dead_letter_url(sqs, url: str) -> str | None:
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"].get("RedrivePolicy")
    if not policy:
        return None
    _, _, _, _, account, name = json.loads(policy)["deadLetterTargetArn"].split(":")
    return sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


class Traced:
    """WSGI middleware for the loopback endpoint: a handler's request carries its trace header through."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        with serving(environ.get("HTTP_X_AMZN_TRACE_ID")):
            return self.app(environ, start_response)
