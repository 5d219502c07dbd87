"""What a stream mapping sends to its `DestinationConfig.OnFailure` when it gives up on a batch.

The record of the Lambda developer guide ("Retain discarded batch records for a Kinesis Data Streams /
DynamoDB event source"): `requestContext` (condition, invoke count), `responseContext` (the last attempt's
status), `version`, `timestamp` and `KinesisBatchInfo` / `DDBStreamBatchInfo` naming the shard and the
sequence numbers, not the data; an S3 destination also gets the batch itself as `payload`, under
`aws/lambda/<mapping UUID>/<shard id>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>`.
"""

from __future__ import annotations

import json
import time
import uuid

from ._deliver import _client, _parts, send_record

__all__ = ["RETRIES_EXHAUSTED", "RECORD_AGE_EXPIRED", "failure_record", "send_failure"]

RETRIES_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXPIRED = "RecordAgeExpired"  # AWS documents no value for this condition; LocalStack uses this one


def failure_record(mapping, shard: str, records: list[dict], arrivals: list[float], condition: str,
                   attempts: int, last, now: float) -> dict:
    """The invocation record for `records` (as the function received them) that the mapping discarded."""
    kinesis = mapping.kind == "kinesis"
    sequence = [r["kinesis"]["sequenceNumber"] if kinesis else r["dynamodb"]["SequenceNumber"] for r in records]
    stamp = (lambda t: _iso(t, millis=True)) if kinesis else (lambda t: _iso(t, millis=False))
    response = {}
    if last is not None:
        response = {"statusCode": 200, "executedVersion": last.version,
                    "functionError": "Unhandled" if last.failed else None}
    return {
        "requestContext": {"requestId": getattr(last, "request_id", None) or str(uuid.uuid4()),
                           "functionArn": mapping.function_arn, "condition": condition,
                           "approximateInvokeCount": attempts},
        "responseContext": response,
        "version": "1.0",
        "timestamp": _iso(now, millis=True),
        ("KinesisBatchInfo" if kinesis else "DDBStreamBatchInfo"): {
            "shardId": shard, "startSequenceNumber": sequence[0], "endSequenceNumber": sequence[-1],
            "approximateArrivalOfFirstRecord": stamp(arrivals[0]),
            "approximateArrivalOfLastRecord": stamp(arrivals[-1]),
            "batchSize": len(records), "streamArn": mapping.source_arn},
    }


def send_failure(destination: str, mapping, shard: str, record: dict, records: list[dict], now: float) -> None:
    """Deliver `record` to an SQS queue or SNS topic, or (with the batch as `payload`) to an S3 bucket."""
    service, region, _, resource = _parts(destination)
    if service != "s3":
        send_record(destination, record, success=False)
        return
    day, moment = time.strftime("%Y/%m/%d", time.gmtime(now)), time.strftime("%Y-%m-%dT%H.%M.%S", time.gmtime(now))
    key = f"aws/lambda/{mapping.uuid}/{shard}/{day}/{moment}-{uuid.uuid4()}"
    body = json.dumps({**record, "payload": {"Records": records}})
    _client("s3", region or mapping.region).put_object(Bucket=resource, Key=key, Body=body.encode())


def _iso(epoch: float, millis: bool) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return stamp + (f".{int(epoch * 1000) % 1000:03d}Z" if millis else "Z")
