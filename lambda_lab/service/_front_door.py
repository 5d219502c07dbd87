"""The lab's HTTP front door: API Gateway REST and HTTP APIs and Lambda function URLs, served on 127.0.0.1.

>>> door = FrontDoor()
>>> requests.get(door.rest_api_url(api_id, "prod") + "/hello?name=Ada").json()
{'greeting': 'Hello, Ada'}
>>> door.stop()

One port serves everything; the first path segments say what is called, the rest is the path the API sees:

    <url>/restapis/<rest-api-id>/<stage>/<path>        a REST API's deployed stage (payload 1.0)
    <url>/httpapis/<http-api-id>/<path>                an HTTP API's $default stage
    <url>/httpapis/<http-api-id>/<stage>/<path>        an HTTP API's named stage (part of rawPath, as on AWS)
    <url>/lambda-url/<function>[:<qualifier>]/<path>   a function URL

The configuration is read on every request, so a change shows at once, except where AWS waits for a deployment:
a REST API stage serves the snapshot its deployment took (resources, methods, integrations, authorizers), so
changes reach callers after create_deployment or update_stage(deploymentId), as on AWS. Functions are called
through boto3's lambda invoke, so qualifiers, concurrency, logs and the lab's invocation history apply as for any
other call. Whatever the front door answers itself (a refusal, a malformed response, a timeout, a function error)
carries the reason in an `x-lambda-lab-reason` header and is kept in `door.refusals`, where AWS would only write it
to its logs.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from ..limits import value
from ._authorizers import REST_CONFIG_ERROR, Authorizers, Refused
from ._endpoint import _AUTH, SignedOnly
from ._front_door_shapes import (Malformed, Reply, Request, applicable_policy, cors_preflight, error_reply,
                                 execute_api_arn, is_preflight, is_text, lambda_target, matches_media, pick_resource,
                                 pick_route, request_id, segments, v1_event, v1_reply, v2_event, v2_reply, with_cors)
from ._moto._apigateway import rest_deployment
from ._permissions import may_invoke

REASON_HEADER = "x-lambda-lab-reason"
REST_TIMEOUT_S, HTTP_TIMEOUT_S = float(value("rest_api_timeout_s")), 30.0  # the integration timeout quotas of REST and HTTP APIs
# Bodies as each service sends them: REST and HTTP APIs spell "internal server error" differently
REST_500 = '{"message": "Internal server error"}'
REST_504 = '{"message": "Endpoint request timed out"}'
REST_NO_ROUTE = '{"message":"Missing Authentication Token"}'
HTTP_500, HTTP_503 = '{"message":"Internal Server Error"}', '{"message":"Service Unavailable"}'
HTTP_404, FORBIDDEN = '{"message":"Not Found"}', '{"message":"Forbidden"}'
URL_403, URL_502 = '{"Message":"Forbidden"}', "Internal Server Error"
_REMAPPED = {"content-length", "connection", "date", "server"}  # API Gateway renames these x-amzn-Remapped-*


@dataclass(frozen=True)
class Refusal:
    """Something the front door answered itself instead of the function's own response, and why."""

    method: str
    url: str
    status: int
    kind: str  # route, auth, authorizer, permission, rejected, timeout, function-error, malformed, unsupported
    reason: str
    at: float


class _Answer(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class DoorUrls:
    """The front door's addresses at `url`: the local lab's own, or a stand-in account's (LAMBDA_LAB_FRONT_DOOR)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rest_api_url(self, api_id: str, stage: str) -> str:
        """Where a REST API's stage answers: append the resource path, e.g. + '/hello?name=Ada'."""
        return f"{self.url}/restapis/{api_id}/{stage}"

    def http_api_url(self, api_id: str, stage: str = "$default") -> str:
        """Where an HTTP API's stage answers; the $default stage has no stage segment, as on AWS."""
        return f"{self.url}/httpapis/{api_id}" + ("" if stage == "$default" else f"/{stage}")

    def function_url(self, function_name: str, qualifier: str | None = None) -> str:
        """A function's URL (with the trailing slash AWS's FunctionUrl has)."""
        return f"{self.url}/lambda-url/{function_name}" + (f":{qualifier}" if qualifier else "") + "/"


class FrontDoor(DoorUrls):
    """API Gateway and function URLs in front of the lab's functions, on http://127.0.0.1:<free port>.

    `integration_timeout` (seconds) caps how long API Gateway waits for a function, in place of the 29 s (REST)
    and 30 s (HTTP API) quotas; an integration's own timeoutInMillis applies when shorter. With
    `url_needs_invoke_function` (the rule for function URLs created since October 2025) a public function URL
    needs lambda:InvokeFunction as well as lambda:InvokeFunctionUrl. AuthType AWS_IAM URLs (and AWS_IAM
    methods or routes) accept requests SigV4-signed with `credentials` (default: this process's boto3
    credentials, which is the lab's; a list, or a function returning the current list) and refuse all others,
    as AWS refuses an unknown signer. `region` is the lab's (default: the region boto3 would choose). Lambda
    authorizers' results are cached on `clock` (the lab clock; default the machine's), so `lab.clock.advance(...)`
    expires them.
    """

    def __init__(self, integration_timeout: float | None = None, *, port: int = 0,
                 url_needs_invoke_function: bool = True, credentials=None, clock=None,
                 region: str | None = None) -> None:
        self.integration_timeout = integration_timeout
        # authorizer results are cached on the lab clock when there is one (lab.clock.advance() expires them)
        self.authorizers = Authorizers(clock.now if clock is not None else time.time)
        self.url_needs_invoke_function = url_needs_invoke_function
        self.refusals: deque[Refusal] = deque(maxlen=1000)
        self._given_credentials = credentials
        # boto3's clients are made at the first request that needs them: most labs never receive one, and four
        # clients and an STS call were a tenth of the test suite's CPU in starting labs
        self._clients: dict[str, object] = {}
        self._clients_lock = threading.Lock()
        self._identity: dict | None = None
        self.region = region
        if region is None:  # the region boto3 would choose here
            self.region = self._client("lambda").meta.region_name
        handler = type("Handler", (_Handler,), {"door": self})
        self._server = _Server(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),  # stop() waits one poll
                                        name="lambda-lab-front-door", daemon=True)
        self._thread.start()

    def _client(self, service: str):
        with self._clients_lock:
            if service not in self._clients:
                # one attempt: the front door answers for the function, as API Gateway does, and never retries
                config = Config(retries={"total_max_attempts": 1}) if service == "lambda" else None
                self._clients[service] = boto3.client(service, region_name=self.region, config=config)
            return self._clients[service]

    @property
    def _lambda(self):
        return self._client("lambda")

    @property
    def _rest(self):
        return self._client("apigateway")

    @property
    def _http(self):
        return self._client("apigatewayv2")

    @property
    def _caller(self) -> dict:
        if self._identity is None:  # two requests at once may both ask STS: the answer is the same
            self._identity = self._client("sts").get_caller_identity()
        return self._identity

    @property
    def account(self) -> str:
        """The account the door's APIs and URLs belong to (the caller's, as STS says)."""
        return self._caller["Account"]

    @property
    def last_refusal(self) -> Refusal | None:
        return self.refusals[-1] if self.refusals else None

    def iam_auth(self, service: str = "lambda"):
        """A requests `auth=` that SigV4-signs as the lab's caller: requests.get(url, auth=door.iam_auth()).

        Use service "execute-api" for API Gateway methods or routes with AWS_IAM authorization.
        """
        found = self._credentials()
        if not found:
            raise RuntimeError("no credentials to sign with: start a Lab, or pass FrontDoor(credentials=[...])")
        creds = found[0]

        def sign(prepared):
            request = AWSRequest(method=prepared.method, url=prepared.url, data=prepared.body or b"",
                                 headers=dict(prepared.headers))
            SigV4Auth(Credentials(*creds), service, self.region).add_auth(request)
            prepared.headers.update(dict(request.headers.items()))
            return prepared

        return sign

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FrontDoor:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<FrontDoor {self.url}>"

    # -- one request ---------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Reply:
        """Route by prefix; whatever goes wrong becomes an answer with a reason, never a dropped connection."""
        parts = req.path.split("/", 3)
        kind, ident = (parts + ["", ""])[1:3]
        rest = "/" + (parts[3] if len(parts) > 3 else "")
        try:
            if kind == "restapis" and ident:
                stage, _, path = rest[1:].partition("/")
                return self._rest_api(replace(req, path="/" + path), ident, unquote(stage))
            if kind == "httpapis" and ident:
                return self._http_api(replace(req, path=rest), ident)
            if kind == "lambda-url" and ident:
                return self._function_url(replace(req, path=rest), unquote(ident))
            raise self._refuse(req, 404, HTTP_404, "route", "the front door serves /restapis/<id>/<stage>/..., "
                               "/httpapis/<id>/... and /lambda-url/<function>/...; use door.rest_api_url(), "
                               "door.http_api_url() or door.function_url()")
        except _Answer as answer:
            return answer.reply
        except Exception as e:  # the lab's own failure: say so rather than hang up
            return self._refuse(req, 500, HTTP_500, "unsupported", f"the front door failed: {e!r}").reply

    def _refuse(self, req: Request, status: int, body: str, kind: str, reason: str, headers=()) -> _Answer:
        self.refusals.append(Refusal(req.method, self.url + req.target, status, kind, reason, time.time()))
        safe = " ".join(reason.split()).encode("latin-1", "replace").decode("latin-1")
        return _Answer(error_reply(status, body, [*headers, (REASON_HEADER, safe)]))

    # -- REST APIs -------------------------------------------------------------------------------------------
    def _rest_api(self, req: Request, api_id: str, stage: str) -> Reply:
        errors = [("x-amzn-ErrorType", "InternalServerErrorException")]
        try:
            api = self._rest.get_rest_api(restApiId=api_id)
        except ClientError:
            raise self._refuse(req, 404, HTTP_404, "route", f"no REST API has the id {api_id!r}") from None
        stages = {s["stageName"]: s for s in self._rest.get_stages(restApiId=api_id).get("item", [])}
        if stage not in stages:
            raise self._refuse(req, 403, FORBIDDEN, "route", f"REST API {api_id} has no stage {stage!r} (it has "
                               f"{sorted(stages)}); create one with apigateway create_deployment(restApiId=..., "
                               "stageName=...)", [("x-amzn-ErrorType", "ForbiddenException")])
        variables = stages[stage].get("variables") or None
        deployed = self._deployed(api_id, stages[stage], api)
        resources = deployed["resources"]
        resource, params = pick_resource(resources, req.path)
        methods = (resource or {}).get("resourceMethods") or {}
        verb = req.method if req.method in methods else "ANY" if "ANY" in methods else None
        if verb is None:
            where = (f"resource {resource['path']} has methods {sorted(methods)}" if resource else
                     f"no resource matches {req.path} (resources: {sorted(r['path'] for r in resources)})")
            raise self._refuse(req, 403, REST_NO_ROUTE, "route", f"{where}; nothing answers {req.method}",
                               [("x-amzn-ErrorType", "MissingAuthenticationTokenException")])
        method = methods[verb]
        binary = [t for t in deployed.get("binaryMediaTypes") or [] if t]
        event = v1_event(req, path=req.path, resource=resource["path"], path_parameters=params, stage=stage,
                         stage_variables=variables, api_id=api_id, account=self.account, region=self.region,
                         body_as_base64=matches_media(req.header("content-type"), binary),
                         resource_id=resource["id"])
        if method.get("authorizationType") == "CUSTOM":
            event["requestContext"]["authorizer"] = self._rest_authorizer(req, api_id, stage, deployed, method, event)
        else:
            identity = self._authorize(req, method.get("authorizationType"), REST_NO_ROUTE, 403)
            event["requestContext"]["identity"].update(_v1_identity(identity) or {})
        integration = method.get("methodIntegration")
        if not integration:
            raise self._refuse(req, 500, REST_500, "unsupported", f"{verb} {resource['path']} has no integration "
                               "in the deployment this stage serves; add one with put_integration(type='AWS_PROXY', "
                               "...) and deploy again with create_deployment(restApiId=..., stageName=...)", errors)
        if integration.get("type") != "AWS_PROXY":
            raise self._refuse(req, 500, REST_500, "unsupported", "the lab's front door runs only Lambda proxy "
                               f"integrations (type AWS_PROXY), not {integration.get('type')}", errors)
        function = self._arn(lambda_target(integration["uri"], variables))
        source = execute_api_arn(self.region, self.account, api_id, stage, verb, resource["path"])
        self._check(req, function, "apigateway.amazonaws.com", source, 500, REST_500, errors)
        wait = self._timeout(integration.get("timeoutInMillis"), REST_TIMEOUT_S)
        payload = self._call(req, function, event, wait, {"timeout": (504, REST_504), "rejected": (500, REST_500),
                                                          "failed": (502, REST_500)}, errors)
        reply = self._parse(req, lambda: v1_reply(payload, decode_base64=matches_media(req.header("accept"), binary)),
                            502, REST_500, errors)
        reply.headers += [("x-amzn-RequestId", event["requestContext"]["requestId"]),
                          ("x-amz-apigw-id", event["requestContext"]["extendedRequestId"])]
        return reply

    def _deployed(self, api_id: str, stage: dict, api: dict) -> dict:
        """What a REST stage serves: the snapshot of its deployment, not the API as it is now (as on AWS)."""
        found = rest_deployment(self.account, self.region, api_id, stage.get("deploymentId"))
        if found is not None:
            return found
        pages = self._rest.get_paginator("get_resources").paginate(restApiId=api_id, embed=["methods"])
        authorizers = self._rest.get_authorizers(restApiId=api_id).get("items", [])
        return {"resources": [item for page in pages for item in page["items"]],
                "authorizers": {a["id"]: a for a in authorizers}, "binaryMediaTypes": api.get("binaryMediaTypes")}

    def _rest_authorizer(self, req, api_id: str, stage: str, deployed: dict, method: dict, event: dict) -> dict:
        """Run a CUSTOM method's Lambda authorizer: requestContext.authorizer, or API Gateway's refusal."""
        errors = [("x-amzn-ErrorType", "AuthorizerConfigurationException")]
        authorizer = deployed["authorizers"].get(method.get("authorizerId") or "")
        if authorizer is None:
            raise self._refuse(req, 500, REST_CONFIG_ERROR, "authorizer", f"the method's authorizerId "
                               f"{method.get('authorizerId')!r} names no authorizer of the deployment this stage "
                               "serves; create_authorizer(restApiId=..., type='TOKEN', authorizerUri=...), "
                               "put_method(..., authorizationType='CUSTOM', authorizerId=...) and deploy again", errors)
        function = self._arn(lambda_target(authorizer.get("authorizerUri") or "", event["stageVariables"]))
        source = f"arn:aws:execute-api:{self.region}:{self.account}:{api_id}/authorizers/{authorizer['id']}"
        method_arn = f"arn:aws:execute-api:{self.region}:{self.account}:{api_id}/{stage}/{req.method}{req.path}"

        def check() -> None:  # with authorizerCredentials API Gateway calls the function as that role instead
            if not authorizer.get("authorizerCredentials"):
                self._check(req, function, "apigateway.amazonaws.com", source, 500, REST_CONFIG_ERROR, errors,
                            hint=f" The authorizer needs its own permission: add_permission(FunctionName=..., "
                                 f"Action='lambda:InvokeFunction', Principal='apigateway.amazonaws.com', "
                                 f"SourceArn='{source}').")

        try:
            return self.authorizers.rest(authorizer, event, method_arn, function, (api_id, stage),
                                         lambda fn, request: self._invoke_authorizer(fn, request, check))
        except Refused as no:
            raise self._refuse(req, no.status, no.body, no.kind, no.reason, no.headers) from None

    def _http_authorizer(self, req, api_id: str, route: dict, event: dict, path: str) -> dict:
        """Run a CUSTOM route's Lambda authorizer (HTTP API): requestContext.authorizer, or the refusal."""
        try:
            authorizer = self._http.get_authorizer(ApiId=api_id, AuthorizerId=route.get("AuthorizerId") or "-")
        except ClientError:
            raise self._refuse(req, 500, HTTP_500, "authorizer", f"route {route['RouteKey']} names no authorizer "
                               f"{route.get('AuthorizerId')!r}; create_authorizer(ApiId=..., AuthorizerType="
                               "'REQUEST', ...) and update_route(..., AuthorizerId=...)") from None
        if authorizer.get("AuthorizerType") != "REQUEST":
            raise self._refuse(req, 500, HTTP_500, "unsupported", f"the lab runs Lambda (REQUEST) authorizers, "
                               f"not {authorizer.get('AuthorizerType')}")
        function = self._arn(lambda_target(authorizer.get("AuthorizerUri") or "", event.get("stageVariables")))
        source = f"arn:aws:execute-api:{self.region}:{self.account}:{api_id}/authorizers/{authorizer['AuthorizerId']}"
        context = event["requestContext"]
        route_arn = f"arn:aws:execute-api:{self.region}:{self.account}:{api_id}/{context['stage']}/{req.method}{path}"

        def check() -> None:
            if not authorizer.get("AuthorizerCredentialsArn"):
                self._check(req, function, "apigateway.amazonaws.com", source, 500, HTTP_500,
                            hint=f" The authorizer needs its own permission, with SourceArn='{source}'.")

        try:
            return self.authorizers.http(authorizer, event, route_arn, function, (api_id, context["stage"]),
                                         lambda fn, request: self._invoke_authorizer(fn, request, check))
        except Refused as no:
            raise self._refuse(req, no.status, no.body, no.kind, no.reason, no.headers) from None

    def _invoke_authorizer(self, function: str, request: dict, check) -> tuple[str | None, bytes]:
        check()
        try:
            response = self._lambda.invoke(FunctionName=function, Payload=json.dumps(request).encode())
        except ClientError as e:
            return e.response["Error"]["Code"], str(e).encode()
        return response.get("FunctionError"), response["Payload"].read()

    # -- HTTP APIs -------------------------------------------------------------------------------------------
    def _http_api(self, req: Request, api_id: str) -> Reply:
        try:
            api = self._http.get_api(ApiId=api_id)
        except ClientError:
            raise self._refuse(req, 404, HTTP_404, "route", f"no HTTP API has the id {api_id!r}") from None
        if api.get("ProtocolType") != "HTTP":
            raise self._refuse(req, 404, HTTP_404, "unsupported", f"{api_id} is a {api.get('ProtocolType')} API")
        stages = {s["StageName"]: s for s in self._http.get_stages(ApiId=api_id).get("Items", [])}
        first = segments(req.path)[:1]
        if first and unquote(first[0]) in stages and first[0] != "$default":  # a named stage is the first segment
            stage, path = unquote(first[0]), "/" + req.path.lstrip("/").partition("/")[2]
        elif "$default" in stages:
            stage, path = "$default", req.path
        else:
            raise self._refuse(req, 404, HTTP_404, "route", f"HTTP API {api_id} has neither a stage named after the "
                               f"path's first segment nor a $default stage (stages: {sorted(stages)})")
        variables = stages[stage].get("StageVariables") or None
        routes = [r for page in self._http.get_paginator("get_routes").paginate(ApiId=api_id) for r in page["Items"]]
        route, params = pick_route(routes, req.method, path)
        if route is None:
            raise self._refuse(req, 404, HTTP_404, "route", f"no route of HTTP API {api_id} matches {req.method} "
                               f"{path} (routes: {sorted(r['RouteKey'] for r in routes)})")
        raw_path = unquote(req.path)  # HTTP APIs pass the path decoded, the stage segment included
        rid, key = request_id(), route["RouteKey"]
        authorizer = lambda_authorizer = None
        if route.get("AuthorizationType") == "CUSTOM":
            asked = v2_event(req, raw_path=raw_path, route_key=key, path_parameters=params, stage=stage,
                             stage_variables=variables, account=self.account, api_id=api_id,
                             domain=f"{api_id}.execute-api.{self.region}.amazonaws.com", rid=rid)
            lambda_authorizer = self._http_authorizer(req, api_id, route, asked, unquote(path))
        else:
            authorizer = self._authorize(req, route.get("AuthorizationType"), FORBIDDEN, 403)
        target = route.get("Target") or ""
        if not target.startswith("integrations/"):
            raise self._refuse(req, 500, HTTP_500, "unsupported", f"route {route['RouteKey']} has no integration "
                               "target; set Target='integrations/<IntegrationId>'")
        integration = self._http.get_integration(ApiId=api_id, IntegrationId=target.split("/", 1)[1])
        if integration.get("IntegrationType") != "AWS_PROXY":
            raise self._refuse(req, 500, HTTP_500, "unsupported", "the lab's front door runs only Lambda proxy "
                               f"integrations (AWS_PROXY), not {integration.get('IntegrationType')}")
        function = self._arn(lambda_target(integration["IntegrationUri"], variables))
        verb, _, template = key.partition(" ")
        source = execute_api_arn(self.region, self.account, api_id, stage, None if key == "$default" else verb,
                                 template)
        self._check(req, function, "apigateway.amazonaws.com", source, 500, HTTP_500)
        version = integration.get("PayloadFormatVersion") or "1.0"
        if version == "1.0":
            event = v1_event(req, path=raw_path, resource=template or key, path_parameters=params, stage=stage,
                             stage_variables=variables, api_id=api_id, account=self.account, region=self.region,
                             body_as_base64=not is_text(req.header("content-type")), resource_id=None,
                             http_api=True, identity=_v1_identity(authorizer))
            rid = event["requestContext"]["requestId"]
            event["requestContext"]["authorizer"].update(lambda_authorizer or {})
        else:
            event = v2_event(req, raw_path=raw_path, route_key=key, path_parameters=params, stage=stage,
                             stage_variables=variables, account=self.account, api_id=api_id,
                             domain=f"{api_id}.execute-api.{self.region}.amazonaws.com", rid=rid,
                             authorizer=lambda_authorizer or ({"iam": authorizer} if authorizer else None))
        wait = self._timeout(integration.get("TimeoutInMillis"), HTTP_TIMEOUT_S)
        payload = self._call(req, function, event, wait, {"timeout": (503, HTTP_503), "rejected": (500, HTTP_500),
                                                          "failed": (500, HTTP_500)})
        parse = (lambda: v1_reply(payload, decode_base64=True)) if version == "1.0" else \
            (lambda: v2_reply(payload, function_url=False))
        reply = self._parse(req, parse, 500, HTTP_500)
        reply.headers.append(("apigw-requestid", rid))
        return reply

    # -- function URLs -----------------------------------------------------------------------------------------
    def _function_url(self, req: Request, ref: str) -> Reply:
        name, _, qualifier = ref.partition(":")
        try:
            config = self._lambda.get_function_url_config(FunctionName=name,
                                                          **({"Qualifier": qualifier} if qualifier else {}))
        except ClientError:
            raise self._refuse(req, 404, '{"Message":"Not Found"}', "route", f"{ref} has no function URL; create one "
                               "with lambda create_function_url_config(FunctionName=..., AuthType='NONE')") from None
        function = config["FunctionArn"]
        if qualifier and not function.endswith(f":{qualifier}"):
            function += f":{qualifier}"
        cors = config.get("Cors") or None
        if cors and is_preflight(req):  # the URL answers a browser's preflight itself, before any auth
            return cors_preflight(cors, req)
        authorizer, account = None, "anonymous"
        if config.get("AuthType") == "AWS_IAM":
            authorizer, account = self._authorize(req, "AWS_IAM", URL_403, 403, service="lambda"), self.account
        else:
            self._check(req, function, "*", None, 403, URL_403, action="lambda:InvokeFunctionUrl",
                        hint=" Public URLs need FunctionUrlAuthType='NONE' on that statement.")
            if self.url_needs_invoke_function:
                self._check(req, function, "*", None, 403, URL_403, hint=" Function URLs created since October 2025 "
                            "also need lambda:InvokeFunction: add_permission(..., Action='lambda:InvokeFunction', "
                            "Principal='*', InvokedViaFunctionUrl=True).")
        url_id = config["FunctionUrl"].split("//", 1)[-1].split(".", 1)[0]
        rid = str(uuid.uuid4())
        event = v2_event(req, raw_path=req.path, route_key="$default", path_parameters=None, stage="$default",
                         stage_variables=None, account=account, api_id=url_id,
                         domain=f"{url_id}.lambda-url.{self.region}.on.aws", rid=rid,
                         authorizer={"iam": authorizer} if authorizer else None)
        payload = self._call(req, function, event, None, {"rejected": (502, URL_502), "failed": (502, URL_502),
                                                          "throttled": (429, '{"Message":"Rate Exceeded."}')})
        reply = self._parse(req, lambda: v2_reply(payload, function_url=True), 502, URL_502)
        reply.headers.append(("x-amzn-RequestId", rid))
        return with_cors(reply, cors, req.header("origin")) if cors else reply

    # -- shared steps ------------------------------------------------------------------------------------------
    def _arn(self, ref: str) -> str:
        return ref if ref.startswith("arn:") else f"arn:aws:lambda:{self.region}:{self.account}:function:{ref}"

    def _timeout(self, millis: int | None, quota: float) -> float:
        cap = quota if self.integration_timeout is None else self.integration_timeout
        return min(int(millis) / 1000 if millis else quota, cap)

    def _check(self, req, function: str, principal: str, source_arn: str | None, status: int, body: str,
               headers=(), action: str = "lambda:InvokeFunction", hint: str = "") -> None:
        """Refuse unless the function's resource-based policy lets `principal` call `action`, as Lambda checks it."""
        via_url = principal == "*"
        try:
            document = self._lambda.get_policy(FunctionName=function)["Policy"]
        except ClientError:
            try:
                self._lambda.get_function_configuration(FunctionName=function)
            except ClientError:
                raise self._refuse(req, status, body, "permission", f"the function {function} does not exist",
                                   headers) from None
            document = None  # the function exists but has no policy at all
        policy, elsewhere = applicable_policy(document, function, via_url)
        if function.count(":") == 7:  # a version's or alias's own policy: do the function's others hold some?
            try:
                elsewhere += len(json.loads(self._lambda.get_policy(FunctionName=function.rsplit(":", 1)[0])
                                            ["Policy"])["Statement"])
            except ClientError:
                pass
        allowed, why = may_invoke(policy, principal, source_arn=source_arn, source_account=self.account,
                                  action=action, url_auth_type="NONE" if via_url else None)
        if not allowed:
            if elsewhere:
                why += (f" ({elsewhere} statement(s) of its policy are on another version or alias and do not apply "
                        f"to {function}.)")
            raise self._refuse(req, status, body, "permission", f"refused to invoke {function}: {why}{hint}", headers)

    def _authorize(self, req, auth_type: str | None, body: str, status: int, service: str = "execute-api"):
        """None for open methods; for AWS_IAM, the caller's identity once the lab's SigV4 signature checks out."""
        if auth_type in (None, "NONE"):
            return None
        if auth_type != "AWS_IAM":
            raise self._refuse(req, 401, '{"message":"Unauthorized"}', "unsupported",
                               f"the lab does not run {auth_type} authorizers; use NONE, AWS_IAM or CUSTOM (a Lambda "
                               "authorizer)")
        key, why = self._signer(req, service)
        if key is None:
            raise self._refuse(req, status, body, "auth", why)
        return {"accessKey": key, "accountId": self.account, "callerId": self._caller["UserId"],
                "userArn": self._caller["Arn"], "userId": self._caller["UserId"]}

    def _credentials(self) -> list[tuple]:
        given = self._given_credentials
        if callable(given):  # a list that grows: each function's execution-role session signs too
            given = given()
        if given is None:
            found = boto3.Session().get_credentials()
            given = [found.get_frozen_credentials()] if found else []
        return [(c["AWS_ACCESS_KEY_ID"], c["AWS_SECRET_ACCESS_KEY"], c.get("AWS_SESSION_TOKEN"))
                if isinstance(c, dict) else (c.access_key, c.secret_key, c.token) for c in given]

    def _signer(self, req: Request, service: str) -> tuple[str | None, str]:
        found = _AUTH.fullmatch((req.header("authorization") or "").strip())
        if not found:
            return None, (f"AuthType AWS_IAM: the request is not SigV4-signed for '{service}'; sign it, e.g. "
                          f"requests.get(url, auth=door.iam_auth('{service}'))")
        key, _, _, signed_for = found.groups()[:4]
        if signed_for != service:
            return None, f"the request is signed for service '{signed_for}', not '{service}'"
        for access_key, secret, token in self._credentials():
            if access_key == key:
                check = SignedOnly(None, {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
                                          "AWS_SESSION_TOKEN": token})
                # the same checks as AWS: signature, token, 15-minute window, scope naming this region
                refused = check.refusal(_environ(req), req.body, regions={self.region})
                if refused is None:
                    return key, ""
                return None, f"the SigV4 signature was refused: {refused[1]}"
        return None, f"access key {key} does not belong to this lab"

    def _call(self, req, function: str, event: dict, wait: float | None, answers: dict, headers=()) -> bytes:
        """The function's payload, or a refusal (answers: outcome -> (status, body)) when there is none to give."""
        done, box = threading.Event(), {}

        def invoke():  # in its own thread: on an integration timeout the function runs on, as on AWS
            try:
                response = self._lambda.invoke(FunctionName=function, Payload=json.dumps(event).encode())
                box["error"], box["payload"] = response.get("FunctionError"), response["Payload"].read()
            except Exception as e:  # noqa: BLE001 - a ClientError above all; reported to the learner below
                box["rejected"] = e
            finally:
                done.set()

        threading.Thread(target=invoke, name="lambda-lab-front-door-invoke", daemon=True).start()
        if not done.wait(wait):
            status, body = answers["timeout"]
            raise self._refuse(req, status, body, "timeout", f"{function} did not answer within the integration "
                               f"timeout of {wait:g} s; it goes on running", headers)
        if "rejected" in box:
            e = box["rejected"]
            code = e.response["Error"]["Code"] if isinstance(e, ClientError) else type(e).__name__
            status, body = answers.get("throttled" if code == "TooManyRequestsException" else "rejected",
                                       answers["rejected"])
            raise self._refuse(req, status, body, "rejected", f"Lambda refused to invoke {function}: {code}: {e}",
                               headers)
        if box["error"]:
            try:
                error = json.loads(box["payload"])
                detail = f"{error.get('errorType')}: {error.get('errorMessage')}"
            except (ValueError, AttributeError):
                detail = box["payload"][:200].decode(errors="replace")
            status, body = answers["failed"]
            raise self._refuse(req, status, body, "function-error", f"{function} failed: {detail}", headers)
        return box["payload"]

    def _parse(self, req, parse, status: int, body: str, headers=()) -> Reply:
        try:
            return parse()
        except Malformed as e:
            raise self._refuse(req, status, body, "malformed", f"Malformed Lambda proxy response: {e}",
                               headers) from None


def _v1_identity(iam: dict | None) -> dict | None:
    """Payload 1.0 names the signed caller in requestContext.identity, with its own key names."""
    if not iam:
        return None
    return {"accessKey": iam["accessKey"], "accountId": iam["accountId"], "caller": iam["callerId"],
            "user": iam["userId"], "userArn": iam["userArn"]}


def _environ(req: Request) -> dict:
    """The WSGI-style view of a request that the loopback endpoint's SigV4 check reads."""
    environ = {"REQUEST_METHOD": req.method, "RAW_URI": req.target, "HTTP_HOST": req.header("host", "")}
    for name, value in req.headers:
        meta = name.upper().replace("-", "_")
        environ[meta if meta in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{meta}"] = value
    return environ


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a client that hung up is no news for the notebook
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a requests.Session reuses its connection
    door: FrontDoor

    def log_message(self, *args) -> None:  # a line per request on stderr would flood the notebook
        pass

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        req = Request(self.command, path, query, list(self.headers.items()), self._body(), self.client_address[0],
                      target=self.path)
        reply = self.door.handle(req)
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() == "transfer-encoding":
                continue
            self.send_header(f"x-amzn-Remapped-{name}" if name.lower() in _REMAPPED else name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


for _verb in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
    setattr(_Handler, f"do_{_verb}", _Handler._serve)
