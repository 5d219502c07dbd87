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


def run_in_fresh_process(script: str, timeout: float = 90) -> object:
    """Run `script` (which prints one JSON line last) in a new Python, for tests that need their own Lab(...)."""
    import subprocess
    import sys
    import textwrap

    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
