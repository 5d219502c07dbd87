"""The runtime's log sink: CloudWatch Logs in the lab, one stream per execution environment."""

from __future__ import annotations

import threading

from moto.logs.models import logs_backends

from ...runtime import FunctionConfig

_log_lock = threading.Lock()


def write_log(config: FunctionConfig, stream: str, events: list) -> None:
    """The runtime's log sink: CloudWatch Logs in the lab, one stream per execution environment."""
    backend = logs_backends[config.account_id][config.region]
    last, records = 0, []
    for stamp, message in events:
        last = max(last, stamp)  # CloudWatch wants events in order; init lines may carry later stamps
        records.append({"timestamp": last, "message": message})
    with _log_lock:
        backend.ensure_log_group(config.log_group)
        group = backend.groups[config.log_group]
        if stream not in group.streams:  # asking first: moto's "already exists" error costs more than an invoke
            group.create_log_stream(stream)
        group.streams[stream].put_log_events(records)
