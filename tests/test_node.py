"""Node.js functions really run in `node`: AWS's handler styles, context, log lines, errors and limits.

nodejs22.x plays AWS's classic JavaScript runtime client (callbacks, callbackWaitsForEmptyEventLoop);
nodejs24.x its TypeScript rewrite (async only). Every test but the last needs `node` on the PATH.
"""

import json
import os
import re
import shutil
import textwrap
import time

import boto3
import pytest

import lambda_lab
from conftest import invoke

NO_NODE = "Node.js is not installed (no `node` on PATH): the nodejs runtimes cannot run"


def need_node():
    """Skip on a laptop without `node`; under CI (the CI variable set) a missing `node` fails instead."""
    if shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail(NO_NODE + "; CI must run this test (.ci/run installs Debian's nodejs)")
        pytest.skip(NO_NODE)


@pytest.fixture
def node_installed():
    need_node()


needs_node = pytest.mark.usefixtures("node_installed")


def test_a_missing_node_skips_on_a_laptop_but_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `node` anywhere
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no `node` on PATH"):
        need_node()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run this test"):
        need_node()

REPORT = re.compile(r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d{2}) ms\t"
                    r"Billed Duration: \d+ ms\tMemory Size: \d+ MB\tMax Memory Used: \d+ MB"
                    r"(\tInit Duration: (?P<init>\d+\.\d{2}) ms)?", re.M)
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def node_function(make_function):
    """Create a Node.js function from {path: source}; nodejs22.x unless runtime= says otherwise."""

    def make(files, handler="index.handler", runtime="nodejs22.x", **config):
        files = {path: textwrap.dedent(text).lstrip("\n") for path, text in files.items()}
        return make_function(files, handler=handler, runtime=runtime, **config)

    return make


def duration_ms(log):
    return float(REPORT.search(log).group("duration"))


@needs_node
def test_async_handler_gets_the_event_and_a_full_context(lam, node_function):
    name = node_function({"index.mjs": """
        export const handler = async (event, context) => ({
          greeting: `Hello, ${event.name}!`,
          id: context.awsRequestId, fn: context.functionName, version: context.functionVersion,
          arn: context.invokedFunctionArn, memory: context.memoryLimitInMB, group: context.logGroupName,
          stream: context.logStreamName, waits: context.callbackWaitsForEmptyEventLoop,
          remaining: context.getRemainingTimeInMillis(), env: process.env.AWS_EXECUTION_ENV,
        });
    """}, MemorySize=256, Timeout=60)
    response, payload, log = invoke(lam, name, {"name": "Ada"})
    assert "FunctionError" not in response and payload["greeting"] == "Hello, Ada!"
    report = REPORT.search(log)
    assert payload["id"] == report.group("id") and report.group("init") is not None  # cold
    assert payload["fn"] == name and payload["version"] == "$LATEST" and payload["arn"].endswith(f":function:{name}")
    assert payload["memory"] == "256"  # a string, as on Lambda
    assert payload["group"] == f"/aws/lambda/{name}" and re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}",
                                                                       payload["stream"])
    assert payload["waits"] is True and 50_000 < payload["remaining"] <= 60_000  # counts down from the timeout
    assert payload["env"] == "AWS_Lambda_nodejs22.x"
    _, warm, warm_log = invoke(lam, name, {"name": "Bo"})
    assert REPORT.search(warm_log).group("init") is None and warm["stream"] == payload["stream"]  # same environment


@needs_node
def test_callback_handler_answers_its_result_or_its_error(lam, node_function):
    name = node_function({"index.js": """
        exports.handler = (event, context, callback) => {
          if (event.fail) callback(new Error('no such order'));
          else callback(null, { order: event.id, ok: true });
        };
    """})
    response, payload, log = invoke(lam, name, {"id": 7})
    assert "FunctionError" not in response and payload == {"order": 7, "ok": True}
    assert "\tundefined\tWARN\tAWS Lambda plans to remove support for callback-based function handlers" in log
    response, error, log = invoke(lam, name, {"fail": True})
    assert response["FunctionError"] == "Unhandled"
    assert list(error) == ["errorType", "errorMessage", "trace"]  # Node answers `trace`, not `stackTrace`
    assert error["errorType"] == "Error" and error["errorMessage"] == "no such order"
    assert error["trace"][0] == "Error: no such order" and "(/var/task/index.js:2:" in error["trace"][1]
    request_id = REPORT.search(log).group("id")
    line = re.search(rf"^{STAMP}\t{request_id}\tERROR\tInvoke Error \t(\{{.*\}})$", log, re.M)
    logged = json.loads(line.group(1))
    assert logged["errorType"] == "Error" and logged["stack"][0] == "Error: no such order"


@needs_node
def test_a_plain_function_returning_a_promise_is_awaited(lam, node_function):
    name = node_function({"index.js": """
        exports.handler = (event) => new Promise((resolve) => setTimeout(() => resolve(event.n * 2), 20));
    """})
    assert invoke(lam, name, {"n": 21})[1] == 42


@pytest.mark.parametrize("runtime,answer", [("nodejs22.x", None), ("nodejs24.x", 42)])
@needs_node
def test_a_sync_return_value_counts_only_from_nodejs24(lam, node_function, runtime, answer):
    # nodejs22.x's client waits for a callback; a sync handler that returns instead answers null
    assert invoke(lam, node_function({"index.js": "exports.handler = () => 42;\n"}, runtime=runtime))[1] == answer


@needs_node
def test_callback_handlers_are_refused_from_nodejs24(lam, node_function):
    name = node_function({"index.js": "exports.handler = (e, c, callback) => callback(null, 1);\n"},
                         runtime="nodejs24.x")
    response, error, log = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled" and error["errorType"] == "Runtime.CallbackHandlerDeprecated"
    assert error["errorMessage"].startswith("ERROR: AWS Lambda has removed support for callback-based function "
                                            "handlers starting with Node.js 24.")
    assert "\t-\tERROR\tInit Error \t{" in log  # the rewrite prints "-" where no request id is known yet


@needs_node
def test_remaining_time_counts_down(lam, node_function):
    name = node_function({"index.js": """
        exports.handler = async (event, context) => {
          const before = context.getRemainingTimeInMillis();
          await new Promise((resolve) => setTimeout(resolve, 200));
          return [before, context.getRemainingTimeInMillis()];
        };
    """}, Timeout=60)
    before, after = invoke(lam, name)[1]
    assert 50_000 < before <= 60_000 and before - after >= 190


@needs_node
def test_callback_waits_for_an_empty_event_loop_unless_told_not_to(lam, node_function):
    name = node_function({"index.js": """
        exports.handler = (event, context, callback) => {
          context.callbackWaitsForEmptyEventLoop = !event.dontWait;
          setTimeout(() => console.log('timer fired'), 300);
          callback(null, 'answered');
        };
    """})
    _, payload, log = invoke(lam, name)
    assert payload == "answered" and "timer fired" in log and duration_ms(log) >= 290  # waited for the timer
    _, payload, log = invoke(lam, name, {"dontWait": True})
    assert payload == "answered" and "timer fired" not in log  # answered at once, before the timer
    time.sleep(0.4)
    # the environment was frozen with the timer pending: it fires when the next invocation thaws it
    _, _, log = invoke(lam, name, {"dontWait": True})
    assert re.search(rf"{STAMP}\t{REPORT.search(log).group('id')}\tINFO\ttimer fired", log)


@needs_node
def test_console_lines_are_in_lambdas_format_in_the_tail_and_in_cloudwatch(lam, node_function):
    name = node_function({"index.js": """
        console.log('loading');
        exports.handler = async () => {
          console.log('hello %s', 'world');
          console.info({ n: 1 });
          console.warn('careful');
          console.error('broken');
          console.debug('details');
          console.log('first line\\nsecond line');
          process.stdout.write('raw one\\nraw two\\n');
          return 'ok';
        };
    """})
    _, _, tail = invoke(lam, name)
    request_id = REPORT.search(tail).group("id")
    assert re.search(rf"^{STAMP}\tundefined\tINFO\tloading$", tail, re.M)  # init: no request id yet
    for level, text in [("INFO", "hello world"), ("INFO", "{ n: 1 }"), ("WARN", "careful"), ("ERROR", "broken"),
                        ("DEBUG", "details")]:
        assert re.search(rf"^{STAMP}\t{request_id}\t{level}\t{re.escape(text)}$", tail, re.M), (level, text)
    logs = boto3.client("logs")
    stream = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"][0]["logStreamName"]
    messages = [e["message"] for e in logs.get_log_events(logGroupName=f"/aws/lambda/{name}",
                                                          logStreamName=stream)["events"]]
    multi = [m for m in messages if m.endswith("first line\nsecond line")]
    assert len(multi) == 1 and re.match(rf"{STAMP}\t{request_id}\tINFO\tfirst line\n", multi[0])  # one event
    assert "raw one" in messages and "raw two" in messages  # raw stdout: one event per line
    assert messages[-2] == f"END RequestId: {request_id}" and messages[-1].startswith("REPORT")


@needs_node
def test_packages_come_from_node_modules_in_the_zip(lam, node_function):
    name = node_function({
        "index.js": "const shout = require('shout');\nexports.handler = async (e) => shout(e.word);\n",
        "node_modules/shout/package.json": '{"name": "shout", "main": "lib/main.js"}',
        "node_modules/shout/lib/main.js": "module.exports = (s) => s.toUpperCase() + '!';\n",
    })
    assert invoke(lam, name, {"word": "hi"})[1] == "HI!"


@needs_node
def test_packages_come_from_a_layers_nodejs_node_modules(lab, lam, node_function):
    layer = lam.publish_layer_version(
        LayerName="greetings", CompatibleRuntimes=["nodejs22.x"],
        Content={"ZipFile": lambda_lab.zip_source({"nodejs/node_modules/greet/index.js":
                                                   "module.exports = (n) => `Hello from a layer, ${n}`;\n"})})
    name = node_function({"index.js": "const greet = require('greet');\nexports.handler = async (e) => greet(e.n);\n"},
                         Layers=[layer["LayerVersionArn"]])
    assert invoke(lam, name, {"n": "Ada"})[1] == "Hello from a layer, Ada"


@needs_node
def test_type_module_packages_load_js_files_as_es_modules(lam, node_function):
    name = node_function({"package.json": '{"type": "module"}',
                          "src/app.js": "import { sep } from 'node:path';\nexport const main = async () => sep;\n"},
                         handler="src/app.main")
    assert invoke(lam, name)[1] == "/"


@needs_node
def test_a_thrown_error_is_answered_with_its_type_message_and_trace(lam, node_function):
    name = node_function({"index.mjs": "export const handler = async () => { throw new TypeError('bad thing'); };\n"})
    response, error, log = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "TypeError" and error["errorMessage"] == "bad thing"
    assert error["trace"][0] == "TypeError: bad thing" and "(file:///var/task/index.mjs:1:" in error["trace"][1]
    assert "\tERROR\tInvoke Error \t{\"errorType\":\"TypeError\",\"errorMessage\":\"bad thing\"" in log


@pytest.mark.parametrize("handler,files,error_type,message", [
    ("missing.handler", {"index.js": "exports.handler = async () => 1;\n"}, "Runtime.ImportModuleError",
     "Error: Cannot find module 'missing'\nRequire stack:\n- /var/runtime/index.mjs"),
    ("index.nothere", {"index.js": "exports.handler = async () => 1;\n"}, "Runtime.HandlerNotFound",
     "index.nothere is undefined or not exported"),
    ("index", {"index.js": "exports.handler = async () => 1;\n"}, "Runtime.MalformedHandlerName", "Bad handler"),
    ("index.handler", {"index.js": "exports.handler = async () => { return 1;\n"}, "Runtime.UserCodeSyntaxError",
     "SyntaxError: Unexpected end of input"),
    ("index.handler", {"index.js": "throw new RangeError('no config');\n"}, "RangeError", "no config"),
])
@needs_node
def test_init_errors_answer_as_awss_node_runtime_does(lam, node_function, handler, files, error_type, message):
    name = node_function(files, handler=handler)
    response, error, log = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert set(error) == {"errorType", "errorMessage", "trace"}
    assert error["errorType"] == error_type and error["errorMessage"] == message
    assert error["trace"][0] == f"{error_type}: {message.splitlines()[0]}"
    assert re.search(rf"^{STAMP}\tundefined\tERROR\tUncaught Exception \t\{{\"errorType\":\"{error_type}\"", log, re.M)
    assert f"Status: error\tError Type: {error_type}" in log
    assert invoke(lam, name)[1] == error  # a failed init is tried again, cold, on the next call


@pytest.mark.parametrize("runtime,error_type", [("nodejs22.x", "Error"), ("nodejs24.x", "Runtime.JSONStringifyError")])
@needs_node
def test_a_result_json_cannot_hold_is_an_error(lam, node_function, runtime, error_type):
    name = node_function({"index.js": "exports.handler = async (e) => e.circular ? ((o) => (o.o = o))({}) : 1n;\n"},
                         runtime=runtime)
    for event in ({}, {"circular": True}):
        error = invoke(lam, name, event)[1]
        assert error["errorType"] == error_type and error["errorMessage"] == "Unable to stringify response body"


@needs_node
def test_an_async_handler_that_never_settles_times_out(lam, node_function):
    name = node_function({"index.js": """
        exports.handler = async () => {
          console.log('waiting for ever');
          await new Promise(() => setInterval(() => {}, 1000));  // the interval keeps the event loop busy
        };
    """}, Timeout=1)
    response, error, log = invoke(lam, name)
    assert error["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: \S+ Error: Task timed out after 1\.00 seconds", error["errorMessage"])
    assert "waiting for ever" in log and "\tDuration: 1000.00 ms\t" in log and log.rstrip().endswith("Status: timeout")


@needs_node
def test_an_unsettled_promise_with_nothing_left_to_run_ends_the_invocation(lam, node_function):
    name = node_function({"index.js": "exports.handler = async () => { await new Promise(() => {}); };\n"})
    error = invoke(lam, name)[1]
    assert error["errorType"] == "Runtime.NodeJsExit" and "a Promise that was never settled" in error["errorMessage"]


@needs_node
def test_allocating_buffers_past_the_memory_size_kills_the_environment(lam, node_function):
    name = node_function({"index.js": """
        exports.handler = async () => {
          const hoard = [];
          for (;;) hoard.push(Buffer.alloc(8 * 1024 * 1024, 1));  // filled, so the pages are really used
        };
    """}, MemorySize=128, Timeout=30)
    response, error, log = invoke(lam, name)
    assert error["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(r"RequestId: \S+ Error: Runtime exited with error: signal: killed", error["errorMessage"])
    assert "\tStatus: error\tError Type: Runtime.OutOfMemory" in log


@needs_node
def test_process_exit_ends_the_environment_and_the_next_call_starts_cold(lam, node_function):
    name = node_function({"index.js": """
        exports.handler = async (event) => {
          console.log('bye');
          process.exit(event.code);
        };
    """})
    response, error, log = invoke(lam, name, {"code": 2})
    assert error["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(r"RequestId: \S+ Error: Runtime exited with error: exit status 2", error["errorMessage"])
    assert re.search(rf"{STAMP}\t\S+\tINFO\tbye", log) and "Status: error\tError Type: Runtime.ExitError" in log
    _, _, log = invoke(lam, name, {"code": 0})
    assert REPORT.search(log).group("init") is not None
    assert "Error: Runtime exited without providing a reason" in log


@needs_node
def test_an_uncaught_exception_answers_the_error_then_ends_the_environment(lam, node_function):
    name = node_function({"index.js": """
        exports.handler = async () => {
          setTimeout(() => { throw new Error('late failure'); }, 10);
          await new Promise((resolve) => setTimeout(resolve, 20000));
        };
    """}, Timeout=30)
    response, error, log = invoke(lam, name)
    assert error["errorType"] == "Error" and error["errorMessage"] == "late failure"
    assert "\tERROR\tUncaught Exception \t{\"errorType\":\"Error\",\"errorMessage\":\"late failure\"" in log
    assert duration_ms(log) < 20_000  # answered at the exception, not after the 20 s timer
    time.sleep(0.2)  # AWS's client exits (129) just after answering
    assert REPORT.search(invoke(lam, name)[2]).group("init") is not None


@pytest.mark.parametrize("runtime", ["nodejs22.x", "nodejs24.x"])
@needs_node
def test_an_unhandled_rejection_ends_the_environment_as_each_client_does(lam, node_function, runtime):
    name = node_function({"index.js": """
        async function audit() { throw new Error('audit failed'); }
        exports.handler = async () => { audit(); return 'Hello from Lambda!'; };
    """}, runtime=runtime)
    response, payload, log = invoke(lam, name)
    if runtime == "nodejs22.x":  # the answer was already given; the rejection is logged, then the process exits
        assert payload == "Hello from Lambda!" and "FunctionError" not in response
        assert "\tERROR\tUnhandled Promise Rejection \t{\"errorType\":\"Runtime.UnhandledPromiseRejection\"," \
               "\"errorMessage\":\"Error: audit failed\"" in log
    else:  # no rejection handler in the rewrite: Node itself crashes before the answer is sent
        assert payload["errorType"] == "Runtime.ExitError" and payload["errorMessage"].endswith("exit status 1")
        assert "Error: audit failed" in log
    time.sleep(0.2)
    assert REPORT.search(invoke(lam, name)[2]).group("init") is not None


def test_without_node_the_call_fails_and_says_what_to_install(lam, make_function, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine with no `node` anywhere on its PATH
    name = make_function({"index.js": "exports.handler = async () => 1;\n"}, handler="index.handler",
                         runtime="nodejs22.x")
    response, error, log = invoke(lam, name)
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.Unavailable"
    assert "Node.js 22 or newer" in error["errorMessage"] and "https://nodejs.org" in error["errorMessage"]
    assert "\tStatus: error\tError Type: Runtime.Unavailable" in log
