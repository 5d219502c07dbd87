"""The lab's views on a real account or any endpoint, rebuilt with plain boto3 from what AWS itself gives.

`lab.invocations` comes from the REPORT lines in CloudWatch Logs, `lab.environments()` from log streams (one
stream per execution environment), `lab.async_events` from destination records, dead-letter messages and the
REPORT lines of the request ids this kernel sent with InvocationType='Event'. What the lab measured locally
(wall and CPU time, payloads) is None here: AWS does not log it.
"""

from __future__ import annotations

import calendar
import json
import re
import sys
import threading
import time
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from .pricing import parse_report
from .runtime import InvokeResult
from .service import Invocation
from .service._iam_propagation import retry_until_ready
from .service._async import AsyncEvent, Attempt

LOOKBACK_MS = 120_000  # CloudWatch Logs may ingest a line after a later one: read the last 2 minutes again
RETRY_WAIT_S = 200.0  # AWS retries a failed event about 1 and then 2 minutes later (plus delivery)
SETTLE_WAIT_S = 30.0  # what wait_for_async allows when no retry is pending
PROVISIONED_WAIT_S = 300.0  # AWS allocates provisioned concurrency in a minute or two
POLL_S = 2.0
_START = re.compile(r"^START RequestId: (\S+)(?: Version: (\S+))?")
_REPORT = re.compile(r"^REPORT RequestId: (\S+)")
_END = re.compile(r"^END RequestId: (\S+)")
_STREAM_VERSION = re.compile(r"\[([^\]]+)\]")
_PY_ERROR = re.compile(r"^\[ERROR\] ([A-Za-z_][\w.]*):")  # an unhandled exception (logging.error has a tab)
_ERROR_TYPE = re.compile(r"\tError Type: (\S+)")
_STATUS = re.compile(r"\tStatus: (\w+)")


@dataclass
class RemoteEnvironment:
    """One execution environment as CloudWatch Logs shows it: its log stream, first and last line, invocations."""

    function_name: str
    version: str
    stream_name: str
    log_group: str
    created: float  # epoch seconds of the stream's first line
    last_used: float  # epoch seconds of its last line
    invocations: int
    init_ms: float | None = None


class RemoteViews:
    """Reads logs and destination queues on demand; remembers what it read and the async request ids sent."""

    def __init__(self, lab) -> None:
        self._lab = lab
        self._lock = threading.Lock()
        self._events: dict[str, dict] = {}  # log group -> {(stream, id, ms): event}
        self._cursor: dict[str, int] = {}  # log group -> latest timestamp read (ms)
        self._records: dict[str, tuple[str, str, dict]] = {}  # SQS MessageId -> (kind, queue arn, record)
        self.sent: dict[str, dict] = {}  # async request id -> function, qualifier, payload, sent_at
        self.synchronous: dict[str, str | None] = {}  # this kernel's RequestResponse invokes: id -> qualifier
        self._pushes: list[tuple[str, float]] = []  # (topic ARN, when) of this kernel's SNS publishes
        self._provisioning: set[tuple[str, str | None]] = set()  # (function, qualifier) this kernel provisioned
        self._settled: set[str] = set()  # request ids an earlier wait_for_async saw finish
        self._targets: dict[str, tuple[str, str]] = {}  # the record queues async_events last read
        self._session = None
        self._last_wait = time.time()  # stream mappings made after this are waited for (their first batch)

    # -- what this kernel sends asynchronously ------------------------------------------------------
    def attach(self, session) -> None:
        """Note each Invoke with InvocationType='Event' (and InvokeAsync): wait_for_async waits for those."""
        self._session = session
        for event, handler, uid in self._hooks():
            session.events.unregister(event, unique_id=uid)
            session.events.register(event, handler, unique_id=uid)

    def detach(self) -> None:
        if self._session is not None:
            for event, _, uid in self._hooks():
                self._session.events.unregister(event, unique_id=uid)
            self._session = None

    def _hooks(self):
        noted = (("lambda.Invoke", self._note), ("lambda.InvokeAsync", self._note),
                 ("sns.Publish", self._note_publish), ("lambda.PutProvisionedConcurrencyConfig", self._note_provisioning))
        return [hook for name, note in noted for hook in (
            (f"before-parameter-build.{name}", _keep_params, f"lambda-lab-remote-params-{name}"),
            (f"after-call.{name}", note, f"lambda-lab-remote-{name}"))]

    def _note_publish(self, http_response, parsed, model, context=None, **_) -> None:
        """An SNS publish by this kernel: wait_for_async waits for the functions subscribed to its topic."""
        topic = ((context or {}).get(_PARAMS) or {}).get("TopicArn")
        if topic and (parsed or {}).get("MessageId"):
            with self._lock:
                self._pushes.append((topic, time.time()))

    def _note_provisioning(self, http_response, parsed, model, context=None, **_) -> None:
        """A provisioned concurrency config this kernel put: wait_for_async waits until it is allocated."""
        params = (context or {}).get(_PARAMS) or {}
        if (parsed or {}).get("Status") == "IN_PROGRESS" and params.get("FunctionName"):
            with self._lock:
                self._provisioning.add((params["FunctionName"], params.get("Qualifier")))

    def _note(self, http_response, parsed, model, context=None, **_) -> None:
        params = (context or {}).get(_PARAMS)
        if params is None:
            return
        if model.name == "Invoke" and params.get("InvocationType", "RequestResponse") == "RequestResponse":
            request_id = _request_id(parsed)
            if request_id:  # this kernel's own synchronous call: the logs do not say so, the response did
                with self._lock:
                    self.synchronous[request_id] = _split_name(params.get("FunctionName", ""),
                                                               params.get("Qualifier"))[1]
            return
        if model.name == "Invoke" and params.get("InvocationType") != "Event":
            return
        if (parsed or {}).get("ResponseMetadata", {}).get("HTTPStatusCode") != 202:
            return
        request_id = _request_id(parsed)
        name, qualifier = _split_name(params.get("FunctionName", ""), params.get("Qualifier"))
        payload = params.get("Payload", params.get("InvokeArgs", b""))
        payload = payload.encode() if isinstance(payload, str) else payload if isinstance(payload, bytes) else b""
        if request_id:
            with self._lock:
                self.sent[request_id] = {"function_name": name, "qualifier": qualifier, "payload": payload,
                                         "sent_at": time.time()}

    # -- invocations, from REPORT lines ------------------------------------------------------------
    def functions(self) -> list[str]:
        """The functions whose logs are read: those the lab created, then any this kernel invoked asynchronously."""
        names = [i for kind, i in self._lab.created if kind == "function"]
        names += [s["function_name"] for s in list(self.sent.values())]
        return list(dict.fromkeys(names))

    def invocations(self, function_name: str | None = None) -> list[Invocation]:
        """Every invocation CloudWatch Logs shows for the lab's functions, oldest first."""
        found = []
        for name, group, architecture in self._groups(function_name):
            for stream, lines in self._streams(group).items():
                found += _parse_stream(lines, name, group, stream, architecture)
        asynchronous, synchronous = dict(self.sent), dict(self.synchronous)
        for inv in found:  # what this kernel sent says how; the logs never do (None: a service's, or another's)
            inv.invocation_type = ("Event" if inv.request_id in asynchronous else
                                   "RequestResponse" if inv.request_id in synchronous else None)
            if inv.request_id in synchronous:  # the alias or version it named, which the logs do not keep
                inv.qualifier = synchronous[inv.request_id]
            elif inv.request_id in asynchronous:
                inv.qualifier = asynchronous[inv.request_id]["qualifier"]
        return sorted(found, key=lambda i: i.result.invoked_at)  # START lines: the order the events ran in

    def environments(self, function_name: str | None = None) -> list[RemoteEnvironment]:
        """One entry per log stream (each stream is one execution environment), oldest first."""
        found = []
        for name, group, _ in self._groups(function_name):
            for stream, lines in self._streams(group).items():
                owner = _stream_owner(stream, name)
                if owner != name:
                    continue
                version = _stream_version(stream)
                reports = [m for _, m in lines if _REPORT.match(m) or '"platform.report"' in m]
                init = next((parse_report(m).init_ms for m in reports if _report_or_none(m)
                             and parse_report(m).init_ms is not None), None)
                found.append(RemoteEnvironment(name, version, stream, group, lines[0][0] / 1000,
                                               lines[-1][0] / 1000, len(reports), init))
        return sorted(found, key=lambda e: e.created)

    def _groups(self, function_name: str | None) -> list[tuple[str, str, str]]:
        """(function, its log group, its architecture): LoggingConfig.LogGroup, else /aws/lambda/<name>."""
        lam = boto3.client("lambda", region_name=self._lab.region)
        names = [function_name] if function_name else self.functions()
        groups = []
        for name in names:
            try:
                config = lam.get_function_configuration(FunctionName=name)
            except ClientError:  # deleted: its default log group outlives it on AWS
                config = {}
            group = (config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"
            groups.append((name, group, (config.get("Architectures") or ["x86_64"])[0]))
        return groups

    def _streams(self, group: str) -> dict[str, list[tuple[int, str]]]:
        """The group's events, read since the last call (with a look-back), per stream in time order."""
        logs = boto3.client("logs", region_name=self._lab.region)
        kwargs = {"logGroupName": group}
        if group in self._cursor:
            kwargs["startTime"] = max(self._cursor[group] - LOOKBACK_MS, 0)
        seen = self._events.setdefault(group, {})
        try:
            for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
                for event in page.get("events", []):
                    key = (event["logStreamName"], event.get("eventId"), event["timestamp"], event["message"])
                    seen[key] = event
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":  # not invoked yet: no group
                raise
        if seen:
            self._cursor[group] = max(e["timestamp"] for e in seen.values())
        streams: dict[str, list[tuple[int, str]]] = {}
        for (stream, _, ms, message), _ in sorted(seen.items(), key=lambda kv: (kv[0][2], _event_order(kv[0][1]))):
            streams.setdefault(stream, []).append((ms, message))
        return streams

    # -- asynchronous events ------------------------------------------------------------------------
    def async_events(self, wait_s: int = 0) -> list[AsyncEvent]:
        """Events sent with InvocationType='Event' from here, or recorded by a destination or DLQ, oldest first."""
        targets = self._targets = self._record_queues()
        self._read_queues(targets, wait_s)
        by_id = {}
        for kind, arn, record in list(self._records.values()):
            request_id = record.get("request_id")
            if request_id:
                by_id.setdefault(request_id, []).append((kind, arn, record))
        ids = list(dict.fromkeys([*self.sent, *by_id]))
        if not ids:
            return []
        names = {self.sent[i]["function_name"] if i in self.sent else by_id[i][0][2].get("function_name") for i in ids}
        attempts: dict[str, list[Invocation]] = {}
        for name in names:
            if name:
                for inv in self.invocations(name):
                    attempts.setdefault(inv.request_id, []).append(inv)
        retries = {name: _max_retries(name, self._lab.region) for name in names if name}
        events = []
        for request_id in ids:
            sent = self.sent.get(request_id, {})
            records = by_id.get(request_id, [])
            name = sent.get("function_name") or records[0][2].get("function_name")
            runs = attempts.get(request_id, [])
            event = AsyncEvent(request_id, name, sent.get("qualifier"), sent.get("payload") or
                               next((r["payload"] for _, _, r in records if r.get("payload") is not None), b""),
                               sent.get("sent_at") or (runs[0].started_at if runs else records[0][2]["at"]))
            event.attempts = [Attempt(r.started_at, "error" if r.failed else "success", r.executed_version,
                                      r.result.error_type) for r in runs]
            event.deliveries = [(kind, arn, "ok") for kind, arn, _ in records]
            event.outcome = _outcome(event, records, retries.get(name, 2))
            events.append(event)
        return sorted(events, key=lambda e: e.received_at)

    def _record_queues(self) -> dict[str, tuple[str, str]]:
        """SQS queues that receive the lab's functions' records: arn -> (kind, function)."""
        lam = boto3.client("lambda", region_name=self._lab.region)
        found = {}
        for name in self.functions():
            try:
                dlq = (lam.get_function_configuration(FunctionName=name).get("DeadLetterConfig") or {}).get("TargetArn")
                configs = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
            except ClientError:
                continue
            if dlq and ":sqs:" in dlq:
                found[dlq] = ("DeadLetter", name)
            for config in configs:
                for kind, target in (config.get("DestinationConfig") or {}).items():
                    arn = (target or {}).get("Destination") or ""
                    if ":sqs:" in arn:
                        found[arn] = (kind, name)
        return found

    def _read_queues(self, targets: dict[str, tuple[str, str]], wait_s: int) -> None:
        """Read each queue without taking its messages (VisibilityTimeout=0): the learner's cells read them too."""
        sqs = boto3.client("sqs", region_name=self._lab.region)
        for arn, (kind, function_name) in targets.items():
            parts = arn.split(":")
            try:
                url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            except ClientError:
                continue  # deleted since
            for _ in range(10):  # bounded: a queue of thousands is read in part
                reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                            WaitTimeSeconds=wait_s, MessageAttributeNames=["All"])
                wait_s = 0  # one long poll per call is the pause; the rest read what is there
                new = [m for m in reply.get("Messages", []) if m["MessageId"] not in self._records]
                for message in new:
                    self._records[message["MessageId"]] = (kind, arn, _parse_record(message, kind, arn, function_name))
                if not new:
                    break

    def wait_for_async(self, timeout: float | None, progress: bool = True) -> None:
        """Poll logs and record queues until every event sent since the last wait has ended, or the timeout."""
        start = time.monotonic()

        def until(auto_s: float) -> float:
            return start + (auto_s if timeout == "auto" else 3600.0 if timeout is None else float(timeout))

        since, self._last_wait = self._last_wait, time.time()
        mappings = self._mappings()
        waited = self._drain_mapped_queues(mappings, until(SETTLE_WAIT_S), progress)
        waited |= self._wait_first_stream_batches(mappings, since, until(SETTLE_WAIT_S), progress)
        waited |= self._wait_provisioned(until(PROVISIONED_WAIT_S), progress)
        waited |= self._wait_pushed(until(SETTLE_WAIT_S), progress)
        pending = [i for i in self.sent if i not in self._settled]
        if not pending:
            if progress and not waited:
                print("lab.wait_for_async(): no asynchronous invocations sent since the last wait.")
            return
        auto = timeout == "auto"
        deadline = start + SETTLE_WAIT_S if auto else None if timeout is None else start + timeout
        wait_s = 0
        while True:
            events = {e.request_id: e for e in self.async_events(wait_s)}
            expected = self._expected_deliveries()
            done = [i for i in pending if _settled(events.get(i), expected)]
            retrying = [i for i in pending if i not in done and events.get(i) and events[i].attempts
                        and events[i].attempts[-1].outcome == "error"]
            if auto and retrying:
                deadline = max(deadline, start + RETRY_WAIT_S)
            elapsed = time.monotonic() - start
            if progress:
                _progress(len(done), len(pending), len(retrying), elapsed, None if deadline is None
                          else deadline - start)
            if len(done) == len(pending):
                self._settled.update(done)
                if progress:
                    print()
                return
            if deadline is not None and time.monotonic() >= deadline:
                self._settled.update(done)
                left = [i for i in pending if i not in done]
                print(f"\nlab.wait_for_async(): {len(left)} of {len(pending)} asynchronous events had not ended "
                      f"after {elapsed:.0f} s ({', '.join(i[:8] for i in left[:5])}{'...' if len(left) > 5 else ''})."
                      " AWS retries a failed event 1 and 2 minutes later: run lab.wait_for_async() again, or read "
                      "lab.async_events.")
                return
            wait_s = 1 if self._records or expected else 0
            time.sleep(max(0.0, POLL_S - wait_s - (time.monotonic() - start - elapsed)))

    def _mappings(self) -> list[dict]:
        """The event source mappings of the functions this lab made (one listing per wait)."""
        mine = self._functions_made()
        if not mine:
            return []
        pages = boto3.client("lambda", region_name=self._lab.region).get_paginator("list_event_source_mappings")
        return [m for page in pages.paginate() for m in page["EventSourceMappings"]
                if m["FunctionArn"].split(":")[6] in mine]

    def _wait_first_stream_batches(self, mappings: list[dict], since: float, deadline: float, progress: bool) -> bool:
        """Wait until each stream mapping made since `since` has invoked its function once (a REPORT line after
        the mapping's creation), or the deadline. Later batches of an older mapping are not awaited: nothing on
        AWS says records are still to come."""
        new = [(m["FunctionArn"].split(":")[6], m["LastModified"].timestamp()) for m in mappings
               if m.get("EventSourceArn", "").split(":")[2:3] in (["dynamodb"], ["kinesis"])
               and m.get("LastModified") is not None and m["LastModified"].timestamp() >= since - 1
               and m.get("State") != "Disabled"]
        return self._wait_ran_after(new, "new stream mapping(s) yet to invoke", deadline, progress)

    def _wait_pushed(self, deadline: float, progress: bool) -> bool:
        """Wait until each function of this lab subscribed to a topic this kernel published to has run after the
        publish (a REPORT line), or the deadline."""
        with self._lock:
            pushes, self._pushes = self._pushes, []
        if not pushes:
            return False
        latest: dict[str, float] = {}  # a function that ran after a topic's last publish ran after its earlier ones
        for topic, at in pushes:
            latest[topic] = max(at, latest.get(topic, at))
        mine = self._functions_made()
        sns = boto3.client("sns", region_name=self._lab.region)
        expected = []
        for topic, at in latest.items():
            try:
                subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            except ClientError:
                continue
            for sub in subscriptions:
                parts = sub.get("Endpoint", "").split(":")
                if sub.get("Protocol") == "lambda" and len(parts) > 6 and parts[6] in mine:
                    expected.append((parts[6], at))
        return self._wait_ran_after(expected, "SNS delivery(ies) to functions yet to run", deadline, progress)

    def _functions_made(self) -> set[str]:
        return {ident for kind, ident in self._lab.created if kind == "function"}

    def _wait_ran_after(self, expected: list[tuple[str, float]], what: str, deadline: float, progress: bool) -> bool:
        """Wait until each (function, epoch s) has a REPORT line from an invocation that began after it (1 s of
        clock skew allowed), or the deadline; False when there was nothing to wait for."""
        if not expected:
            return False
        return _poll(lambda: sum(not any(i.result.invoked_at and i.result.invoked_at >= at - 1
                                         for i in self.invocations(f)) for f, at in expected),
                     what, deadline, progress)

    def _wait_provisioned(self, deadline: float, progress: bool) -> bool:
        """Wait until the provisioned concurrency configs this kernel put are no longer IN_PROGRESS, or the
        deadline; one not yet allocated then is waited for again next time."""
        with self._lock:
            pending = sorted(self._provisioning, key=str)
        if not pending:
            return False
        lam = boto3.client("lambda", region_name=self._lab.region)

        def still_allocating() -> int:
            nonlocal pending
            busy = []
            for name, qualifier in pending:
                try:
                    config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
                except ClientError:  # deleted since, or the function is gone
                    config = {}
                if config.get("Status") == "IN_PROGRESS":
                    busy.append((name, qualifier))
                else:
                    with self._lock:
                        self._provisioning.discard((name, qualifier))
            pending = busy
            return len(busy)

        return _poll(still_allocating, "provisioned concurrency config(s) still IN_PROGRESS (AWS takes a minute or "
                     "two)", deadline, progress)

    def _drain_mapped_queues(self, mappings: list[dict], deadline: float, progress: bool) -> bool:
        """Wait until the SQS queues these mappings poll hold no message, visible or in flight (the pollers have
        handed every message to a function, which then deleted it), or the deadline. Returns whether there was
        any such queue to wait for."""
        sqs = boto3.client("sqs", region_name=self._lab.region)
        queues = []
        for mapping in mappings:
            source = mapping.get("EventSourceArn", "").split(":")
            if (len(source) == 6 and source[2] == "sqs"
                    and mapping.get("State") in ("Creating", "Enabling", "Enabled", "Updating")):
                try:
                    queues.append(sqs.get_queue_url(QueueName=source[5], QueueOwnerAWSAccountId=source[4])["QueueUrl"])
                except ClientError:  # the queue is gone: nothing to wait for
                    pass
        if not queues:
            return False

        def messages_left() -> int:
            left = 0
            for url in queues:
                try:
                    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                except ClientError:
                    continue
                left += sum(int(v) for v in counts.values())
            return left

        return _poll(messages_left, "message(s) left in queues the mappings poll", deadline, progress)

    def _expected_deliveries(self) -> dict[tuple[str, str], bool]:
        """(function, kind) pairs that have an SQS destination or DLQ: such an event ends when its record lands."""
        return {(function, kind): True for kind, function in self._targets.values()}


def _poll(count_left, what: str, deadline: float, progress: bool) -> bool:
    """Call `count_left()` every POLL_S until it answers 0 or the deadline passes, showing "<n> <what>"; True."""
    while True:
        left = count_left()
        if progress:
            print(f"\rlab.wait_for_async(): {left} {what}", end="", flush=True)
        if not left or time.monotonic() >= deadline:
            if progress:
                print()
            return True
        time.sleep(POLL_S)


def when_iam_ready(call, args: tuple, kwargs: dict, timeout: float, retry: bool):
    """`call(*args, **kwargs)`, retried with backoff for up to `timeout` s while AWS says IAM has not caught up."""
    if not retry:
        return call(*args, **kwargs)

    def report(message: str, pause: float) -> None:
        print(f"IAM has not reached Lambda yet ({message[:80]}...): trying again in {pause:g} s", flush=True)

    return retry_until_ready(lambda: call(*args, **kwargs), timeout, report)


_PARAMS = "lambda_lab_remote_params"


def _keep_params(params, context=None, **_) -> None:
    """before-parameter-build: keep the request's parameters for its after-call hook (which sees only the reply)."""
    if context is not None:
        context[_PARAMS] = dict(params)


def _request_id(parsed) -> str:
    """The request id of a reply: for Invoke, the invocation's, as in its START and REPORT lines."""
    return ((parsed or {}).get("ResponseMetadata", {}).get("RequestId") or "").strip()


def _split_name(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """A name, partial ARN ('123:function:f:prod'), 'f:prod' or full ARN, as (name, qualifier)."""
    parts = function_name.split(":")
    if function_name.startswith("arn:"):
        return parts[6], qualifier or (parts[7] if len(parts) > 7 else None)
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2], qualifier or (parts[3] if len(parts) > 3 else None)
    return parts[0], qualifier or (parts[1] if len(parts) > 1 else None)


def _event_order(event_id) -> tuple:
    try:
        return (0, int(event_id))
    except (TypeError, ValueError):
        return (1, str(event_id))


def _stream_version(stream: str) -> str:
    """`YYYY/MM/DD/[version]id`: the version in brackets."""
    found = _STREAM_VERSION.search(stream)
    return found.group(1) if found else "$LATEST"


def _stream_owner(stream: str, default: str) -> str:
    """In a log group several functions share, a stream is named `YYYY/MM/DD/<function>[version]id`."""
    head = stream.split("[", 1)[0].rstrip("/").split("/")
    return head[3] if len(head) > 3 and head[3] else default


def _report_or_none(message: str):
    try:
        return parse_report(message)
    except (ValueError, KeyError, TypeError):
        return None


def _json(message: str):
    if not message.startswith("{"):
        return None
    try:
        record = json.loads(message)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _parse_stream(lines: list[tuple[int, str]], default_name: str, group: str, stream: str,
                  architecture: str) -> list[Invocation]:
    """START .. REPORT of each request in one stream, as the lab's Invocation records."""
    name = _stream_owner(stream, default_name)
    if name != default_name:
        return []
    found, open_requests = [], {}  # request id -> {"start": ms, "version": v, "lines": [...]}
    current, init_at = None, None
    for ms, message in lines:
        record = _json(message)
        kind = record.get("type") if record else None
        if message.startswith("INIT_START") or kind == "platform.initStart":
            init_at = ms  # the cold start's clock starts here, before its START line
            continue
        started = _START.match(message)
        if started or kind == "platform.start":
            rid = started.group(1) if started else record["record"].get("requestId")
            version = (started.group(2) if started else record["record"].get("version")) or _stream_version(stream)
            open_requests[rid] = {"start": ms, "version": version, "lines": [message], "error": None, "init": init_at}
            init_at = None
            current = rid
            continue
        reported = _REPORT.match(message)
        if reported or kind == "platform.report":
            rid = reported.group(1) if reported else record["record"].get("requestId")
            report = _report_or_none(message)
            if report is None:
                continue
            request = open_requests.pop(rid, None) or {"start": None, "version": _stream_version(stream),
                                                       "lines": [], "error": None}
            request["lines"].append(message)
            status = _STATUS.search(message)
            status = status.group(1) if status else (record["record"].get("status") if record else None)
            error = request["error"]
            if status == "timeout":
                error = "Sandbox.Timedout"
            elif status == "error" or (status is None and error):
                error = (_ERROR_TYPE.search(message).group(1) if _ERROR_TYPE.search(message) else error or
                         "Runtime.Error")
            found.append(_invocation(rid, name, request, ms, report, error, group, stream, architecture))
            current = None if current == rid else current
            continue
        if current in open_requests:
            request = open_requests[current]
            request["lines"].append(message)
            if request["error"] is None:
                request["error"] = _error_in(message, record)
    return found


def _error_in(message: str, record: dict | None) -> str | None:
    """The error type an unhandled error's log line names (Python, Node.js, or JSON format)."""
    if record is not None:
        return record.get("errorType") if record.get("level") == "ERROR" or record.get("errorType") else None
    found = _PY_ERROR.match(message)
    if found:
        return found.group(1)
    if "\tERROR\tInvoke Error" in message:
        found = re.search(r'"errorType":"([^"]+)"', message)
        return found.group(1) if found else "Error"
    if "Task timed out after" in message:
        return "Sandbox.Timedout"
    return None


def _invocation(rid: str, name: str, request: dict, report_ms: int, report, error: str | None, group: str,
                stream: str, architecture: str) -> Invocation:
    invoked = (request["start"] if request["start"] is not None else report_ms - report.duration_ms) / 1000
    started = invoked  # locally too, a cold start's clock starts before init: at INIT_START, if it was read
    if report.init_ms is not None:
        started = request["init"] / 1000 if request.get("init") is not None else invoked - report.init_ms / 1000
    status = "success" if error is None else ("timeout" if error == "Sandbox.Timedout" else "error")
    result = InvokeResult(request_id=rid, function_name=name, version=request["version"], payload=None,
                          error_type=error, status=status, log="\n".join(request["lines"]) + "\n", log_group=group,
                          log_stream=stream, cold=report.init_ms is not None, duration_ms=report.duration_ms,
                          billed_ms=report.billed_ms, init_ms=report.init_ms, memory_mb=report.memory_mb,
                          max_memory_mb=report.max_memory_mb, wall_ms=None, cpu_ms=None, started_at=started,
                          architecture=architecture, invoked_at=invoked)
    return Invocation(function_name=name, qualifier=None, executed_version=request["version"], invocation_type=None,
                      request_id=rid, started_at=started, result=result)


def _parse_record(message: dict, kind: str, arn: str, function_name: str) -> dict:
    """A destination record (JSON, requestContext) or a DLQ message (the event, with RequestID attributes)."""
    attributes = message.get("MessageAttributes") or {}
    if kind == "DeadLetter":
        code = (attributes.get("ErrorCode") or {}).get("StringValue")
        return {"request_id": (attributes.get("RequestID") or {}).get("StringValue"), "function_name": function_name,
                "condition": "EventAgeExceeded" if code == "429" else "RetriesExhausted",
                "payload": message.get("Body", "").encode(), "at": time.time(),
                "error": (attributes.get("ErrorMessage") or {}).get("StringValue")}
    try:
        body = json.loads(message.get("Body") or "{}")
        context = body["requestContext"]
    except (ValueError, KeyError, TypeError):
        return {"request_id": None}
    function = context.get("functionArn", "").split(":")
    stamp = body.get("timestamp", "")
    try:
        at = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))  # the record's UTC time
    except ValueError:
        at = time.time()
    payload = body.get("requestPayload")
    return {"request_id": context.get("requestId"), "condition": context.get("condition"),
            "function_name": function[6] if len(function) > 6 else function_name,
            "invoke_count": context.get("approximateInvokeCount"), "at": at,
            "payload": None if payload is None else json.dumps(payload).encode()}


def _max_retries(function_name: str, region: str) -> int:
    try:
        config = boto3.client("lambda", region_name=region).get_function_event_invoke_config(
            FunctionName=function_name)
        return int(config.get("MaximumRetryAttempts", 2))
    except ClientError:  # no configuration: Lambda's default
        return 2


def _outcome(event: AsyncEvent, records: list, retries: int) -> str | None:
    """A record's condition where one landed; else what the attempts in the logs say (None: not ended yet)."""
    for _, _, record in records:
        if record.get("condition"):
            return record["condition"]
    if event.attempts and event.attempts[-1].outcome == "success":
        return "Success"
    if len([a for a in event.attempts if a.outcome == "error"]) > retries:
        return "RetriesExhausted"
    return None


def _settled(event: AsyncEvent | None, expected: dict) -> bool:
    """Ended, and its record delivered where the function sends one (an OnSuccess/OnFailure queue or a DLQ)."""
    if event is None or event.outcome is None:
        return False
    got = {kind for kind, _, _ in event.deliveries}
    wanted = {"OnSuccess"} if event.outcome == "Success" else {"OnFailure", "DeadLetter"}
    return all(kind in got for kind in wanted if (event.function_name, kind) in expected)


def _progress(done: int, total: int, retrying: int, elapsed: float, limit: float | None) -> None:
    """One line, redrawn in place: a text bar, how many ended, how long so far."""
    width = 20
    filled = int(width * done / total) if total else width
    extra = f", {retrying} waiting for AWS's retry" if retrying else ""
    bound = f" of {limit:.0f} s" if limit is not None else ""
    sys.stdout.write(f"\rwaiting for asynchronous events [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"ended{extra} ({elapsed:.0f} s{bound})   ")
    sys.stdout.flush()
