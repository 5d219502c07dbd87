"""X-Ray as Lambda does it: a trace header per invocation, the segments of traced ones, and a local daemon.

`TracingConfig.Mode` Active traces every invocation the caller did not decide against (`Sampled=0`); PassThrough
traces only what the caller sampled (`X-Amzn-Trace-Id: ...;Sampled=1`). A traced invocation yields the
`AWS::Lambda` service segment and the `AWS::Lambda::Function` segment with its `Initialization` (cold starts
only), `Invocation` and `Overhead` subsegments, timed from the invocation's own figures. Handler code gets
`_X_AMZN_TRACE_ID` (its `Parent` is the `Invocation` subsegment, which the X-Ray SDK extends) and a daemon
address on 127.0.0.1: subsegments sent there as the SDK sends them (UDP, a JSON header line, then the
document) join the same trace. The daemon starts with the first Active function's environment.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..runtime import FunctionConfig, InvokeResult

__all__ = ["Trace", "Tracer", "XRayDaemon", "parse_trace_header", "new_trace_id"]

Put = Callable[[str, str, list], None]  # (account id, region, [segment document dict, ...])
DAEMON_HEADER = {"format": "json", "version": 1}
MAX_PENDING = 1000  # subsegments kept per open trace; a handler in a loop cannot fill the kernel
MAX_DEPTH = 32  # nesting of subsegments accepted from handler code


def new_trace_id(epoch: float | None = None) -> str:
    """`1-<epoch seconds, 8 hex>-<24 hex>`, X-Ray's trace id format."""
    return f"1-{int(time.time() if epoch is None else epoch):08x}-{secrets.token_hex(12)}"


def parse_trace_header(value: str | None) -> dict[str, str]:
    """`Root=...;Parent=...;Sampled=1` as a dict (keys as written; empty when there is none)."""
    if not value:
        return {}
    fields = {}
    for part in value.split(";"):
        key, _, val = part.strip().partition("=")
        if key and val:
            fields[key] = val
    return fields


@dataclass
class Trace:
    """One invocation's place in a trace: the header its handler sees and, when sampled, the segment ids."""

    header: str
    sampled: bool = False
    root: str = ""
    upstream_parent: str | None = None
    service_id: str = ""
    function_id: str = ""
    invocation_id: str = ""
    received_at: float = 0.0
    place: tuple[str, str] = ("", "")  # (account id, region)
    ids: set = field(default_factory=set)  # ids of the entities this invocation owns (subsegments nest there)


class XRayDaemon:
    """A UDP listener speaking the X-Ray daemon protocol; hands each document to `deliver`."""

    def __init__(self, deliver: Callable[[dict], None]) -> None:
        self._deliver = deliver
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]
        self.dropped = 0  # datagrams that were not a daemon frame
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="lambda-lab-xray-daemon", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def drain(self) -> None:
        """Handle every datagram already received (on loopback, all that a finished handler sent)."""
        with self._lock:
            self._read_all()

    def stop(self) -> None:
        self._stopped = True
        try:
            self._sock.sendto(b"", ("127.0.0.1", self.port))  # wakes the thread's select
        except OSError:
            pass
        self._thread.join(2.0)
        self._sock.close()

    def _run(self) -> None:
        while not self._stopped:
            try:
                select.select([self._sock], [], [], 1.0)
            except (OSError, ValueError):
                return
            with self._lock:
                if self._stopped:
                    return
                self._read_all()

    def _read_all(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if data:
                self._handle(data)

    def _handle(self, data: bytes) -> None:
        head, _, body = data.partition(b"\n")
        try:
            header, doc = json.loads(head), json.loads(body)
            valid = header == DAEMON_HEADER and _valid(doc) and isinstance(doc.get("trace_id"), str)
        except (ValueError, UnicodeDecodeError, RecursionError):
            valid = False
        if not valid:
            self.dropped += 1
            return
        try:
            self._deliver(doc)
        except Exception:  # a document the store refuses must not end the daemon
            self.dropped += 1


class Tracer:
    """Decides which invocations are traced, builds Lambda's segments, and merges the handler's subsegments."""

    def __init__(self) -> None:
        self.put: Put | None = None  # bound by the moto bridge: stores documents in the X-Ray backend
        self._daemon: XRayDaemon | None = None
        self._lock = threading.Lock()
        self._open: dict[str, list] = {}  # trace id -> [open invocations, {entity id: subsegment doc}]
        self._last_place = ("123456789012", os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
        self._stopped = False

    # -- the runtime's hook --------------------------------------------------------------------
    def environment(self, config: FunctionConfig) -> dict[str, str]:
        """The daemon's variables for a new environment: Active functions start the daemon."""
        if config.tracing == "Active":
            self._ensure_daemon()
        daemon = self._daemon
        if daemon is None:
            return {}
        return {"AWS_XRAY_DAEMON_ADDRESS": daemon.address, "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
                "_AWS_XRAY_DAEMON_PORT": str(daemon.port), "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR"}

    def _ensure_daemon(self) -> None:
        with self._lock:
            if self._daemon is None and not self._stopped:
                self._daemon = XRayDaemon(self._received)

    # -- per invocation ------------------------------------------------------------------------
    def begin(self, config: FunctionConfig, upstream: str | None, received_at: float,
              base: str | None = None) -> Trace:
        """The trace header of one invocation; a sampled one is opened to collect the handler's subsegments.

        `upstream` is the caller's X-Amzn-Trace-Id (its Root, Parent and sampling decision); `base` the header
        recursion detection made (its Root continues an event's chain, its Lineage counts the chain).
        """
        if upstream is None and config.tracing != "Active":  # the common case: nothing to decide or keep
            return Trace(base or f"Root={new_trace_id(received_at)};Parent={secrets.token_hex(8)};Sampled=0")
        fields, own = parse_trace_header(upstream), parse_trace_header(base)
        root = fields.get("Root") or own.get("Root") or new_trace_id(received_at)
        lineage = own.get("Lineage") or fields.get("Lineage")
        tail = f";Lineage={lineage}" if lineage else ""
        decided = fields.get("Sampled")
        if not (decided == "1" or (config.tracing == "Active" and decided != "0")):
            return Trace(f"Root={root};Parent={fields.get('Parent') or secrets.token_hex(8)};Sampled=0{tail}")
        trace = Trace("", True, root, fields.get("Parent"), secrets.token_hex(8), secrets.token_hex(8),
                      secrets.token_hex(8), received_at, (config.account_id, config.region))
        trace.header = f"Root={root};Parent={trace.invocation_id};Sampled=1{tail}"
        trace.ids = {trace.service_id, trace.function_id, trace.invocation_id}
        with self._lock:
            self._last_place = trace.place
            entry = self._open.setdefault(root, [0, {}])
            entry[0] += 1
        return trace

    def finish(self, trace: Trace, config: FunctionConfig, invoked_arn: str, result: InvokeResult | None,
               answered_at: float) -> None:
        """Store the invocation's segments, the handler's subsegments nested in them (nothing for a lost call)."""
        if self._daemon is not None:
            self._daemon.drain()
        with self._lock:
            entry = self._open.get(trace.root)
            received = entry[1] if entry else {}
            mine = _owned_by(received, trace.ids)
            for entity_id in mine:
                received.pop(entity_id)
            if entry is not None:
                entry[0] -= 1
                if entry[0] <= 0:
                    del self._open[trace.root]
            leftovers = list(received.values()) if entry is not None and entry[0] <= 0 else []
        documents = [] if result is None else _segments(trace, config, invoked_arn, result, answered_at, mine)
        documents += leftovers
        if documents and self.put is not None:
            self.put(*trace.place, documents)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            daemon, self._daemon = self._daemon, None
        if daemon is not None:
            daemon.stop()

    # -- the daemon's deliveries ---------------------------------------------------------------
    def _received(self, doc: dict) -> None:
        """A document from handler code: kept for its open invocation, else stored as sent."""
        with self._lock:
            entry = self._open.get(doc["trace_id"])
            if entry is not None and doc.get("type") == "subsegment" and len(entry[1]) < MAX_PENDING:
                entry[1][doc["id"]] = doc  # an in-progress document is replaced by its finished one
                return
            place = self._last_place
        if self.put is not None:
            self.put(*place, [doc])


def _valid(entity, depth: int = 0) -> bool:
    """A segment or subsegment X-Ray would store: named, timed, its nested subsegments (a few levels) valid too."""
    if depth > MAX_DEPTH or not isinstance(entity, dict) or not isinstance(entity.get("name"), str):
        return False
    if not isinstance(entity.get("id"), str):
        return False
    if not isinstance(entity.get("start_time"), (int, float)):
        return False
    if not isinstance(entity.get("end_time"), (int, float)) and entity.get("in_progress") is not True:
        return False
    subsegments = entity.get("subsegments", [])
    return isinstance(subsegments, list) and all(_valid(sub, depth + 1) for sub in subsegments)


def _owned_by(received: dict, ids: set) -> dict:
    """The received subsegments whose parent chain reaches one of `ids`."""
    mine: dict = {}
    changed = True
    while changed:
        changed = False
        for entity_id, doc in received.items():
            if entity_id not in mine and (doc.get("parent_id") in ids or doc.get("parent_id") in mine):
                mine[entity_id] = doc
                changed = True
    return mine


def _segments(trace: Trace, config: FunctionConfig, invoked_arn: str, result: InvokeResult, answered_at: float,
              received: dict) -> list[dict]:
    """Lambda's two segments for one invocation, timed from its figures (init and duration as in REPORT)."""
    aws = {"function_arn": invoked_arn, "resource_names": [config.function_name], "account_id": config.account_id}
    # anchored where the event went to the worker: unpacking a new package comes before init, not inside it
    invoked = result.invoked_at or result.started_at + (result.init_ms or 0.0) / 1000
    subsegments = []
    if result.init_ms is not None:
        subsegments.append(_entity("Initialization", invoked - result.init_ms / 1000, invoked, aws))
    invocation = _entity("Invocation", invoked, invoked + result.duration_ms / 1000, aws, trace.invocation_id)
    if result.failed:
        invocation.update(_fault(result))
    # what the lab did after the handler answered: reading its frame, the REPORT line, the logs
    overhead_ms = max(0.0, (answered_at - invoked) * 1000 - result.wall_ms)
    overhead = _entity("Overhead", invocation["end_time"], invocation["end_time"] + overhead_ms / 1000, aws)
    subsegments += [invocation, overhead]
    _nest(subsegments, received)
    function = {"id": trace.function_id, "trace_id": trace.root, "parent_id": trace.service_id,
                "name": config.function_name, "origin": "AWS::Lambda::Function", "resource_arn": invoked_arn,
                "start_time": subsegments[0]["start_time"], "end_time": overhead["end_time"],
                "aws": {**aws, "cloudwatch_logs": [{"log_group": result.log_group, "log_stream": result.log_stream}]},
                "subsegments": subsegments}
    if result.failed:
        function.update(_fault(result))
    service = {"id": trace.service_id, "trace_id": trace.root, "name": config.function_name, "origin": "AWS::Lambda",
               "resource_arn": invoked_arn, "start_time": min(trace.received_at, function["start_time"]),
               "end_time": max(answered_at, function["end_time"]), "http": {"response": {"status": 200}},
               "aws": {"request_id": result.request_id}}
    if trace.upstream_parent:
        service["parent_id"] = trace.upstream_parent
    return [service, function]


def _entity(name: str, start: float, end: float, aws: dict, entity_id: str | None = None) -> dict:
    return {"id": entity_id or secrets.token_hex(8), "name": name, "start_time": start, "end_time": end, "aws": aws}


def _fault(result: InvokeResult) -> dict:
    """A function error, as X-Ray records an exception: fault, with the error type and message as the cause."""
    try:
        message = json.loads(result.payload).get("errorMessage", "")
    except (ValueError, AttributeError):
        message = ""
    return {"fault": True, "cause": {"exceptions": [{"id": secrets.token_hex(8), "type": result.error_type,
                                                     "message": str(message)[:1024]}]}}


def _nest(entities: list[dict], received: dict) -> None:
    """Put each received subsegment under the entity its parent_id names, as X-Ray merges them."""
    by_id: dict = {}

    def index(items: list[dict]) -> None:
        for item in items:
            by_id[item["id"]] = item
            index(item.get("subsegments") or [])

    index(entities)
    docs = {entity_id: {k: v for k, v in doc.items() if k not in ("trace_id", "parent_id", "type")}
            for entity_id, doc in received.items()}
    for doc in docs.values():
        index([doc])
    for entity_id, original in received.items():
        parent = by_id.get(original.get("parent_id"))
        if parent is not None:
            parent.setdefault("subsegments", []).append(docs[entity_id])
