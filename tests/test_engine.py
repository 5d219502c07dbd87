"""The runtime's own bookkeeping, driven directly: provisioned pools, retirement, idle expiry, the laptop's
environment cap, stopping, and what an environment is started with.

The service tests reach this code through boto3; these call `Runtime` itself (it knows nothing of moto), with
real handler processes, so that each count and each closed process is checked where it is decided.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import pytest

import lambda_lab.runtime
from lambda_lab.runtime import (CodeArchive, FunctionConfig, InvokeRequest, LogConfig, Runtime, RuntimeVersionWarning,
                                modelled_duration_ms)
from lambda_lab.runtime._unpack import UnsafePackage

LOCAL = f"python{sys.version_info.major}.{sys.version_info.minor}"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"

REPORTER = """
import os, sys
def visible(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True
def handler(event, context):
    return {"init_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "pid": os.getpid(),
            "task_root": os.environ["LAMBDA_TASK_ROOT"], "tmp": os.environ["TMPDIR"], "no_site": sys.flags.no_site,
            "has_code": os.path.isfile(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "app.py")),
            "pytest_visible": visible("pytest"),
            "env": {k: os.environ.get(k) for k in event.get("show", [])}}
"""

# the module waits at import (init) or in the handler until the test creates `release`; `started` says it is there
GATED = """
import os, pathlib, time
FOLDER = pathlib.Path(os.environ["GATE"])
def gate(label):
    (FOLDER / f".{label}").write_text(str(os.getpid()))  # then renamed: a reader never sees it half-written
    (FOLDER / f".{label}").rename(FOLDER / label)
    deadline = time.monotonic() + 30
    while not (FOLDER / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
if os.environ.get("GATE_INIT"):
    gate(f"init-started-{os.getpid()}")
def handler(event, context):
    if event.get("gate"):
        gate("handler-started")
    return os.getpid()
"""


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():  # a fixed time: the same files make the same archive (and environment)
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def archive(files: dict[str, str]) -> CodeArchive:
    data = zip_of(files)
    return CodeArchive(hashlib.sha256(data).hexdigest(), data)


def config_of(name: str, source: str = REPORTER, version: str = "$LATEST", **kwargs) -> FunctionConfig:
    kwargs.setdefault("runtime", LOCAL)
    return FunctionConfig(name, version, "app.handler", code=archive({"app.py": source}), **kwargs)


def call(runtime: Runtime, config: FunctionConfig, event: dict | None = None, rid: str = "r1"):
    return runtime.invoke(config, InvokeRequest(rid, json.dumps(event or {}).encode(), ARN + config.function_name))


def wait_for(predicate, what: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < end, what
        time.sleep(0.01)


class Sink:
    """The runtime's log sink: every batch of lines, with the function and stream it was written for."""

    def __init__(self) -> None:
        self.batches: list[tuple[FunctionConfig, str, list]] = []

    def __call__(self, config: FunctionConfig, stream: str, lines: list) -> None:
        self.batches.append((config, stream, [list(line) for line in lines]))


@pytest.fixture
def sink():
    return Sink()


@pytest.fixture
def runtime(sink):
    rt = Runtime(log_sink=sink, warn_python_version=False)
    yield rt
    rt.stop()


# -- a runtime this machine cannot start ---------------------------------------------------------------------------
def test_a_runtime_this_machine_lacks_answers_as_lambda_would_with_the_whole_log(runtime, sink, monkeypatch, tmp_path):
    """No `node` on PATH: Runtime.Unavailable, a function error with START, the reason, END and REPORT."""
    monkeypatch.setenv("PATH", str(tmp_path))
    config = config_of("js", runtime="nodejs22.x", version="3", memory_mb=256, architecture="arm64")
    before = time.time()
    result = call(runtime, config, rid="req-7")
    after = time.time()
    assert (result.request_id, result.function_name, result.version) == ("req-7", "js", "3")
    assert result.error_type == "Runtime.Unavailable" and result.status == "error"
    error = json.loads(result.payload)
    assert error["errorType"] == "Runtime.Unavailable" and "needs Node.js" in error["errorMessage"]
    assert (result.cold, result.init_ms, result.duration_ms, result.billed_ms) == (True, None, 0.0, 0)
    assert (result.memory_mb, result.max_memory_mb, result.wall_ms, result.cpu_ms) == (256, 0, 0.0, 0.0)
    assert result.architecture == "arm64" and result.log_group == "/aws/lambda/js"
    assert before <= result.started_at <= after
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[3\][0-9a-f]{32}", result.log_stream)
    assert result.log_stream.startswith(time.strftime("%Y/%m/%d/", time.gmtime(result.started_at)))
    [(logged_for, stream, lines)] = sink.batches
    assert logged_for == config and stream == result.log_stream
    stamps = [stamp for stamp, _ in lines]
    assert stamps[0] == int(result.started_at * 1000) and stamps == sorted(stamps) and stamps[-1] <= after * 1000
    assert [message for _, message in lines] == [
        "START RequestId: req-7 Version: 3",
        f"{iso_ms(stamps[1])} req-7 Runtime.Unavailable: {error['errorMessage']}",
        "END RequestId: req-7",
        "REPORT RequestId: req-7\tDuration: 0.00 ms\tBilled Duration: 0 ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 0 MB\tStatus: error\tError Type: Runtime.Unavailable"]
    assert result.log == "".join(message + "\n" for _, message in lines)
    assert runtime.provision(config, 1) == "Runtime.Unavailable" and runtime.provisioned_ready(config) == 0


def iso_ms(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000)) + f".{epoch_ms % 1000:03d}Z"


# -- provisioned concurrency ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_provisioned_environments_start_ahead_serve_first_and_shrink_on_request(runtime, sink, log_format):
    layer = archive({"python/helper.py": "VALUE = 'from the layer'\n"})
    source = "import helper\n" + REPORTER.replace('"pid": os.getpid()', '"pid": os.getpid(), "layer": helper.VALUE')
    config = config_of("pc", source, version="1", layers=(layer,), logging=LogConfig(log_format=log_format),
                       runtime="python3.12", region="eu-west-1")
    assert runtime.provisioned_ready(config) == 0
    before = time.time()
    assert runtime.provision(config, 2) is None
    after = time.time()
    assert runtime.provisioned_ready(config) == 2
    envs = runtime.environments("pc")
    assert len(envs) == 2 and all(env.provisioned and env.alive for env in envs)
    # each start logged its init ahead, to its own environment's stream, stamped when it started
    assert sorted(stream for _, stream, _ in sink.batches) == sorted(env.stream_name for env in envs)
    for _, _, lines in sink.batches:
        assert len(lines) == 1  # INIT_START (or its JSON record) alone: the module printed nothing, nothing failed
        assert before * 1000 - 1 <= lines[0][0] <= after * 1000
        assert "python:3.12." in lines[0][1] and "arn:aws:lambda:eu-west-1::runtime:" in lines[0][1]
        assert lines[0][1].startswith("INIT_START Runtime Version" if log_format == "Text" else "{")

    served = call(runtime, config)
    answer = json.loads(served.payload)
    assert served.status == "success", answer
    assert served.provisioned and not served.cold and served.init_ms is None
    assert answer["init_type"] == "provisioned-concurrency" and answer["layer"] == "from the layer"
    # its code unpacked where LAMBDA_TASK_ROOT says, its /tmp in the lab's scratch space, imports isolated
    assert answer["has_code"] and Path(answer["tmp"]).parent == Path(answer["task_root"]).parent.parent
    assert answer["no_site"] == 1
    assert served.log_stream in {env.stream_name for env in envs}

    assert runtime.provision(config, 1) is None  # one of the two is let go; the other is not started again
    assert runtime.provisioned_ready(config) == 1
    [kept] = runtime.environments("pc")
    assert kept in envs and kept.alive and sum(env.alive for env in envs) == 1

    assert runtime.provision(config, 0) is None
    assert runtime.provisioned_ready(config) == 0 and runtime.environments("pc") == [] and not kept.alive
    after_all = call(runtime, config)
    assert after_all.cold and not after_all.provisioned
    assert json.loads(after_all.payload)["init_type"] == "on-demand"


@pytest.mark.parametrize("module, error", [("raise ValueError('no config')\n", "ValueError"),
                                            ("import sys\nsys.exit(3)\n", "Runtime.ExitError")])
def test_a_provisioned_init_that_fails_returns_its_error_and_logs_an_init_report(runtime, sink, module, error):
    config = config_of("broken", module + REPORTER)
    before = time.time()
    assert runtime.provision(config, 1) == error
    after = time.time()
    assert runtime.provisioned_ready(config) == 0 and runtime.environments("broken") == []
    [(_, _, lines)] = sink.batches
    assert lines[0][1].startswith("INIT_START Runtime Version") and before * 1000 - 1 <= lines[0][0]
    stamp, report = lines[-1]
    found = re.fullmatch(r"INIT_REPORT Init Duration: (\d+\.\d\d) ms\tPhase: init\tStatus: error\tError Type: (.+)",
                         report)
    assert found and found[2] == error
    assert 1.0 < float(found[1]) <= (after - before) * 1000 and before * 1000 <= stamp <= after * 1000


def test_retiring_a_version_while_its_provisioned_environment_starts_keeps_nothing(runtime, tmp_path):
    config = config_of("starting", GATED, version="2", environment=(("GATE", str(tmp_path)), ("GATE_INIT", "1")))
    outcome = []
    starter = threading.Thread(target=lambda: outcome.append(runtime.provision(config, 1)))
    starter.start()
    wait_for(lambda: started_inits(tmp_path), "the provisioned init never started")
    runtime.retire("starting")  # the version is deleted while its environment is still initialising
    (tmp_path / "release").touch()
    starter.join(30)
    assert outcome == [None]
    assert runtime.environments("starting") == [] and runtime.provisioned_ready(config) == 0
    assert not any(process_alive(pid) for pid in started_inits(tmp_path))


def test_a_busy_provisioned_environment_of_a_retired_version_is_closed_when_it_finishes(runtime, tmp_path):
    config = config_of("busy", GATED, environment=(("GATE", str(tmp_path)),))
    assert runtime.provision(config, 1) is None
    results = []
    caller = threading.Thread(target=lambda: results.append(call(runtime, config, {"gate": 1})))
    caller.start()
    wait_for((tmp_path / "handler-started").exists, "the handler never started")
    runtime.retire("busy")
    (tmp_path / "release").touch()
    caller.join(30)
    assert results[0].provisioned and results[0].status == "success"
    assert runtime.environments("busy") == [] and runtime.provisioned_ready(config) == 0
    assert not process_alive(json.loads(results[0].payload))


def test_a_provisioned_environment_that_died_idle_is_not_counted_or_served(runtime):
    config = config_of("dies")
    assert runtime.provision(config, 1) is None
    [env] = runtime.environments("dies")
    env.proc.kill()
    env.proc.wait(10)
    result = call(runtime, config)
    assert result.cold and not result.provisioned and result.status == "success"
    assert runtime.provisioned_ready(config) == 0


def test_environments_still_starting_are_not_ready_even_when_two_calls_start_them(runtime, tmp_path):
    """Two provision() calls for one config at once (an update while a replacement starts): ready counts neither."""
    config = config_of("two", GATED, environment=(("GATE", str(tmp_path)), ("GATE_INIT", "1")))
    outcomes = []
    starters = [threading.Thread(target=lambda: outcomes.append(runtime.provision(config, 2))) for _ in range(2)]
    for starter in starters:
        starter.start()
    wait_for(lambda: len(started_inits(tmp_path)) == 2, "the two provisioned inits never started")
    assert runtime.provisioned_ready(config) == 0
    (tmp_path / "release").touch()
    for starter in starters:
        starter.join(30)
    assert outcomes == [None, None]
    assert runtime.provisioned_ready(config) == 2 and len(runtime.environments("two")) == 2


def test_a_provisioned_start_that_raises_counts_nothing(runtime):
    """The runtime refuses a package that unpacks outside its folder; nothing half-started is kept or counted."""
    unsafe = archive({"app.py": REPORTER, "../../escape.py": "x = 1\n"})
    config = FunctionConfig("unsafe", "1", "app.handler", LOCAL, unsafe)
    with pytest.raises(UnsafePackage, match="outside the package's folder"):
        runtime.provision(config, 1)
    assert runtime.provisioned_ready(config) == 0 and runtime.environments() == []


# -- retirement, expiry and the cap -------------------------------------------------------------------------------
def test_retire_closes_only_the_versions_keep_rejects_and_only_of_that_function(runtime):
    v1, v2, other = config_of("f", version="1"), config_of("f", version="2"), config_of("g", version="1")
    for config in (v1, v2, other):
        call(runtime, config)
    envs = {config: env for config in (v1, v2, other) for env in runtime.environments(config.function_name)
            if env.config == config}
    runtime.retire("f", keep=lambda config: config.version == "1")
    assert envs[v1].alive and envs[other].alive and not envs[v2].alive
    assert set(runtime.environments()) == {envs[v1], envs[other]}


def test_retire_closes_every_version_of_the_function_idle_and_provisioned(runtime):
    idle = [config_of("all", version=v) for v in ("1", "2")]
    provisioned = [config_of("all", REPORTER + "\n# provisioned\n", version=v) for v in ("3", "4")]
    for config in idle:
        call(runtime, config)
    for config in provisioned:
        assert runtime.provision(config, 1) is None
    envs = runtime.environments("all")
    assert len(envs) == 4
    other = config_of("other")
    assert runtime.provision(other, 1) is None
    runtime.retire("all")
    assert runtime.environments("all") == [] and not any(env.alive for env in envs)
    assert [runtime.provisioned_ready(config) for config in provisioned] == [0, 0]
    assert runtime.provisioned_ready(other) == 1 and len(runtime.environments("other")) == 1


def test_retire_keeps_the_provisioned_versions_keep_accepts(runtime):
    v1, v2 = config_of("kept", version="1"), config_of("kept", REPORTER + "\n# two\n", version="2")
    for config in (v1, v2):
        assert runtime.provision(config, 1) is None
    runtime.retire("kept", keep=lambda config: config.version == "1")
    assert runtime.provisioned_ready(v1) == 1 and runtime.provisioned_ready(v2) == 0
    assert [env.config for env in runtime.environments("kept")] == [v1]


def test_retire_after_provisioned_concurrency_was_removed_closes_what_is_left(runtime):
    config = config_of("removed")
    assert runtime.provision(config, 1) is None
    assert runtime.provision(config, 0) is None
    call(runtime, config)
    runtime.retire("removed")
    assert runtime.environments() == [] and runtime.provisioned_ready(config) == 0


def test_a_process_that_never_stops_its_runtime_still_exits_at_once(tmp_path):
    """The lab's own threads never keep a kernel or a script alive (the idle-expiry thread waits 10 minutes)."""
    script = tmp_path / "forgets.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(Path(lambda_lab.runtime.__file__).parents[2])!r}, {str(Path(__file__).parent)!r}]
        from test_engine import Runtime, call, config_of
        rt = Runtime(warn_python_version=False)
        print(call(rt, config_of("forgotten")).status)
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "success\n", run.stderr


def test_expire_idle_closes_every_idle_environment_past_the_timeout():
    rt = Runtime(idle_timeout_s=3600, warn_python_version=False)
    try:
        for name in ("a", "b", "c"):
            call(rt, config_of(name))
        envs = rt.environments()
        assert rt.expire_idle() == 0 and all(env.alive for env in envs)
        rt.idle_timeout_s = 0.0
        assert rt.expire_idle() == 3
        assert rt.environments() == [] and not any(env.alive for env in envs)
    finally:
        rt.stop()


def test_idle_environments_expire_on_their_own_and_stop_ends_the_expiry_thread():
    others = set(threading.enumerate())  # other labs in this process have expiry threads of their own
    rt = Runtime(idle_timeout_s=0.3, warn_python_version=False)
    try:
        call(rt, config_of("idle"))
        [env] = rt.environments()
        wait_for(lambda: rt.environments() == [], "the idle environment was never expired without a call")
        assert not env.alive
        expiry = [t for t in threading.enumerate() if t.name == "lambda-lab-idle-expiry" and t not in others]
        assert len(expiry) == 1 and all(t.is_alive() for t in expiry)
        call(rt, config_of("idle"))  # the thread, with nothing idle for a while, still expires the next one
        [second] = rt.environments()
        wait_for(lambda: rt.environments() == [], "the second idle environment was never expired")
        assert not second.alive and all(t.is_alive() for t in expiry)
    finally:
        rt.stop()
    for thread in expiry:
        thread.join(5)
    assert not any(thread.is_alive() for thread in expiry)


def test_past_max_environments_the_least_recently_used_idle_one_is_closed(tmp_path):
    rt = Runtime(max_environments=2, warn_python_version=False)
    try:
        gated = config_of("busy", GATED, environment=(("GATE", str(tmp_path)),))
        call(rt, config_of("f"))
        call(rt, config_of("g"))
        [f], [g] = rt.environments("f"), rt.environments("g")
        assert f.alive and g.alive  # two fit
        call(rt, config_of("h"))
        [h] = rt.environments("h")
        assert not f.alive and g.alive and h.alive and rt.environments("f") == []
        # a busy environment counts too: one busy and one idle leave room for no third
        caller = threading.Thread(target=call, args=(rt, gated, {"gate": 1}))
        caller.start()
        wait_for((tmp_path / "handler-started").exists, "the handler never started")
        assert not g.alive and h.alive  # h was used more recently than g
        call(rt, config_of("i"))
        assert not h.alive and rt.environments("h") == []
        (tmp_path / "release").touch()
        caller.join(30)
    finally:
        rt.stop()


# -- stopping ------------------------------------------------------------------------------------------------------
def test_stop_removes_the_scratch_space_refuses_new_invokes_and_may_be_repeated(runtime):
    with pytest.raises(UnsafePackage):  # a refused package leaves nothing half-unpacked behind
        call(runtime, FunctionConfig("unsafe", "1", "app.handler", LOCAL,
                                     archive({"app.py": REPORTER, "../../escape.py": "x = 1\n"})))
    answer = json.loads(call(runtime, config_of("s")).payload)
    task_root = Path(answer["task_root"])
    scratch = task_root.parent.parent
    assert Path(answer["tmp"]).parent == scratch  # the environment's /tmp is in the scratch space too
    assert sorted(p.name for p in scratch.iterdir() if not p.name.startswith("tmp-")) == ["code"]
    [env] = runtime.environments()
    assert task_root.is_dir()
    runtime.stop()
    assert not task_root.exists() and not task_root.parent.parent.exists() and not env.alive
    runtime.stop()
    with pytest.raises(RuntimeError) as stopped:
        call(runtime, config_of("s"))
    assert str(stopped.value) == "this lab's runtime has been stopped; start a new Lab()"
    assert runtime.provision(config_of("s"), 1) is None and runtime.environments() == []


# -- what an environment starts with -------------------------------------------------------------------------------
def test_an_environment_gets_the_sdk_variables_and_its_own_credentials_and_nothing_else_of_the_lab(monkeypatch):
    monkeypatch.setenv("LAB_PRIVATE", "the lab's own")
    rt = Runtime(sdk_env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, warn_python_version=False,
                 credentials_for=lambda config: {"AWS_ACCESS_KEY_ID": "ASIA" + config.function_name.upper()})
    try:
        config = config_of("creds", extensions=("parameters-and-secrets",))
        result = call(rt, config, {"show": ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "LAB_PRIVATE"]})
        answer = json.loads(result.payload)
    finally:
        rt.stop()
    assert result.status == "success", result.payload
    assert answer["env"] == {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "ASIACREDS",
                             "LAB_PRIVATE": None}
    # isolated imports (the default): the lab's own packages are not importable, as on Lambda
    assert answer["no_site"] == 1 and answer["pytest_visible"] is False


def test_a_result_says_when_the_handler_was_invoked_after_the_init(runtime):
    cold = call(runtime, config_of("when"))
    warm = call(runtime, config_of("when"))
    assert cold.cold and not warm.cold
    for result in (cold, warm):
        assert result.started_at <= result.invoked_at <= time.time()
    assert cold.invoked_at > cold.started_at and warm.invoked_at >= cold.invoked_at


def test_another_python_runtime_is_warned_about_once_per_runtime():
    rt = Runtime()
    other = "python3.9" if LOCAL != "python3.9" else "python3.10"
    try:
        with pytest.warns(RuntimeVersionWarning) as warned:
            call(rt, config_of("old", runtime=other))
            call(rt, config_of("old", runtime=other))
            call(rt, config_of("same"))
    finally:
        rt.stop()
    assert [(w.filename, w.lineno) for w in warned] == [("lambda_lab", 0)]  # no line of the lab's internals shown
    assert [str(w.message) for w in warned] == [
        f"Functions with Runtime {other} run on this machine's Python ({sys.version.split()[0]}) in the lab; code "
        f"that needs {other} features may behave differently."]


def test_a_failing_log_sink_leaves_no_environment_to_reuse():
    """Anything that interrupts the lab's side of an invoke (Ctrl-C, an error) retires the environment."""
    def broken_sink(config, stream, lines):
        raise OSError("disk full")

    rt = Runtime(log_sink=broken_sink, warn_python_version=False)
    try:
        with pytest.raises(OSError, match="disk full"):
            call(rt, config_of("sunk"))
        assert rt.environments() == []
    finally:
        rt.stop()


def started_inits(folder: Path) -> list[int]:
    """The process ids of the GATED inits that have started in `folder`."""
    return [int(marker.read_text()) for marker in folder.glob("init-started-*")]


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# -- layers ---------------------------------------------------------------------------------------------------------
def test_each_ordered_list_of_layers_gets_its_own_opt_and_later_layers_win(runtime):
    """Two versions share their first layer and differ in the second: each sees its own second layer."""
    common = archive({"python/common.py": "WHO = 'common'\n", "python/mine.py": "V = 'from common'\n"})
    mine1, mine2 = (archive({"python/mine.py": f"V = 'mine v{n}'\n"}) for n in (1, 2))
    source = "import common, mine\ndef handler(event, context):\n    return [common.WHO, mine.V]\n"
    first = call(runtime, config_of("layered", source, version="1", layers=(common, mine1)))
    second = call(runtime, config_of("layered", source, version="2", layers=(common, mine2)))
    alone = call(runtime, config_of("layered", source, version="3", layers=(common,)))
    swapped = call(runtime, config_of("layered", source, version="4", layers=(mine2, common)))
    assert json.loads(first.payload) == ["common", "mine v1"]
    assert json.loads(second.payload) == ["common", "mine v2"]
    assert json.loads(alone.payload) == ["common", "from common"]
    assert json.loads(swapped.payload) == ["common", "from common"]  # the later layer's file wins


# -- the report ----------------------------------------------------------------------------------------------------
LOGGER = """
import os, sys, time
print("loading")
def handler(event, context):
    print("handling")
    kind = event.get("kind")
    if kind == "error":
        raise KeyError("missing")
    if kind == "sleep":
        time.sleep(5)
    if kind == "exit":
        os.write(2, b"written below Python\\n")
        os._exit(3)
    return {"ok": True}
"""
REPORT = re.compile(r"REPORT RequestId: (?P<rid>\S+)\tDuration: (?P<duration>\d+\.\d\d) ms\t"
                    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\t"
                    r"Max Memory Used: (?P<max>\d+) MB(\tInit Duration: (?P<init>\d+\.\d\d) ms)?"
                    r"(\tStatus: (?P<status>\w+))?(\tError Type: (?P<error>\S+))?")
INIT_START = re.compile(r"INIT_START Runtime Version: python:3\.\d+\.v\d+\tRuntime Version ARN: "
                        r"arn:aws:lambda:eu-west-1::runtime:[0-9a-f]{64}")


def report_of(result) -> dict:
    found = REPORT.fullmatch(result.log.splitlines()[-1])
    assert found, result.log
    return found.groupdict()


def test_a_cold_and_a_warm_success_are_logged_and_billed_as_on_lambda(runtime, sink):
    config = config_of("ok", LOGGER, version="4", memory_mb=256, region="eu-west-1", architecture="arm64")
    cold = call(runtime, config, rid="c1")
    warm = call(runtime, config, rid="w1")
    for result in (cold, warm):
        assert result.status == "success" and result.error_type is None and json.loads(result.payload) == {"ok": True}
        assert result.duration_ms == modelled_duration_ms(result.wall_ms, result.cpu_ms, 256) > 0
        assert (result.function_name, result.version, result.memory_mb) == ("ok", "4", 256)
        assert result.log_group == "/aws/lambda/ok" and result.architecture == "arm64"
    assert cold.cold and not warm.cold and warm.init_ms is None and cold.init_ms > 0
    assert cold.billed_ms == math.ceil(cold.duration_ms + cold.init_ms)
    assert warm.billed_ms == math.ceil(warm.duration_ms)
    lines = cold.log.splitlines()
    assert INIT_START.fullmatch(lines[0]) and lines[1:5] == ["loading", "START RequestId: c1 Version: 4", "handling",
                                                             "END RequestId: c1"]
    assert warm.log.splitlines()[:3] == ["START RequestId: w1 Version: 4", "handling", "END RequestId: w1"]
    for result, init in ((cold, cold.init_ms), (warm, None)):
        report = report_of(result)
        assert report["rid"] == result.request_id and report["duration"] == f"{result.duration_ms:.2f}"
        assert int(report["billed"]) == result.billed_ms and report["memory"] == "256"
        assert int(report["max"]) == result.max_memory_mb and 5 <= result.max_memory_mb <= 256
        assert report["init"] == (None if init is None else f"{init:.2f}") and report["status"] is None
    # the sink got the same lines, to the environment's stream, stamped from the invocation's start
    for (logged_for, stream, lines), result in zip(sink.batches, (cold, warm)):
        assert logged_for == config and stream == result.log_stream
        assert "".join(message + "\n" for _, message in lines) == result.log
        assert lines[0][0] == int(result.started_at * 1000) <= lines[-1][0] <= time.time() * 1000
    assert cold.log_stream == warm.log_stream


def test_a_handled_error_is_a_function_error_without_a_status_in_the_report(runtime):
    config = config_of("fails", LOGGER, logging=LogConfig(log_format="JSON"))
    success = call(runtime, config)
    [report] = [json.loads(line) for line in success.log.splitlines() if '"platform.report"' in line]
    assert report["record"]["status"] == "success"
    assert report["record"]["metrics"]["initDurationMs"] == round(success.init_ms, 3)
    result = call(runtime, config, {"kind": "error"}, rid="e1")
    error = json.loads(result.payload)
    assert result.status == "error" and result.error_type == "KeyError" == error["errorType"]
    assert error["errorMessage"] == "'missing'" and error["requestId"] == "e1"
    records = [json.loads(line) for line in result.log.splitlines() if line.startswith('{"time"')]
    assert [r["type"] for r in records] == ["platform.start", "platform.runtimeDone", "platform.report"]
    done, report = records[1]["record"], records[2]["record"]
    assert done["status"] == "failure" and done["metrics"]["producedBytes"] == len(result.payload)
    assert report["status"] == "failure" and report["metrics"]["billedDurationMs"] == result.billed_ms
    assert report["metrics"]["durationMs"] == round(result.duration_ms, 3) and "initDurationMs" not in report["metrics"]


def platform_records(result) -> dict:
    """The JSON log's platform records by type (each type once per invocation)."""
    records = [json.loads(line) for line in result.log.splitlines() if line.startswith('{"time"')]
    return {record["type"]: record for record in records}


def test_json_logs_carry_the_invocations_ids_times_and_figures(runtime):
    config = config_of("jsonlog", LOGGER, memory_mb=192, logging=LogConfig(log_format="JSON"))
    cold = call(runtime, config, rid="j1")
    records = platform_records(cold)
    assert list(records) == ["platform.initStart", "platform.start", "platform.report"]
    assert records["platform.start"]["record"] == {"requestId": "j1", "version": "$LATEST"}
    assert records["platform.start"]["time"] == iso_ms(int(cold.started_at * 1000))
    assert records["platform.report"]["record"] == {
        "requestId": "j1", "status": "success",
        "metrics": {"durationMs": round(cold.duration_ms, 3), "billedDurationMs": cold.billed_ms,
                    "memorySizeMB": 192, "maxMemoryUsedMB": cold.max_memory_mb,
                    "initDurationMs": round(cold.init_ms, 3)}}
    exited = call(runtime, config, {"kind": "exit"}, rid="j2")
    records = platform_records(exited)
    assert records["platform.runtimeDone"]["record"] == {
        "requestId": "j2", "status": "error", "errorType": "Runtime.ExitError",
        "metrics": {"durationMs": round(exited.duration_ms, 3), "producedBytes": 0}}
    report = records["platform.report"]["record"]
    assert (report["requestId"], report["status"], report["errorType"]) == ("j2", "error", "Runtime.ExitError")


def test_a_timeout_answers_sandbox_timedout_bills_the_timeout_and_retires_the_environment(runtime):
    config = config_of("slow", LOGGER, timeout_s=1.0)
    result = call(runtime, config, {"kind": "sleep"}, rid="t1")
    assert result.status == "timeout" and result.error_type == "Sandbox.Timedout" and result.duration_ms == 1000.0
    assert json.loads(result.payload) == {"errorMessage": "RequestId: t1 Error: Task timed out after 1.00 seconds",
                                          "errorType": "Sandbox.Timedout"}
    assert result.billed_ms == math.ceil(1000.0 + result.init_ms)
    lines = result.log.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z t1 Task timed out after 1\.00 seconds", lines[-3])
    assert lines[-4] == "handling" and lines[-2] == "END RequestId: t1"
    report = report_of(result)
    assert report["duration"] == "1000.00" and report["status"] == "timeout" and report["error"] is None
    assert runtime.environments() == [] and call(runtime, config).cold


def test_an_exit_answers_runtime_exiterror_with_what_was_written_below_python(runtime):
    config = config_of("exits", LOGGER)
    call(runtime, config)
    result = call(runtime, config, {"kind": "exit"}, rid="x1")
    message = "RequestId: x1 Error: Runtime exited with error: exit status 3"
    assert result.status == "error" and result.error_type == "Runtime.ExitError"
    assert json.loads(result.payload) == {"errorMessage": message, "errorType": "Runtime.ExitError"}
    assert result.duration_ms == result.wall_ms and result.billed_ms == math.ceil(result.wall_ms)
    lines = result.log.splitlines()
    assert lines[-5:-2] == ["written below Python", message, "Runtime.ExitError"]
    report = report_of(result)
    assert (report["status"], report["error"]) == ("error", "Runtime.ExitError")
    assert runtime.environments() == []


def test_a_line_flushed_just_before_the_process_ends_is_in_the_log(runtime):
    """As on Lambda, where a flushed print is already in the log pipe when os._exit() or a crash ends the process."""
    source = ("import os\ndef handler(event, context):\n    print('last words', flush=True)\n"
              "    os._exit(3)\n")
    result = call(runtime, config_of("flushes", source), rid="f1")
    assert result.error_type == "Runtime.ExitError"
    assert result.log.splitlines()[1:3] == ["START RequestId: f1 Version: $LATEST", "last words"]


def test_an_init_error_answers_with_the_init_error_and_bills_the_init(runtime):
    result = call(runtime, config_of("badinit", "raise ValueError('bad')\n" + LOGGER), rid="i1")
    error = json.loads(result.payload)
    assert result.status == "error" and result.error_type == "ValueError" == error["errorType"]
    assert error["errorMessage"] == "bad" and result.duration_ms == 0.0
    assert result.billed_ms == math.ceil(result.init_ms) and result.cold
    report = report_of(result)
    assert report["duration"] == "0.00" and (report["status"], report["error"]) == ("error", "ValueError")
    assert runtime.environments() == []


# -- the environment's variables -------------------------------------------------------------------------------------
SHOWN = ["_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
         "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
         "AWS_LAMBDA_LOG_GROUP_NAME", "LAMBDA_RUNTIME_DIR", "TZ", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL",
         "MY_SETTING", "PATH", "LANG", "AWS_ACCESS_KEY_ID", "AWS_XRAY_DAEMON_ADDRESS", "EXTENSION_SAW_HANDLER"]


def test_an_environment_has_lambdas_reserved_variables_and_the_functions_own(monkeypatch):
    monkeypatch.setenv("LANG", "C.UTF-8")
    rt = Runtime(warn_python_version=False, credentials_for=lambda config: {"AWS_ACCESS_KEY_ID": "ASIAROLE"})
    rt.tracing_env = lambda config: {"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"} if config.tracing == "Active" else {}
    rt.extension_env = lambda config, env: {"EXTENSION_SAW_HANDLER": f"{config.function_name} {env['_HANDLER']}"}
    try:
        text = config_of("envs", version="7", memory_mb=512, region="eu-west-1",
                         environment=(("MY_SETTING", "mine"), ("AWS_REGION", "mars-1"), ("AWS_ACCESS_KEY_ID", "AKIA")))
        shown = json.loads(call(rt, text, {"show": SHOWN}).payload)["env"]
        traced = config_of("envs", version="8", runtime="python3.12", tracing="Active",
                           extensions=("parameters-and-secrets",), environment=(("TZ", "Europe/Paris"),),
                           logging=LogConfig(log_format="JSON", application_level="DEBUG", log_group="/custom/g"))
        other = json.loads(call(rt, traced, {"show": SHOWN}).payload)["env"]
    finally:
        rt.stop()
    assert shown == {
        "_HANDLER": "app.handler", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{LOCAL}", "AWS_LAMBDA_FUNCTION_NAME": "envs",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_LAMBDA_FUNCTION_VERSION": "7",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/envs",
        "LAMBDA_RUNTIME_DIR": str(Path(lambda_lab.runtime.__file__).parent), "TZ": ":UTC",
        "AWS_LAMBDA_LOG_FORMAT": None, "AWS_LAMBDA_LOG_LEVEL": None, "MY_SETTING": "mine",
        "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "AWS_ACCESS_KEY_ID": "ASIAROLE",
        "AWS_XRAY_DAEMON_ADDRESS": None, "EXTENSION_SAW_HANDLER": None}
    assert other["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12" and other["TZ"] == "Europe/Paris"
    assert (other["AWS_LAMBDA_LOG_FORMAT"], other["AWS_LAMBDA_LOG_LEVEL"]) == ("JSON", "DEBUG")
    assert other["AWS_LAMBDA_LOG_GROUP_NAME"] == "/custom/g" and other["AWS_REGION"] == "us-east-1"
    assert other["AWS_XRAY_DAEMON_ADDRESS"] == "127.0.0.1:2000" and other["EXTENSION_SAW_HANDLER"] == "envs app.handler"


def test_json_logs_without_a_level_log_at_info():
    rt = Runtime(warn_python_version=False)
    try:
        config = config_of("info", logging=LogConfig(log_format="JSON"))
        shown = json.loads(call(rt, config, {"show": ["AWS_LAMBDA_LOG_LEVEL"]}).payload)["env"]
    finally:
        rt.stop()
    assert shown == {"AWS_LAMBDA_LOG_LEVEL": "INFO"}


# -- what a trace shows ----------------------------------------------------------------------------------------------
def machine_paths() -> list[str]:
    """Folders of this machine a trace could name: the lab, the interpreter, its standard library, the venv."""
    return [str(Path(lambda_lab.runtime.__file__).parent.parent), sys.prefix, sys.base_prefix,
            os.path.dirname(os.__file__)]


def test_traces_show_lambdas_paths_and_no_folder_of_this_machine(runtime):
    """An init error's trace starts in the standard library's importlib, as Lambda's does; no lab frame shows."""
    init = call(runtime, config_of("badjson", "import json\njson.loads('{')\n", runtime="python3.12"))
    error = call(runtime, config_of("handlerjson", "import json\ndef handler(event, context):\n"
                                                   "    return json.loads('{')\n", runtime="python3.12"))
    assert init.error_type == error.error_type == "JSONDecodeError"
    init_trace = init.log.split("Traceback (most recent call last):\n", 1)[1]
    assert init_trace.startswith('  File "/var/lang/lib/python3.12/importlib/__init__.py", line ')
    assert '  File "/var/task/app.py", line 2, in <module>\n' in init_trace
    assert '  File "/var/lang/lib/python3.12/json/decoder.py", line ' in init_trace
    stack = json.loads(error.payload)["stackTrace"]
    assert stack[0].startswith('  File "/var/task/app.py", line 3, in handler\n')
    assert all(frame.startswith('  File "/var/lang/lib/python3.12/json/') for frame in stack[1:]) and stack[1:]
    for result in (init, error):
        shown = result.log + result.payload.decode()
        assert not [path for path in machine_paths() if path in shown]
        assert "_bootstrap.py" not in shown


def test_a_layers_site_packages_frames_show_under_opt(runtime):
    fragile = "def parse(text):\n    raise ValueError(text)\n"
    layer = archive({"python/lib/python3.12/site-packages/fragile.py": fragile})
    source = "import fragile\ndef handler(event, context):\n    return fragile.parse('no')\n"
    result = call(runtime, config_of("layered-trace", source, runtime="python3.12", layers=(layer,)))
    stack = json.loads(result.payload)["stackTrace"]
    assert [frame.split(",")[0] for frame in stack] == [
        '  File "/var/task/app.py"', '  File "/opt/python/lib/python3.12/site-packages/fragile.py"']


def test_init_start_names_the_functions_own_python(runtime, sink):
    for version in ("3.11", "3.12"):
        call(runtime, config_of(f"py{version[2:]}", runtime=f"python{version}"))
    starts = [lines[0][1] for _, _, lines in sink.batches]
    assert [re.sub(r"\.v\d+\t.*", "", start) for start in starts] == [
        "INIT_START Runtime Version: python:3.11", "INIT_START Runtime Version: python:3.12"]
