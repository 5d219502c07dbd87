"""Shared fixtures: one lab per test module (starting one costs ~0.1 s), unique function names per test."""

import contextlib
import itertools
import json

import boto3
import pytest
from botocore.config import Config

import lambda_lab

_names = itertools.count()


@pytest.fixture(scope="module")
def lab():
    with lambda_lab.Lab(seed=7) as lab:
        yield lab


@pytest.fixture(scope="module")
def lam(lab):
    return boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def make_function(lab, lam, request):
    """Create a function from handler source; returns its name."""

    def make(source, handler="app.handler", runtime="python3.13", **config):
        name = f"{request.node.name[:40].replace('[', '-').replace(']', '')}-{next(_names)}"
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
        lam.create_function(FunctionName=name, Runtime=runtime, Role=lab.role_arn, Handler=handler,
                            Code={"ZipFile": lambda_lab.zip_source(source)}, **config)
        return name

    return make


@contextlib.contextmanager
def lab_with_function(seed, name, source, **config):
    """A fresh lab holding one function made from `source` (exercise checks start from such a state)."""
    with lambda_lab.Lab(seed=seed, quiet=True) as lab:
        client = boto3.client("lambda")
        client.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                               Code={"ZipFile": lambda_lab.zip_source(source)}, **config)
        client.get_waiter("function_active_v2").wait(FunctionName=name)
        yield client


def invoke(lam, name, event=None, **kw):
    """Invoke and return (response, decoded payload, decoded log tail)."""
    import base64

    payload = json.dumps(event if event is not None else {}).encode()
    response = lam.invoke(FunctionName=name, Payload=payload, LogType="Tail", **kw)
    body = response["Payload"].read()
    log = base64.b64decode(response.get("LogResult", "")).decode()
    return response, (json.loads(body) if body else None), log


def standin_account():
    """tools/standin_account.py as a module (tools/ is not a package)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("standin_account",
                                                  Path(__file__).parents[1] / "tools" / "standin_account.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_in_fresh_process(script: str, timeout: float = 90) -> object:
    """Run `script` (which prints one JSON line last) in a new process, for tests that need their own Lab(...).

    On Linux the process is forked from a server that has already imported boto3, moto and lambda_lab (and
    nothing else: no lab, no threads), which saves each such test the second or two those imports cost.
    """
    import textwrap

    code, stdout, stderr = _forker().run(textwrap.dedent(script), timeout)
    assert code == 0, stdout + stderr
    return json.loads(stdout.strip().splitlines()[-1])


_FORK_SERVER = r"""
import atexit, json, os, sys, traceback
import boto3, botocore.session, moto, lambda_lab  # noqa: F401 - what every fresh-process test imports first

def child(job):
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(os.devnull)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    sys.argv = ["-c"]
    code = 0
    try:
        exec(compile(job["script"], "<fresh process>", "exec"), {"__name__": "__main__"})
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, (int, type(None))):
            print(stop.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()  # a Lab left running stops its workers, as at a normal interpreter exit
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        child(job)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class _Forker:
    """One fork server per test process (xdist worker); jobs run one at a time, each in a forked child."""

    def __init__(self) -> None:
        import subprocess
        import sys

        self.server = subprocess.Popen([sys.executable, "-c", _FORK_SERVER], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)
        assert self.server.stdout.readline().strip() == "ready"
        import atexit

        atexit.register(self.close)

    def close(self) -> None:
        """End the server with the test process: closing its input ends its loop."""
        self.server.stdin.close()
        self.server.wait(timeout=10)
        self.server.stdout.close()

    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        import os
        import select
        import signal
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            out, err = os.path.join(folder, "out"), os.path.join(folder, "err")
            job = {"script": script, "env": dict(os.environ), "cwd": os.getcwd(), "stdout": out, "stderr": err}
            self.server.stdin.write(json.dumps(job) + "\n")
            self.server.stdin.flush()
            pid = json.loads(self.server.stdout.readline())["pid"]
            ready, _, _ = select.select([self.server.stdout], [], [], timeout)
            if not ready:  # as subprocess.run(timeout=...) does: kill it, then say so
                os.kill(pid, signal.SIGKILL)
                self.server.stdout.readline()
                raise AssertionError(f"the fresh process did not finish within {timeout} s:\n"
                                     + open(out).read()[-3000:] + open(err).read()[-3000:])
            code = json.loads(self.server.stdout.readline())["code"]
            return code, open(out).read(), open(err).read()


_forker_instance = None


def _forker():
    global _forker_instance
    import sys

    if sys.platform != "linux":  # no fork server: a new interpreter, as before
        return _Spawner()
    if _forker_instance is None or _forker_instance.server.poll() is not None:
        _forker_instance = _Forker()
    return _forker_instance


class _Spawner:
    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        import subprocess
        import sys

        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout, done.stderr
