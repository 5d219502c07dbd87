"""Event source mappings: Lambda's pollers for SQS queues, Kinesis streams and DynamoDB streams.

Like Lambda, the lab reads each source in batches (`BatchSize`), invokes the function synchronously once
per batch and then: for SQS deletes what succeeded (all, or all but `batchItemFailures` when
`ReportBatchItemFailures` is on) and lets the rest become visible again after the queue's visibility
timeout, so that the queue's own redrive policy moves it to its dead-letter queue after `maxReceiveCount`
receives; for streams retries a failed batch (same records, in order) until it succeeds, the
`MaximumRetryAttempts` run out or the records age out (`MaximumRecordAgeInSeconds`, on the lab clock),
halving it first with `BisectBatchOnFunctionError`, resuming at the first failed record with
`ReportBatchItemFailures`, and sending what it gives up on to `DestinationConfig.OnFailure`. Records that
do not match `FilterCriteria` never reach the function (SQS deletes them). Sources are read with plain boto3
in the lab's process; waits run on the lab clock.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from . import _filters
from . import _recursion as recursion
from ._deliver import _client
from ._stream_failures import RECORD_AGE_EXPIRED, RETRIES_EXHAUSTED, failure_record, send_failure

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
    filters: list = field(default_factory=list)  # compiled FilterCriteria patterns; none lets all through
    bisect: bool = False  # streams: BisectBatchOnFunctionError
    max_record_age: int = -1  # streams: MaximumRecordAgeInSeconds, -1 for no limit
    on_failure: str | None = None  # streams: DestinationConfig.OnFailure.Destination

    @property
    def kind(self) -> str:
        return self.source_arn.split(":")[2]

    @property
    def region(self) -> str:
        return self.source_arn.split(":")[3]


@dataclass
class _Item:
    event: dict  # the record as the function receives it
    sequence: str
    arrival: float  # lab-clock time the record reached the stream


@dataclass
class _Shard:
    iterator: str | None = None  # where the next read starts
    chunks: list = field(default_factory=list)  # batches read but not finished, in order (bisecting adds)
    attempts: int = 0  # invocations of the first chunk so far
    retry_at: float | None = None  # simulated time of its next attempt
    last: object = None  # its last invocation's result


@dataclass
class _StreamState:
    shards: dict = field(default_factory=dict)  # shard id -> _Shard


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
        self._invisible: dict[str, tuple] = {}  # SQS receipt handle -> (visible again at, queue URL, region)
        self.arrivals: dict[tuple, float] = {}  # (stream ARN, shard id, sequence number) -> lab-clock arrival
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.batches: list[dict] = []  # what ran: for charts and tests
        self.discarded: list[dict] = []  # stream records a mapping gave up on, and why

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
                for shard_id in self._shards(client, mapping, kinesis):
                    if shard_id in state.shards:
                        continue
                    fresh = _Shard()
                    fresh.iterator = self._iterator(client, mapping, shard_id, kinesis)
                    # the poller thread may have met this shard meanwhile and read from it: its place wins,
                    # or the same records would be read (and invoked) twice
                    state.shards.setdefault(shard_id, fresh)

    def arrived(self, stream_arn: str, shard: str, sequence: str) -> None:
        """Note on the lab clock when a record reached a stream (moto stamps real time)."""
        self.arrivals[(stream_arn, shard, str(sequence))] = self.clock.now()

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
        """Simulated time of the next message to become visible again or stream batch to retry.

        Only enabled mappings that still exist count: a deleted or disabled mapping's retries never fall due.
        """
        live = {m.uuid for m in self._mappings() if m.enabled}
        dues = [entry[0] for entry in list(self._invisible.values())]
        dues += [shard.retry_at for uuid, state in list(self._streams.items()) if uuid in live
                 for shard in list(state.shards.values()) if shard.retry_at is not None]
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
        mappings = self._mappings()
        for gone in set(self._streams) - {m.uuid for m in mappings}:
            del self._streams[gone]  # deleted: its batch in retry goes with it, as on Lambda
        self._release_due()
        for mapping in mappings:
            if mapping.enabled:
                poll = {"sqs": self._poll_sqs, "kinesis": self._poll_stream, "dynamodb": self._poll_stream}
                ran |= bool(poll.get(mapping.kind, lambda m: False)(mapping))
        return ran

    # -- SQS -------------------------------------------------------------------------------------
    def _poll_sqs(self, mapping: Mapping) -> bool:
        sqs = _client("sqs", mapping.region)
        _, _, _, _, account, name = mapping.source_arn.split(":")
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        messages: list = []
        while len(messages) < mapping.batch_size:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, mapping.batch_size - len(messages)),
                                      AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
            if not got:
                break
            messages += got
        if not messages:
            return False
        received = self.clock.now()  # the visibility timeout runs from the receive, for the whole batch at once
        # The settings as they are now, not as this pass began: an update made since (ReportBatchItemFailures,
        # filters, disabling) governs what was just received.
        mapping = next((m for m in self._mappings() if m.uuid == mapping.uuid), None) or mapping
        if not mapping.enabled:
            for message in messages:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
            return True
        messages, chain = recursion.screen_sqs(mapping.function_arn, messages, sqs, url)  # recursive loops end
        if not messages:
            return True
        records = [_sqs_record(m, mapping) for m in messages]
        if mapping.filters:  # what does not match is deleted without an invocation, as on Lambda
            keep = [_filters.matches(mapping.filters, _filters.document_of("sqs", r)) for r in records]
            for message, kept in zip(messages, keep):
                if not kept:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            messages = [m for m, kept in zip(messages, keep) if kept]
            records = [r for r, kept in zip(records, keep) if kept]
            if not messages:
                return True
        event = {"Records": records}
        with recursion.pending(*chain):  # the invocation continues the messages' trace
            result = self._invoke(mapping, event)
        failed_ids = set(m["MessageId"] for m in messages)
        if result is not None and not result.failed:
            failed_ids = _batch_failures(result.payload, failed_ids) if mapping.report_item_failures else set()
        visibility = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
                         ["Attributes"]["VisibilityTimeout"])
        due = received + visibility  # one time for the batch: a failed batch comes back whole, as on AWS
        if failed_ids & {m["MessageId"] for m in messages}:
            self.clock.call_later(max(0.0, due - self.clock.now()), self.nudge)
        for message in messages:
            if message["MessageId"] in failed_ids:
                # visible again after the visibility timeout, on the lab clock; the queue counts the receive
                self._invisible[message["ReceiptHandle"]] = (due, url, mapping.region)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def _release_due(self) -> None:
        """Messages whose visibility timeout ended on the lab clock, visible again (mapping or not)."""
        now = self.clock.now()
        for handle, (due, url, region) in list(self._invisible.items()):
            if due <= now:
                del self._invisible[handle]
                try:
                    _client("sqs", region).change_message_visibility(QueueUrl=url, ReceiptHandle=handle,
                                                                     VisibilityTimeout=0)
                except Exception:  # already visible again (real time passed) or moved to the DLQ
                    pass

    # -- Kinesis and DynamoDB streams -------------------------------------------------------------
    def _poll_stream(self, mapping: Mapping) -> bool:
        state = self._streams.setdefault(mapping.uuid, _StreamState())
        kinesis = mapping.kind == "kinesis"
        client = _client("kinesis" if kinesis else "dynamodbstreams", mapping.region)
        ran = False
        for shard_id in self._shards(client, mapping, kinesis):
            shard = state.shards.setdefault(shard_id, _Shard())
            if shard.retry_at is not None and shard.retry_at > self.clock.now():
                continue  # this shard waits for its retry; the others go on
            if not shard.chunks:
                items, read = self._read(client, mapping, shard_id, shard, kinesis)
                ran |= read
                if not items:
                    continue
                shard.chunks, shard.attempts, shard.last = [items], 0, None
            self._attempt(mapping, shard_id, shard)
            ran = True
        return ran

    def _read(self, client, mapping: Mapping, shard_id: str, shard: _Shard, kinesis: bool) -> tuple[list, bool]:
        """The next batch of a shard that passes the mapping's filters, and whether any record was read."""
        iterator = shard.iterator or self._iterator(client, mapping, shard_id, kinesis)
        extra = {"StreamARN": mapping.source_arn} if kinesis else {}
        got = client.get_records(ShardIterator=iterator, Limit=mapping.batch_size, **extra)
        shard.iterator = got.get("NextShardIterator") or iterator
        items = []
        for raw in got["Records"]:
            event = _stream_record(raw, mapping, shard_id, kinesis)
            if not _filters.matches(mapping.filters, _filters.document_of(mapping.kind, event)):
                continue  # skipped, never invoked, as on Lambda
            sequence = raw["SequenceNumber"] if kinesis else raw["dynamodb"]["SequenceNumber"]
            stamp = raw["ApproximateArrivalTimestamp"] if kinesis else raw["dynamodb"]["ApproximateCreationDateTime"]
            arrival = self.arrivals.pop((mapping.source_arn, shard_id, str(sequence)), stamp.timestamp())
            items.append(_Item(event, str(sequence), arrival))
        return items, bool(got["Records"])

    def _attempt(self, mapping: Mapping, shard_id: str, shard: _Shard) -> None:
        """Invoke the shard's first unfinished chunk once and decide what comes next."""
        items = shard.chunks[0]
        if mapping.max_record_age >= 0:  # records past the age limit are discarded before invoking
            limit = self.clock.now() - mapping.max_record_age
            expired = [item for item in items if item.arrival < limit]
            if expired:
                self._give_up(mapping, shard_id, shard, expired, RECORD_AGE_EXPIRED)
                items = shard.chunks[0] = [item for item in items if item.arrival >= limit]
                if not items:
                    self._finish(shard)
                    return
        result = self._invoke(mapping, {"Records": [item.event for item in items]})
        if result is None:  # throttled: the same batch waits and is tried again, without using a retry
            self._retry_later(shard)
            return
        shard.attempts += 1
        shard.last = result
        if not result.failed:
            failed = set()
            if mapping.report_item_failures:
                failed = _batch_failures(result.payload, {item.sequence for item in items})
            if not failed:
                self._finish(shard)
                return
            # checkpoint at the lowest failed sequence number: what came before it is done
            first = min(index for index, item in enumerate(items) if item.sequence in failed)
            items = shard.chunks[0] = items[first:]
        elif mapping.bisect and len(items) > 1:
            # halve the batch to isolate the bad record; splitting does not count against the retries
            half = len(items) // 2
            shard.chunks[0:1] = [items[:half], items[half:]]
            shard.attempts, shard.retry_at = 0, None
            return
        if 0 <= mapping.max_retries < shard.attempts:
            self._give_up(mapping, shard_id, shard, items, RETRIES_EXHAUSTED)
            self._finish(shard)
            return
        self._retry_later(shard)

    def _retry_later(self, shard: _Shard) -> None:
        delay = STREAM_BACKOFF_S[min(max(shard.attempts, 1), len(STREAM_BACKOFF_S)) - 1]
        shard.retry_at = self.clock.now() + delay
        self.clock.call_later(delay, self.nudge)

    @staticmethod
    def _finish(shard: _Shard) -> None:
        shard.chunks.pop(0)
        shard.attempts, shard.retry_at, shard.last = 0, None, None

    def _give_up(self, mapping: Mapping, shard_id: str, shard: _Shard, items: list, condition: str) -> None:
        """Records the mapping discards: to its on-failure destination, if it has one."""
        self.discarded.append({"mapping": mapping.uuid, "shard": shard_id, "condition": condition,
                               "sequence_numbers": [item.sequence for item in items]})
        if not mapping.on_failure:
            return
        now = self.clock.now()
        records = [item.event for item in items]
        record = failure_record(mapping, shard_id, records, [item.arrival for item in items], condition,
                                shard.attempts, shard.last, now)
        try:
            send_failure(mapping.on_failure, mapping, shard_id, record, records, now)
        except Exception as error:  # a destination that is gone loses the record, as on Lambda
            self.discarded[-1]["error"] = str(error)

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
        if result is not None and mapping.kind != "sqs":
            self.service.metrics.stream_batch(target, event)
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
