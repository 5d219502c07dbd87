"""The one module that reaches into moto's internals (pinned to moto 5.2.1; tests/test_moto_seam.py guards it).

moto keeps the records (functions, versions, aliases, logs); this module replaces the few methods through
which an invocation passes so that it runs on the lab's runtime with Lambda's semantics, and checks
requests before moto stores them.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from urllib.parse import unquote

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.logs.models import logs_backends

from ..runtime import CodeArchive, FunctionConfig
from ._errors import ServiceError, invalid, not_found
from ._invoke import Alias, LambdaService, Target
from ._names import split_function_ref
from ._validation import validate_request

MOTO_VERSION = "5.2.1"
PATCHED = {  # (owner, attribute): what replaces it
    (LambdaResponse, "call_action"): "_call_action",
    (LambdaResponse, "invoke"): "_http_invoke",
    (LambdaBackend, "invoke"): "_backend_invoke",
    (LambdaSimpleBackend, "invoke"): "_backend_invoke",
    (LambdaFunction, "invoke"): "_function_invoke",
    (LambdaFunction, "get_configuration"): "_get_configuration",
}
_EVENT_CONFIG_ACTIONS = ("PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig",
                         "GetFunctionEventInvokeConfig", "DeleteFunctionEventInvokeConfig",
                         "ListFunctionEventInvokeConfigs")
_ASYNC_SOURCES = ("aws:s3", "aws:sns")  # push sources that invoke asynchronously on AWS
_INHERITED = object()  # marks a method the class inherits: uninstall deletes our override
_originals: dict = {}
_service: LambdaService | None = None
_log_lock = threading.Lock()


def install(service: LambdaService) -> None:
    """Route moto's Lambda through `service` until `uninstall()`."""
    global _service
    if not _originals:
        for (owner, attr), replacement in PATCHED.items():
            _originals[(owner, attr)] = owner.__dict__.get(attr, _INHERITED)
            setattr(owner, attr, globals()[replacement])
    _service = service


def uninstall() -> None:
    global _service
    for (owner, attr), original in _originals.items():
        if original is _INHERITED:
            delattr(owner, attr)
        else:
            setattr(owner, attr, original)
    _originals.clear()
    _service = None


def installed() -> bool:
    return _service is not None


@lru_cache(maxsize=1)
def _aws_managed_policies() -> dict:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def provide_managed_policies(account_id: str, names: list[str]) -> None:
    """Make these AWS managed policies attachable, without loading moto's whole catalogue (0.7 s)."""
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account_id]["global"]
    for name in names:
        policy = AWSManagedPolicy.from_data(name, account_id, backend.region_name, _aws_managed_policies()[name])
        backend.managed_policies.setdefault(policy.arn, policy)


def write_log(config: FunctionConfig, stream: str, events: list) -> None:
    """The runtime's log sink: CloudWatch Logs in the lab, one stream per execution environment."""
    backend = logs_backends[config.account_id][config.region]
    last, records = 0, []
    for stamp, message in events:
        last = max(last, stamp)  # CloudWatch wants events in order; init lines may carry later stamps
        records.append({"timestamp": last, "message": message})
    with _log_lock:
        backend.ensure_log_group(config.log_group)
        group = backend.groups[config.log_group]
        if stream not in group.streams:  # asking first: moto's "already exists" error costs more than an invoke
            group.create_log_stream(stream)
        group.streams[stream].put_log_events(records)


# -- replacements ----------------------------------------------------------------------------------
def _call_action(self: LambdaResponse):
    """Validate every Lambda API request as AWS does before moto sees it; retire stale environments after."""
    action = self._get_action()
    try:
        params = _request_params(self)
        validate_request(action, params)
        _stateful_checks(self.backend, action, params)
        if action in _EVENT_CONFIG_ACTIONS:
            return _event_config_action(self, action, params)
    except ServiceError as error:
        return _error_reply(error)
    reply = super(LambdaResponse, self).call_action()
    if reply[0] >= 300:
        return reply
    name = split_function_ref(params["FunctionName"])[0] if params.get("FunctionName") else None
    if action in ("CreateFunction", "UpdateFunctionConfiguration") and "DeadLetterConfig" in params:
        # moto drops DeadLetterConfig; keep it on $LATEST, and published versions copy it
        latest = self.backend._lambdas._functions[name]["latest"]
        latest.lab_dead_letter = params["DeadLetterConfig"] or None
    if _service is not None and action in ("UpdateFunctionConfiguration", "UpdateFunctionCode", "DeleteFunction"):
        _service.runtime.retire(name, keep=lambda c: action != "DeleteFunction" and c.version != "$LATEST")
        if action == "DeleteFunction":
            _service.event_configs.forget(name)
    return reply


def _http_invoke(self: LambdaResponse):
    name = unquote(self.path.rsplit("/", 2)[-2])
    qualifier = (self.querystring.get("Qualifier") or [None])[0]
    body = self.raw_body if isinstance(self.raw_body, bytes) else (self.body or "").encode()
    headers = {k.lower(): v for k, v in self.headers.items()}
    try:
        target = _target(self.backend, name, qualifier)
        reply = _service.invoke(target, body, headers.get("x-amz-invocation-type", "RequestResponse"),
                                headers.get("x-amz-log-type"), headers.get("x-amz-client-context"))
    except ServiceError as error:
        return _error_reply(error)
    return reply.status, {**reply.headers, "Content-Type": "application/json", "status": reply.status}, reply.body


def _get_configuration(self: LambdaFunction, on_create: bool = False) -> dict:
    config = _originals[(LambdaFunction, "get_configuration")](self, on_create)
    dead_letter = getattr(self, "lab_dead_letter", None)
    if dead_letter and dead_letter.get("TargetArn"):
        config["DeadLetterConfig"] = dead_letter
    return config


def _event_config_action(response: LambdaResponse, action: str, params: dict):
    """The async settings API, kept by the lab: moto's keeps only one config and ignores qualifiers."""
    name = split_function_ref(params["FunctionName"])[0]
    qualifier = (response.querystring.get("Qualifier") or [None])[0]
    target = _target(response.backend, name, qualifier if qualifier not in (None, "$LATEST") else None)
    store, arn = _service.event_configs, target.function_arn
    if action == "ListFunctionEventInvokeConfigs":
        body = {"FunctionEventInvokeConfigs": store.list(name)}
    elif action == "GetFunctionEventInvokeConfig":
        body = store.get(arn, name, qualifier)
    elif action == "DeleteFunctionEventInvokeConfig":
        store.delete(arn, name, qualifier)
        return 204, {"status": 204}, ""
    else:
        body = store.put(arn, name, qualifier, params, merge=action.startswith("Update"))
    return 200, {"status": 200, "Content-Type": "application/json"}, json.dumps(body)


def _backend_invoke(self: LambdaBackend, function_name, qualifier, body, headers, response_headers):
    """Used by moto's SQS trigger; answers as moto's callers expect, failures as `x-amz-function-error`."""
    target = _target(self, function_name, qualifier)
    payload = body.encode() if isinstance(body, str) else (body or b"")
    reply = _service.invoke(target, payload)
    if "X-Amz-Function-Error" in reply.headers:
        response_headers["x-amz-function-error"] = reply.headers["X-Amz-Function-Error"]
    return reply.body


def _function_invoke(self: LambdaFunction, body, request_headers, response_headers):
    """Used by moto's SNS, Kinesis, DynamoDB-stream and log triggers, which hold the function record."""
    backend = _backend_of(self)
    target = _target(backend, self.function_name, None if self.version == "$LATEST" else str(self.version))
    payload = body.encode() if isinstance(body, str) else (body or b"")
    reply = _service.invoke(target, payload, "Event" if _event_source(payload) in _ASYNC_SOURCES else "RequestResponse")
    if "X-Amz-Function-Error" in reply.headers:
        response_headers["x-amz-function-error"] = reply.headers["X-Amz-Function-Error"]
    return reply.body


def _event_source(payload: bytes) -> str | None:
    try:
        record = json.loads(payload)["Records"][0]
        return record.get("eventSource") or record.get("EventSource")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


# -- reading moto's records --------------------------------------------------------------------------
def _backend_of(fn: LambdaFunction) -> LambdaBackend:
    from moto.awslambda.utils import get_backend

    return get_backend(fn.account_id, fn.region)


def _target(backend: LambdaBackend, ref: str, qualifier: str | None) -> Target:
    name, qualifier = split_function_ref(ref, qualifier)
    storage = backend._lambdas
    unqualified = f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}"
    record = storage._functions.get(name)
    if record is None or record["latest"] is None:
        raise not_found(f"{unqualified}:{qualifier}" if qualifier else unqualified)
    alias = version = None
    if qualifier is None or qualifier == "$LATEST":
        version = "$LATEST"
    elif qualifier.isdigit():
        if storage._get_version(name, qualifier) is None:
            raise not_found(f"{unqualified}:{qualifier}")
        version = qualifier
    else:
        found = storage._aliases[unqualified].get(qualifier)
        if found is None:
            raise not_found(f"{unqualified}:{qualifier}")
        weights = (found.routing_config or {}).get("AdditionalVersionWeights") or {}
        alias = Alias(found.name, str(found.function_version), {str(k): float(v) for k, v in weights.items()})
    latest = record["latest"]
    reserved = latest.reserved_concurrency
    elsewhere = sum(int(r["latest"].reserved_concurrency or 0) for n, r in storage._functions.items()
                    if n != name and r["latest"] is not None)

    def record_of(v: str) -> LambdaFunction:
        fn = latest if v == "$LATEST" else storage._get_version(name, v)
        if fn is None:
            raise not_found(f"{unqualified}:{v}")
        return fn

    def dead_letter(v: str) -> str | None:
        return (getattr(record_of(v), "lab_dead_letter", None) or {}).get("TargetArn")

    return Target(name, unqualified, qualifier, version, alias, lambda v: _config(record_of(v)),
                  None if reserved is None else int(reserved), elsewhere, dead_letter)


def _config(fn: LambdaFunction) -> FunctionConfig:
    """The runtime's view of one function version, frozen at this moment."""
    if fn.package_type != "Zip":
        raise invalid("The lab runs .zip deployment packages; container images (PackageType=Image) need Docker.")
    return FunctionConfig(
        function_name=fn.function_name, version=str(fn.version), handler=fn.handler, runtime=fn.run_time,
        code=CodeArchive(fn.code_digest, fn.code_bytes), memory_mb=int(fn.memory_size),
        timeout_s=float(fn.timeout), environment=tuple(sorted((fn.environment_vars or {}).items())),
        region=fn.region, account_id=fn.account_id, architecture=fn.architectures[0],
        ephemeral_mb=int(fn.ephemeral_storage), layers=tuple(_layer(fn, layer["Arn"]) for layer in fn.layers or ()))


def _layer(fn: LambdaFunction, arn: str) -> CodeArchive:
    version = _backend_of(fn).layers_versions_by_arn(arn)
    if version is None:
        raise ServiceError("ResourceNotFoundException", f"Layer version {arn} does not exist.", 404)
    return CodeArchive(version.code_digest, version.code_bytes)


def _request_params(response: LambdaResponse) -> dict:
    """The request as botocore names its members: the JSON body plus the function named in the path."""
    params: dict = {}
    if response.body and response._get_action() not in ("Invoke", "InvokeAsync"):  # there the body is the event
        try:
            body = json.loads(response.body)
        except (ValueError, TypeError):
            body = None
        if isinstance(body, dict):
            params.update(body)
    # moto matches the path itself; read the names from it the same way (/functions/{name}/aliases/{alias})
    parts = response.path.split("?")[0].split("/")
    if "functions" in parts and len(parts) > parts.index("functions") + 1:
        params.setdefault("FunctionName", unquote(parts[parts.index("functions") + 1]))
    if "aliases" in parts and len(parts) > parts.index("aliases") + 1:
        params.setdefault("Name", unquote(parts[parts.index("aliases") + 1]))
    return params


def _stateful_checks(backend: LambdaBackend, action: str, params: dict) -> None:
    """Rules that need the account's records: reserved concurrency headroom, alias versions."""
    storage = backend._lambdas
    if action == "PutFunctionConcurrency" and params.get("ReservedConcurrentExecutions") is not None:
        name, _ = split_function_ref(params["FunctionName"])
        others = sum(int(r["latest"].reserved_concurrency or 0) for n, r in storage._functions.items()
                     if n != name and r["latest"] is not None)
        if others + int(params["ReservedConcurrentExecutions"]) > 1000 - 100:
            raise invalid("Specified ReservedConcurrentExecutions for function decreases account's "
                          "UnreservedConcurrentExecution below its minimum value of [100].")
    if action in ("CreateAlias", "UpdateAlias"):
        weights = ((params.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
        name, _ = split_function_ref(params["FunctionName"])
        if name not in storage._functions:
            return  # moto answers ResourceNotFoundException itself
        primary_version = params.get("FunctionVersion")
        if primary_version is None and action == "UpdateAlias":
            unqualified = f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}"
            existing = storage._aliases[unqualified].get(params.get("Name"))
            primary_version = existing.function_version if existing else None
        for extra in weights:
            fn = storage._get_version(name, str(extra))
            if fn is None:
                raise ServiceError("ResourceNotFoundException",
                                   f"Function not found: {name} version {extra} (publish it with PublishVersion "
                                   "before routing traffic to it).", 404)
            primary = storage._get_version(name, str(primary_version)) if primary_version else None
            if primary is not None and primary.role != fn.role:
                raise invalid("The execution role of the versions of this alias must be the same: version "
                              f"{primary_version} and version {extra} differ.")


def _error_reply(error: ServiceError):
    headers = {"x-amzn-errortype": error.code, "Content-Type": "application/json", "status": error.status}
    return error.status, headers, json.dumps(error.body())
