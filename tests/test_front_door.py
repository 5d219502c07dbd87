"""The HTTP front door: real HTTP requests reach real handlers through API Gateway and function URL rules.

Everything is set up with plain boto3, as a learner would (create_rest_api, put_integration, create_deployment,
add_permission, create_function_url_config, ...); the requests are real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambda_lab import events
from lambda_lab.service._front_door import FrontDoor

ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
"""

REASON = "x-lambda-lab-reason"


@pytest.fixture(scope="module")
def door(lab):
    with FrontDoor() as front_door:
        yield front_door


@pytest.fixture(scope="module")
def apigw(lab):
    return boto3.client("apigateway")


@pytest.fixture(scope="module")
def apigw2(lab):
    return boto3.client("apigatewayv2")


def arn_of(lam, name):
    return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def grant_apigw(lam, function, api_id, pattern):
    region, account = function.split(":")[3:5]
    lam.add_permission(FunctionName=function, StatementId=f"apigw-{api_id}-{abs(hash(pattern))}",
                       Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:{region}:{account}:{api_id}/{pattern}")


def rest_api(apigw, lam, function, routes=(("GET", "/hello/{name}"),), stage="prod", grant="*/*/*",
             variables=None, timeout_ms=None, binary=(), authorization="NONE"):
    """A REST API whose routes all proxy to `function` (an ARN, maybe qualified), deployed to `stage`."""
    api_id = apigw.create_rest_api(name="lab-api")["id"]
    for media in binary:  # AWS reads the type from the path; moto 5.2.1 reads `value`, so give both
        apigw.update_rest_api(restApiId=api_id, patchOperations=[
            {"op": "add", "path": "/binaryMediaTypes/" + media.replace("/", "~1"), "value": media}])
    ids = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    region = function.split(":")[3]
    for method, path in routes:
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            here = parent.rstrip("/") + "/" + part
            if here not in ids:
                ids[here] = apigw.create_resource(restApiId=api_id, parentId=ids[parent], pathPart=part)["id"]
            parent = here
        apigw.put_method(restApiId=api_id, resourceId=ids[parent], httpMethod=method,
                          authorizationType=authorization)
        apigw.put_integration(restApiId=api_id, resourceId=ids[parent], httpMethod=method, type="AWS_PROXY",
                              integrationHttpMethod="POST",
                              uri=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function}"
                                  "/invocations",
                              **({"timeoutInMillis": timeout_ms} if timeout_ms else {}))
    apigw.create_deployment(restApiId=api_id, stageName=stage, variables=variables or {})
    if grant:
        grant_apigw(lam, function, api_id, grant)
    return api_id


def http_api(apigw2, lam, function, route_keys=("GET /hello/{name}",), stages=("$default",), version="2.0",
             grant="*/*", timeout_ms=None):
    api_id = apigw2.create_api(Name="lab-http-api", ProtocolType="HTTP")["ApiId"]
    integration = apigw2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function,
                                            PayloadFormatVersion=version,
                                            **({"TimeoutInMillis": timeout_ms} if timeout_ms else {}))
    for key in route_keys:
        apigw2.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}")
    for stage in stages:
        apigw2.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    if grant:
        grant_apigw(lam, function, api_id, grant)
    return api_id


def function_url(lam, name, auth="NONE", url_permission=True, invoke_permission=True):
    lam.create_function_url_config(FunctionName=name, AuthType=auth)
    if url_permission:
        lam.add_permission(FunctionName=name, StatementId="public-url", Action="lambda:InvokeFunctionUrl",
                           Principal="*", FunctionUrlAuthType="NONE")
    if invoke_permission:
        lam.add_permission(FunctionName=name, StatementId="public-invoke", Action="lambda:InvokeFunction",
                           Principal="*", InvokedViaFunctionUrl=True)


def keys(d):
    return set(d)


def signed_as(key, secret, service="lambda"):
    """A requests auth that SigV4-signs with credentials that are not the lab's."""
    def sign(prepared):
        request = AWSRequest(method=prepared.method, url=prepared.url, data=prepared.body or b"",
                             headers=dict(prepared.headers))
        SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
        prepared.headers.update(dict(request.headers.items()))
        return prepared
    return sign


# --- REST APIs (payload 1.0) ------------------------------------------------------------------------------

def test_rest_get_passes_query_and_path_parameters_as_a_v1_event(lab, lam, apigw, door, make_function):
    name = make_function(ECHO)
    api = rest_api(apigw, lam, arn_of(lam, name), variables={"table": "orders"})
    response = requests.get(door.rest_api_url(api, "prod") + "/hello/Ada%20L?x=1&x=2&empty=")
    assert response.status_code == 200, response.headers.get(REASON)
    event = response.json()
    assert event["resource"] == "/hello/{name}"
    assert event["path"] == "/hello/Ada%20L"  # REST APIs pass the path as the client encoded it
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"name": "Ada L"}
    assert event["queryStringParameters"] == {"x": "2", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "empty": [""]}
    assert event["stageVariables"] == {"table": "orders"}
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "prod" and context["path"] == "/prod/hello/Ada%20L"
    assert context["resourcePath"] == "/hello/{name}" and context["apiId"] == api
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["Host"] == f"{api}.execute-api.us-east-1.amazonaws.com"
    assert event["headers"]["X-Forwarded-Proto"] == "https"
    # the same keys as the course's sample event, so what learners saw in notebook 02 is what arrives
    sample = events.api_gateway_rest()
    assert keys(event) == keys(sample)
    assert keys(context) == keys(sample["requestContext"])
    assert keys(context["identity"]) == keys(sample["requestContext"]["identity"])
    assert lab.invocations[-1].function_name == name


def test_rest_repeated_headers_arrive_in_multi_value_headers(lam, apigw, door, make_function):
    api = rest_api(apigw, lam, arn_of(lam, make_function(ECHO)))
    parts = urlsplit(door.rest_api_url(api, "prod") + "/hello/x")
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    conn.putrequest("GET", parts.path)
    conn.putheader("X-Tag", "a")
    conn.putheader("X-Tag", "b")
    conn.endheaders()
    event = json.loads(conn.getresponse().read())
    conn.close()
    assert event["multiValueHeaders"]["X-Tag"] == ["a", "b"]
    assert event["headers"]["X-Tag"] == "b"


def test_rest_post_with_json_body_and_custom_status(lam, apigw, door, make_function):
    name = make_function("""
import json
def handler(event, context):
    order = json.loads(event["body"])
    return {"statusCode": 201, "headers": {"Location": "/orders/1"},
            "multiValueHeaders": {"X-Seen": ["a", "b"]}, "body": json.dumps({"item": order["item"]})}
""")
    api = rest_api(apigw, lam, arn_of(lam, name), routes=[("POST", "/orders")])
    response = requests.post(door.rest_api_url(api, "prod") + "/orders", json={"item": "book"})
    assert response.status_code == 201
    assert response.json() == {"item": "book"}
    assert response.headers["Location"] == "/orders/1"
    assert response.headers["X-Seen"] == "a, b"
    assert response.headers["Content-Type"] == "application/json"  # API Gateway's default


def test_rest_greedy_proxy_takes_what_no_literal_resource_does(lam, apigw, door, make_function):
    api = rest_api(apigw, lam, arn_of(lam, make_function(ECHO)), routes=[("ANY", "/{proxy+}"), ("GET", "/health")])
    base = door.rest_api_url(api, "prod")
    event = requests.delete(base + "/a/b%2Fc/d").json()
    assert event["resource"] == "/{proxy+}" and event["httpMethod"] == "DELETE"
    assert event["pathParameters"] == {"proxy": "a/b/c/d"}
    assert requests.get(base + "/health").json()["resource"] == "/health"
    root = requests.get(base + "/")  # a greedy variable needs at least one segment; "/" has no methods
    assert root.status_code == 403
    assert root.json() == {"message": "Missing Authentication Token"}
    assert "resource / has methods []" in root.headers[REASON]


def test_rest_unknown_stage_is_forbidden(lam, apigw, door, make_function):
    api = rest_api(apigw, lam, arn_of(lam, make_function(ECHO)))
    response = requests.get(door.rest_api_url(api, "dev") + "/hello/x")
    assert response.status_code == 403 and response.json() == {"message": "Forbidden"}
    assert "no stage 'dev'" in response.headers[REASON]


def test_rest_binary_body_round_trip_follows_binary_media_types(lam, apigw, door, make_function):
    name = make_function("""
def handler(event, context):
    assert event["isBase64Encoded"], event
    return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": event["body"],
            "isBase64Encoded": True}
""")
    api = rest_api(apigw, lam, arn_of(lam, name), routes=[("POST", "/image")], binary=["image/*"])
    picture = bytes(range(256)) * 4
    url = door.rest_api_url(api, "prod") + "/image"
    response = requests.post(url, data=picture, headers={"Content-Type": "image/png", "Accept": "image/png"})
    assert response.status_code == 200, response.headers.get(REASON)
    assert response.content == picture
    # without an Accept that matches binaryMediaTypes, the client gets the base64 text
    as_text = requests.post(url, data=picture, headers={"Content-Type": "image/png", "Accept": "application/json"})
    assert base64.b64decode(as_text.content) == picture


@pytest.mark.parametrize("result, why", [
    ('"just a string"', "the function returned a string"),
    ('{"statusCode": 200, "body": {"not": "a string"}}', "body must be a string"),
    ('{"statusCode": "200", "body": "x"}', "statusCode must be an integer"),
    ('{"statusCode": 200, "body": "x", "extra": 1}', "unexpected key(s) ['extra']"),
])
def test_rest_malformed_proxy_response_is_502(lam, apigw, door, make_function, result, why):
    name = make_function(f"import json\ndef handler(event, context):\n    return json.loads('{result}')\n")
    api = rest_api(apigw, lam, arn_of(lam, name))
    response = requests.get(door.rest_api_url(api, "prod") + "/hello/x")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert why in response.headers[REASON]
    assert door.last_refusal.kind == "malformed" and why in door.last_refusal.reason


def test_rest_function_error_is_502_with_the_error_in_the_reason(lam, apigw, door, make_function):
    name = make_function("def handler(event, context):\n    raise ValueError('no such order')\n")
    api = rest_api(apigw, lam, arn_of(lam, name))
    response = requests.get(door.rest_api_url(api, "prod") + "/hello/x")
    assert response.status_code == 502 and response.json() == {"message": "Internal server error"}
    assert "ValueError: no such order" in response.headers[REASON]
    assert door.last_refusal.kind == "function-error"


def test_rest_without_permission_is_500_and_the_function_never_runs(lab, lam, apigw, door, make_function):
    name = make_function(ECHO)
    api = rest_api(apigw, lam, arn_of(lam, name), grant=None)
    response = requests.get(door.rest_api_url(api, "prod") + "/hello/x")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    reason = response.headers[REASON]
    assert "apigateway.amazonaws.com may not call lambda:InvokeFunction" in reason
    assert "no resource-based policy" in reason and "add_permission" in reason
    assert door.last_refusal.kind == "permission" and door.last_refusal.status == 500
    # the refused call ran nothing (the module's lab also records other tests' late events)
    assert not [i for i in lab.invocations if i.function_name == name]


@pytest.mark.parametrize("pattern, allowed", [
    ("prod/GET/hello/{name}", True),  # exactly the ARN API Gateway presents: stage/METHOD/resource template
    ("*/GET/hello/*", True),
    ("prod/POST/hello/{name}", False),
    ("dev/GET/hello/{name}", False),
])
def test_rest_permission_must_match_the_source_arn(lam, apigw, door, make_function, pattern, allowed):
    api = rest_api(apigw, lam, arn_of(lam, make_function(ECHO)), grant=pattern)
    response = requests.get(door.rest_api_url(api, "prod") + "/hello/x")
    assert (response.status_code == 200) is allowed, response.headers.get(REASON)
    if not allowed:
        assert f"{api}/prod/GET/hello/{{name}}" in response.headers[REASON]


def test_rest_permission_for_another_api_does_not_count(lam, apigw, door, make_function):
    function = arn_of(lam, make_function(ECHO))
    api = rest_api(apigw, lam, function, grant=None)
    grant_apigw(lam, function, "someotherapi", "*/*/*")
    response = requests.get(door.rest_api_url(api, "prod") + "/hello/x")
    assert response.status_code == 500 and "none of its 1 policy statement(s) matches" in response.headers[REASON]


def test_rest_integration_on_an_alias_runs_that_version_and_needs_the_alias_permission(lab, lam, apigw, door,
                                                                                         make_function):
    name = make_function(ECHO, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    alias = arn_of(lam, name) + ":live"
    api = rest_api(apigw, lam, alias, grant=None)
    grant_apigw(lam, arn_of(lam, name), api, "*/*/*")  # granted on the function, not on the alias
    refused = requests.get(door.rest_api_url(api, "prod") + "/hello/x")
    assert refused.status_code == 500 and "another version or alias" in refused.headers[REASON]
    lam.add_permission(FunctionName=name, Qualifier="live", StatementId="alias", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com")
    assert requests.get(door.rest_api_url(api, "prod") + "/hello/x").status_code == 200
    assert (lab.invocations[-1].qualifier, lab.invocations[-1].executed_version) == ("live", "1")


def test_rest_integration_timeout_answers_504_while_the_function_runs_on(lab, lam, apigw, make_function, tmp_path):
    release = tmp_path / "release"
    name = make_function(f"""
        import os, time
        def handler(event, context):
            while not os.path.exists({str(release)!r}):  # runs until the test has its 504
                time.sleep(0.01)
            return {{"statusCode": 200, "body": "finished"}}
    """, Timeout=60)
    api = rest_api(apigw, lam, arn_of(lam, name))
    with FrontDoor(integration_timeout=0.3) as quick:
        response = requests.get(quick.rest_api_url(api, "prod") + "/hello/x", timeout=60)
        assert [i for i in lab.invocations if i.function_name == name] == []  # answered while it still runs
        release.touch()
        deadline = time.monotonic() + 60
        while not [i for i in lab.invocations if i.function_name == name]:
            assert time.monotonic() < deadline, "the function never finished"
            time.sleep(0.05)
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert "0.3 s" in response.headers[REASON]
    [run] = [i for i in lab.invocations if i.function_name == name]
    assert run.result.status == "success"  # API Gateway gave up; the function did not


def test_rest_integration_timeout_in_millis_is_honoured(lam, apigw, door, make_function):
    name = make_function("import time\ndef handler(event, context):\n    time.sleep(1.5)\n    return {}\n",
                         Timeout=10)
    api = rest_api(apigw, lam, arn_of(lam, name), timeout_ms=300)
    response = requests.get(door.rest_api_url(api, "prod") + "/hello/x")
    assert response.status_code == 504 and door.last_refusal.kind == "timeout"


def test_rest_method_with_aws_iam_authorization_needs_a_signature(lam, apigw, door, make_function):
    function = arn_of(lam, make_function(ECHO))
    api = rest_api(apigw, lam, function, routes=[("GET", "/private")], authorization="AWS_IAM")
    url = door.rest_api_url(api, "prod") + "/private"
    unsigned = requests.get(url)
    assert unsigned.status_code == 403 and unsigned.json() == {"message": "Missing Authentication Token"}
    signed = requests.get(url, auth=door.iam_auth("execute-api"))
    assert signed.status_code == 200, signed.headers.get(REASON)
    assert signed.json()["requestContext"]["identity"]["accessKey"] == boto3.Session().get_credentials().access_key


# --- HTTP APIs (payload 2.0 and 1.0) -------------------------------------------------------------------------

def test_http_api_v2_event_shape(lam, apigw2, door, make_function):
    api = http_api(apigw2, lam, arn_of(lam, make_function(ECHO)))
    response = requests.get(door.http_api_url(api) + "/hello/Ada%20L?x=1&x=2&q=a%20b",
                            headers={"Cookie": "session=abc; theme=dark", "X-Custom": "Yes"})
    assert response.status_code == 200, response.headers.get(REASON)
    event = response.json()
    assert event["version"] == "2.0" and event["routeKey"] == "GET /hello/{name}"
    assert event["rawPath"] == "/hello/Ada L"  # HTTP APIs decode the path
    assert event["rawQueryString"] == "x=1&x=2&q=a%20b"  # ... but not the query string
    assert event["queryStringParameters"] == {"x": "1,2", "q": "a b"}
    assert event["pathParameters"] == {"name": "Ada L"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert all(k == k.lower() for k in event["headers"]) and "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "Yes"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["stage"] == "$default"
    assert "stageVariables" not in event and "body" not in event
    sample = events.api_gateway_http(query="a=1", cookies=["c=1"], path_parameters={"name": "x"}, body="x")
    assert keys(event) | {"body"} == keys(sample)
    assert keys(event["requestContext"]) == keys(sample["requestContext"])
    assert response.headers["apigw-requestid"] == event["requestContext"]["requestId"]


@pytest.mark.parametrize("result, body", [
    ('"Hello from Lambda!"', b"Hello from Lambda!"),
    ('{"message": "Hello"}', b'{"message": "Hello"}'),
    ("[1, 2]", b"[1, 2]"),
])
def test_http_api_infers_a_200_json_response_from_any_other_result(lam, apigw2, door, make_function, result, body):
    name = make_function(f"import json\ndef handler(event, context):\n    return json.loads('{result}')\n")
    api = http_api(apigw2, lam, arn_of(lam, name), route_keys=["$default"], grant="$default/$default")
    response = requests.get(door.http_api_url(api) + "/anything")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == body


def test_http_api_response_cookies_and_base64(lam, apigw2, door, make_function):
    name = make_function("""
import base64
def handler(event, context):
    return {"statusCode": 202, "cookies": ["a=1; Path=/", "b=2"], "headers": {"content-type": "image/gif"},
            "body": base64.b64encode(b"GIF89a").decode(), "isBase64Encoded": True}
""")
    api = http_api(apigw2, lam, arn_of(lam, name), route_keys=["ANY /{proxy+}"])
    response = requests.post(door.http_api_url(api) + "/x/y")
    assert response.status_code == 202 and response.content == b"GIF89a"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2"]


@pytest.mark.parametrize("content_type, encoded", [
    ("application/json", False), ("text/plain; charset=utf-8", False), ("application/octet-stream", True),
    ("application/x-www-form-urlencoded", True),
])
def test_http_api_base64_encodes_bodies_that_are_not_text(lam, apigw2, door, make_function, content_type, encoded):
    api = http_api(apigw2, lam, arn_of(lam, make_function(ECHO)), route_keys=["POST /upload"])
    event = requests.post(door.http_api_url(api) + "/upload", data=b'{"a": 1}',
                          headers={"Content-Type": content_type}).json()
    assert event["isBase64Encoded"] is encoded
    assert (base64.b64decode(event["body"]) if encoded else event["body"].encode()) == b'{"a": 1}'


def test_http_api_named_stage_is_part_of_the_path(lam, apigw2, door, make_function):
    api = http_api(apigw2, lam, arn_of(lam, make_function(ECHO)), route_keys=["GET /hello"],
                   stages=("$default", "prod"))
    event = requests.get(door.http_api_url(api, "prod") + "/hello").json()
    assert event["requestContext"]["stage"] == "prod"
    assert event["rawPath"] == "/prod/hello" and event["routeKey"] == "GET /hello"
    assert requests.get(door.http_api_url(api) + "/hello").json()["requestContext"]["stage"] == "$default"


def test_http_api_route_precedence_and_not_found(lam, apigw2, door, make_function):
    api = http_api(apigw2, lam, arn_of(lam, make_function(ECHO)),
                   route_keys=["GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /pets/dog/{id}"])
    base = door.http_api_url(api)
    assert requests.get(base + "/pets/dog/1").json()["routeKey"] == "GET /pets/dog/{id}"
    assert requests.put(base + "/pets/dog/1").json()["routeKey"] == "ANY /pets/dog/{id}"
    assert requests.get(base + "/pets/cat/1").json()["routeKey"] == "GET /pets/{proxy+}"
    missing = requests.post(base + "/pets/cat/1")
    assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}
    assert "no route" in missing.headers[REASON]


def test_http_api_errors_use_its_own_bodies(lam, apigw2, make_function):
    failing = make_function("def handler(event, context):\n    raise RuntimeError('down')\n")
    slow = make_function("import time\ndef handler(event, context):\n    time.sleep(1.5)\n", Timeout=10)
    with FrontDoor(integration_timeout=0.3) as door:
        api = http_api(apigw2, lam, arn_of(lam, failing))
        error = requests.get(door.http_api_url(api) + "/hello/x")
        assert error.status_code == 500 and error.json() == {"message": "Internal Server Error"}
        assert "RuntimeError: down" in error.headers[REASON]
        timeout = requests.get(door.http_api_url(http_api(apigw2, lam, arn_of(lam, slow))) + "/hello/x")
        assert timeout.status_code == 503 and timeout.json() == {"message": "Service Unavailable"}


def test_http_api_without_permission_is_500(lam, apigw2, door, make_function):
    api = http_api(apigw2, lam, arn_of(lam, make_function(ECHO)), grant="prod/GET/hello/{name}")
    response = requests.get(door.http_api_url(api) + "/hello/x")
    assert response.status_code == 500 and response.json() == {"message": "Internal Server Error"}
    assert f"{api}/$default/GET/hello/{{name}}" in response.headers[REASON]


def test_http_api_payload_1_0_sends_a_v1_event(lam, apigw2, door, make_function):
    api = http_api(apigw2, lam, arn_of(lam, make_function(ECHO)), version="1.0")
    event = requests.get(door.http_api_url(api) + "/hello/x?a=1&a=2").json()
    assert event["version"] == "1.0" and event["resource"] == "/hello/{name}"
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["pathParameters"] == {"name": "x"}


# --- function URLs ------------------------------------------------------------------------------------------

def test_function_url_with_auth_none_and_both_permissions(lam, door, make_function):
    name = make_function(ECHO)
    function_url(lam, name)
    response = requests.post(door.function_url(name) + "some/path%20x?q=1", data="ping",
                             headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.headers.get(REASON)
    event = response.json()
    assert event["routeKey"] == "$default" and event["requestContext"]["stage"] == "$default"
    assert event["rawPath"] == "/some/path%20x"  # function URLs keep the encoding
    assert event["requestContext"]["accountId"] == "anonymous"
    assert event["requestContext"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")
    assert event["body"] == "ping" and event["isBase64Encoded"] is False
    assert keys(event) == keys(events.function_url(query="q=1", body="ping"))


def test_function_url_string_result_is_sent_as_json_text(lam, door, make_function):
    name = make_function("def handler(event, context):\n    return 'Hello, world!'\n")
    function_url(lam, name)
    response = requests.get(door.function_url(name))
    assert response.status_code == 200 and response.content == b'"Hello, world!"'
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("url_permission, invoke_permission, missing", [
    (False, False, "lambda:InvokeFunctionUrl"),
    (False, True, "lambda:InvokeFunctionUrl"),
    (True, False, "October 2025"),
])
def test_function_url_without_public_permissions_is_forbidden(lab, lam, door, make_function, url_permission,
                                                              invoke_permission, missing):
    name = make_function(ECHO)
    function_url(lam, name, url_permission=url_permission, invoke_permission=invoke_permission)
    response = requests.get(door.function_url(name))
    assert response.status_code == 403
    assert response.json() == {"Message": "Forbidden"}
    assert missing in response.headers[REASON]
    assert door.last_refusal.kind == "permission" and not [i for i in lab.invocations if i.function_name == name]


def test_function_url_older_rule_needs_only_invoke_function_url(lam, make_function):
    name = make_function(ECHO)
    function_url(lam, name, invoke_permission=False)
    with FrontDoor(url_needs_invoke_function=False) as door:
        assert requests.get(door.function_url(name)).status_code == 200


def test_function_url_permission_for_the_other_auth_type_does_not_count(lam, door, make_function):
    name = make_function(ECHO)
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    lam.add_permission(FunctionName=name, StatementId="iam-only", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="AWS_IAM")
    assert requests.get(door.function_url(name)).status_code == 403


def test_function_url_with_aws_iam_needs_the_labs_signature(lam, door, make_function):
    name = make_function(ECHO)
    function_url(lam, name, auth="AWS_IAM", url_permission=False, invoke_permission=False)
    unsigned = requests.get(door.function_url(name))
    assert unsigned.status_code == 403 and unsigned.json() == {"Message": "Forbidden"}
    assert "not SigV4-signed" in unsigned.headers[REASON]
    signed = requests.post(door.function_url(name) + "orders?x=1", json={"a": 1}, auth=door.iam_auth())
    assert signed.status_code == 200, signed.headers.get(REASON)
    iam = signed.json()["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == boto3.Session().get_credentials().access_key
    refused = requests.get(door.function_url(name), auth=signed_as("AKIASTRANGER0000000", "x" * 40))
    assert refused.status_code == 403 and "does not belong to this lab" in refused.headers[REASON]
    own_key = boto3.Session().get_credentials().access_key
    forged = requests.get(door.function_url(name), auth=signed_as(own_key, "not-the-secret"))
    assert forged.status_code == 403 and "does not match" in forged.headers[REASON]


def test_function_url_function_error_is_502(lam, door, make_function):
    name = make_function("def handler(event, context):\n    raise KeyError('id')\n")
    function_url(lam, name)
    response = requests.get(door.function_url(name))
    assert response.status_code == 502 and response.text == "Internal Server Error"
    assert "KeyError" in response.headers[REASON]


def test_function_url_that_does_not_exist_says_how_to_make_one(lam, door, make_function):
    response = requests.get(door.function_url(make_function(ECHO)))
    assert response.status_code == 404 and "create_function_url_config" in response.headers[REASON]


# --- the front door itself --------------------------------------------------------------------------------------

def test_requests_in_the_background_leave_the_sample_events_unchanged(lam, apigw, door, make_function):
    api = rest_api(apigw, lam, arn_of(lam, make_function(ECHO)))
    events.seed()
    first = events.api_gateway_rest()
    events.seed()
    requests.get(door.rest_api_url(api, "prod") + "/hello/x")
    assert events.api_gateway_rest() == first


def test_unknown_prefix_explains_the_url_scheme(door):
    response = requests.get(door.url + "/nothing/here")
    assert response.status_code == 404 and "/restapis/" in response.headers[REASON]
    assert door.last_refusal.url == door.url + "/nothing/here"
