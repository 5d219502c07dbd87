"""Lambda's limits and defaults in one table: the lab's validation reads it, and so does the cheat sheet.

>>> from lambda_lab import limits
>>> limits.value("timeout_max_s")
900
>>> print(limits.cheat_sheet().splitlines()[0])
# Lambda limits and numbers (the lab enforces the rows marked ✔)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limit", "LIMITS", "value", "min_unreserved", "cheat_sheet"]

_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
_ASYNC = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html"
_SQS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html"
_STREAMS = "https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html"
_CONCURRENCY = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html"
_MEMORY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"


@dataclass(frozen=True)
class Limit:
    """One number: its key, the topic it belongs to, what it limits, value and unit, and whether the lab enforces it."""

    key: str
    topic: str
    what: str
    value: int | float
    unit: str
    enforced: bool
    source: str
    note: str = ""


LIMITS: tuple[Limit, ...] = (
    Limit("memory_min_mb", "Configuration", "Memory, smallest", 128, "MB", True, _MEMORY, "and the default"),
    Limit("memory_max_mb", "Configuration", "Memory, largest", 10240, "MB", True, _MEMORY, "in 1 MB steps"),
    Limit("memory_per_vcpu_mb", "Configuration", "Memory that buys one full vCPU", 1769, "MB", True, _MEMORY,
          "CPU grows in proportion to memory, up to 6 vCPUs"),
    Limit("timeout_default_s", "Configuration", "Timeout, default", 3, "s", True, _QUOTAS),
    Limit("timeout_max_s", "Configuration", "Timeout, longest", 900, "s", True, _QUOTAS, "15 minutes"),
    Limit("env_max_bytes", "Configuration", "Environment variables, all together", 4096, "bytes", True, _QUOTAS),
    Limit("tmp_default_mb", "Configuration", "/tmp (ephemeral storage), default", 512, "MB", True, _QUOTAS),
    Limit("tmp_max_mb", "Configuration", "/tmp (ephemeral storage), largest", 10240, "MB", True, _QUOTAS),
    Limit("layers_max", "Packages", "Layers per function", 5, "layers", True, _QUOTAS),
    Limit("zipped_max_bytes", "Packages", "Zip uploaded directly in the request", 52_428_800, "bytes", True,
          _QUOTAS, "50 MB; larger packages go through S3"),
    Limit("unzipped_max_bytes", "Packages", "Package and its layers, unzipped", 262_144_000, "bytes", True,
          _QUOTAS, "250 MB"),
    Limit("container_image_max_bytes", "Packages", "Container image, uncompressed", 10_737_418_240, "bytes",
          False, _QUOTAS, "10 GB"),
    Limit("sync_payload_max_bytes", "Invocation", "Synchronous request and response payload", 6_291_456, "bytes",
          True, _QUOTAS, "6 MB each way"),
    Limit("async_payload_max_bytes", "Invocation", "Asynchronous (Event) payload", 1_048_576, "bytes", True,
          _QUOTAS, "1 MB since 2025 (was 256 KB)"),
    Limit("account_concurrency", "Concurrency", "Concurrent executions per Region (default quota)", 1000,
          "executions", True, _CONCURRENCY, "new accounts may start lower"),
    Limit("min_unreserved", "Concurrency", "Concurrency that reserved settings must leave unreserved", 100,
          "executions", True, _CONCURRENCY),
    Limit("async_retries_default", "Asynchronous", "Retries after a function error, default", 2, "retries", True,
          _ASYNC, "about 1 and then 2 minutes apart; 0-2 allowed"),
    Limit("event_age_min_s", "Asynchronous", "Maximum event age, smallest setting", 60, "s", True, _ASYNC),
    Limit("event_age_max_s", "Asynchronous", "Maximum event age, default and largest", 21600, "s", True, _ASYNC,
          "6 hours"),
    Limit("sqs_batch_default", "Event source mappings", "SQS batch size, default", 10, "messages", True, _SQS),
    Limit("sqs_batch_max", "Event source mappings", "SQS standard queue batch size, largest", 10000, "messages",
          True, _SQS, "over 10 needs a batching window of at least 1 s; FIFO queues at most 10"),
    Limit("batch_window_max_s", "Event source mappings", "Batching window, longest", 300, "s", True, _SQS),
    Limit("sqs_max_concurrency_min", "Event source mappings", "SQS maximum concurrency, smallest setting", 2,
          "executions", False, _SQS, "2-1,000"),
    Limit("stream_batch_default", "Event source mappings", "Kinesis/DynamoDB batch size, default", 100, "records",
          True, _STREAMS),
    Limit("stream_batch_max", "Event source mappings", "Kinesis/DynamoDB batch size, largest", 10000, "records",
          True, _STREAMS),
    Limit("stream_record_age_max_s", "Event source mappings", "Stream maximum record age, largest setting", 604800,
          "s", False, _STREAMS, "7 days; -1 means never discard"),
    Limit("stream_retries_max", "Event source mappings", "Stream maximum retry attempts, largest setting", 10000,
          "retries", False, _STREAMS, "-1 (the default) means retry until the record expires"),
    Limit("filters_max", "Event source mappings", "Filters per event source mapping", 5, "filters", True, _QUOTAS),
    Limit("recursion_max_chain", "Invocation", "Recursive loop stopped after about", 16, "invocations", True,
          "https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html"),
    Limit("rest_api_timeout_s", "Invocation", "API Gateway REST integration timeout, default", 29, "s", True,
          "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"),
)

_BY_KEY = {limit.key: limit for limit in LIMITS}


def value(key: str) -> int | float:
    """The number under `key` (e.g. "timeout_max_s" → 900); the lab's checks read their limits here."""
    return _BY_KEY[key].value


def min_unreserved(quota: int) -> int:
    """What reserved and provisioned concurrency must leave unreserved in an account with this quota.

    >>> min_unreserved(1000), min_unreserved(10)
    (100, 10)

    An account with a lowered quota (a new account's can be 10) keeps 10, as AWS's refusals there say ("[10]"),
    so nothing can be reserved until the quota is raised; where the step lies between 10 and 1,000 is a guess.
    """
    default = value("min_unreserved")
    return default if quota > default else 10


def _shown(limit: Limit) -> str:
    number = f"{limit.value:,}" if isinstance(limit.value, int) else str(limit.value)
    return f"{number} {limit.unit}"


def cheat_sheet() -> str:
    """The table as Markdown, by topic: display it with `IPython.display.Markdown(limits.cheat_sheet())`."""
    lines = ["# Lambda limits and numbers (the lab enforces the rows marked ✔)", ""]
    for topic in dict.fromkeys(limit.topic for limit in LIMITS):
        lines += [f"## {topic}", "", "| | what | value | note |", "|---|---|---|---|"]
        lines += [f"| {'✔' if limit.enforced else ''} | [{limit.what}]({limit.source}) | {_shown(limit)} | "
                  f"{limit.note} |" for limit in LIMITS if limit.topic == topic]
        lines.append("")
    return "\n".join(lines)
