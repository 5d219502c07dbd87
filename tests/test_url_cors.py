"""Function URL CORS: the URL answers preflights itself and adds its Access-Control-* headers, as Lambda does."""

from __future__ import annotations

import requests

REASON = "x-lambda-lab-reason"

# The function sets its own CORS header, which the URL's configuration replaces
HANDLER = """
def handler(event, context):
    return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://from-the-function.example",
                                           "X-Total": "3"}, "body": event["requestContext"]["http"]["method"]}
"""

CORS = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type", "x-api-key"], "ExposeHeaders": ["x-total"], "MaxAge": 600,
        "AllowCredentials": True}


def public_url(lam, name, cors, auth="NONE"):
    lam.create_function_url_config(FunctionName=name, AuthType=auth, **({"Cors": cors} if cors else {}))
    if auth == "NONE":
        lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                           FunctionUrlAuthType="NONE")
        lam.add_permission(FunctionName=name, StatementId="invoke", Action="lambda:InvokeFunction", Principal="*",
                           InvokedViaFunctionUrl=True)


def runs(lab, name):
    return sum(1 for i in lab.invocations if i.function_name == name)


def preflight(url, origin, method="POST"):
    return requests.options(url, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                          "Access-Control-Request-Headers": "content-type"})


def test_preflight_is_answered_by_the_url_without_calling_the_function(lab, lam, make_function):
    name = make_function(HANDLER)
    public_url(lam, name, CORS)
    before = runs(lab, name)
    answer = preflight(lab.function_url(name), "https://app.example")
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert answer.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert answer.headers["Access-Control-Allow-Headers"] == "content-type,x-api-key"
    assert answer.headers["Access-Control-Max-Age"] == "600"
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    stranger = preflight(lab.function_url(name), "https://evil.example")
    assert stranger.status_code == 200 and "Access-Control-Allow-Origin" not in stranger.headers
    assert runs(lab, name) == before


def test_responses_carry_the_urls_cors_headers_for_allowed_origins_only(lab, lam, make_function):
    name = make_function(HANDLER)
    public_url(lam, name, CORS)
    url = lab.function_url(name)
    allowed = requests.post(url, headers={"Origin": "https://app.example"})
    assert allowed.status_code == 200 and allowed.text == "POST"
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"  # not the function's own
    assert allowed.headers["Access-Control-Expose-Headers"] == "x-total"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert allowed.headers["X-Total"] == "3"
    stranger = requests.get(url, headers={"Origin": "https://evil.example"})
    assert stranger.status_code == 200  # served, but without the headers a browser needs to read it
    assert not [h for h in stranger.headers if h.lower().startswith("access-control-")]


def test_wildcard_origin(lab, lam, make_function):
    name = make_function(HANDLER)
    public_url(lam, name, {"AllowOrigins": ["*"], "AllowMethods": ["*"]})
    answer = preflight(lab.function_url(name), "https://anyone.example", method="DELETE")
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Allow-Methods"] == "*"
    got = requests.get(lab.function_url(name), headers={"Origin": "https://anyone.example"})
    assert got.headers["Access-Control-Allow-Origin"] == "*"


def test_without_cors_an_options_request_reaches_the_function(lab, lam, make_function):
    name = make_function(HANDLER)
    public_url(lam, name, None)
    answer = preflight(lab.function_url(name), "https://app.example")
    assert answer.status_code == 200 and answer.text == "OPTIONS"
    assert answer.headers["Access-Control-Allow-Origin"] == "https://from-the-function.example"


def test_aws_iam_url_answers_preflights_but_still_needs_the_labs_signature(lab, lam, make_function):
    name = make_function(HANDLER)
    public_url(lam, name, CORS, auth="AWS_IAM")
    url = lab.function_url(name)
    assert preflight(url, "https://app.example").headers["Access-Control-Allow-Origin"] == "https://app.example"
    unsigned = requests.get(url, headers={"Origin": "https://app.example"})
    assert unsigned.status_code == 403 and "not SigV4-signed" in unsigned.headers[REASON]
    signed = requests.get(url, headers={"Origin": "https://app.example"}, auth=lab.front_door.iam_auth())
    assert signed.status_code == 200, signed.headers.get(REASON)
    assert signed.headers["Access-Control-Allow-Origin"] == "https://app.example"
