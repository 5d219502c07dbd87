"""X-Ray as Lambda emits it: TracingConfig, the segments of traced invocations, the trace header, the daemon.

Everything is read back with plain boto3 (`get_trace_summaries`, `batch_get_traces`, `get_service_graph`)
after real invocations; handler code sends subsegments as the X-Ray SDK does (raw UDP daemon frames).
"""

import datetime
import json
import re
import shutil

import boto3
import pytest

from conftest import invoke, run_in_fresh_process

WINDOW = datetime.timedelta(minutes=10)
HEADER = re.compile(r"^Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])(;Lineage=[^;]+)?$")

ECHO_TRACE = """
import os
def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID"), "daemon": os.environ.get("AWS_XRAY_DAEMON_ADDRESS"),
            "missing": os.environ.get("AWS_XRAY_CONTEXT_MISSING")}
"""

# What the X-Ray SDK does in a handler: subsegments under the Parent of _X_AMZN_TRACE_ID, each sent as one
# datagram (a JSON header line, then the document); here a child is streamed before its parent, as the SDK
# streams a closed subsegment, and a downstream AWS call sits under the handler's own subsegment.
SENDS_SUBSEGMENTS = """
import json, os, secrets, socket, time
def send(doc=None, raw=None):
    host, port = os.environ["AWS_XRAY_DAEMON_ADDRESS"].split(":")
    frame = raw or b'{"format": "json", "version": 1}\\n' + json.dumps(doc).encode()
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(frame, (host, int(port)))
def handler(event, context):
    fields = dict(part.split("=", 1) for part in os.environ["_X_AMZN_TRACE_ID"].split(";"))
    work, call = secrets.token_hex(8), secrets.token_hex(8)
    start = time.time()
    time.sleep(0.02)
    send({"id": call, "name": "DynamoDB", "namespace": "aws", "type": "subsegment", "trace_id": fields["Root"],
          "parent_id": work, "start_time": start + 0.005, "end_time": time.time(), "aws": {"operation": "GetItem"}})
    # what the daemon must survive: not a frame, documents X-Ray would refuse, JSON nested past recursion limits
    send(raw=b"not a daemon frame")
    bad = {"id": secrets.token_hex(8), "type": "subsegment", "trace_id": fields["Root"], "parent_id": work,
           "start_time": start}  # no name, no end
    send(bad)
    send({**bad, "name": "x", "end_time": start, "subsegments": {"not": "a list"}})
    send(raw=b'{"format": "json", "version": 1}\\n' + b"[" * 5000 + b"]" * 5000)
    send({"id": work, "name": "## handler", "type": "subsegment", "trace_id": fields["Root"],
          "parent_id": fields["Parent"], "start_time": start, "end_time": time.time()})
    return {"trace": os.environ["_X_AMZN_TRACE_ID"], "work": work, "call": call}
"""


@pytest.fixture(scope="module")
def xray(lab):
    return boto3.client("xray")


def _header(payload):
    found = HEADER.match(payload["trace"])
    assert found, payload["trace"]
    return found.group(1), found.group(2), found.group(3)


def _trace(xray, trace_id):
    """The trace's segment documents by origin."""
    answer = xray.batch_get_traces(TraceIds=[trace_id])
    assert answer["UnprocessedTraceIds"] == [], answer
    [trace] = answer["Traces"]
    docs = [json.loads(s["Document"]) for s in trace["Segments"]]
    return {d.get("origin"): d for d in docs}, trace


def _window():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - WINDOW, now + WINDOW


def _summary_ids(xray):
    start, end = _window()
    return {s["Id"] for s in xray.get_trace_summaries(StartTime=start, EndTime=end)["TraceSummaries"]}


def _duration_ms(entity):
    return (entity["end_time"] - entity["start_time"]) * 1000


def test_tracing_config_is_stored_updated_and_frozen_into_versions(lam, make_function):
    name = make_function(ECHO_TRACE)
    assert lam.get_function_configuration(FunctionName=name)["TracingConfig"] == {"Mode": "PassThrough"}
    updated = lam.update_function_configuration(FunctionName=name, TracingConfig={"Mode": "Active"})
    assert updated["TracingConfig"] == {"Mode": "Active"}
    assert lam.get_function_configuration(FunctionName=name)["TracingConfig"] == {"Mode": "Active"}
    assert lam.publish_version(FunctionName=name)["TracingConfig"] == {"Mode": "Active"}
    lam.update_function_configuration(FunctionName=name, TracingConfig={"Mode": "PassThrough"})
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["TracingConfig"] == {"Mode": "Active"}
    assert lam.get_function_configuration(FunctionName=name)["TracingConfig"] == {"Mode": "PassThrough"}
    assert lam.publish_version(FunctionName=name)["Version"] == "2"  # the tracing change is a change
    # the published version runs traced, $LATEST does not
    assert _header(invoke(lam, name, Qualifier="1")[1])[2] == "1"
    assert _header(invoke(lam, name)[1])[2] == "0"
    with pytest.raises(lam.exceptions.ClientError, match="enum value set"):
        lam.update_function_configuration(FunctionName=name, TracingConfig={"Mode": "Always"})


def test_active_tracing_records_lambdas_segments_with_the_invocations_timings(lab, lam, xray, make_function):
    name = make_function(ECHO_TRACE, TracingConfig={"Mode": "Active"})
    cold, warm = invoke(lam, name), invoke(lam, name)
    runs = [i.result for i in lab.invocations if i.function_name == name]
    assert [r.cold for r in runs] == [True, False]
    for (response, payload, log), result in zip((cold, warm), runs):
        root, parent, sampled = _header(payload)
        assert sampled == "1"
        assert root in _summary_ids(xray)
        by_origin, trace = _trace(xray, root)
        assert set(by_origin) == {"AWS::Lambda", "AWS::Lambda::Function"}
        service, function = by_origin["AWS::Lambda"], by_origin["AWS::Lambda::Function"]
        assert service["name"] == function["name"] == name
        arn = f"arn:aws:lambda:{lab.region}:{lab.account}:function:{name}"
        assert service["resource_arn"] == function["resource_arn"] == arn  # the ARN the caller invoked
        assert function["aws"]["function_arn"] == arn
        assert function["parent_id"] == service["id"] and "parent_id" not in service
        assert service["http"]["response"]["status"] == 200 and service["aws"]["request_id"] == result.request_id
        names = [s["name"] for s in function["subsegments"]]
        subsegment = {s["name"]: s for s in function["subsegments"]}
        assert subsegment["Invocation"]["id"] == parent  # handler code's subsegments extend Invocation
        assert _duration_ms(subsegment["Invocation"]) == pytest.approx(result.duration_ms, abs=1e-3)
        assert subsegment["Overhead"]["start_time"] == subsegment["Invocation"]["end_time"]
        assert function["aws"]["cloudwatch_logs"] == [
            {"log_group": f"/aws/lambda/{name}", "log_stream": result.log_stream}]
        assert trace["Duration"] >= (result.duration_ms + (result.init_ms or 0)) / 1000 - 1e-6
        if result.cold:
            assert names == ["Initialization", "Invocation", "Overhead"]
            init = subsegment["Initialization"]
            assert _duration_ms(init) == pytest.approx(result.init_ms, abs=1e-3)
            assert f"Init Duration: {result.init_ms:.2f} ms" in log  # the figure the REPORT line shows
            assert init["end_time"] == subsegment["Invocation"]["start_time"]
        else:
            assert names == ["Invocation", "Overhead"]  # Initialization only on a cold start
            assert "Init Duration" not in log


def test_passthrough_traces_only_what_the_caller_sampled(lam, xray, make_function):
    name = make_function(ECHO_TRACE)  # PassThrough, the default
    root, parent, sampled = _header(invoke(lam, name)[1])
    assert sampled == "0"
    assert xray.batch_get_traces(TraceIds=[root])["UnprocessedTraceIds"] == [root]
    assert root not in _summary_ids(xray)

    upstream_root, upstream_parent = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"

    def add_header(value):
        def handler(request, **kwargs):
            request.headers["X-Amzn-Trace-Id"] = value
        return handler

    sampled_client = boto3.client("lambda")
    sampled_client.meta.events.register("before-sign.lambda.Invoke",
                                        add_header(f"Root={upstream_root};Parent={upstream_parent};Sampled=1"))
    root, parent, sampled = _header(invoke(sampled_client, name)[1])
    assert (root, sampled) == (upstream_root, "1")
    by_origin, _ = _trace(xray, upstream_root)
    assert by_origin["AWS::Lambda"]["parent_id"] == upstream_parent  # the caller's segment is the parent

    active = make_function(ECHO_TRACE, TracingConfig={"Mode": "Active"})
    declined = boto3.client("lambda")
    declined.meta.events.register("before-sign.lambda.Invoke", add_header(
        "Root=1-5759e988-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=0"))
    root, _, sampled = _header(invoke(declined, active)[1])
    assert (root, sampled) == ("1-5759e988-0123456789abcdef01234567", "0")  # Active follows the caller's "no"
    assert xray.batch_get_traces(TraceIds=[root])["UnprocessedTraceIds"] == [root]


def test_handler_subsegments_sent_to_the_daemon_join_the_trace_and_the_service_graph(lam, xray, make_function):
    name = make_function(SENDS_SUBSEGMENTS, TracingConfig={"Mode": "Active"})
    _, payload, _ = invoke(lam, name)
    root, parent, _ = _header(payload)
    by_origin, trace = _trace(xray, root)
    assert len(trace["Segments"]) == 2  # merged into Lambda's segments, not stored beside them
    invocation = {s["name"]: s for s in by_origin["AWS::Lambda::Function"]["subsegments"]}["Invocation"]
    [work] = invocation["subsegments"]
    assert (work["id"], work["name"]) == (payload["work"], "## handler")
    assert invocation["start_time"] <= work["start_time"]  # Invocation starts when the event reached the worker
    [call] = work["subsegments"]
    assert (call["id"], call["name"], call["namespace"]) == (payload["call"], "DynamoDB", "aws")

    start, end = _window()
    services = xray.get_service_graph(StartTime=start, EndTime=end)["Services"]
    by_key = {(s.get("Name"), s["Type"]): s for s in services}
    refs = {s["ReferenceId"]: (s.get("Name"), s["Type"]) for s in services}

    def downstream(key):
        return {refs[e["ReferenceId"]] for e in by_key[key]["Edges"]}

    assert (name, "AWS::Lambda") in downstream((None, "client"))
    assert downstream((name, "AWS::Lambda")) == {(name, "AWS::Lambda::Function")}
    assert downstream((name, "AWS::Lambda::Function")) == {("DynamoDB", "AWS::DynamoDB")}
    assert by_key[(name, "AWS::Lambda")]["SummaryStatistics"]["TotalCount"] == 1


def test_a_function_error_is_a_fault_with_its_cause(lam, xray, make_function):
    name = make_function("""
import os
def handler(event, context):
    raise ValueError(os.environ["_X_AMZN_TRACE_ID"])
""", TracingConfig={"Mode": "Active"})
    response, payload, _ = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    root = HEADER.match(payload["errorMessage"]).group(1)
    by_origin, _ = _trace(xray, root)
    function = by_origin["AWS::Lambda::Function"]
    assert function["fault"] is True
    assert function["cause"]["exceptions"][0]["type"] == "ValueError"
    start, end = _window()
    [summary] = [s for s in xray.get_trace_summaries(StartTime=start, EndTime=end)["TraceSummaries"]
                 if s["Id"] == root]
    assert summary["HasFault"] is True and summary["EntryPoint"] == {
        "Name": name, "Names": [name], "AccountId": function["aws"]["account_id"], "Type": "AWS::Lambda"}


def test_a_sampled_handler_calling_another_function_continues_the_trace(lab, lam, xray, make_function):
    callee = make_function(ECHO_TRACE)  # PassThrough: traced because its caller sampled
    caller = make_function(f"""
import boto3, json
def handler(event, context):
    answer = boto3.client("lambda").invoke(FunctionName="{callee}")
    return json.loads(answer["Payload"].read())
""", TracingConfig={"Mode": "Active"})
    _, payload, _ = invoke(lam, caller)
    root, callee_parent, sampled = _header(payload)
    assert sampled == "1"
    _, trace = _trace(xray, root)
    docs = [json.loads(s["Document"]) for s in trace["Segments"]]
    caller_function = next(d for d in docs if d["name"] == caller and d["origin"] == "AWS::Lambda::Function")
    caller_invocation = next(s for s in caller_function["subsegments"] if s["name"] == "Invocation")
    callee_service = next(d for d in docs if d["name"] == callee and d["origin"] == "AWS::Lambda")
    assert callee_service["parent_id"] == caller_invocation["id"]  # botocore sent the handler's header on
    assert {(d["name"], d["origin"]) for d in docs} == {(caller, "AWS::Lambda"), (caller, "AWS::Lambda::Function"),
                                                       (callee, "AWS::Lambda"), (callee, "AWS::Lambda::Function")}


def test_node_handlers_get_the_invocations_trace_header(lam, xray, make_function):
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed for this test (.ci/run installs Debian's nodejs)")
    name = make_function({"index.js": "exports.handler = async () => ({trace: process.env._X_AMZN_TRACE_ID, "
                                      "daemon: process.env.AWS_XRAY_DAEMON_ADDRESS});\n"},
                         handler="index.handler", runtime="nodejs22.x", TracingConfig={"Mode": "Active"})
    first, second = invoke(lam, name)[1], invoke(lam, name)[1]
    assert _header(first)[0] != _header(second)[0]  # a new trace per invocation, set before each call
    by_origin, _ = _trace(xray, _header(second)[0])
    invocation = next(s for s in by_origin["AWS::Lambda::Function"]["subsegments"] if s["name"] == "Invocation")
    assert invocation["id"] == _header(second)[1]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", second["daemon"])


def test_the_daemon_starts_with_the_first_active_function_and_stops_with_the_lab():
    result = run_in_fresh_process("""
        import boto3, json, socket, lambda_lab
        lab = lambda_lab.Lab(seed=3, quiet=True)
        lam = boto3.client("lambda")
        code = lambda_lab.zip_source("import os\\ndef handler(event, context):\\n"
                                     "    return os.environ.get('AWS_XRAY_DAEMON_ADDRESS')\\n")
        for name, mode in (("plain", "PassThrough"), ("traced", "Active")):
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                Code={"ZipFile": code}, TracingConfig={"Mode": mode})
        before = json.loads(lam.invoke(FunctionName="plain")["Payload"].read())
        address = json.loads(lam.invoke(FunctionName="traced")["Payload"].read())
        host, port = address.split(":")
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((host, int(port)))
            taken = False
        except OSError:
            taken = True
        probe.close()
        lab.stop()
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((host, int(port)))  # fails while the lab's daemon still holds the port
        probe.close()
        print(json.dumps({"before": before, "address": address, "taken": taken}))
    """)
    assert result["before"] is None  # no daemon, no variable, until an Active function runs
    assert re.fullmatch(r"127\.0\.0\.1:\d+", result["address"]) and result["taken"] is True


def test_every_invocation_gets_a_fresh_trace_header(lam, make_function):
    name = make_function(ECHO_TRACE)
    headers = [_header(invoke(lam, name)[1]) for _ in range(3)]
    assert len({root for root, _, _ in headers}) == 3 and len({parent for _, parent, _ in headers}) == 3


def test_charts_draw_a_trace_and_the_service_map_from_plain_boto3_answers(lab, lam, xray, make_function):
    import matplotlib

    matplotlib.use("Agg")
    from lambda_lab import plots

    name = make_function(SENDS_SUBSEGMENTS, TracingConfig={"Mode": "Active"})
    root = _header(invoke(lam, name)[1])[0]
    answer = xray.batch_get_traces(TraceIds=[root])
    by_origin, _ = _trace(xray, root)
    function = by_origin["AWS::Lambda::Function"]
    ax = plots.trace_timeline_chart(answer).axes[0]
    labels = [t.get_text().strip() for t in ax.get_yticklabels()]
    assert labels == [f"{name} (AWS::Lambda)", f"{name} (AWS::Lambda::Function)", "Initialization", "Invocation",
                      "## handler", "DynamoDB", "Overhead"]
    widths = [bar.get_width() for bar in ax.patches]
    init = next(s for s in function["subsegments"] if s["name"] == "Initialization")
    assert widths[2] == pytest.approx(_duration_ms(init))
    assert ax.patches[2].get_x() == pytest.approx((init["start_time"] - by_origin["AWS::Lambda"]["start_time"]) * 1000)
    assert ax.patches[2].get_hatch() != ax.patches[3].get_hatch()  # init and handler differ beyond colour

    start, end = _window()
    graph = xray.get_service_graph(StartTime=start, EndTime=end)
    texts = {t.get_text() for t in plots.service_map_chart(graph).axes[0].texts}
    assert {f"{name}\nAWS::Lambda", f"{name}\nAWS::Lambda::Function", "DynamoDB\nAWS::DynamoDB", "client"} <= texts
