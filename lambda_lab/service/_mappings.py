"""Event source mappings: Lambda's pollers for SQS queues, Kinesis streams and DynamoDB streams.

Like Lambda, the lab reads each source in batches (`BatchSize`), invokes the function synchronously once
per batch and then: for SQS deletes what succeeded (all, or all but `batchItemFailures` when
`ReportBatchItemFailures` is on) and lets the rest become visible again after the queue's visibility
timeout, so that the queue's own redrive policy moves it to its dead-letter queue after `maxReceiveCount`
receives; for streams retries a failed batch (same records, in order) until it succeeds, the
`MaximumRetryAttempts` run out or the records age out. Sources are read with plain boto3 in the lab's
process; waits run on the lab clock.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ._deliver import _client

if TYPE_CHECKING:
    from ._clock import LabClock
    from ._target import Runner, Target

STREAM_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)


@dataclass
class Mapping:
    """What the pollers need to know of one event source mapping (read from the service's records)."""

    uuid: str
    function_arn: str
    source_arn: str
    batch_size: int
    enabled: bool
    starting_position: str | None = None
    report_item_failures: bool = False
    max_retries: int = -1  # streams: -1 retries until the records expire
    role_arn: str = ""

    @property
    def kind(self) -> str:
        return self.source_arn.split(":")[2]

    @property
    def region(self) -> str:
        return self.source_arn.split(":")[3]


@dataclass
class _StreamState:
    iterators: dict = field(default_factory=dict)  # shard id -> next iterator
    retry_at: float | None = None  # simulated time of the next attempt of a failed batch
    failures: int = 0
    pending: dict = field(default_factory=dict)  # shard id -> records of the batch being retried


class MappingEngine:
    """One thread that polls every enabled mapping; `nudge()` wakes it when a source has new data."""

    def __init__(self, service: Runner, clock: LabClock) -> None:
        self.service, self.clock = service, clock
        self._mappings: Callable[[], list[Mapping]] = list
        self._resolve: Callable[[str], Target] | None = None
        self._wake = threading.Event()
        self._lock = threading.Condition()
        self._busy = False
        self._streams: dict[str, _StreamState] = {}
        self._invisible: dict[str, float] = {}  # SQS receipt handle -> when it may be seen again
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.batches: list[dict] = []  # what ran: for charts and tests

    def bind(self, mappings: Callable[[], list[Mapping]], resolve: Callable[[str], Target]) -> None:
        """Where the mappings are recorded and how a function ARN becomes an invoke target."""
        self._mappings, self._resolve = mappings, resolve

    def prime(self) -> None:
        """Take LATEST shard iterators now: records written right after CreateEventSourceMapping belong to it."""
        for mapping in self._mappings():
            if mapping.kind in ("kinesis", "dynamodb") and mapping.uuid not in self._streams:
                state = self._streams.setdefault(mapping.uuid, _StreamState())
                kinesis = mapping.kind == "kinesis"
                client = _client("kinesis" if kinesis else "dynamodbstreams", mapping.region)
                for shard in self._shards(client, mapping, kinesis):
                    state.iterators[shard] = self._iterator(client, mapping, shard, kinesis)

    def nudge(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopped:
                    self._thread = threading.Thread(target=self._run, name="lambda-lab-pollers", daemon=True)
                    self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def idle(self) -> bool:
        with self._lock:
            return not self._busy and not self._wake.is_set()

    def wait_idle(self, timeout: float) -> None:
        with self._lock:
            self._lock.wait_for(lambda: not self._busy and not self._wake.is_set(), timeout=timeout)

    def next_due(self) -> float | None:
        """Simulated time of the next message to become visible again or stream batch to retry."""
        dues = list(self._invisible.values()) + [s.retry_at for s in self._streams.values() if s.retry_at]
        return min(dues) if dues else None

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(timeout=0.25)
            with self._lock:
                self._wake.clear()
                self._busy = True
            try:
                while not self._stopped and self._poll_all():
                    pass
            except Exception:  # a poller must survive a deleted queue or a stopped lab
                import traceback

                traceback.print_exc()
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _poll_all(self) -> bool:
        """One pass over every enabled mapping; True if any batch ran (so poll again)."""
        ran = False
        for mapping in self._mappings():
            if mapping.enabled:
                poll = {"sqs": self._poll_sqs, "kinesis": self._poll_stream, "dynamodb": self._poll_stream}
                ran |= bool(poll.get(mapping.kind, lambda m: False)(mapping))
        return ran

    # -- SQS -------------------------------------------------------------------------------------
    def _poll_sqs(self, mapping: Mapping) -> bool:
        sqs = _client("sqs", mapping.region)
        _, _, _, _, account, name = mapping.source_arn.split(":")
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        self._release_due(sqs, url)
        messages: list = []
        while len(messages) < mapping.batch_size:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, mapping.batch_size - len(messages)),
                                      AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
            if not got:
                break
            messages += got
        if not messages:
            return False
        event = {"Records": [_sqs_record(m, mapping) for m in messages]}
        result = self._invoke(mapping, event)
        failed_ids = set(m["MessageId"] for m in messages)
        if result is not None and not result.failed:
            failed_ids = _batch_failures(result.payload, failed_ids) if mapping.report_item_failures else set()
        visibility = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
                         ["Attributes"]["VisibilityTimeout"])
        for message in messages:
            if message["MessageId"] in failed_ids:
                # visible again after the visibility timeout, on the lab clock; the queue counts the receive
                self._invisible[message["ReceiptHandle"]] = self.clock.now() + visibility
                self.clock.call_later(visibility, self.nudge)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def _release_due(self, sqs, url: str) -> None:
        now = self.clock.now()
        for handle, due in list(self._invisible.items()):
            if due <= now:
                del self._invisible[handle]
                try:
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
                except Exception:  # already visible again (real time passed) or moved to the DLQ
                    pass

    # -- Kinesis and DynamoDB streams -------------------------------------------------------------
    def _poll_stream(self, mapping: Mapping) -> bool:
        state = self._streams.setdefault(mapping.uuid, _StreamState())
        if state.retry_at is not None and state.retry_at > self.clock.now():
            return False
        kinesis = mapping.kind == "kinesis"
        client = _client("kinesis" if kinesis else "dynamodbstreams", mapping.region)
        ran = False
        for shard in self._shards(client, mapping, kinesis):
            records = state.pending.get(shard)
            if records is None:
                iterator = state.iterators.get(shard) or self._iterator(client, mapping, shard, kinesis)
                extra = {"StreamARN": mapping.source_arn} if kinesis else {}
                got = client.get_records(ShardIterator=iterator, Limit=mapping.batch_size, **extra)
                state.iterators[shard] = got.get("NextShardIterator") or iterator
                records = got["Records"]
            if not records:
                continue
            event = {"Records": [_stream_record(r, mapping, shard, kinesis) for r in records]}
            result = self._invoke(mapping, event)
            ran = True
            if result is not None and not result.failed:
                state.pending.pop(shard, None)
                state.failures, state.retry_at = 0, None
                continue
            state.failures += 1
            if 0 <= mapping.max_retries < state.failures:
                state.pending.pop(shard, None)  # retries exhausted: the batch is skipped, as on Lambda
                state.failures, state.retry_at = 0, None
                continue
            state.pending[shard] = records
            delay = STREAM_BACKOFF_S[min(state.failures, len(STREAM_BACKOFF_S)) - 1]
            state.retry_at = self.clock.now() + delay
            self.clock.call_later(delay, self.nudge)
            return ran
        return ran

    @staticmethod
    def _shards(client, mapping: Mapping, kinesis: bool) -> list[str]:
        if kinesis:
            return [s["ShardId"] for s in client.list_shards(StreamARN=mapping.source_arn)["Shards"]]
        return [s["ShardId"] for s in client.describe_stream(StreamArn=mapping.source_arn)["StreamDescription"]["Shards"]]

    @staticmethod
    def _iterator(client, mapping: Mapping, shard: str, kinesis: bool) -> str:
        position = mapping.starting_position or "TRIM_HORIZON"
        if kinesis:
            return client.get_shard_iterator(StreamARN=mapping.source_arn, ShardId=shard,
                                             ShardIteratorType=position)["ShardIterator"]
        return client.get_shard_iterator(StreamArn=mapping.source_arn, ShardId=shard,
                                         ShardIteratorType=position)["ShardIterator"]

    # -- invoking -------------------------------------------------------------------------------
    def _invoke(self, mapping: Mapping, event: dict):
        from ._errors import ServiceError

        target = self._resolve(mapping.function_arn)
        version = self.service.route(target)
        payload = json.dumps(event).encode()
        try:
            result = self.service.run(target, version, payload, None, "EventSourceMapping")
        except ServiceError:  # throttled: the batch waits and is read again
            result = None
        self.batches.append({"mapping": mapping.uuid, "source": mapping.source_arn, "size": len(event["Records"]),
                             "at": self.clock.now(), "failed": result is None or result.failed})
        return result


def _batch_failures(payload: bytes, batch_ids: set[str]) -> set[str]:
    """The messages a partial batch response names; a malformed one fails the whole batch, as on Lambda."""
    try:
        response = json.loads(payload)
        if response is None or response == {} or response.get("batchItemFailures") in (None, []):
            return set()
        ids = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    except (ValueError, TypeError, KeyError, AttributeError):
        return batch_ids
    return ids if ids <= batch_ids else batch_ids


def _sqs_record(message: dict, mapping: Mapping) -> dict:
    attributes = message.get("Attributes", {})
    keep = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
            "MessageGroupId", "MessageDeduplicationId", "SequenceNumber")
    return {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": {k: attributes[k] for k in keep if k in attributes},
        "messageAttributes": {name: {"stringValue": a.get("StringValue"), "binaryValue": _b64(a.get("BinaryValue")),
                                     "stringListValues": [], "binaryListValues": [], "dataType": a["DataType"]}
                              for name, a in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": mapping.source_arn,
        "awsRegion": mapping.region,
    }


def _stream_record(record: dict, mapping: Mapping, shard: str, kinesis: bool) -> dict:
    if not kinesis:
        record = {k: (v.timestamp() if hasattr(v, "timestamp") else v) for k, v in record.items()}
        dynamodb = {k: (v.timestamp() if hasattr(v, "timestamp") else v) for k, v in record["dynamodb"].items()}
        return {**record, "dynamodb": dynamodb, "eventSourceARN": mapping.source_arn}
    return {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": record["PartitionKey"],
                    "sequenceNumber": record["SequenceNumber"], "data": base64.b64encode(record["Data"]).decode(),
                    "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp()},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record", "invokeIdentityArn": mapping.role_arn, "awsRegion": mapping.region,
        "eventSourceARN": mapping.source_arn,
    }


def _b64(data):
    return base64.b64encode(data).decode() if isinstance(data, bytes) else data
