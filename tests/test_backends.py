"""The real-account code paths, tested without AWS: backend="endpoint" against a moto server on 127.0.0.1."""

import io
import json
import os
import time
from contextlib import redirect_stdout

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

import lambda_lab
from conftest import standin_account
from lambda_lab._lab import ROLE_WAIT_S, CostGuardError, Lab


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A moto server whose Lambda runs handlers on the lab's runtime, as LocalStack would."""
    monkeypatch.setenv("LAMBDA_LAB_HOME", str(tmp_path / "records"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    engine = lambda_lab.install()
    # a real account (and LocalStack) has AWS's managed policies; a bare moto server needs them loaded
    from lambda_lab._lab import LESSON_POLICIES
    from lambda_lab.service import provide_managed_policies

    provide_managed_policies("123456789012", LESSON_POLICIES)
    host, port = moto.get_host_and_port()
    yield f"http://{host}:{port}"
    lambda_lab.uninstall()
    moto.stop()
    from moto.core.base_backend import BackendDict

    BackendDict.reset()  # the server's state is process-wide: leave none for later tests
    del engine


def _create_world(lab):
    lam = boto3.client("lambda")
    lam.create_function(FunctionName="greeter", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 'hello ' + e['n']\n")})
    lab.wait_until_ready("greeter")
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="lab-queue")["QueueUrl"]
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lab-bucket")
    s3.put_object(Bucket="lab-bucket", Key="a.txt", Body=b"a")
    events = boto3.client("events")
    events.put_rule(Name="lab-rule", ScheduleExpression="rate(1 hour)")
    return lam, sqs, queue, s3


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """tools/standin_account.py's server: IAM reaches its Lambda IAM_S seconds late, as AWS's does."""
    standin = standin_account()
    monkeypatch.setenv("LAMBDA_LAB_HOME", str(tmp_path / "records"))
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # start() sets them for this
        monkeypatch.setenv(key, "restored after the test")                          # process: restored after
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    moto, url, engine = standin.start()
    try:
        yield url, standin.IAM_S
    finally:
        lambda_lab.uninstall()
        moto.stop()
        from moto.core.base_backend import BackendDict

        BackendDict.reset()
        del engine


def test_a_remote_lab_waits_until_its_new_role_has_reached_lambda(standin):
    """A lesson calls create_function with lab.role_arn right after Lab(), without retrying: it works because the
    lab waited for IAM (3 s on an endpoint, more than the stand-in's 2); without the wait, AWS's refusal."""
    url, iam_s = standin
    code = {"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 1\n")}
    lab = Lab(backend="endpoint", endpoint_url=url, quiet=True, role_wait_s=0)
    try:
        with pytest.raises(ClientError) as caught:
            boto3.client("lambda").create_function(FunctionName="early", Runtime="python3.13", Role=lab.role_arn,
                                                   Handler="app.handler", Code=code)
        assert caught.value.response["Error"] == {"Code": "InvalidParameterValueException",
                                                  "Message": "The role defined for the function cannot be assumed "
                                                             "by Lambda."}
    finally:
        lab.cleanup()  # the role too: the next lab makes a new one
        lab.stop()
    started = time.monotonic()
    lab = Lab(backend="endpoint", endpoint_url=url, quiet=True)
    try:
        assert time.monotonic() - started >= ROLE_WAIT_S["endpoint"] > iam_s
        made = boto3.client("lambda").create_function(FunctionName="after", Runtime="python3.13", Role=lab.role_arn,
                                                      Handler="app.handler", Code=code)
        assert made["FunctionName"] == "after"
    finally:
        lab.cleanup()
        lab.stop()


def test_endpoint_backend_runs_handlers_and_cleans_up_only_its_own(server):
    outside = boto3.session.Session().client("sqs", endpoint_url=server, region_name="us-east-1",
                                             aws_access_key_id="x", aws_secret_access_key="y")
    keep = outside.create_queue(QueueName="not-the-labs")["QueueUrl"]
    output = io.StringIO()
    with redirect_stdout(output):
        lab = Lab(backend="endpoint", endpoint_url=server, role_wait_s=0, learner="ada")
    try:
        assert f"the endpoint {server}" in output.getvalue() and "lab.cleanup()" in output.getvalue()
        lam, sqs, queue, s3 = _create_world(lab)
        response = lam.invoke(FunctionName="greeter", Payload=json.dumps({"n": "Ada"}).encode())
        assert json.loads(response["Payload"].read()) == "hello Ada"  # the handler really ran
        tags = lam.list_tags(Resource=lam.get_function(FunctionName="greeter")["Configuration"]["FunctionArn"])
        # identity is this install's random id; the learner's name is only shown
        assert tags["Tags"]["lambda-lab"] == f"lambda-lab-{lab.install_id}"
        assert tags["Tags"]["lambda-lab-learner"] == "ada"
        kinds = {kind for kind, _ in lab.created}
        assert {"role", "function", "queue", "bucket", "rule"} <= kinds
        removed = lab.cleanup()
        assert {kind for kind, _ in removed} == kinds
        assert lam.list_functions()["Functions"] == []
        assert [u for u in sqs.list_queues().get("QueueUrls", [])] == [keep]  # never anything else
        assert s3.list_buckets()["Buckets"] == []
        assert boto3.client("events").list_rules()["Rules"] == []
        assert lab.cleanup() == []  # safe to run twice
    finally:
        lab.stop()
    assert os.environ.get("AWS_ENDPOINT_URL") is None  # the process is as it was


def test_cleanup_after_a_crash_finds_the_record(server):
    lab = Lab(backend="endpoint", endpoint_url=server, role_wait_s=0, learner="grace", quiet=True)
    _create_world(lab)
    lab.stop()  # a kernel that died before cleaning up
    again = Lab(backend="endpoint", endpoint_url=server, role_wait_s=0, learner="grace", quiet=True)
    try:
        removed = {kind for kind, _ in again.cleanup()}
        assert {"function", "queue", "bucket", "rule"} <= removed
        assert boto3.client("lambda").list_functions()["Functions"] == []
    finally:
        again.stop()


def test_cost_guard_refuses_a_sweep_above_the_budget(server):
    lab = Lab(backend="endpoint", endpoint_url=server, role_wait_s=0, learner="ada", quiet=True, budget_usd=0.000001)
    try:
        _create_world(lab)
        with pytest.raises(CostGuardError) as info:
            lambda_lab.power_tune("greeter", payload={"n": "x"}, memory_sizes=(128, 1024), invocations=5,
                                  progress=False)
        assert "above this lab's budget" in str(info.value)
        assert boto3.client("lambda").list_versions_by_function(FunctionName="greeter")["Versions"][1:] == []
        lab.guard_cost(0.0000001, "a tiny test")  # under the budget: allowed
        lab.cleanup()
    finally:
        lab.stop()


def test_no_credentials_ever_printed(server):
    output = io.StringIO()
    with redirect_stdout(output):
        lab = Lab(seed=1)
        secret = lab._engine.credentials["AWS_SECRET_ACCESS_KEY"]
        print(repr(lab))
        lab.stop()
    assert secret not in output.getvalue() and "AWS_SECRET" not in output.getvalue()


def test_local_only_views_explain_themselves_on_other_backends(server):
    lab = Lab(backend="endpoint", endpoint_url=server, role_wait_s=0, learner="ada", quiet=True)
    try:
        with pytest.raises(RuntimeError) as info:
            lab.clock  # lab.invocations is rebuilt from CloudWatch Logs there (tests/test_remote_views.py)
        assert "On AWS: time is real" in str(info.value)
    finally:
        lab.cleanup()
        lab.stop()


def test_real_account_is_never_the_default(monkeypatch):
    monkeypatch.delenv("LAMBDA_LAB_BACKEND", raising=False)
    with Lab(quiet=True) as lab:
        assert lab.backend == "local" and lab.account == "123456789012"


def test_aws_backend_without_credentials_says_what_to_do(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    boto3.DEFAULT_SESSION = None
    with pytest.raises(RuntimeError) as info:
        Lab(backend="aws", quiet=True)
    assert "No AWS credentials found" in str(info.value)


def test_the_local_lab_records_but_does_not_tag():
    """Tags tell one installation's resources from another's on a shared account; a local AWS is the lab's alone,
    so requests go out as the learner wrote them (notebook 09 prints them) and clean-up still removes everything."""
    with lambda_lab.Lab(seed=3, quiet=True) as lab:
        sent = []
        lam = boto3.client("lambda")
        lam.meta.events.register("before-send.lambda", lambda request, **_: sent.append(request.body))
        lam.create_function(FunctionName="untagged", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                            Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 1\n")})
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="untagged")["QueueUrl"]
        assert b"Tags" not in sent[0] and b"lambda-lab-learner" not in sent[0]
        assert lam.get_function(FunctionName="untagged").get("Tags", {}) == {}
        assert sqs.list_queue_tags(QueueUrl=queue).get("Tags", {}) == {}
        mine = [("role", "lambda-lab-execution-role"), ("function", "untagged"), ("queue", queue)]
        assert lab.created == mine
        assert sorted(lab.cleanup()) == sorted(mine)
        assert lam.list_functions()["Functions"] == []
