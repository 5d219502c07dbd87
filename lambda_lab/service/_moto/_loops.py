"""Recursive loop detection in moto: Get/PutFunctionRecursionConfig, and what a dropped event leaves behind.

moto 5.2.1 has neither action (it answers 404); the lab adds Lambda's own path
(`/2024-08-31/functions/<name>/recursion-config`) to the Lambda backend's routes and keeps the setting on the function's record, so a
deleted and re-created function starts again at `Terminate`, as on AWS.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from moto.awslambda import urls as lambda_urls
from moto.awslambda.models import LambdaBackend
from moto.awslambda.responses import LambdaResponse

from .. import _recursion
from .._deliver import _client
from .._errors import ServiceError
from . import _state
from ._records import function_by_arn, resolve

ROUTE = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/recursion-config/?$"
SETTINGS = ("Allow", "Terminate")


def recursive_loop(function_arn: str) -> str:
    """The function's RecursiveLoop setting (Terminate unless set to Allow)."""
    fn = function_by_arn(":".join(function_arn.split(":")[:7]))  # the setting is the unqualified function's
    return getattr(fn, "lab_recursive_loop", "Terminate") if fn is not None else "Terminate"


def dropped(source: str, function_arn: str) -> None:
    """Say why the function was not invoked, and count it as RecursiveInvocationsDropped, as AWS does."""
    service = _state.service
    if service is None:
        return
    service.refuse(source, function_arn, f"recursive loop: the event has already invoked functions "
                   f"{_recursion.MAX_CHAIN} times; put_function_recursion_config(RecursiveLoop='Allow') "
                   "lets it go on")
    name, region = function_arn.split(":")[6], function_arn.split(":")[3]
    try:
        _client("cloudwatch", region).put_metric_data(Namespace="AWS/Lambda", MetricData=[{
            "MetricName": "RecursiveInvocationsDropped", "Dimensions": [{"Name": "FunctionName", "Value": name}],
            "Value": 1.0, "Unit": "Count"}])
    except Exception:  # the metric is a courtesy: a failure to record it must not break the source
        pass


def recursion_config(request, full_url, headers):
    """GET or PUT /2024-08-31/functions/<name>/recursion-config."""
    response = LambdaResponse()
    response.setup_class(request, full_url, headers)
    name = unquote(response.path.rstrip("/").split("/")[-2])
    try:
        target = resolve(response.backend, name, None)
        if target.qualifier not in (None, "$LATEST"):
            raise ServiceError("ValidationException",
                               f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
                               "constraint: the recursion configuration belongs to the unqualified function (pass "
                               "its name or ARN without a version or alias)")
        fn = response.backend._lambdas._functions[target.function_name]["latest"]
        if request.method == "PUT":
            setting = (json.loads(response.body or "{}") or {}).get("RecursiveLoop")
            if setting not in SETTINGS:
                raise ServiceError("ValidationException", f"1 validation error detected: Value '{setting}' at "
                                   "'recursiveLoop' failed to satisfy constraint: Member must satisfy enum value "
                                   "set: [Allow, Terminate]")
            fn.lab_recursive_loop = setting
        body = {"RecursiveLoop": getattr(fn, "lab_recursive_loop", "Terminate")}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)
    except ServiceError as error:
        return error.status, {"x-amzn-errortype": error.code, "Content-Type": "application/json"}, \
            json.dumps(error.body())


_recursion.loop_setting = recursive_loop
_recursion.on_drop = dropped

class _LambdaUrls:
    """moto's Lambda URL module plus the recursion-config route, read at each use (other route patches compose)."""

    @property
    def url_bases(self):
        return lambda_urls.url_bases

    @property
    def url_paths(self):
        return {**lambda_urls.url_paths, ROUTE: recursion_config}


_URLS = _LambdaUrls()
PATCHES = {(LambdaBackend, "_url_module"): property(lambda self: _URLS)}
