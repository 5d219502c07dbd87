"""Lambda authorizers on the front door: REST TOKEN and REQUEST authorizers, HTTP API Lambda authorizers.

Everything is configured with plain boto3 (create_authorizer, put_method(authorizationType='CUSTOM'),
add_permission for apigateway.amazonaws.com) and called with real HTTP; the authorizer is a real handler.
"""

from __future__ import annotations

import json

import boto3
import pytest
import requests

import lambda_lab
from lambda_lab.service._authorizers import evaluate_policy

REASON = "x-lambda-lab-reason"

ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""

# One authorizer for every test: the token (or X-User header) says what to answer
AUTHORIZER = """
import json
def handler(event, context):
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    who = event.get("authorizationToken") or headers.get("x-user") or headers.get("authorization") or "?"
    if who == "boom":
        raise RuntimeError("the authorizer broke")
    if who == "nope":
        raise Exception("Unauthorized")
    if who == "nested":
        return {"principalId": "x", "context": {"claims": {"sub": "1"}}, "policyDocument": {"Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}]}}
    seen = json.dumps({k: v for k, v in event.items() if k != "requestContext"})
    if event.get("version") == "2.0" and who.startswith("simple-"):
        return {"isAuthorized": who != "simple-no", "context": {"who": who, "n": 7, "seen": seen}}
    arn = event.get("methodArn") or event.get("routeArn")
    resource = arn if who == "narrow" else arn.split("/")[0] + "/*"
    return {"principalId": "user-" + who,
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Deny" if who == "deny" else "Allow",
                 "Resource": resource}]},
            "context": {"who": who, "n": 42, "ok": True, "seen": seen}}
"""


@pytest.fixture(scope="module")
def apigw(lab):
    return boto3.client("apigateway")


@pytest.fixture(scope="module")
def apigw2(lab):
    return boto3.client("apigatewayv2")


def _function(lab, lam, name, source):
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(source)})
    return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


@pytest.fixture(scope="module")
def echo(lab, lam):
    return _function(lab, lam, "authz-echo", ECHO)


@pytest.fixture(scope="module")
def gate(lab, lam):
    return _function(lab, lam, "authz-gate", AUTHORIZER)


def calls(lab, function_arn):
    return sum(1 for i in lab.invocations if i.function_name == function_arn.split(":")[6])


def uri(function_arn):
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def rest_api(apigw, lam, function, authorizer, kind="TOKEN", paths=("/hello/{name}",), identity=None, ttl=None,
             validation=None, grant_authorizer=True, variables=None):
    """A REST API whose GET methods use a Lambda authorizer and proxy to `function`, deployed to 'prod'."""
    api_id = apigw.create_rest_api(name="authz-api")["id"]
    options = {"identitySource": identity or "method.request.header.Authorization"}
    if ttl is not None:
        options["authorizerResultTtlInSeconds"] = ttl
    if validation:
        options["identityValidationExpression"] = validation
    authorizer_id = apigw.create_authorizer(restApiId=api_id, name="gate", type=kind, authorizerUri=uri(authorizer),
                                            **options)["id"]
    ids = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    for path in paths:
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            here = parent.rstrip("/") + "/" + part
            if here not in ids:
                ids[here] = apigw.create_resource(restApiId=api_id, parentId=ids[parent], pathPart=part)["id"]
            parent = here
        apigw.put_method(restApiId=api_id, resourceId=ids[parent], httpMethod="GET", authorizationType="CUSTOM",
                         authorizerId=authorizer_id)
        apigw.put_integration(restApiId=api_id, resourceId=ids[parent], httpMethod="GET", type="AWS_PROXY",
                              integrationHttpMethod="POST", uri=uri(function))
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables=variables or {})
    account = function.split(":")[4]
    lam.add_permission(FunctionName=function, StatementId=f"api-{api_id}", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:us-east-1:{account}:{api_id}/*/*/*")
    if grant_authorizer:
        lam.add_permission(FunctionName=authorizer, StatementId=f"authz-{api_id}", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com",
                           SourceArn=f"arn:aws:execute-api:us-east-1:{account}:{api_id}/authorizers/{authorizer_id}")
    return api_id


# --- REST TOKEN authorizers ---------------------------------------------------------------------------------

def test_token_authorizer_allows_and_hands_its_context_to_the_integration(lab, lam, apigw, echo, gate):
    api = rest_api(apigw, lam, echo, gate)
    response = requests.get(lab.rest_api_url(api, "prod") + "/hello/x", headers={"Authorization": "alice"})
    assert response.status_code == 200, response.headers.get(REASON)
    authorizer = response.json()["requestContext"]["authorizer"]
    seen = json.loads(authorizer.pop("seen"))
    # context values reach a REST proxy integration as strings
    assert authorizer == {"principalId": "user-alice", "integrationLatency": 0, "who": "alice", "n": "42",
                          "ok": "true"}
    assert seen == {"type": "TOKEN", "authorizationToken": "alice",
                    "methodArn": f"arn:aws:execute-api:us-east-1:{lab.account}:{api}/prod/GET/hello/x"}


def test_token_authorizer_refusals(lab, lam, apigw, echo, gate):
    api = rest_api(apigw, lam, echo, gate, ttl=0)
    url = lab.rest_api_url(api, "prod") + "/hello/x"
    before = calls(lab, gate)
    missing = requests.get(url)
    assert missing.status_code == 401 and missing.json() == {"message": "Unauthorized"}
    assert calls(lab, gate) == before  # no token: API Gateway answers without calling the authorizer
    denied = requests.get(url, headers={"Authorization": "deny"})
    assert denied.status_code == 403
    assert denied.json() == {"Message": "User is not authorized to access this resource with an explicit deny"}
    unauthorized = requests.get(url, headers={"Authorization": "nope"})  # raise Exception("Unauthorized")
    assert unauthorized.status_code == 401 and unauthorized.json() == {"message": "Unauthorized"}
    broken = requests.get(url, headers={"Authorization": "boom"})
    assert broken.status_code == 500 and broken.json() == {"message": None}
    assert broken.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert "the authorizer broke" in broken.headers[REASON]
    nested = requests.get(url, headers={"Authorization": "nested"})  # context values must be flat
    assert nested.status_code == 500 and nested.json() == {"message": None}
    assert "context['claims']" in nested.headers[REASON]
    assert calls(lab, gate) == before + 4


def test_identity_validation_expression_refuses_without_calling_the_authorizer(lab, lam, apigw, echo, gate):
    api = rest_api(apigw, lam, echo, gate, validation="^Bearer [a-z]+$")
    url = lab.rest_api_url(api, "prod") + "/hello/x"
    before = calls(lab, gate)
    assert requests.get(url, headers={"Authorization": "Bearer 123"}).status_code == 401
    assert calls(lab, gate) == before
    assert requests.get(url, headers={"Authorization": "Bearer abc"}).status_code == 200


def test_results_are_cached_per_token_for_the_ttl_on_the_lab_clock(lab, lam, apigw, echo, gate):
    api = rest_api(apigw, lam, echo, gate)  # authorizerResultTtlInSeconds defaults to 300
    url = lab.rest_api_url(api, "prod") + "/hello/x"
    before = calls(lab, gate)
    for _ in range(3):
        assert requests.get(url, headers={"Authorization": "carol"}).status_code == 200
    assert calls(lab, gate) == before + 1
    assert requests.get(url, headers={"Authorization": "dave"}).status_code == 200  # another token: its own entry
    assert calls(lab, gate) == before + 2
    lab.clock.advance(301)
    assert requests.get(url, headers={"Authorization": "carol"}).status_code == 200
    assert calls(lab, gate) == before + 3


def test_ttl_zero_calls_the_authorizer_every_time(lab, lam, apigw, echo, gate):
    api = rest_api(apigw, lam, echo, gate, ttl=0)
    before = calls(lab, gate)
    for _ in range(2):
        requests.get(lab.rest_api_url(api, "prod") + "/hello/x", headers={"Authorization": "erin"})
    assert calls(lab, gate) == before + 2


def test_a_cached_policy_for_one_method_refuses_the_others(lab, lam, apigw, echo, gate):
    # the classic pitfall: the policy names only the first methodArn, and the cache serves it for /other too
    api = rest_api(apigw, lam, echo, gate, paths=("/hello/{name}", "/other"))
    base = lab.rest_api_url(api, "prod")
    assert requests.get(base + "/hello/x", headers={"Authorization": "narrow"}).status_code == 200
    other = requests.get(base + "/other", headers={"Authorization": "narrow"})
    assert other.status_code == 403 and other.json() == {"Message": "User is not authorized to access this resource"}


def test_authorizer_needs_its_own_permission(lab, lam, apigw, echo, gate):
    api = rest_api(apigw, lam, echo, gate, grant_authorizer=False)
    before = calls(lab, gate)
    response = requests.get(lab.rest_api_url(api, "prod") + "/hello/x", headers={"Authorization": "frank"})
    assert response.status_code == 500 and response.json() == {"message": None}
    assert f"{api}/authorizers/" in response.headers[REASON] and "add_permission" in response.headers[REASON]
    assert calls(lab, gate) == before


# --- REST REQUEST authorizers ---------------------------------------------------------------------------------

def test_request_authorizer_reads_every_identity_source_and_gets_the_request(lab, lam, apigw, echo, gate):
    api = rest_api(apigw, lam, echo, gate, kind="REQUEST", variables={"tier": "gold"},
                   identity="method.request.header.X-User, method.request.querystring.key")
    url = lab.rest_api_url(api, "prod") + "/hello/x"
    before = calls(lab, gate)
    missing = requests.get(url, headers={"X-User": "grace"})  # no ?key=
    assert missing.status_code == 401 and "method.request.querystring.key" in missing.headers[REASON]
    assert calls(lab, gate) == before
    response = requests.get(url + "?key=k1", headers={"X-User": "grace"})
    assert response.status_code == 200, response.headers.get(REASON)
    authorizer = response.json()["requestContext"]["authorizer"]
    seen = json.loads(authorizer["seen"])
    assert seen["type"] == "REQUEST" and seen["methodArn"].endswith(f"{api}/prod/GET/hello/x")
    assert seen["resource"] == "/hello/{name}" and seen["path"] == "/hello/x" and seen["httpMethod"] == "GET"
    assert seen["headers"]["X-User"] == "grace" and seen["queryStringParameters"] == {"key": "k1"}
    assert seen["pathParameters"] == {"name": "x"} and seen["stageVariables"] == {"tier": "gold"}
    assert "body" not in seen and authorizer["principalId"] == "user-grace"
    # cached per combination of identity values
    requests.get(url + "?key=k1", headers={"X-User": "grace"})
    assert calls(lab, gate) == before + 1
    requests.get(url + "?key=k2", headers={"X-User": "grace"})
    assert calls(lab, gate) == before + 2


# --- HTTP API Lambda authorizers ------------------------------------------------------------------------------

def http_api(apigw2, lam, function, authorizer, simple=True, version="2.0", ttl=0):
    api_id = apigw2.create_api(Name="authz-http", ProtocolType="HTTP")["ApiId"]
    integration = apigw2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function,
                                            PayloadFormatVersion="2.0")["IntegrationId"]
    authorizer_id = apigw2.create_authorizer(
        ApiId=api_id, Name="gate", AuthorizerType="REQUEST", AuthorizerUri=uri(authorizer),
        IdentitySource=["$request.header.Authorization"], AuthorizerPayloadFormatVersion=version,
        EnableSimpleResponses=simple, AuthorizerResultTtlInSeconds=ttl)["AuthorizerId"]
    apigw2.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target=f"integrations/{integration}",
                        AuthorizationType="CUSTOM", AuthorizerId=authorizer_id)
    apigw2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    account = function.split(":")[4]
    lam.add_permission(FunctionName=function, StatementId=f"http-{api_id}", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:us-east-1:{account}:{api_id}/*/*")
    lam.add_permission(FunctionName=authorizer, StatementId=f"authz-{api_id}", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:us-east-1:{account}:{api_id}/authorizers/{authorizer_id}")
    return api_id


def test_http_api_simple_responses(lab, lam, apigw2, echo, gate):
    api = http_api(apigw2, lam, echo, gate)
    url = lab.http_api_url(api) + "/items/9"
    before = calls(lab, gate)
    missing = requests.get(url)
    assert missing.status_code == 401 and missing.json() == {"message": "Unauthorized"}
    assert calls(lab, gate) == before
    refused = requests.get(url, headers={"Authorization": "simple-no"})
    assert refused.status_code == 403 and refused.json() == {"message": "Forbidden"}
    allowed = requests.get(url, headers={"Authorization": "simple-yes"})
    assert allowed.status_code == 200, allowed.headers.get(REASON)
    context = allowed.json()["requestContext"]["authorizer"]["lambda"]
    seen = json.loads(context.pop("seen"))
    assert context == {"who": "simple-yes", "n": 7}  # HTTP APIs keep the JSON types
    assert seen["version"] == "2.0" and seen["type"] == "REQUEST"
    assert seen["routeArn"] == f"arn:aws:execute-api:us-east-1:{lab.account}:{api}/$default/GET/items/9"
    assert seen["identitySource"] == ["simple-yes"] and seen["routeKey"] == "GET /items/{id}"
    assert seen["pathParameters"] == {"id": "9"}
    broken = requests.get(url, headers={"Authorization": "boom"})
    assert broken.status_code == 500 and broken.json() == {"message": "Internal Server Error"}


def test_http_api_iam_policy_responses(lab, lam, apigw2, echo, gate):
    api = http_api(apigw2, lam, echo, gate, simple=False, ttl=300)
    url = lab.http_api_url(api) + "/items/1"
    before = calls(lab, gate)
    assert requests.get(url, headers={"Authorization": "deny"}).status_code == 403
    response = requests.get(url, headers={"Authorization": "heidi"})
    assert response.status_code == 200, response.headers.get(REASON)
    assert response.json()["requestContext"]["authorizer"]["lambda"]["who"] == "heidi"
    requests.get(url, headers={"Authorization": "heidi"})
    assert calls(lab, gate) == before + 2  # the second heidi came from the cache


# --- policy evaluation, as API Gateway reads an authorizer's policy -------------------------------------------

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/7"


@pytest.mark.parametrize("statements, verdict", [
    ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}], "Allow"),
    ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:abc123/*/GET/*"}],
     "Allow"),
    ([{"Effect": "Allow", "Action": ["execute-api:*"], "Resource": ["x", ARN.replace("7", "?")]}], "Allow"),
    ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN.replace("GET", "POST")}], None),
    ([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}], None),
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"},
      {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN}], "Deny"),  # a Deny always wins
])
def test_policy_evaluation(statements, verdict):
    assert evaluate_policy({"Version": "2012-10-17", "Statement": statements}, ARN) == verdict
    if len(statements) == 1:  # a single statement may be given as an object
        assert evaluate_policy({"Statement": statements[0]}, ARN) == verdict
