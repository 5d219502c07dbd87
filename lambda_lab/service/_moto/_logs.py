"""The runtime's log sink: CloudWatch Logs in the lab, one stream per execution environment."""

from __future__ import annotations

import re
import threading
from collections import deque

from moto.logs.exceptions import InvalidParameterException
from moto.logs.models import LogEvent, LogStream, logs_backends

from ...runtime import FunctionConfig
from .. import _emf
from .._filter_pattern import compile_pattern
from ._cloudwatch import publish

# Lambda ships each line of output as one CloudWatch event, and splits a line longer than one event may be
# into several: observed splits fall at 2^18 - 26 bytes, the 256 KB event quota less the 26 bytes
# CloudWatch counts per event. (PutLogEvents itself accepts 1 MB events since April 2025; Lambda's
# splitting is what a function's log shows, and the lab follows it.)
EVENT_MAX_BYTES = 256 * 1024 - 26
# AWS keeps every event for the group's retention period. The lab lives in a notebook's memory, so each
# log group keeps only its newest 8 MB of messages, dropping the oldest invocations' events first: a
# print loop run many times cannot exhaust the kernel, and a course's logs never come near it.
GROUP_MAX_BYTES = 8 << 20

_log_lock = threading.Lock()


def write_log(config: FunctionConfig, stream: str, events: list) -> None:
    """The runtime's log sink: CloudWatch Logs in the lab, one stream per execution environment."""
    backend = logs_backends[config.account_id][config.region]
    last, records, size, metric_lines = 0, [], 0, []
    for stamp, message in events:
        last = max(last, stamp)  # CloudWatch wants events in order; init lines may carry later stamps
        if _emf.is_candidate(message):
            metric_lines.append(message)
        for piece in _split(message):
            records.append({"timestamp": last, "message": piece})
            size += len(piece)
    if metric_lines:
        _publish_embedded_metrics(config, metric_lines)
    with _log_lock:
        backend.ensure_log_group(config.log_group)
        group = backend.groups[config.log_group]
        if stream not in group.streams:  # asking first: moto's "already exists" error costs more than an invoke
            group.create_log_stream(stream)
        target = group.streams[stream]
        before = len(target.events)
        target.put_log_events(records)
        _keep_bounded(group, target, target.events[before:], size)


def _publish_embedded_metrics(config: FunctionConfig, lines: list[str]) -> None:
    """EMF lines become CloudWatch metrics, as Lambda's log pipeline makes them (lambda-lab: at once)."""
    for line in lines:
        for namespace, datums in _emf.metric_data(line):
            publish(config.account_id, config.region, namespace, datums)


def _split(message: str) -> list[str]:
    """One line as Lambda sends it: pieces of at most EVENT_MAX_BYTES of UTF-8, never cutting a character."""
    if len(message) * 4 <= EVENT_MAX_BYTES or len(message.encode("utf-8", "replace")) <= EVENT_MAX_BYTES:
        return [message]
    data, pieces, start = message.encode("utf-8", "replace"), [], 0
    while start < len(data):
        end = min(start + EVENT_MAX_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: back up to a character start
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces


def _keep_bounded(group, stream, written: list, size: int) -> None:
    """Remember what was written; past GROUP_MAX_BYTES drop the group's oldest batches (never the newest)."""
    batches = getattr(group, "lab_batches", None)
    if batches is None:
        batches = group.lab_batches = deque()
        group.lab_bytes = 0
    batches.append((stream, written, size))
    group.lab_bytes += size
    while group.lab_bytes > GROUP_MAX_BYTES and len(batches) > 1:
        old_stream, old_events, old_size = batches.popleft()
        count, kept = len(old_events), old_stream.events
        if kept[:1] == old_events[:1] and kept[count - 1:count] == old_events[-1:]:  # usually: the stream's head
            del kept[:count]
        else:  # someone else's put_log_events came first: remove exactly ours
            gone = {id(event) for event in old_events}
            old_stream.events = [event for event in kept if id(event) not in gone]
        old_stream.stored_bytes = max(0, old_stream.stored_bytes - old_size)
        group.lab_bytes -= old_size


def _filter_log_events(self: LogStream, start_time: int, end_time: int, filter_pattern: str) -> list[dict]:
    """FilterLogEvents on one stream with CloudWatch's filter patterns (moto matches plain terms only)."""
    try:
        matches = compile_pattern(filter_pattern)
    except (ValueError, re.error) as problem:
        raise InvalidParameterException(f"Invalid filterPattern {filter_pattern!r}: {problem}") from None

    def wanted(event: LogEvent) -> bool:
        return (not start_time or event.timestamp >= start_time) and (not end_time or event.timestamp <= end_time) \
            and matches(event.message)

    events = []
    for event in sorted(filter(wanted, self.events), key=lambda e: e.timestamp):
        found = event.to_filter_dict()
        found["logStreamName"] = self.log_stream_name
        events.append(found)
    return events


PATCHES = {(LogStream, "filter_log_events"): _filter_log_events}
