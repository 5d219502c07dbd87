"""Lambda authorizers as API Gateway runs them: TOKEN and REQUEST for REST APIs, REQUEST (1.0, 2.0) for HTTP APIs.

>>> gate = Authorizers(now=time.time)
>>> gate.rest(authorizer, event, method_arn, function, (api_id, stage), invoke)  # requestContext.authorizer

The identity sources are read first (missing: 401, the function is not called), the result is cached per
identity for the authorizer's TTL on the clock given, and a REST policy is evaluated against each request's own
methodArn, also when it comes from the cache (a cached policy that names one method refuses the others, as on AWS).
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

UNAUTHORIZED = '{"message":"Unauthorized"}'
EXPLICIT_DENY = '{"Message":"User is not authorized to access this resource with an explicit deny"}'
NOT_ALLOWED = '{"Message":"User is not authorized to access this resource"}'
REST_CONFIG_ERROR = '{"message": null}'  # API Gateway's AuthorizerConfigurationException body
HTTP_FORBIDDEN, HTTP_500 = '{"message":"Forbidden"}', '{"message":"Internal Server Error"}'
REST_DEFAULT_TTL = 300  # authorizerResultTtlInSeconds when not given

__all__ = ["Authorizers", "Refused", "evaluate_policy", "rest_identity", "http_identity"]


class Refused(Exception):
    """The authorizer step answers the client itself: status, body, and why (for the lab's reason header)."""

    def __init__(self, status: int, body: str, kind: str, reason: str, headers=()) -> None:
        super().__init__(reason)
        self.status, self.body, self.kind, self.reason, self.headers = status, body, kind, reason, list(headers)


@dataclass(frozen=True)
class Result:
    principal: str | None
    policy: dict | None  # IAM policy format; None for an HTTP API simple response
    allowed: bool | None  # a simple response's isAuthorized
    context: dict


def _config_error(reason: str) -> Refused:
    return Refused(500, REST_CONFIG_ERROR, "authorizer", reason,
                   [("x-amzn-ErrorType", "AuthorizerConfigurationException")])


# --- identity sources -------------------------------------------------------------------------------------------

def _lookup(event: dict, where: str, name: str, multi: bool = False):
    """A header (case-insensitive), query string parameter, stage variable or context value of a v1 event."""
    if where in ("header", "multivalueheader"):
        pool = event.get("multiValueHeaders" if multi else "headers") or {}
        return next((v for k, v in pool.items() if k.lower() == name.lower()), None)
    if where in ("querystring", "multivaluequerystring"):
        return (event.get("multiValueQueryStringParameters" if multi else "queryStringParameters") or {}).get(name)
    if where == "stageVariables":
        return (event.get("stageVariables") or {}).get(name)
    if where == "context":
        return event.get("requestContext", {}).get(name)
    return None


def rest_identity(sources: str | None, event: dict) -> tuple[str, ...]:
    """The values of a REST authorizer's identitySource ('method.request.header.Authorization, ...').

    Raises Refused(401) when one is missing or empty: API Gateway answers without calling the authorizer.
    """
    values = []
    for source in [s.strip() for s in (sources or "").split(",") if s.strip()]:
        parts = source.split(".")
        if parts[:2] == ["method", "request"] and len(parts) >= 4:
            where, name = parts[2], ".".join(parts[3:])
            value = _lookup(event, where, name, multi=where.startswith("multivalue"))
        elif parts[0] in ("stageVariables", "context") and len(parts) >= 2:
            value = _lookup(event, parts[0], ".".join(parts[1:]))
        else:
            raise _config_error(f"identity source {source!r} is not one API Gateway reads; use e.g. "
                                "'method.request.header.Authorization'")
        if value in (None, "", []):
            raise Refused(401, UNAUTHORIZED, "auth", f"the identity source {source} is missing from the request, "
                          "so API Gateway answers 401 without calling the authorizer")
        values.append(json.dumps(value) if isinstance(value, list) else str(value))
    return tuple(values)


def http_identity(sources: list[str] | None, event: dict) -> tuple[str, ...]:
    """The values of an HTTP API authorizer's IdentitySource (['$request.header.Authorization', ...]) from a v2
    event; Raises Refused(401) when one is missing."""
    values = []
    for source in sources or []:
        kind, _, name = source.lstrip("$").partition(".")
        if kind == "request":
            where, _, name = name.partition(".")
            pool = {"header": event.get("headers") or {}, "querystring": event.get("queryStringParameters") or {}}
            value = next((v for k, v in pool.get(where, {}).items()
                          if (k.lower() == name.lower() if where == "header" else k == name)), None)
        elif kind == "stageVariables":
            value = (event.get("stageVariables") or {}).get(name)
        elif kind == "context":
            value = event.get("requestContext", {}).get(name)
        else:
            value = None
        if value in (None, ""):
            raise Refused(401, UNAUTHORIZED, "auth", f"the identity source {source} is missing from the request, "
                          "so API Gateway answers 401 without calling the authorizer")
        values.append(str(value))
    return tuple(values)


# --- results ------------------------------------------------------------------------------------------------------

def _parse(payload: bytes, simple: bool, config_error: Callable[[str], Refused]) -> Result:
    try:
        out = json.loads(payload)
    except ValueError:
        raise config_error("the authorizer's result is not JSON") from None
    if not isinstance(out, dict):
        raise config_error(f"the authorizer returned {type(out).__name__}; it must return an object")
    context = out.get("context") or {}
    if not isinstance(context, dict):
        raise config_error("the authorizer's context must be an object of strings, numbers and booleans")
    if simple:
        if not isinstance(out.get("isAuthorized"), bool):
            raise config_error("a simple response needs isAuthorized: true or false")
        return Result(None, None, out["isAuthorized"], context)
    policy = out.get("policyDocument")
    if not isinstance(policy, dict) or not policy.get("Statement"):
        raise config_error("the authorizer's result has no policyDocument with a Statement; return "
                           "{'principalId': ..., 'policyDocument': {'Version': '2012-10-17', 'Statement': [...]}}")
    principal = out.get("principalId")  # optional: only the policy decides
    return Result(None if principal is None else str(principal), policy, None, context)


def evaluate_policy(policy: dict, method_arn: str) -> str | None:
    """'Deny' if a statement denies execute-api:Invoke on `method_arn`, else 'Allow' if one allows it, else None."""
    statements = policy.get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    found = None
    for statement in statements:
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        resources = statement.get("Resource") or []
        resources = [resources] if isinstance(resources, str) else resources
        if not any(a.lower() in ("execute-api:invoke", "execute-api:*", "*") for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(method_arn, r.replace("[", "[[]")) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            found = "Allow"
    return found


def _strings(context: dict) -> dict:
    """A REST API hands the context to the integration as strings ("true", "42"); objects are refused."""
    out = {}
    for key, value in context.items():
        if isinstance(value, (dict, list)):
            raise _config_error(f"the authorizer's context[{key!r}] is a {type(value).__name__}; context values "
                                "must be strings, numbers or booleans (serialize it with json.dumps)")
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


# --- the cache and the two kinds of API -------------------------------------------------------------------------

class Authorizers:
    """Runs authorizers for the front door and caches their results on the clock `now` (simulated seconds)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._cache: dict[tuple, tuple[float, Result]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple | None, ttl: int, run: Callable[[], Result]) -> Result:
        if key is not None and ttl > 0:
            with self._lock:
                hit = self._cache.get(key)
                if hit and hit[0] > self._now():
                    return hit[1]
        result = run()
        if key is not None and ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:  # a flood of distinct tokens must not grow the kernel for ever
                    self._cache.clear()
                self._cache[key] = (self._now() + ttl, result)
        return result

    def _invoke(self, invoke, function: str, event: dict, config_error) -> bytes:
        error, payload = invoke(function, event)
        if error:
            try:
                message = json.loads(payload).get("errorMessage")
            except (ValueError, AttributeError):
                message = None
            if message == "Unauthorized":  # the documented way for an authorizer to answer 401
                raise Refused(401, UNAUTHORIZED, "auth", f"the authorizer {function} raised 'Unauthorized'")
            raise config_error(f"the authorizer {function} failed: {payload[:300].decode(errors='replace')}")
        return payload

    def rest(self, authorizer: dict, event: dict, method_arn: str, function: str, scope: tuple,
             invoke: Callable[[str, dict], tuple]) -> dict:
        """A REST API TOKEN or REQUEST authorizer: requestContext.authorizer for the integration, or Refused."""
        kind = (authorizer.get("type") or "TOKEN").upper()
        if kind not in ("TOKEN", "REQUEST"):
            raise _config_error(f"the lab runs Lambda authorizers (TOKEN, REQUEST), not {kind}")
        sources = authorizer.get("identitySource") or ("method.request.header.Authorization"
                                                      if kind == "TOKEN" else "")
        identity = rest_identity(sources, event)
        if kind == "TOKEN":
            pattern = authorizer.get("identityValidationExpression")
            if pattern and not re.fullmatch(pattern, identity[0]):
                raise Refused(401, UNAUTHORIZED, "auth", f"the token does not match identityValidationExpression "
                              f"{pattern!r}, so API Gateway answers 401 without calling the authorizer")
            request = {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": method_arn}
        else:
            request = {"type": "REQUEST", "methodArn": method_arn,
                       **{k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")}}
        ttl = authorizer.get("authorizerResultTtlInSeconds")
        ttl = REST_DEFAULT_TTL if ttl is None else int(ttl)
        key = (*scope, authorizer.get("id"), identity) if identity else None

        def run() -> Result:
            result = _parse(self._invoke(invoke, function, request, _config_error), False, _config_error)
            _strings(result.context)  # a context API Gateway refuses is refused before it is cached
            return result

        result = self._cached(key, ttl, run)
        verdict = evaluate_policy(result.policy, method_arn)
        if verdict == "Deny":
            raise Refused(403, EXPLICIT_DENY, "auth", f"the authorizer's policy denies {method_arn}")
        if verdict is None:
            raise Refused(403, NOT_ALLOWED, "auth", f"the authorizer's policy allows nothing that matches "
                          f"{method_arn} (a cached policy applies to every method the identity calls)")
        return {"principalId": result.principal, "integrationLatency": 0, **_strings(result.context)}

    def http(self, authorizer: dict, event: dict, route_arn: str, function: str, scope: tuple,
             invoke: Callable[[str, dict], tuple]) -> dict:
        """An HTTP API REQUEST authorizer (payload 1.0 or 2.0): requestContext.authorizer, or Refused."""
        def error(reason: str) -> Refused:
            return Refused(500, HTTP_500, "authorizer", reason)

        version = authorizer.get("AuthorizerPayloadFormatVersion") or "2.0"
        sources = authorizer.get("IdentitySource") or []
        identity = http_identity(sources, event)
        if version == "2.0":
            request = {"version": "2.0", "type": "REQUEST", "routeArn": route_arn, "identitySource": list(identity),
                       **{k: v for k, v in event.items() if k not in ("version", "body", "isBase64Encoded")}}
        else:
            request = {"version": "1.0", "type": "REQUEST", "methodArn": route_arn,
                       "identitySource": ",".join(identity),
                       **{k: v for k, v in event.items() if k not in ("version", "body", "isBase64Encoded")}}
        simple = bool(authorizer.get("EnableSimpleResponses")) and version == "2.0"
        ttl = int(authorizer.get("AuthorizerResultTtlInSeconds") or 0)
        key = (*scope, authorizer.get("AuthorizerId"), identity) if identity else None

        def run() -> Result:
            result = _parse(self._invoke(invoke, function, request, error), simple, error)
            for name, value in result.context.items():
                if isinstance(value, (dict, list)) and version == "1.0":
                    raise error(f"the authorizer's context[{name!r}] must be a string, number or boolean")
            return result

        result = self._cached(key, ttl, run)
        allowed = result.allowed if simple else evaluate_policy(result.policy, route_arn) == "Allow"
        if not allowed:
            raise Refused(403, HTTP_FORBIDDEN, "auth", f"the authorizer did not authorize {route_arn}")
        return {"lambda": result.context}  # where HTTP APIs put a Lambda authorizer's context
