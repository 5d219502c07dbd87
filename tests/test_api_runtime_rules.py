"""Runtime-facing rules of Lambda's API: client context, marshalling, the handler's identity, INIT_START, and
the execution role's permissions checked when a DLQ or destination is configured (issue 11)."""

import base64
import json
import re

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_lab
from conftest import invoke


def _client_context(value: dict) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


# -- context.client_context, as awslambdaric's lambda_context.py builds it ------------------------------------

def test_client_context_is_an_object_with_a_client_object(lam, make_function):
    name = make_function("""
        def handler(event, context):
            cc = context.client_context
            client = cc.client
            return {"type": type(cc).__name__, "client_type": type(client).__name__,
                    "installation_id": client.installation_id, "app_title": client.app_title,
                    "app_version_name": client.app_version_name, "app_version_code": client.app_version_code,
                    "app_package_name": client.app_package_name, "custom": cc.custom, "env": cc.env,
                    "is_dict": isinstance(cc, dict), "repr": repr(cc)}
    """)
    sent = {"client": {"installation_id": "i-1", "app_title": "Shop", "app_version_name": "1.2",
                       "app_version_code": "12", "app_package_name": "com.example.shop"},
            "custom": {"team": "blue"}, "env": {"platform": "Android", "locale": "en_GB"}}
    _, got, _ = invoke(lam, name, ClientContext=_client_context(sent))
    assert got["type"] == "ClientContext" and got["client_type"] == "Client" and got["is_dict"] is False
    assert (got["installation_id"], got["app_title"], got["app_version_name"], got["app_version_code"],
            got["app_package_name"]) == ("i-1", "Shop", "1.2", "12", "com.example.shop")
    assert got["custom"] == {"team": "blue"} and got["env"] == {"platform": "Android", "locale": "en_GB"}
    assert got["repr"].startswith("ClientContext([custom={'team': 'blue'},env=")
    assert "client=Client([installation_id=i-1,app_title=Shop," in got["repr"]


def test_client_context_fields_left_out_are_none_and_no_context_is_none(lam, make_function):
    name = make_function("""
        def handler(event, context):
            cc = context.client_context
            if cc is None:
                return None
            return [cc.client, cc.custom, cc.env, hasattr(cc, "get")]
    """)
    assert invoke(lam, name, ClientContext=_client_context({"custom": {"a": 1}}))[1] == [None, {"a": 1}, None, False]
    assert invoke(lam, name)[1] is None


# -- marshalling the response, as awslambdaric's lambda_runtime_marshaller.py -----------------------------------

@pytest.mark.parametrize("source, message", [
    ("def handler(e, c):\n    x = []\n    for _ in range(100000):\n        x = [x]\n    return x\n",
     r"Unable to marshal response: maximum recursion depth exceeded.*"),
    ("def handler(e, c):\n    d = {}\n    d['self'] = d\n    return d\n",
     r"Unable to marshal response: Circular reference detected"),
    ("def handler(e, c):\n    return {(1, 2): 'tuple key'}\n",
     r"Unable to marshal response: keys must be str, int, float, bool or None, not tuple"),
])
def test_any_failure_to_encode_is_a_marshal_error(lam, make_function, source, message):
    name = make_function(source)
    response, error, log = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.MarshalError", error
    assert re.fullmatch(message, error["errorMessage"]), error["errorMessage"]
    assert error["stackTrace"] == []
    assert invoke(lam, name)[1]["errorType"] == "Runtime.MarshalError"  # the environment survives it


def test_nan_and_infinity_are_written_as_the_python_runtime_writes_them(lam, make_function):
    # awslambdaric encodes with allow_nan=True: NaN and Infinity are not marshal errors
    name = make_function("def handler(e, c):\n    return [float('nan'), float('inf'), -float('inf')]\n")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response
    assert response["Payload"].read() == b"[NaN, Infinity, -Infinity]"


# -- INIT_START: Lambda's runtime-version line ----------------------------------------------------------------

def test_init_start_line_names_the_runtime_version_and_its_arn(lab, lam, make_function):
    name = make_function("def handler(e, c):\n    return 1\n")
    invoke(lam, name)
    invoke(lam, name)  # warm: no second INIT_START
    logs = boto3.client("logs")
    stream = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"][0]["logStreamName"]
    messages = [e["message"] for e in logs.get_log_events(logGroupName=f"/aws/lambda/{name}",
                                                          logStreamName=stream)["events"]]
    init = [m for m in messages if m.startswith("INIT_START")]
    assert init == ["INIT_START Runtime Version: python:3.13.v14\tRuntime Version ARN: "
                    "arn:aws:lambda:us-east-1::runtime:7b620fc2e66107a1046b140b9d320295811af3ad5d4c6a011fad1fa65127e9e6"]


def test_init_start_line_carries_the_functions_region_and_runtime():
    from conftest import run_in_fresh_process

    got = run_in_fresh_process("""
        import json, boto3, lambda_lab
        with lambda_lab.Lab(seed=3, quiet=True, region="eu-south-1") as lab:
            lam = boto3.client("lambda", region_name="eu-south-1")
            lam.create_function(FunctionName="f", Runtime="python3.12", Role=lab.role_arn, Handler="app.handler",
                                Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\\n    return 1\\n")})
            log = lam.invoke(FunctionName="f", LogType="Tail")["LogResult"]
            import base64
            print(json.dumps(base64.b64decode(log).decode().splitlines()[0]))
    """)
    assert re.fullmatch(r"INIT_START Runtime Version: python:3\.12\.v\d+\tRuntime Version ARN: "
                        r"arn:aws:lambda:eu-south-1::runtime:[0-9a-f]{64}", got), got


# -- the handler's identity: its execution role's session -----------------------------------------------------

_WHO_AM_I = """
    import os
    import boto3
    def handler(event, context):
        me = boto3.client("sts").get_caller_identity()
        return {"Arn": me["Arn"], "UserId": me["UserId"], "Account": me["Account"],
                "key": os.environ["AWS_ACCESS_KEY_ID"], "token": bool(os.environ.get("AWS_SESSION_TOKEN")),
                "queues": "QueueUrls" in boto3.client("sqs").list_queues()}
"""


def test_handler_calls_aws_as_its_execution_roles_session(lab, lam, make_function):
    first, second = make_function(_WHO_AM_I, Timeout=30), make_function(_WHO_AM_I, Timeout=30)
    role = boto3.client("iam").get_role(RoleName=lab.role_arn.split("/")[-1])["Role"]
    seen = {}
    for name in (first, second):
        response, me, _ = invoke(lam, name)
        assert "FunctionError" not in response, me
        assert me["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{role['RoleName']}/{name}"
        assert me["UserId"] == f"{role['RoleId']}:{name}" and me["Account"] == "123456789012"
        assert me["key"].startswith("ASIA") and me["token"]
        assert isinstance(me["queues"], bool)  # other services still answer the session's signed calls
        seen[name] = me["key"]
    assert seen[first] != seen[second]  # each function its own session


def test_a_role_change_gives_new_environments_the_new_roles_session(lab, lam, make_function):
    iam = boto3.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    other = iam.create_role(RoleName="rules-other-role", AssumeRolePolicyDocument=trust)["Role"]
    name = make_function(_WHO_AM_I, Timeout=30)
    invoke(lam, name)
    lam.update_function_configuration(FunctionName=name, Role=other["Arn"])
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    _, me, _ = invoke(lam, name)
    assert me["Arn"] == f"arn:aws:sts::123456789012:assumed-role/rules-other-role/{name}"


# -- DLQs and destinations need the execution role's permission, checked when they are set -------------------

_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
_roles = iter(range(10_000))


def _function_with_own_role(lam, lab, *actions: str, deny: str | None = None) -> tuple[str, str]:
    """A function whose execution role allows exactly `actions` (and denies `deny`); returns (name, role name)."""
    iam = boto3.client("iam")
    role_name = f"rules-role-{next(_roles)}"
    arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=_TRUST)["Role"]["Arn"]
    statements = [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}] if actions else []
    if deny:
        statements.append({"Effect": "Deny", "Action": deny, "Resource": "*"})
    if statements:
        iam.put_role_policy(RoleName=role_name, PolicyName="scoped",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    name = f"fn-{role_name}"
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 1\n")})
    return name, role_name


def _targets(lab, lam) -> dict[str, str]:
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName="rules-dlq")["QueueUrl"]
    boto3.client("s3").create_bucket(Bucket="rules-failures")
    receiver, _ = _function_with_own_role(lam, lab, "logs:PutLogEvents")
    return {"sqs": sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
            "sns": sns.create_topic(Name="rules-dlq")["TopicArn"],
            "lambda": lam.get_function(FunctionName=receiver)["Configuration"]["FunctionArn"],
            "events": "arn:aws:events:us-east-1:123456789012:event-bus/default",
            "s3": "arn:aws:s3:::rules-failures"}


def _refused(call, message: str) -> None:
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"].startswith(message), error["Message"]


@pytest.mark.parametrize("kind, action, words", [("sqs", "sqs:SendMessage", "SendMessage on SQS"),
                                                 ("sns", "sns:Publish", "Publish on SNS")])
def test_a_dead_letter_queue_the_role_cannot_send_to_is_refused(lab, lam, kind, action, words):
    target = _targets(lab, lam)[kind]
    name, role = _function_with_own_role(lam, lab, "logs:PutLogEvents")
    message = f"The provided execution role does not have permissions to call {words}"
    _refused(lambda: lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": target}),
             message)
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
    role_arn = lam.get_function_configuration(FunctionName=name)["Role"]
    _refused(lambda: lam.create_function(FunctionName=f"{name}-new", Runtime="python3.13", Role=role_arn,
                                         Handler="app.handler", DeadLetterConfig={"TargetArn": target},
                                         Code={"ZipFile": lambda_lab.zip_source("x = 1\n")}), message)
    assert f"{name}-new" not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    boto3.client("iam").put_role_policy(RoleName=role, PolicyName="send", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": target}]}))
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": target})
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": target}


@pytest.mark.parametrize("kind, action, words, side", [
    ("sqs", "sqs:SendMessage", "SendMessage on SQS", "OnFailure"),
    ("sns", "sns:Publish", "Publish on SNS", "OnSuccess"),
    ("lambda", "lambda:InvokeFunction", "InvokeFunction on Lambda", "OnFailure"),
    ("events", "events:PutEvents", "PutEvents on EventBridge", "OnSuccess"),
    ("s3", "s3:PutObject", "PutObject on S3", "OnFailure"),
])
def test_a_destination_the_role_cannot_send_to_is_refused(lab, lam, kind, action, words, side):
    target = _targets(lab, lam)[kind]
    name, role = _function_with_own_role(lam, lab, "logs:PutLogEvents")
    message = f"The provided execution role does not have permissions to call {words}"
    config = {side: {"Destination": target}}
    _refused(lambda: lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=config), message)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    _refused(lambda: lam.update_function_event_invoke_config(FunctionName=name, DestinationConfig=config), message)
    boto3.client("iam").put_role_policy(RoleName=role, PolicyName="send", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}))
    lam.update_function_event_invoke_config(FunctionName=name, DestinationConfig=config)
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["DestinationConfig"][side]["Destination"] == target and got["MaximumRetryAttempts"] == 1


def test_the_role_checked_is_the_one_of_the_version_an_alias_names(lab, lam):
    target = _targets(lab, lam)["sqs"]
    name, _ = _function_with_own_role(lam, lab, "logs:PutLogEvents")  # version 1 keeps this role
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    sender, _ = _function_with_own_role(lam, lab, "sqs:SendMessage")
    lam.update_function_configuration(FunctionName=name, Role=lam.get_function(FunctionName=sender)[
        "Configuration"]["Role"])
    destination = {"OnFailure": {"Destination": target}}
    _refused(lambda: lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live",
                                                          DestinationConfig=destination),
             "The provided execution role does not have permissions to call SendMessage on SQS")
    _refused(lambda: lam.put_function_event_invoke_config(FunctionName=f"{name}:{version}",
                                                          DestinationConfig=destination),
             "The provided execution role does not have permissions to call SendMessage on SQS")
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=destination)  # $LATEST's role may


def test_a_managed_policy_grants_it_as_the_lessons_do(lab, lam):
    target = _targets(lab, lam)["sqs"]
    name, role = _function_with_own_role(lam, lab, "logs:PutLogEvents")
    boto3.client("iam").attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess")
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": target})
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": target}})


def test_a_handler_signs_for_an_aws_iam_function_url_with_its_roles_session(lab, lam, make_function):
    target = make_function("def handler(e, c):\n    return {'statusCode': 200, 'body': 'inner'}\n")
    lam.create_function_url_config(FunctionName=target, AuthType="AWS_IAM")
    url = lab.function_url(target)
    caller = make_function("""
        import urllib.request
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        def handler(event, context):
            request = AWSRequest(method="GET", url=event["url"])
            SigV4Auth(boto3.Session().get_credentials().get_frozen_credentials(), "lambda", "us-east-1").add_auth(request)
            with urllib.request.urlopen(urllib.request.Request(event["url"], headers=dict(request.headers))) as answer:
                return [answer.status, answer.read().decode()]
    """, Timeout=30)
    response, got, _ = invoke(lam, caller, {"url": url})
    assert "FunctionError" not in response, got
    assert got == [200, "inner"]


def test_asynchronous_invocations_get_no_client_context(lab, lam, make_function):
    """AWS passes ClientContext to synchronous invocations only; an Event call's handler sees None."""
    name = make_function("def handler(event, context):\n    return repr(context.client_context)\n")
    context = _client_context({"custom": {"team": "blue"}})
    assert invoke(lam, name, ClientContext=context)[1].startswith("ClientContext(")
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}", ClientContext=context)
    lab.wait_for_async()
    last = [i for i in lab.invocations if i.function_name == name][-1]
    assert last.invocation_type == "Event" and json.loads(last.result.payload) == "None"


def test_a_dead_letter_target_that_is_not_a_queue_or_topic_is_refused(lab, lam, make_function):
    name = make_function("def handler(event, context):\n    return 1\n")
    _refused(lambda: lam.update_function_configuration(
        FunctionName=name, DeadLetterConfig={"TargetArn": "arn:aws:s3:::some-bucket"}),
        "The dead-letter target arn:aws:s3:::some-bucket is neither an Amazon SQS queue nor an Amazon SNS topic")
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)


def test_a_throttle_says_when_to_retry_in_the_retry_after_header(lam, make_function):
    """TooManyRequestsException's retryAfterSeconds travels in the Retry-After header, where botocore reads it."""
    name = make_function("def handler(event, context):\n    return 1\n")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as throttled:
        lam.invoke(FunctionName=name, Payload=b"{}")
    response = throttled.value.response
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["retryAfterSeconds"] == "1"
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
