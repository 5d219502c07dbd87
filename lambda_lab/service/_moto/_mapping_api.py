"""The event source mapping actions' own rules: filters and on-failure destinations checked, defaults shown.

moto stores `FilterCriteria`, `DestinationConfig` and the stream settings as given; Lambda refuses a filter
pattern it cannot parse and an on-failure destination that is not a queue, topic or bucket, and answers
every mapping with its defaults filled in (`MaximumRetryAttempts: -1`, `ParallelizationFactor: 1`, ...).
"""

from __future__ import annotations

import copy

from moto.awslambda.models import EventSourceMapping
from moto.awslambda.responses import LambdaResponse

from .._errors import invalid
from .._filters import FilterError, compile_criteria
from . import _state
from ._records import resolve

__all__ = ["check_mapping_request", "PATCHES"]

_STREAM_DEFAULTS = {"MaximumBatchingWindowInSeconds": 0, "ParallelizationFactor": 1,
                    "DestinationConfig": {"OnFailure": {}}, "MaximumRecordAgeInSeconds": -1,
                    "BisectBatchOnFunctionError": False, "MaximumRetryAttempts": -1, "TumblingWindowInSeconds": 0,
                    "FunctionResponseTypes": []}
_QUEUE_DEFAULTS = {"MaximumBatchingWindowInSeconds": 0, "FunctionResponseTypes": []}
_FAILURE_DESTINATIONS = ("sqs", "sns", "s3")


def check_mapping_request(response: LambdaResponse, action: str, params: dict) -> None:
    """Refuse, as Lambda does, a mapping whose filters or on-failure destination cannot work."""
    if action not in ("CreateEventSourceMapping", "UpdateEventSourceMapping"):
        return
    source = params.get("EventSourceArn")
    if action == "UpdateEventSourceMapping":
        esm = response.backend._event_source_mappings.get(response.path.split("?")[0].rstrip("/").split("/")[-1])
        source = esm.event_source_arn if esm is not None else None
    if source and source.split(":")[2] == "sqs":
        _check_queue_mapping(response, action, params, source)
    if "FilterCriteria" in params:
        try:
            compile_criteria(params["FilterCriteria"])
        except FilterError as why:
            raise invalid(f"Invalid filter pattern definition. (lambda-lab: {why}; see \"Filter rule syntax\" in "
                          "the Lambda developer guide.)") from None
    destination = ((params.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if destination and source:
        kind = source.split(":")[2]
        service = destination.split(":")[2] if destination.count(":") >= 5 else ""
        if kind == "sqs":
            raise invalid("Unsupported DestinationConfig parameter for given event source mapping type. (lambda-lab: "
                          "an SQS mapping's failed messages go to the queue's own dead-letter queue: set a "
                          "RedrivePolicy on the queue.)")
        if service not in _FAILURE_DESTINATIONS:
            raise invalid(f"The provided destination config DestinationConfig.OnFailure.Destination={destination} "
                          "is invalid. (lambda-lab: a stream mapping's on-failure destination is an SQS queue, SNS "
                          "topic or S3 bucket ARN.)")


def _check_queue_mapping(response: LambdaResponse, action: str, params: dict, source: str) -> None:
    """An SQS mapping's batching rule, and a visibility timeout no shorter than the function's timeout."""
    esm = None
    if action == "UpdateEventSourceMapping":
        esm = response.backend._event_source_mappings.get(response.path.split("?")[0].rstrip("/").split("/")[-1])
    size = params.get("BatchSize", getattr(esm, "batch_size", None))
    window = params.get("MaximumBatchingWindowInSeconds", getattr(esm, "max_batch_window", 0))
    if size is not None and int(size) > 10 and not source.endswith(".fifo") and not int(window or 0) > 0:
        raise invalid("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    if action != "CreateEventSourceMapping" or not params.get("FunctionName"):
        return
    try:
        target = resolve(response.backend, params["FunctionName"], None)
    except Exception:  # no such function: moto answers that itself
        return
    timeout = int(target.config_for(target.version or target.alias.version).timeout_s)
    visibility = _visibility_timeout(source)
    if visibility is not None and visibility < timeout:
        raise invalid(f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
                      f"{timeout} seconds")


def _visibility_timeout(queue_arn: str) -> int | None:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = queue_arn.split(":")
    try:
        return int(sqs_backends[account][region].get_queue(name).visibility_timeout)
    except Exception:  # no such queue: the mapping's own checks answer
        return None


def _mapping_configuration(self: EventSourceMapping) -> dict:
    """moto's answer with Lambda's defaults for what the request left out."""
    config = _state.originals[(EventSourceMapping, "get_configuration")](self)
    kind = self.event_source_arn.split(":")[2]
    defaults = _QUEUE_DEFAULTS if kind == "sqs" else _STREAM_DEFAULTS if kind in ("kinesis", "dynamodb") else {}
    return {**{key: copy.deepcopy(value) for key, value in defaults.items() if config.get(key) is None}, **config}


PATCHES = {
    (EventSourceMapping, "get_configuration"): _mapping_configuration,
}
