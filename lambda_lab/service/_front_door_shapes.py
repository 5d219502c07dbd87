"""What the HTTP front door translates: requests into proxy events, proxy responses into HTTP, paths into routes.

>>> v1_reply(b'{"statusCode": 201, "body": "made"}', decode_base64=False).status
201

Events keep the key order and helpers of lambda_lab.events (via _event_shapes), so a real request and a sample
event look alike; what only a real request has (its headers, raw query string, client address, the time) comes
from the request. Ids come from `secrets`, never from the events' seeded generator: a request served in the
background must not change the sample events a notebook prints next.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from urllib.parse import unquote

from .. import _event_shapes as _s

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
# HTTP APIs and function URLs pass only these as text; everything else arrives base64, even form posts and
# bodies without a Content-Type (measured on AWS, ministack PR #766)
TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
V1_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass
class Request:
    """One HTTP request as the front door received it; `path` (after the front door's prefix) is still encoded."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    target: str = ""  # the request line's target, prefix and query included: what a SigV4 signature covers
    received: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def header(self, name: str, default: str | None = None) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else default


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Malformed(ValueError):
    """The function's result is not a proxy response API Gateway accepts; the message says why."""


# --- requests into events -----------------------------------------------------------------------------------

def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def matches_media(value: str | None, patterns) -> bool:
    """'image/png' against binaryMediaTypes such as ['image/*']; an Accept of */* matches only a '*/*' entry."""
    kinds = [media_type(part) for part in (value or "").split(",") if part.strip()]
    return any(fnmatch.fnmatchcase(kind, p.lower()) for kind in kinds for p in patterns if p)


def is_text(content_type: str | None) -> bool:
    kind = media_type(content_type)
    return kind.startswith("text/") or kind in TEXT_TYPES


def request_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(15)) + "="


def _trace_id(now: datetime) -> str:
    return f"Root=1-{int(now.timestamp()):08x}-{secrets.token_hex(12)}"


def forwarded_headers(req: Request, host: str) -> list[tuple[str, str]]:
    """The client's headers as API Gateway passes them on: Host as the client addressed AWS, X-Forwarded-* added."""
    added = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"}
    pairs = [(k, host if k.lower() == "host" else v) for k, v in req.headers
             if k.lower() not in HOP_BY_HOP and k.lower() not in added]
    chain = req.header("x-forwarded-for")
    return pairs + [("X-Amzn-Trace-Id", req.header("x-amzn-trace-id") or _trace_id(req.received)),
                    ("X-Forwarded-For", f"{chain}, {req.source_ip}" if chain else req.source_ip),
                    ("X-Forwarded-Port", "443"), ("X-Forwarded-Proto", "https")]


def _body(req: Request, as_base64: bool) -> tuple[str | None, bool]:
    if not req.body:
        return None, False
    if as_base64:
        return base64.b64encode(req.body).decode(), True
    return req.body.decode("utf-8", errors="replace"), False


def v1_event(req: Request, *, path: str, resource: str, path_parameters: dict, stage: str,
             stage_variables: dict | None, api_id: str, account: str, region: str, body_as_base64: bool,
             resource_id: str | None, http_api: bool = False, identity: dict | None = None) -> dict:
    """Payload 1.0, as a REST API (or an HTTP API integration with payloadFormatVersion 1.0) sends it."""
    host = f"{api_id}.execute-api.{region}.amazonaws.com"
    headers = forwarded_headers(req, host)
    query = _s.query_pairs(req.query)
    text, encoded = _body(req, body_as_base64)
    who = dict.fromkeys(("accessKey", "accountId", "caller", "cognitoAuthenticationProvider",
                         "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId",
                         "principalOrgId", "sourceIp", "user", "userAgent", "userArn"))
    who.update(identity or {}, sourceIp=req.source_ip, userAgent=req.header("user-agent"))
    rid = request_id() if http_api else str(uuid.uuid4())
    context = {
        "accountId": account, "apiId": api_id, "domainName": host, "domainPrefix": api_id,
        "extendedRequestId": rid if http_api else request_id(), "httpMethod": req.method, "identity": who,
        "path": path if http_api else f"/{stage}{path}", "protocol": "HTTP/1.1", "requestId": rid,
        "requestTime": _s.clf_time(req.received), "requestTimeEpoch": _s.epoch_ms(req.received),
        "resourceId": resource_id, "resourcePath": resource, "stage": stage,
    }
    if http_api:
        context["authorizer"] = {"claims": None, "scopes": None}
    event = {"version": "1.0"} if http_api else {}
    event.update({
        "resource": resource, "path": path, "httpMethod": req.method,
        "headers": dict(headers), "multiValueHeaders": _s.multi(headers),
        "queryStringParameters": dict(query) or None, "multiValueQueryStringParameters": _s.multi(query) or None,
        "pathParameters": path_parameters or None, "stageVariables": stage_variables or None,
        "requestContext": context, "body": text, "isBase64Encoded": encoded,
    })
    return event


def v2_event(req: Request, *, raw_path: str, route_key: str, path_parameters: dict | None, stage: str,
             stage_variables: dict | None, account: str, api_id: str, domain: str, rid: str,
             authorizer: dict | None = None) -> dict:
    """Payload 2.0, shared by HTTP APIs and function URLs (key order as events.api_gateway_http)."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in forwarded_headers(req, domain):
        name = name.lower()
        if name == "cookie":  # 2.0 moves cookies out of the headers into their own list
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    query = _s.query_pairs(req.query)
    event: dict = {"version": "2.0", "routeKey": route_key, "rawPath": raw_path, "rawQueryString": req.query}
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if query:
        event["queryStringParameters"] = {k: ",".join(vs) for k, vs in _s.multi(query).items()}
    context = {"accountId": account, "apiId": api_id}
    if authorizer:
        context["authorizer"] = authorizer
    context.update({
        "domainName": domain, "domainPrefix": domain.split(".")[0],
        "http": {"method": req.method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": req.source_ip,
                 "userAgent": joined.get("user-agent", "")},
        "requestId": rid, "routeKey": route_key, "stage": stage,
        "time": _s.clf_time(req.received), "timeEpoch": _s.epoch_ms(req.received),
    })
    event["requestContext"] = context
    text, encoded = _body(req, not is_text(req.header("content-type")))
    if text is not None:
        event["body"] = text
    if path_parameters:
        event["pathParameters"] = path_parameters
    event["isBase64Encoded"] = encoded
    if stage_variables:
        event["stageVariables"] = stage_variables
    return event


# --- proxy responses into HTTP ------------------------------------------------------------------------------

def _json_kind(value) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _scalar(name: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise Malformed(f"header {name!r} has a {_json_kind(value)} value; header values must be strings")


def _status(out: dict) -> int:
    status = out.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise Malformed(f"statusCode must be an integer HTTP status such as 200, not {status!r}")
    return status


def _decoded(body: str | None, is_base64) -> bytes:
    if not isinstance(is_base64, bool):
        raise Malformed(f"isBase64Encoded must be true or false, not {is_base64!r}")
    if body is not None and not isinstance(body, str):
        raise Malformed(f"body must be a string (use json.dumps for data), not a {_json_kind(body)}")
    if not is_base64:
        return (body or "").encode()
    try:
        return base64.b64decode(body or "", validate=True)
    except binascii.Error:
        raise Malformed("isBase64Encoded is true but body is not valid base64") from None


def _load(payload: bytes):
    try:
        return json.loads(payload)
    except ValueError:
        raise Malformed("the function's result is not JSON") from None


def v1_reply(payload: bytes, *, decode_base64: bool) -> Reply:
    """A payload 1.0 proxy response as the client receives it; anything else raises Malformed.

    `decode_base64`: a REST API turns a base64 body back into bytes only when the request's Accept header
    matches one of the API's binaryMediaTypes (otherwise the client gets the base64 text); HTTP APIs always do.
    """
    out = _load(payload)
    if not isinstance(out, dict):
        raise Malformed(f"the function returned a {_json_kind(out)}; a proxy response is an object with statusCode")
    extra = sorted(set(out) - V1_KEYS)
    if extra:
        raise Malformed(f"unexpected key(s) {extra}: a proxy response has only {sorted(V1_KEYS)}")
    status = _status(out)
    headers = out.get("headers") or {}
    multi = out.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise Malformed("headers and multiValueHeaders must be objects")
    pairs = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise Malformed(f"multiValueHeaders[{name!r}] must be a list of strings")
        pairs += [(name, _scalar(name, v)) for v in values if v is not None]
    for name, value in headers.items():  # a pair given in both places is sent once (API Gateway guide)
        if value is not None and (name, _scalar(name, value)) not in pairs:
            pairs.append((name, _scalar(name, value)))
    is_base64 = out.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        raise Malformed(f"isBase64Encoded must be true or false, not {is_base64!r}")
    body = _decoded(out.get("body"), is_base64 and decode_base64)
    if not any(k.lower() == "content-type" for k, _ in pairs):
        pairs.append(("Content-Type", "application/json"))
    return Reply(status, pairs, body)


def v2_reply(payload: bytes, *, function_url: bool) -> Reply:
    """A payload 2.0 result: a response object with statusCode, or any JSON, inferred as a 200 JSON body.

    The inferred body is the function's result: for an HTTP API a string result is sent as its text (API
    Gateway guide's example), for a function URL as the JSON text, quotes included (Lambda guide's example).
    """
    out = _load(payload)
    if not isinstance(out, dict) or "statusCode" not in out:
        body = out.encode() if isinstance(out, str) and not function_url else payload
        return Reply(200, [("Content-Type", "application/json")], body)
    status = _status(out)
    headers, cookies = out.get("headers") or {}, out.get("cookies") or []
    if not isinstance(headers, dict):
        raise Malformed("headers must be an object of strings")
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise Malformed("cookies must be a list of strings")
    pairs = [(k, _scalar(k, v)) for k, v in headers.items() if v is not None]
    pairs += [("Set-Cookie", c) for c in cookies]
    return Reply(status, pairs, _decoded(out.get("body"), out.get("isBase64Encoded", False)))


def error_reply(status: int, body: dict | str, headers: list[tuple[str, str]] = ()) -> Reply:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return Reply(status, [("Content-Type", "application/json"), *headers], text.encode())


# --- routes ---------------------------------------------------------------------------------------------------

def segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def match(template: str, path: str) -> tuple[tuple, dict] | None:
    """How specifically `template` ('/orders/{id}', '/{proxy+}') matches an encoded path, and its parameters.

    The score ranks literal segments over {variables} over a greedy {name+}, segment by segment, which is
    how API Gateway picks the most specific resource or route. Parameter values are URL-decoded.
    """
    wanted, parts = segments(template), segments(path)
    score, params = [], {}
    for i, piece in enumerate(wanted):
        if piece.startswith("{") and piece.endswith("+}"):
            if i >= len(parts):
                return None  # a greedy variable needs at least one segment
            params[piece[1:-2]] = unquote("/".join(parts[i:]))
            return tuple(score + [0]), params
        if i >= len(parts):
            return None
        if piece.startswith("{") and piece.endswith("}"):
            params[piece[1:-1]] = unquote(parts[i])
            score.append(1)
        elif piece == unquote(parts[i]):
            score.append(2)
        else:
            return None
    return (tuple(score), params) if len(parts) == len(wanted) else None


def pick_resource(resources: list[dict], path: str) -> tuple[dict | None, dict]:
    """The REST API resource (from get_resources) that serves `path`, and its path parameters."""
    found = [(m, r) for r in resources if (m := match(r["path"], path))]
    if not found:
        return None, {}
    (_, params), resource = max(found, key=lambda pair: pair[0][0])
    return resource, params


def pick_route(routes: list[dict], method: str, path: str) -> tuple[dict | None, dict]:
    """The HTTP API route (from get_routes) for a request: the most specific path, a named method before ANY,
    and $default when nothing else matches (HTTP API guide, "Routing API requests")."""
    best = None
    for route in routes:
        verb, _, template = route["RouteKey"].partition(" ")
        found = match(template, path) if verb in (method, "ANY") else None
        if found and (best is None or (found[0], verb != "ANY") > best[0]):
            best = ((found[0], verb != "ANY"), route, found[1])
    if best:
        return best[1], best[2]
    return next((r for r in routes if r["RouteKey"] == "$default"), None), {}


def execute_api_arn(region: str, account: str, api_id: str, stage: str, method: str | None, path: str | None) -> str:
    """The SourceArn API Gateway presents to Lambda: api/stage/METHOD/resource-path, or api/stage/$default."""
    tail = "$default" if method is None else f"{method}/{(path or '/').lstrip('/')}"
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{tail}"


def lambda_target(uri: str, stage_variables: dict | None) -> str:
    """The function an integration names: a Lambda ARN, inside an apigateway invocation URI or bare."""
    for name, value in (stage_variables or {}).items():
        uri = uri.replace("${stageVariables." + name + "}", value)
    marker = ":lambda:path/2015-03-31/functions/"
    if marker in uri:
        uri = uri.split(marker, 1)[1].rsplit("/invocations", 1)[0]
    return uri


# --- resource-based policies, read as Lambda reads them ---------------------------------------------------

def applicable_policy(policy: str | dict | None, invoked_arn: str, via_function_url: bool) -> tuple[dict, int]:
    """The statements that govern `invoked_arn`, in AWS's shape; and how many belong to other qualifiers.

    moto keeps one policy per function and records AddPermission's FunctionUrlAuthType and InvokedViaFunctionUrl
    as top-level keys; Lambda keeps one policy per version or alias and makes them conditions.
    """
    if isinstance(policy, str):
        policy = json.loads(policy)
    invoked_arn = invoked_arn.removesuffix(":$LATEST")  # the unqualified function's policy governs $LATEST
    kept, elsewhere = [], 0
    for statement in (policy or {}).get("Statement", []):
        resources = statement.get("Resource")
        resources = [resources] if isinstance(resources, str) else resources or [invoked_arn]
        if not any(fnmatch.fnmatchcase(invoked_arn, r) for r in resources):
            elsewhere += 1
            continue
        statement = dict(statement)
        conditions = {op: dict(pairs) for op, pairs in (statement.pop("Condition", None) or {}).items()}
        auth_type = statement.pop("FunctionUrlAuthType", None)
        if auth_type:
            conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = auth_type
        via_url = statement.pop("InvokedViaFunctionUrl", None)
        via_url = conditions.get("Bool", {}).pop("lambda:InvokedViaFunctionUrl", via_url)
        if conditions.get("Bool") == {}:
            del conditions["Bool"]
        if str(via_url).lower() == "true" and not via_function_url:
            continue  # a statement only for calls through the function URL
        if conditions:
            statement["Condition"] = conditions
        kept.append(statement)
    return {"Statement": kept}, elsewhere


# --- function URL CORS, answered by the URL itself -------------------------------------------------------------

def _allowed_origin(cors: dict, origin: str | None) -> str | None:
    """What Access-Control-Allow-Origin says for `origin` under a function URL's Cors, or None (not allowed)."""
    if not origin:
        return None
    origins = cors.get("AllowOrigins") or []
    if any(o.lower() == origin.lower() for o in origins):
        return origin
    return "*" if "*" in origins else None


def is_preflight(req: Request) -> bool:
    return req.method == "OPTIONS" and bool(req.header("origin")) and bool(req.header("access-control-request-method"))


def cors_preflight(cors: dict, req: Request) -> Reply:
    """The URL's own answer to a browser's preflight: 200, with the Cors settings when the origin is allowed."""
    headers = [("Vary", "Origin")]
    allowed = _allowed_origin(cors, req.header("origin"))
    if allowed:
        headers.append(("Access-Control-Allow-Origin", allowed))
        if cors.get("AllowMethods"):
            headers.append(("Access-Control-Allow-Methods", ",".join(cors["AllowMethods"])))
        if cors.get("AllowHeaders"):
            headers.append(("Access-Control-Allow-Headers", ",".join(cors["AllowHeaders"])))
        if cors.get("AllowCredentials"):
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if cors.get("MaxAge") is not None:
            headers.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    return Reply(200, headers, b"")


def with_cors(reply: Reply, cors: dict, origin: str | None) -> Reply:
    """A function's response with the URL's CORS headers in place of any the function set itself."""
    headers = [(k, v) for k, v in reply.headers if not k.lower().startswith("access-control-")]
    allowed = _allowed_origin(cors, origin)
    if allowed:
        headers.append(("Access-Control-Allow-Origin", allowed))
        if cors.get("ExposeHeaders"):
            headers.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
        if cors.get("AllowCredentials"):
            headers.append(("Access-Control-Allow-Credentials", "true"))
    if origin:
        headers.append(("Vary", "Origin"))
    return replace(reply, headers=headers)
