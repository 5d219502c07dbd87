"""The lab's entry points and HTTP doors at their edges: nothing leaks to real AWS after stop, only this kernel
signs, stale signatures are refused, and bad arguments are answered with the argument's name and the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import lambda_lab
from lambda_lab import _backends

HELLO = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello'}\n"


def dated(auth_class, when: datetime):
    """botocore's own signer, with X-Amz-Date set by hand (a replayed or far-off request)."""

    class Dated(auth_class):
        def add_auth(self, request):
            request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
            self._modify_request_before_signing(request)
            canonical = self.canonical_request(request)
            self._inject_signature_to_request(request, self.signature(self.string_to_sign(request, canonical),
                                                                      request))

    return Dated


def send(method, url, creds, service, region, when=None, body=b"", headers=None, auth_class=SigV4Auth):
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = dated(auth_class, when) if when else auth_class
    signer(creds, service, region).add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers.items()), timeout=30)


def now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def lab_credentials(lab):
    c = lab._engine.credentials  # the handlers' generated keys: what the loopback endpoint accepts
    return Credentials(c["AWS_ACCESS_KEY_ID"], c["AWS_SECRET_ACCESS_KEY"], c["AWS_SESSION_TOKEN"])


# -- 1. after a local lab stops, boto3 never reaches the network ------------------------------------------------
STOPPED_SCRIPT = textwrap.dedent("""
    import json, socket
    network = []
    def no_dns(*args, **kwargs):
        network.append(("getaddrinfo", str(args[0])))
        raise OSError("this test has no network")
    def no_connect(self, address):
        network.append(("connect", str(address)))
        raise OSError("this test has no network")
    real_dns, real_connect = socket.getaddrinfo, socket.socket.connect
    import boto3, lambda_lab
    from moto import mock_aws

    before = boto3.client("s3")                        # made before the lab
    lab = lambda_lab.Lab(quiet=True, seed=1)
    during = boto3.client("lambda")                    # made while it ran
    during.list_functions()
    lab.stop()
    socket.getaddrinfo, socket.socket.connect = no_dns, no_connect  # from here on, count every try
    calls = {"before": lambda: before.list_buckets(), "during": lambda: during.list_functions(),
             "after": lambda: boto3.client("s3").list_buckets(),
             "session": lambda: boto3.Session().client("sqs", region_name="eu-west-1").list_queues(),
             "wait_for_async": lambda: lab.wait_for_async()}
    out = {}
    for name, call in calls.items():
        try:
            call()
            out[name] = ["answered", ""]
        except Exception as e:
            out[name] = [type(e).__name__, str(e)]
    out["network"] = list(network)
    socket.getaddrinfo, socket.socket.connect = real_dns, real_connect

    with mock_aws():                                   # a learner's own moto test, as the plugin runs one
        lambda_lab.install()
        boto3.client("s3").create_bucket(Bucket="mine")
        lambda_lab.uninstall()
        out["mock_aws"] = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    again = lambda_lab.Lab(quiet=True, seed=1)         # a new lab lifts the guard
    out["new_lab"] = boto3.client("s3").list_buckets()["Buckets"]
    again.stop()
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def after_stop(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    (home / "credentials").write_text("[default]\naws_access_key_id = AKIAREALLOOKING00000\n"
                                      "aws_secret_access_key = the-learners-real-secret\n")
    (home / "config").write_text("[default]\nregion = us-east-1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"), AWS_CONFIG_FILE=str(home / "config"),
               AWS_EC2_METADATA_DISABLED="true", LAMBDA_LAB_HOME=str(home / "lab"))
    done = subprocess.run([sys.executable, "-c", STOPPED_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("client", ["before", "during", "after", "session"])
def test_boto3_after_a_local_lab_stops_is_refused_with_a_clear_error(after_stop, client):
    kind, message = after_stop[client]
    assert kind == "LabStoppedError", (kind, message)
    assert "lab.stop()" in message and "lambda_lab.Lab()" in message and "Lab(backend='aws')" in message


def test_the_refusal_comes_before_any_dns_lookup_or_connect(after_stop):
    assert after_stop["network"] == []


def test_a_users_own_mock_aws_and_a_new_lab_are_not_guarded(after_stop):
    assert after_stop["mock_aws"] == ["mine"]
    assert after_stop["new_lab"] == []


def test_wait_for_async_after_stop_says_the_lab_was_stopped(after_stop):
    kind, message = after_stop["wait_for_async"]
    assert kind == "LabStoppedError" and "this lab was stopped" in message and "lambda_lab.Lab()" in message


# -- 2. only this kernel and its handlers can sign for AWS_IAM doors -----------------------------------------------
@pytest.fixture(scope="module")
def iam_url(lab):
    lam = boto3.client("lambda")
    lam.create_function(FunctionName="iam-door", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(HELLO)})
    lam.create_function_url_config(FunctionName="iam-door", AuthType="AWS_IAM")
    return lab.function_url("iam-door")


def test_the_kernel_has_its_own_credentials_not_motos(lab):
    frozen = boto3.Session().get_credentials().get_frozen_credentials()
    assert frozen.access_key != "FOOBARKEY" and frozen.secret_key != "FOOBARSECRET" and frozen.token


def test_aws_iam_function_url_refuses_motos_default_keys(lab, iam_url):
    answer = send("GET", iam_url, Credentials("FOOBARKEY", "FOOBARSECRET"), "lambda", lab.region)
    assert answer.status_code == 403 and answer.json() == {"Message": "Forbidden"}
    assert "does not belong to this lab" in answer.headers["x-lambda-lab-reason"]


def test_aws_iam_function_url_accepts_the_sessions_signature(lab, iam_url):
    answer = send("GET", iam_url, boto3.Session().get_credentials().get_frozen_credentials(), "lambda", lab.region)
    assert answer.status_code == 200 and answer.text == "hello"


# -- 3. signatures outside AWS's 15-minute window, and scopes that do not fit --------------------------------------
def test_loopback_refuses_a_lab_signed_request_from_three_days_ago(lab):
    url = lab.endpoint_url + "/2015-03-31/functions/"
    fresh = send("GET", url, lab_credentials(lab), "lambda", lab.region)
    assert fresh.status_code == 200
    stale = send("GET", url, lab_credentials(lab), "lambda", lab.region, when=now() - timedelta(days=3))
    assert stale.status_code == 403 and stale.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert stale.json()["message"].startswith("Signature expired:") and "- 15 min." in stale.json()["message"]


def test_loopback_refuses_a_request_dated_20_minutes_ahead_and_accepts_10(lab):
    url = lab.endpoint_url + "/2015-03-31/functions/"
    ahead = send("GET", url, lab_credentials(lab), "lambda", lab.region, when=now() + timedelta(minutes=20))
    assert ahead.status_code == 403 and ahead.json()["message"].startswith("Signature not yet current:")
    near = send("GET", url, lab_credentials(lab), "lambda", lab.region, when=now() - timedelta(minutes=10))
    assert near.status_code == 200


def test_loopback_answers_s3_and_query_callers_in_their_own_error_shapes(lab):
    old = now() - timedelta(days=3)
    s3 = send("GET", lab.endpoint_url + "/", lab_credentials(lab), "s3", lab.region, when=old,
              auth_class=S3SigV4Auth)
    assert s3.status_code == 403 and "<Code>RequestTimeTooSkewed</Code>" in s3.text
    sts = send("POST", lab.endpoint_url + "/", lab_credentials(lab), "sts", lab.region, when=old,
               body=b"Action=GetCallerIdentity&Version=2011-06-15",
               headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert sts.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in sts.text
    assert "Signature expired" in sts.text


def test_loopback_refuses_an_unknown_region_or_a_mismatched_scope_date(lab):
    url = lab.endpoint_url + "/2015-03-31/functions/"
    mars = send("GET", url, lab_credentials(lab), "lambda", "mars-1")
    assert mars.status_code == 403 and "valid region, not 'mars-1'" in mars.json()["message"]
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(lab_credentials(lab), "lambda", lab.region).add_auth(request)
    headers = dict(request.headers.items())
    date = headers["X-Amz-Date"]
    yesterday = (now() - timedelta(days=1)).strftime("%Y%m%d")
    headers["Authorization"] = headers["Authorization"].replace(f"/{date[:8]}/", f"/{yesterday}/")
    answer = requests.get(url, headers=headers, timeout=30)
    assert answer.status_code == 403 and "Date in Credential scope does not match" in answer.json()["message"]


def test_loopback_refuses_a_signature_that_leaves_out_the_host(lab):
    class NoHost(SigV4Auth):
        def headers_to_sign(self, request):
            headers = super().headers_to_sign(request)
            del headers["host"]  # a signature that holds for any target it is replayed against
            return headers

    url = lab.endpoint_url + "/2015-03-31/functions/"
    answer = send("GET", url, lab_credentials(lab), "lambda", lab.region, auth_class=NoHost)
    assert answer.status_code == 403 and "SignedHeaders must include host and x-amz-date" in answer.json()["message"]


def test_front_door_refuses_a_stale_or_foreign_region_signature(lab, iam_url):
    creds = boto3.Session().get_credentials().get_frozen_credentials()
    stale = send("GET", iam_url, creds, "lambda", lab.region, when=now() - timedelta(days=3))
    assert stale.status_code == 403 and stale.json() == {"Message": "Forbidden"}
    assert "Signature expired" in stale.headers["x-lambda-lab-reason"]
    other = "eu-west-1" if lab.region != "eu-west-1" else "us-east-1"
    elsewhere = send("GET", iam_url, creds, "lambda", other)
    assert elsewhere.status_code == 403 and f"not '{other}'" in elsewhere.headers["x-lambda-lab-reason"]


# -- 4. unknown regions are refused at start, before anything starts -------------------------------------------------
def test_an_unknown_region_is_refused_at_start_and_the_running_lab_stays(lab):
    with pytest.raises(ValueError, match=r"region 'mars-1' is not an AWS region.*get_available_regions"):
        lambda_lab.Lab(region="mars-1", quiet=True)
    with pytest.raises(ValueError, match="region 'mars-1'"):
        lambda_lab.Lab(backend="endpoint", endpoint_url="http://127.0.0.1:9", region="mars-1", quiet=True)
    assert lambda_lab.Lab.current() is lab
    assert boto3.client("lambda").list_functions()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_bad_region_in_the_environment_is_refused_too(lab, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-middle-9")
    with pytest.raises(ValueError, match="region 'us-middle-9' is not an AWS region the local lab serves"):
        lambda_lab.Lab(quiet=True)
    assert lambda_lab.Lab.current() is lab


def test_regions_botocore_knows_or_a_newer_one_on_a_real_account():
    check_region = _backends.check_region
    assert check_region("eu-west-1", "local") == "eu-west-1" and check_region("cn-north-1", "local") == "cn-north-1"
    assert check_region("us-east-9", "aws") == "us-east-9"  # matches the aws partition: AWS itself will say
    with pytest.raises(ValueError, match="region 'us-east-9'"):
        check_region("us-east-9", "local")


# -- 5. every public entry point names the argument and the fix ------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"seed": "7"}, "seed must be a whole number"),
    ({"idle_timeout": 0}, "idle_timeout is in seconds and must be above 0"),
    ({"idle_timeout": "600"}, "idle_timeout is in seconds"),
    ({"budget_usd": -1}, "budget_usd is in US dollars and must be 0 or more"),
    ({"role_wait_s": -1}, r"role_wait_s is in seconds, from 0 to 60 \(e.g. Lab\(backend='endpoint', role_wait_s=0\)\)"),
    ({"role_wait_s": 600}, "role_wait_s is in seconds, from 0 to 60"),
    ({"role_wait_s": "3"}, "role_wait_s is in seconds"),
    ({"backend": "moto"}, "backend must be one of local, aws, endpoint"),
])
def test_bad_lab_arguments_are_refused_before_the_running_lab_is_touched(lab, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lambda_lab.Lab(quiet=True, **kwargs)
    assert lambda_lab.Lab.current() is lab


@pytest.mark.parametrize("timeout", [0, -5, "60", True])
def test_wait_for_async_refuses_a_timeout_that_cannot_be_waited(lab, timeout):
    with pytest.raises(ValueError, match=r"timeout is in seconds and must be above 0, or None"):
        lab.wait_for_async(timeout=timeout)


@pytest.mark.parametrize("kwargs, message", [
    ({"memory_sizes": []}, "memory_sizes is empty: give at least one size in MB"),
    ({"memory_sizes": 512}, "memory_sizes must be a list of sizes in MB"),
    ({"memory_sizes": [64, 512]}, r"memory_sizes: 64 is not a Lambda memory size.*from 128 to 10240"),
    ({"memory_sizes": [512.0]}, r"memory_sizes: 512.0 is not a Lambda memory size"),
    ({"memory_sizes": [20000]}, r"memory_sizes: 20000"),
    ({"invocations": 0}, "invocations must be a whole number of calls per size, at least 1"),
    ({"invocations": "10"}, "invocations must be a whole number"),
    ({"balanced_weight": 2}, r"balanced_weight must be from 0 \(all speed\) to 1 \(all cost\)"),
])
def test_power_tune_names_the_bad_argument_and_the_fix(lab, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lambda_lab.power_tune("iam-door", progress=False, **kwargs)


def test_power_tune_needs_a_function_name():
    with pytest.raises(ValueError, match="function must be a function's name or ARN"):
        lambda_lab.power_tune("", progress=False)


def test_power_tune_accepts_numpy_style_integers(lab, iam_url):
    class Size(int):  # what numpy's int64 offers: __index__
        pass

    result = lambda_lab.power_tune("iam-door", memory_sizes=[Size(256), 128, 128], invocations=1, progress=False)
    assert [row["memory_mb"] for row in result.table] == [128, 256]


def test_zip_source_names_its_arguments():
    with pytest.raises(TypeError, match=r"zip_source takes handler source text \(a str\) or \{path: content\}"):
        lambda_lab.zip_source(b"def handler(e, c): pass")
    with pytest.raises(ValueError, match="filename must be a relative path inside the package"):
        lambda_lab.zip_source(HELLO, filename="../app.py")
