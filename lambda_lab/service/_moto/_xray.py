"""moto's X-Ray, filled by the lab's traces: segments stored, and trace summaries and service graphs read from them.

moto 5.2.1 stores segments but answers GetServiceGraph and GetTraceGraph with no services, and summaries with
whole-second durations and no services; these replacements compute them from the stored documents.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections import Counter

from moto.xray.exceptions import BadSegmentException
from moto.xray.models import XRayBackend, xray_backends
from moto.xray.responses import XRayResponse

_lock = threading.Lock()
# X-Ray keeps traces for 30 days; the lab lives in a notebook's memory, so a load test on a traced function
# keeps only the newest traces, oldest dropped first
MAX_TRACES = 10_000
MAX_SEGMENTS = 1_000  # per trace: a handler sending documents in a loop cannot fill the kernel


def put_documents(account_id: str, region: str, documents: list) -> None:
    """Store segment documents (dicts) as PutTraceSegments would."""
    backend = xray_backends[account_id][region]
    traces = backend._segment_collection._traces
    with _lock:
        for doc in documents:
            stored = traces.get(doc.get("trace_id"))
            if stored is None or len(stored["segments"]) < MAX_SEGMENTS:
                try:
                    backend.process_segment(json.dumps(doc))
                except BadSegmentException:  # as PutTraceSegments: an unprocessed segment, the rest stored
                    continue
        while len(traces) > MAX_TRACES:
            del traces[next(iter(traces))]


def _docs(trace: dict) -> list[dict]:
    return [json.loads(segment.raw) for segment in trace["segments"]]


def _walk(entity: dict):
    """The entity and its subsegments, depth-first (what PutTraceSegments accepted may nest anything)."""
    if not isinstance(entity, dict):
        return
    yield entity
    subsegments = entity.get("subsegments")
    for sub in subsegments if isinstance(subsegments, list) else ():
        yield from _walk(sub)


def _span(docs: list[dict]) -> tuple[float, float]:
    return min(d["start_time"] for d in docs), max(d.get("end_time") or d["start_time"] for d in docs)


def _epoch(value: datetime.datetime) -> float:
    return value.timestamp()  # moto's responses made a naive local datetime from the epoch seconds sent


def _finished(backend: XRayBackend):
    for trace_id, trace in list(backend._segment_collection._traces.items()):
        if trace["finished"] and trace["segments"]:
            yield trace_id, _docs(trace)


def _service(doc: dict, account_id: str) -> dict:
    return {"Name": doc["name"], "Names": [doc["name"]], "AccountId": account_id, "Type": doc.get("origin") or ""}


def _trace_summary(self: XRayBackend, start_time, end_time, filter_expression=None) -> dict:
    """GetTraceSummaries over traces that started in the window, with durations, services and error flags."""
    if filter_expression:
        from moto.core.exceptions import AWSError

        raise AWSError("lambda-lab: FilterExpression is not supported by the local X-Ray; filter the "
                       "TraceSummaries in Python instead (e.g. on ServiceIds or HasFault).",
                       exception_type="InvalidRequestException", status=400)
    low, high = _epoch(start_time), _epoch(end_time)
    summaries = []
    for trace_id, docs in _finished(self):
        start, end = _span(docs)
        if not low <= start <= high:
            continue
        entities = [e for d in docs for e in _walk(d)]
        ids = {d["id"] for d in docs}
        roots = [d for d in docs if d.get("parent_id") not in ids and d.get("type") != "subsegment"] or docs[:1]
        entry = roots[0]
        status = (entry.get("http") or {}).get("response", {}).get("status")
        services = {(d["name"], d.get("origin") or ""): _service(d, self.account_id) for d in docs
                    if d.get("type") != "subsegment"}
        summaries.append({
            "Id": trace_id, "StartTime": start, "Duration": round(end - start, 6),
            "ResponseTime": round((entry.get("end_time") or start) - entry["start_time"], 6),
            "HasFault": any(e.get("fault") for e in entities), "HasError": any(e.get("error") for e in entities),
            "HasThrottle": any(e.get("throttle") for e in entities), "IsPartial": False,
            "Http": {"HttpStatus": status} if status else {}, "Annotations": {}, "Users": [],
            "EntryPoint": _service(entry, self.account_id), "ServiceIds": list(services.values())})
    summaries.sort(key=lambda s: s["StartTime"])
    return {"ApproximateTime": datetime.datetime.now().timestamp(), "TracesProcessedCount": len(summaries),
            "TraceSummaries": summaries}


def _trace_ids(self: XRayBackend, trace_ids: list[str]) -> dict:
    """BatchGetTraces with Duration in (fractional) seconds, as X-Ray gives it."""
    traces, unprocessed = [], []
    for trace_id in trace_ids:
        trace = self._segment_collection._traces.get(trace_id)
        if trace is None or not trace["segments"]:
            unprocessed.append(trace_id)
            continue
        start, end = _span(_docs(trace))
        traces.append({"Id": trace_id, "Duration": round(end - start, 6), "LimitExceeded": False,
                       "Segments": [{"Id": s.id, "Document": s.raw} for s in trace["segments"]]})
    return {"Traces": traces, "UnprocessedTraceIds": unprocessed}


class _Graph:
    """Services (segments by name and origin, downstream calls by subsegment) and the edges between them."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.nodes: dict = {("client", "client"): {"times": [], "flags": Counter(), "span": [None, None]}}
        self.edges: dict = {}
        self.roots: set = set()

    def _node(self, key: tuple, entity: dict) -> None:
        node = self.nodes.setdefault(key, {"times": [], "flags": Counter(), "span": [None, None]})
        self._count(node, entity)

    def _edge(self, src: tuple, dst: tuple, entity: dict) -> None:
        edge = self.edges.setdefault((src, dst), {"times": [], "flags": Counter(), "span": [None, None]})
        self._count(edge, entity)

    @staticmethod
    def _count(stats: dict, entity: dict) -> None:
        start = entity["start_time"]
        end = entity.get("end_time") if isinstance(entity.get("end_time"), (int, float)) else start
        stats["times"].append(end - start)
        stats["flags"]["fault" if entity.get("fault") else "throttle" if entity.get("throttle")
                       else "error" if entity.get("error") else "ok"] += 1
        span = stats["span"]
        span[0] = start if span[0] is None else min(span[0], start)
        span[1] = end if span[1] is None else max(span[1], end)

    def add(self, docs: list[dict]) -> None:
        owner = {}  # any entity id -> the service key of the segment holding it
        segments = [d for d in docs if d.get("type") != "subsegment"]
        for doc in segments:
            for entity in _walk(doc):
                owner[entity["id"]] = (doc["name"], doc.get("origin") or "")
        for doc in segments:
            key = (doc["name"], doc.get("origin") or "")
            self._node(key, doc)
            parent = owner.get(doc.get("parent_id"))
            if parent is None:
                self.roots.add(key)
                self._node(("client", "client"), doc)
                self._edge(("client", "client"), key, doc)
            else:
                self._edge(parent, key, doc)
            for entity in _walk(doc):
                namespace = entity.get("namespace")
                if entity is not doc and namespace in ("aws", "remote") and isinstance(entity.get("name"), str) \
                        and isinstance(entity.get("start_time"), (int, float)):
                    downstream = (entity["name"], f"AWS::{entity['name']}" if namespace == "aws" else "remote")
                    self._node(downstream, entity)
                    self._edge(key, downstream, entity)

    def services(self) -> list[dict]:
        refs = {key: i for i, key in enumerate(self.nodes)}
        out = []
        for key, node in self.nodes.items():
            name, kind = key
            entry = {"ReferenceId": refs[key], "Type": kind, "State": "active" if kind != "client" else "unknown",
                     "Root": key in self.roots, "AccountId": self.account_id, **self._stats(node),
                     "Edges": [{"ReferenceId": refs[dst], **self._stats(edge), "Aliases": []}
                               for (src, dst), edge in self.edges.items() if src == key]}
            if kind != "client":
                entry.update(Name=name, Names=[name])
            else:
                entry["Names"] = []
            out.append(entry)
        return out

    @staticmethod
    def _stats(stats: dict) -> dict:
        flags, times = stats["flags"], stats["times"]
        histogram = [{"Value": value, "Count": count}
                     for value, count in sorted(Counter(round(t, 3) for t in times).items())]
        return {"StartTime": stats["span"][0], "EndTime": stats["span"][1],
                "SummaryStatistics": {
                    "OkCount": flags["ok"], "TotalCount": len(times), "TotalResponseTime": round(sum(times), 6),
                    "ErrorStatistics": {"ThrottleCount": flags["throttle"], "OtherCount": flags["error"],
                                        "TotalCount": flags["throttle"] + flags["error"]},
                    "FaultStatistics": {"OtherCount": flags["fault"], "TotalCount": flags["fault"]}},
                "ResponseTimeHistogram": histogram, "DurationHistogram": histogram}


def _service_graph(self: XRayResponse):
    """GetServiceGraph from the traces that overlap the window (moto answers with no services)."""
    start, end = self._get_param("StartTime"), self._get_param("EndTime")
    if start is None or end is None:
        missing = "StartTime" if start is None else "EndTime"
        return json.dumps({"__type": "MissingParameter", "message": f"Parameter {missing} is missing"}), {"status": 400}
    backend = self.xray_backend
    graph = _Graph(backend.account_id)
    for _, docs in _finished(backend):
        first, last = _span(docs)
        if last >= float(start) and first <= float(end):
            graph.add(docs)
    services = graph.services() if graph.edges else []
    return json.dumps({"StartTime": start, "EndTime": end, "Services": services, "ContainsOldGroupVersions": False})


def _trace_graph(self: XRayResponse):
    """GetTraceGraph: the service graph of the given traces."""
    trace_ids = self._get_param("TraceIds")
    if trace_ids is None:
        return json.dumps({"__type": "MissingParameter", "message": "Parameter TraceIds is missing"}), {"status": 400}
    backend = self.xray_backend
    graph = _Graph(backend.account_id)
    for trace_id in trace_ids:
        trace = backend._segment_collection._traces.get(trace_id)
        if trace is not None and trace["segments"]:
            graph.add(_docs(trace))
    return json.dumps({"Services": graph.services() if graph.edges else []})


PATCHES = {
    (XRayBackend, "get_trace_summary"): _trace_summary,
    (XRayBackend, "get_trace_ids"): _trace_ids,
    (XRayResponse, "service_graph"): _service_graph,
    (XRayResponse, "trace_graph"): _trace_graph,
}
