"""A handler really runs: return values, context, environment, logs, cold and warm starts."""

import base64
import json
import math
import re
import threading

import boto3
import pytest

import lambda_lab
from conftest import invoke, run_in_fresh_process

REPORT = re.compile(r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d{2}) ms\t"
                    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\t"
                    r"Max Memory Used: (?P<used>\d+) MB(\tInit Duration: (?P<init>\d+\.\d{2}) ms)?$", re.M)


def test_readme_example_answers_like_aws(lab, lam, make_function):
    name = make_function("""
        def handler(event, context):
            return {"greeting": f"Hello, {event['name']}!"}
    """)
    response, payload, log = invoke(lam, name, {"name": "Ada"})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert payload == {"greeting": "Hello, Ada!"}
    lines = log.strip().splitlines()
    request_id = REPORT.search(log).group("id")
    assert f"START RequestId: {request_id} Version: $LATEST" in lines
    assert f"END RequestId: {request_id}" in lines
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\t")


def test_report_line_has_tabs_decimals_and_init_only_when_cold(lab, lam, make_function):
    name = make_function("def handler(e, c):\n    return 1\n", MemorySize=256)
    _, _, cold = invoke(lam, name)
    _, _, warm = invoke(lam, name)
    exact = [i.result for i in lab.invocations if i.function_name == name]
    cold_report, warm_report = REPORT.search(cold), REPORT.search(warm)
    assert cold_report and warm_report
    assert cold_report.group("init") is not None and warm_report.group("init") is None
    assert cold_report.group("memory") == "256"
    # since August 2025 the init phase is billed: Billed = ceil(Duration + Init Duration), of the exact figures
    assert int(cold_report.group("billed")) == math.ceil(exact[0].duration_ms + exact[0].init_ms)
    assert int(warm_report.group("billed")) == max(1, math.ceil(exact[1].duration_ms))
    assert (cold_report.group("duration"), cold_report.group("init")) == (f"{exact[0].duration_ms:.2f}",
                                                                          f"{exact[0].init_ms:.2f}")
    assert 5 <= int(warm_report.group("used")) <= 256  # measured, so plausible, not a constant


def test_module_code_runs_once_per_environment_and_globals_survive(lam, make_function):
    name = make_function("""
        import os, tempfile
        COUNT = 0
        print("init ran")
        def handler(event, context):
            global COUNT
            COUNT += 1
            path = os.path.join(tempfile.gettempdir(), "seen.txt")
            with open(path, "a") as f:
                f.write("x")
            return {"count": COUNT, "tmp": open(path).read()}
    """)
    results = [invoke(lam, name)[1] for _ in range(3)]
    assert results == [{"count": 1, "tmp": "x"}, {"count": 2, "tmp": "xx"}, {"count": 3, "tmp": "xxx"}]


def test_context_object_has_every_attribute(lam, make_function):
    name = make_function("""
        import time
        def handler(event, context):
            first = context.get_remaining_time_in_millis()
            time.sleep(0.05)
            return {
                "request_id": context.aws_request_id, "name": context.function_name,
                "version": context.function_version, "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb, "group": context.log_group_name,
                "stream": context.log_stream_name, "cognito": context.identity.cognito_identity_id,
                "client_context": context.client_context, "tenant": context.tenant_id,
                "first": first, "second": context.get_remaining_time_in_millis(),
            }
    """, Timeout=7, MemorySize=512)
    response, ctx, log = invoke(lam, name)
    assert ctx["request_id"] in log
    assert ctx["name"] == name and ctx["version"] == "$LATEST"
    assert ctx["arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert ctx["memory"] == "512"  # a string, as in AWS's Python runtime
    assert ctx["group"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", ctx["stream"])
    assert ctx["cognito"] is None and ctx["client_context"] is None and ctx["tenant"] is None
    assert 6000 < ctx["first"] <= 7000
    assert ctx["first"] - ctx["second"] >= 40


def test_qualified_arn_in_context_when_caller_names_a_version(lam, make_function):
    name = make_function("def handler(e, c):\n    return c.invoked_function_arn\n")
    version = lam.publish_version(FunctionName=name)["Version"]
    _, arn, _ = invoke(lam, name, Qualifier=version)
    assert arn.endswith(f":function:{name}:{version}")


def test_client_context_reaches_the_handler(lam, make_function):
    import base64

    name = make_function("def handler(e, c):\n    return c.client_context.custom\n")
    context = base64.b64encode(json.dumps({"custom": {"team": "blue"}}).encode()).decode()
    _, custom, _ = invoke(lam, name, ClientContext=context)
    assert custom == {"team": "blue"}


def test_environment_has_reserved_variables_and_the_functions_own_only(lab, lam, make_function):
    source = """
        import os
        def handler(event, context):
            return dict(os.environ)
    """
    name = make_function(source, Environment={"Variables": {"STAGE": "dev", "TZ": "Europe/Paris"}}, MemorySize=256)
    other = make_function(source)
    _, env, _ = invoke(lam, name)
    _, other_env, _ = invoke(lam, other)
    assert env["STAGE"] == "dev" and "STAGE" not in other_env
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"].startswith(tuple("0123456789"))
    assert env["TZ"] == "Europe/Paris" and other_env["TZ"] == ":UTC"
    for key in ("LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN"):
        assert env[key]
    assert env["AWS_ACCESS_KEY_ID"] != "FOOBARKEY"  # the lab's own generated credentials, not moto's


def test_published_version_keeps_its_code_and_environment(lam, make_function):
    name = make_function("def handler(e, c):\n    import os\n    return ['v1', os.environ['COLOUR']]\n",
                         Environment={"Variables": {"COLOUR": "red"}})
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_code(FunctionName=name, ZipFile=lambda_lab.zip_source(
        "def handler(e, c):\n    import os\n    return ['v2', os.environ['COLOUR']]\n"))
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"COLOUR": "blue"}})
    assert invoke(lam, name)[1] == ["v2", "blue"]
    response, payload, log = invoke(lam, name, Qualifier=version)
    assert payload == ["v1", "red"]
    assert response["ExecutedVersion"] == version
    assert f"Version: {version}" in log


def test_code_change_retires_warm_environments(lab, lam, make_function):
    name = make_function("N = 0\ndef handler(e, c):\n    global N\n    N += 1\n    return ['old', N]\n")
    assert invoke(lam, name)[1] == ["old", 1]
    assert invoke(lam, name)[1] == ["old", 2]
    lam.update_function_code(FunctionName=name, ZipFile=lambda_lab.zip_source(
        "N = 0\ndef handler(e, c):\n    global N\n    N += 1\n    return ['new', N]\n"))
    assert invoke(lam, name)[1] == ["new", 1]
    lam.update_function_configuration(FunctionName=name, MemorySize=192)
    response, payload, log = invoke(lam, name)
    assert payload == ["new", 1] and "Init Duration" in log
    assert {e.config.memory_mb for e in lab.environments(name)} == {192}


def test_idle_environments_expire():
    # a lab of its own (Lab(idle_timeout=...) replaces the module's lab), so in a fresh process
    runs = run_in_fresh_process("""
        import base64, json, time, boto3, lambda_lab
        with lambda_lab.Lab(seed=5, quiet=True, idle_timeout=1.0) as lab:
            lam = boto3.client("lambda")
            lam.create_function(FunctionName="idle", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                Code={"ZipFile": lambda_lab.zip_source("import os\\ndef handler(e, c):\\n    return os.getpid()\\n")})
            def call():
                reply = lam.invoke(FunctionName="idle", LogType="Tail")
                cold = "Init Duration" in base64.b64decode(reply["LogResult"]).decode()
                return [json.loads(reply["Payload"].read()), cold, len(lab.environments("idle"))]
            runs = [call(), call()]
            time.sleep(1.2)  # idle for longer than idle_timeout: the environment is retired
            print(json.dumps(runs + [call()]))
    """)
    (first_pid, first_cold, _), (warm_pid, warm_cold, _), (later_pid, later_cold, envs) = runs
    assert first_cold and not warm_cold and warm_pid == first_pid
    assert later_cold and later_pid != first_pid and envs == 1


def test_concurrent_invocations_get_separate_environments(lab, lam, make_function):
    name = make_function("""
        import os, time
        def handler(event, context):
            time.sleep(0.3)
            return os.getpid()
    """)
    pids = []

    def call():
        client = boto3.client("lambda")
        pids.append(json.loads(client.invoke(FunctionName=name)["Payload"].read()))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(pids)) == 3
    assert len(lab.environments(name)) == 3


def test_print_and_logging_land_in_cloudwatch_in_lambdas_format(lam, make_function):
    name = make_function("""
        import logging
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        def handler(event, context):
            print("plain print")
            logger.info("structured %s", "hello")
            logging.getLogger("quiet").debug("not shown")
            return "ok"
    """)
    response, _, tail = invoke(lam, name)
    request_id = REPORT.search(tail).group("id")
    assert "plain print\n" in tail
    assert re.search(rf"^\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\tstructured hello$", tail,
                     re.M)
    assert "not shown" not in tail
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])
    messages = [e["message"] for e in logs.get_log_events(logGroupName=f"/aws/lambda/{name}",
                                                          logStreamName=streams[0]["logStreamName"])["events"]]
    assert messages[0].startswith("INIT_START")
    assert messages[1] == f"START RequestId: {request_id} Version: $LATEST"
    assert "plain print" in messages and messages[-2] == f"END RequestId: {request_id}"


def test_log_result_is_the_last_4_kb(lam, make_function):
    name = make_function("def handler(e, c):\n    for i in range(2000):\n        print(f'line {i:05d}')\n")
    _, _, tail = invoke(lam, name)
    assert len(tail.encode()) == 4096
    assert "line 01999" in tail and "line 00000" not in tail
    assert tail.rstrip().splitlines()[-1].startswith("REPORT")


def test_handler_boto3_calls_reach_the_same_aws(lab, lam, make_function):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="shared-state")
    s3.put_object(Bucket="shared-state", Key="in.txt", Body=b"from the notebook")
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName="notes", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    name = make_function("""
        import boto3
        s3 = boto3.client("s3")
        table = boto3.resource("dynamodb").Table("notes")
        def handler(event, context):
            text = s3.get_object(Bucket="shared-state", Key="in.txt")["Body"].read().decode()
            s3.put_object(Bucket="shared-state", Key="out.txt", Body=text.upper().encode())
            table.put_item(Item={"id": "1", "text": text})
            return text
    """, Timeout=10, MemorySize=1024)
    response, payload, _ = invoke(lam, name)
    assert payload == "from the notebook", payload
    assert s3.get_object(Bucket="shared-state", Key="out.txt")["Body"].read() == b"FROM THE NOTEBOOK"
    item = dynamodb.get_item(TableName="notes", Key={"id": {"S": "1"}})["Item"]
    assert item["text"] == {"S": "from the notebook"}


def test_endpoint_listens_on_loopback_and_refuses_strangers(lab, lam, make_function):
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    assert lab.endpoint_url.startswith("http://127.0.0.1:")
    url = lab.endpoint_url + "/2015-03-31/functions/"

    def status(headers):
        try:
            return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5).status
        except urllib.error.HTTPError as e:
            return e.code

    assert status({}) == 403  # unsigned
    forged = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("AKIAFORGEDFORGED0000", "not-the-secret"), "lambda", "us-east-1").add_auth(forged)
    assert status(dict(forged.headers)) == 403
    # the credentials a handler is given, read the way a handler reads them
    creds = invoke(lam, make_function("import os\ndef handler(e, c):\n    return dict(os.environ)\n"))[1]
    genuine = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"], creds["AWS_SESSION_TOKEN"]),
              "lambda", "us-east-1").add_auth(genuine)
    assert status(dict(genuine.headers)) == 200


def test_third_party_modules_need_to_be_packaged(lam, make_function):
    name = make_function("import psutil\ndef handler(e, c):\n    return 1\n")
    response, payload, _ = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == "Unable to import module 'app': No module named 'psutil'"
    packaged = make_function({"app.py": "import helper\ndef handler(e, c):\n    return helper.VALUE\n",
                              "helper/__init__.py": "VALUE = 42\n"})
    assert invoke(lam, packaged)[1] == 42


@pytest.mark.parametrize("memory", [128, 1769])
def test_reported_duration_is_the_cpu_share_model_of_the_measured_figures(lab, lam, make_function, memory):
    # mostly waiting, a little CPU: CPU time stays below wall time, so duration = off-CPU + CPU x 1769 / memory
    name = make_function("import time\ndef handler(e, c):\n    time.sleep(0.05)\n    return sum(range(30000))\n",
                         MemorySize=memory)
    for _ in range(2):  # cold, then warm
        _, payload, log = invoke(lam, name)
        result = [i for i in lab.invocations if i.function_name == name][-1].result
        assert payload == sum(range(30000)) and 0 < result.cpu_ms < result.wall_ms
        expected = (result.wall_ms - result.cpu_ms) + result.cpu_ms * 1769 / memory
        assert result.duration_ms == pytest.approx(expected, rel=1e-9)
        report = REPORT.search(log)
        assert report.group("duration") == f"{result.duration_ms:.2f}"
        assert int(report.group("billed")) == result.billed_ms
        assert result.billed_ms == max(1, math.ceil(result.duration_ms + (result.init_ms or 0)))
        assert (report.group("init") is not None) == result.cold
        if result.cold:
            assert report.group("init") == f"{result.init_ms:.2f}"


def test_invocation_history_keeps_measured_and_modelled_figures(lab, lam, make_function):
    name = make_function("def handler(e, c):\n    return sum(range(200000))\n", MemorySize=128)
    invoke(lam, name)
    record = [i for i in lab.invocations if i.function_name == name][-1]
    result = record.result
    assert record.executed_version == "$LATEST" and record.invocation_type == "RequestResponse"
    assert result.cold and result.init_ms > 0
    assert result.cpu_ms > 0 and result.wall_ms > 0
    # at 128 MB a CPU-bound handler gets 128/1769 of a vCPU, so the modelled duration is far above the wall time
    assert result.duration_ms > 5 * result.cpu_ms


def test_a_synchronous_responses_request_id_is_the_invocations(lab, lam, make_function):
    """AWS answers an Invoke with the request id that START, END and REPORT carry; callers match logs by it."""
    name = make_function("def handler(e, c):\n    return c.aws_request_id\n")
    response = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    request_id = json.loads(response["Payload"].read())
    assert response["ResponseMetadata"]["RequestId"] == request_id
    assert REPORT.search(base64.b64decode(response["LogResult"]).decode()).group("id") == request_id
