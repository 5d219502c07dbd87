"""Lambda's API in moto, answered with the lab's semantics: validation, invoke, async settings."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote_plus, unquote, unquote_plus

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.core.responses import BaseResponse
from moto.awslambda_simple.models import LambdaSimpleBackend

from .. import _logging_config as logging_config
from .._function_states import FunctionStates
from .._errors import ServiceError, invalid
from ...limits import min_unreserved
from .._names import split_function_ref
from .._validation import check_upload_size, validate_request
from .._permissions import DELIVERY_ACTIONS, POLLER_POLICIES, delivery_refusal, poller_refusal
from . import _api_rules, _state
from ._mapping_api import PATCHES as _MAPPING_PATCHES
from ._mapping_api import check_mapping_request
from ._packages import check_packages
from ._records import backend_of, dead_letter_target, reserved_elsewhere, resolve, role_documents
from ._triggers import silence_moto_pollers

_EVENT_CONFIG_ACTIONS = ("PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig",
                         "GetFunctionEventInvokeConfig", "DeleteFunctionEventInvokeConfig",
                         "ListFunctionEventInvokeConfigs")
_ASYNC_SOURCES = ("aws:s3", "aws:sns")  # push sources that invoke asynchronously on AWS


def _call_action(self: LambdaResponse):
    """Validate every Lambda API request as AWS does before moto sees it; retire stale environments after."""
    action = self._get_action()
    try:
        check_upload_size(action, len(getattr(self, "raw_body", None) or self.body or b""))  # before parsing it
        params = _request_params(self)
        validate_request(action, params)
        _function_state_checks(self.backend, action, params)
        _stateful_checks(self.backend, action, params)
        _delivery_checks(self, action, params)
        check_mapping_request(self, action, params)
        check_packages(self.backend, action, params)
        if action in _EVENT_CONFIG_ACTIONS:
            return _event_config_action(self, action, params)
        if action == "PublishVersion":
            _forget_unchanged_updates(self.backend, params)
        new_logging = _logging_config_of(self.backend, action, params)
        answered = _api_rules.before(self, action, params)
        if answered is not None:
            return answered
    except ServiceError as error:
        return _error_reply(error)
    reply = super(LambdaResponse, self).call_action()
    if reply[0] >= 300:
        return reply
    try:
        reply = _api_rules.after(self, action, params, reply)
    except ServiceError as error:
        return _error_reply(error)
    name = split_function_ref(params["FunctionName"])[0] if params.get("FunctionName") else None
    if action == "UpdateFunctionCode" and params.get("Architectures"):  # moto ignores them there
        self.backend._lambdas._functions[name]["latest"].architectures = params["Architectures"]
    if action in ("CreateFunction", "UpdateFunctionConfiguration") and "DeadLetterConfig" in params:
        # moto drops DeadLetterConfig; keep it on $LATEST, and published versions copy it
        latest = self.backend._lambdas._functions[name]["latest"]
        latest.lab_dead_letter = params["DeadLetterConfig"] or None
    if action == "UpdateFunctionConfiguration" and params.get("TracingConfig"):
        reply = _update_tracing(self.backend, reply, name, params["TracingConfig"])
    if new_logging is not None:
        reply = _keep_logging_config(self.backend, reply, name, new_logging)
    if action in _STATE_CHANGES:
        reply = _answer_with_state(self.backend, reply, action, name)
    if action == "CreateEventSourceMapping" and ":" in params.get("FunctionName", ""):
        reply = _keep_alias(self.backend, reply, params["FunctionName"])
    if action in ("CreateEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping"):
        silence_moto_pollers()
        _state.service.mappings.prime()
        _state.service.mappings.nudge()
    if _state.service is not None and action in ("UpdateFunctionConfiguration", "UpdateFunctionCode", "DeleteFunction"):
        deleted = (self.querystring.get("Qualifier") or [None])[0] if action == "DeleteFunction" else None
        if action != "DeleteFunction":
            _state.service.runtime.retire(name, keep=lambda c: c.version != "$LATEST")
        elif deleted:  # one version goes; $LATEST and the other versions stay warm
            _state.service.runtime.retire(name, keep=lambda c: c.version != deleted)
        else:
            _state.service.runtime.retire(name)
            _state.service.event_configs.forget(name)
    return reply


_STATE_CHANGES = ("CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration")
_STATE_READS = ("GetFunction", "GetFunctionConfiguration")
_STATE_REFUSED = ("UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion")


def _unqualified_arn(backend: LambdaBackend, name: str) -> str:
    return f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}"


def _function_state_checks(backend: LambdaBackend, action: str, params: dict) -> None:
    """Pending and InProgress functions refuse what AWS refuses; a look at the configuration ends the wait. A role
    too new for Lambda to assume is refused (both only on a stand-in account: locally nothing is ever busy)."""
    if _state.service is None or not params.get("FunctionName"):
        return
    if action in ("CreateFunction", "UpdateFunctionConfiguration") and isinstance(params.get("Role"), str):
        _state.service.iam.check_assumable(backend.account_id, params["Role"])
    states: FunctionStates = _state.service.function_states
    if not states.active or action not in (*_STATE_READS, *_STATE_REFUSED, "DeleteFunction"):
        return  # every other call (Invoke among them) pays no more than this
    arn = _unqualified_arn(backend, split_function_ref(params["FunctionName"])[0])
    if action in _STATE_READS:
        states.read(arn)
    elif action in _STATE_REFUSED:
        states.check_change(arn)
    else:
        states.forget(arn)


def _answer_with_state(backend: LambdaBackend, reply, action: str, name: str):
    """CreateFunction answers `Pending` and an update `InProgress`, as on AWS, however soon the lab is done."""
    if _state.service is None:
        return reply
    states: FunctionStates = _state.service.function_states
    arn = _unqualified_arn(backend, name)
    (states.created if action == "CreateFunction" else states.updated)(arn)
    return reply[0], reply[1], json.dumps(FunctionStates.answer(json.loads(reply[2]), action))


def _http_invoke(self: LambdaResponse):
    name = unquote(self.path.rsplit("/", 2)[-2])
    qualifier = (self.querystring.get("Qualifier") or [None])[0]
    body = self.raw_body if isinstance(self.raw_body, bytes) else (self.body or "").encode()
    headers = {k.lower(): v for k, v in self.headers.items()}
    try:
        target = resolve(self.backend, name, qualifier)
        if _state.service.function_states.active:  # a stand-in account with a function still Pending
            _state.service.function_states.check_invoke(_unqualified_arn(self.backend, target.function_name))
        reply = _state.service.invoke(target, body, headers.get("x-amz-invocation-type", "RequestResponse"),
                                headers.get("x-amz-log-type"), headers.get("x-amz-client-context"),
                                headers.get("x-amzn-trace-id"))
    except ServiceError as error:
        return _error_reply(error)
    return reply.status, {**reply.headers, "Content-Type": "application/json", "status": reply.status}, reply.body


_FROZEN = ("CodeSha256", "Handler", "Runtime", "MemorySize", "Timeout", "Environment", "Layers", "Role",
           "VpcConfig", "EphemeralStorage", "Architectures", "DeadLetterConfig", "TracingConfig", "Description",
           "LoggingConfig")


def _logging_config_of(backend: LambdaBackend, action: str, params: dict) -> dict | None:
    """The LoggingConfig a create or update will store (Lambda's rules checked before moto sees it); None: unchanged."""
    if action not in ("CreateFunction", "UpdateFunctionConfiguration") or "LoggingConfig" not in params:
        return None
    record = backend._lambdas._functions.get(split_function_ref(params.get("FunctionName", ""))[0])
    current = getattr(record["latest"], "lab_logging", None) if action != "CreateFunction" and record else None
    return logging_config.merged(current, params["LoggingConfig"] or {})


def _keep_logging_config(backend: LambdaBackend, reply, name: str, config: dict):
    """moto drops LoggingConfig: keep it on $LATEST (a new dict, so published versions keep theirs)."""
    latest = backend._lambdas._functions[name]["latest"]
    latest.lab_logging = config
    body = json.loads(reply[2])
    body["LoggingConfig"] = logging_config.shown(config, name)
    return reply[0], reply[1], json.dumps(body)


def _update_tracing(backend: LambdaBackend, reply, name: str, tracing: dict):
    """moto ignores TracingConfig on update: keep it on $LATEST (a new dict, so published versions keep theirs)."""
    latest = backend._lambdas._functions[name]["latest"]
    latest.tracing_config = {"Mode": tracing.get("Mode") or latest.tracing_config.get("Mode") or "PassThrough"}
    body = json.loads(reply[2])
    body["TracingConfig"] = latest.tracing_config
    return reply[0], reply[1], json.dumps(body)


def _keep_alias(backend: LambdaBackend, reply, function_ref: str):
    """A mapping made with an alias follows the alias (moto pins the alias's version of the moment)."""
    name, qualifier = split_function_ref(function_ref)
    if not qualifier or qualifier.isdigit() or qualifier == "$LATEST":
        return reply
    esm = backend._event_source_mappings.get(json.loads(reply[2])["UUID"])
    if esm is None:
        return reply
    esm.function_arn = f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}:{qualifier}"
    return reply[0], reply[1], json.dumps(esm.get_configuration())


def _forget_unchanged_updates(backend: LambdaBackend, params: dict) -> None:
    """AWS publishes no new version when code and configuration equal the last version's; moto does after any update."""
    record = backend._lambdas._functions.get(split_function_ref(params.get("FunctionName", ""))[0])
    if record and record["versions"] and record["latest"] is not None:
        latest, last = record["latest"].get_configuration(), record["versions"][-1].get_configuration()
        if all(latest.get(key) == last.get(key) for key in _FROZEN):
            record["latest"].code_or_config_updated = False


def _get_configuration(self: LambdaFunction, on_create: bool = False) -> dict:
    config = _api_rules.complete_configuration(self, _state.originals[(LambdaFunction, "get_configuration")](self, on_create))
    dead_letter = getattr(self, "lab_dead_letter", None)
    if dead_letter and dead_letter.get("TargetArn"):
        config["DeadLetterConfig"] = dead_letter
    config["LoggingConfig"] = logging_config.shown(getattr(self, "lab_logging", None), self.function_name)
    return config


def _event_config_action(response: LambdaResponse, action: str, params: dict):
    """The async settings API, kept by the lab: moto's keeps only one config and ignores qualifiers."""
    name = split_function_ref(params["FunctionName"])[0]
    qualifier = (response.querystring.get("Qualifier") or [None])[0]
    target = resolve(response.backend, name, qualifier if qualifier not in (None, "$LATEST") else None)
    store, arn = _state.service.event_configs, target.function_arn
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
    target = resolve(self, function_name, qualifier)
    payload = body.encode() if isinstance(body, str) else (body or b"")
    reply = _state.service.invoke(target, payload)
    if "X-Amz-Function-Error" in reply.headers:
        response_headers["x-amz-function-error"] = reply.headers["X-Amz-Function-Error"]
    return reply.body


def _function_invoke(self: LambdaFunction, body, request_headers, response_headers):
    """Used by moto's SNS, Kinesis, DynamoDB-stream and log triggers, which hold the function record."""
    backend = backend_of(self)
    target = resolve(backend, self.function_name, None if self.version == "$LATEST" else str(self.version))
    payload = body.encode() if isinstance(body, str) else (body or b"")
    source = _event_source(payload)
    if source == "aws:s3":
        payload = _s3_keys_as_aws_sends_them(payload)
    reply = _state.service.invoke(target, payload, "Event" if source in _ASYNC_SOURCES else "RequestResponse")
    if "X-Amz-Function-Error" in reply.headers:
        response_headers["x-amz-function-error"] = reply.headers["X-Amz-Function-Error"]
    return reply.body


def _s3_keys_as_aws_sends_them(payload: bytes) -> bytes:
    """An S3 event as S3 sends it: form-encoded keys ('+' for a space, '/' kept; moto encodes '/' too), a UTC
    eventTime ending in Z, and the identity, request and sequencer fields moto leaves out."""
    event = json.loads(payload)
    for record in event.get("Records", []):
        obj = record.get("s3", {}).get("object", {})
        if "key" in obj:
            obj["key"] = quote_plus(unquote_plus(obj["key"]), safe="/")
        obj.setdefault("sequencer", f"{int(time.time() * 1e6):016X}")
        stamp = record.get("eventTime", "")
        if stamp and not stamp.endswith("Z"):
            record["eventTime"] = stamp[:23] + "Z"
        record.setdefault("userIdentity", {"principalId": "AWS:AIDAEXAMPLEPRINCIPAL"})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        record.setdefault("responseElements", {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                                               "x-amz-id-2": uuid.uuid4().hex})
    return json.dumps(event).encode()


def _event_source(payload: bytes) -> str | None:
    try:
        record = json.loads(payload)["Records"][0]
        return record.get("eventSource") or record.get("EventSource")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


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
    if action == "AddPermission" and params.get("FunctionName"):
        name, _ = split_function_ref(params["FunctionName"])
        record = storage._functions.get(name)
        resource = _api_rules.policy_resource(backend, params["FunctionName"], params.get("Qualifier"))
        if record and any(s.get("Sid") == params.get("StatementId") and s.get("Resource") == resource
                          for s in record["latest"].policy.statements):  # one policy per version and alias
            raise ServiceError("ResourceConflictException",
                               f"The statement id ({params['StatementId']}) provided already exists. Please provide a "
                               "new statement id, or remove the existing statement.", 409)
    if action == "CreateEventSourceMapping" and params.get("FunctionName") and params.get("EventSourceArn"):
        name, _ = split_function_ref(params["FunctionName"])
        record = storage._functions.get(name)
        if record:
            refusal = poller_refusal(role_documents(backend.account_id, record["latest"].role),
                                     params["EventSourceArn"])
            if refusal:
                policy = POLLER_POLICIES[params["EventSourceArn"].split(":")[2]]
                raise invalid(refusal + f" (lambda-lab: attach AWS's managed policy {policy} to the function's "
                              f"execution role, e.g. lab.allow(\"{policy}\"), or an equivalent policy.)")
    if action == "PutFunctionConcurrency" and params.get("ReservedConcurrentExecutions") is not None:
        name, _ = split_function_ref(params["FunctionName"])
        others = reserved_elsewhere(storage, name)
        quota = _state.service.account_concurrency
        if others + int(params["ReservedConcurrentExecutions"]) > quota - min_unreserved(quota):
            raise invalid("Specified ReservedConcurrentExecutions for function decreases account's "
                          f"UnreservedConcurrentExecution below its minimum value of [{min_unreserved(quota)}].")
    if action in ("CreateAlias", "UpdateAlias"):
        weights = ((params.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
        name, _ = split_function_ref(params["FunctionName"])
        if name not in storage._functions:
            return  # moto answers ResourceNotFoundException itself
        primary_version = params.get("FunctionVersion")
        if action == "UpdateAlias":
            unqualified = f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}"
            existing = storage._aliases[unqualified].get(params.get("Name"))
            if existing is not None:  # what the alias will be after the update
                primary_version = primary_version or existing.function_version
                if "RoutingConfig" not in params:
                    weights = (existing.routing_config or {}).get("AdditionalVersionWeights") or {}
            if weights and str(primary_version) == "$LATEST":
                raise invalid("$LATEST is not supported for an alias pointing to more than 1 version")
            if str(primary_version) in {str(k) for k in weights}:
                raise invalid(f"Version {primary_version} is both the alias's FunctionVersion and its additional "
                              "version; route the extra share to a different published version.")
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
            if primary is not None and dead_letter_target(primary) != dead_letter_target(fn):
                raise invalid("The dead-letter queue configuration of the versions of this alias must be the same "
                              f"(or absent from both): version {primary_version} and version {extra} differ.")


_GRANTS = {"sqs": "the AWS managed policy AmazonSQSFullAccess", "sns": "the AWS managed policy AmazonSNSFullAccess",
           "lambda": "the AWS managed policy AWSLambdaRole", "s3": "the AWS managed policy AmazonS3FullAccess",
           "events": "an inline policy (iam.put_role_policy) allowing events:PutEvents"}


def _delivery_checks(response: LambdaResponse, action: str, params: dict) -> None:
    """A DLQ or destination the execution role may not send to is refused when it is set, as AWS does."""
    if action in ("CreateFunction", "UpdateFunctionConfiguration"):
        targets = [(params.get("DeadLetterConfig") or {}).get("TargetArn")]
        dead_letter = targets[0]
        if isinstance(dead_letter, str) and dead_letter.startswith("arn:") and \
                dead_letter.split(":")[2:3] not in (["sqs"], ["sns"]):
            raise invalid(f"The dead-letter target {dead_letter} is neither an Amazon SQS queue nor an Amazon SNS "
                          "topic (lambda-lab: a dead-letter queue can only be one of those; failures of asynchronous "
                          "invocations can also go to an on-failure destination, which may be an S3 bucket).")
    elif action in ("PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig"):
        targets = [(d or {}).get("Destination") for d in (params.get("DestinationConfig") or {}).values()]
    else:
        return
    targets = [arn for arn in targets if isinstance(arn, str) and arn]
    if not targets or not params.get("FunctionName"):
        return
    role = params.get("Role") if isinstance(params.get("Role"), str) else None
    if role is None and action != "CreateFunction":
        role = _role_of(response.backend, params["FunctionName"], (response.querystring.get("Qualifier") or [None])[0])
    if not role:
        return  # no such function or version: the action answers ResourceNotFoundException itself
    documents = role_documents(response.backend.account_id, role)
    for arn in targets:
        refusal = delivery_refusal(documents, arn)
        if refusal:
            kind = arn.split(":")[2]
            raise invalid(f"{refusal} (lambda-lab: the function's execution role needs "
                          f"{DELIVERY_ACTIONS[kind][0]} first, e.g. through {_GRANTS[kind]}.)")


def _role_of(backend: LambdaBackend, function_ref: str, qualifier: str | None) -> str | None:
    """The execution role of the version that `function_ref` and `qualifier` (or an alias) name."""
    name, in_ref = split_function_ref(function_ref)
    qualifier = qualifier or in_ref
    storage = backend._lambdas
    record = storage._functions.get(name)
    if record is None:
        return None
    if qualifier and qualifier != "$LATEST":
        if not qualifier.isdigit():
            unqualified = f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}"
            alias = storage._aliases.get(unqualified, {}).get(qualifier)
            if alias is None:
                return None
            qualifier = str(alias.function_version)
        if qualifier != "$LATEST":
            version = storage._get_version(name, qualifier)
            return version.role if version is not None else None
    return record["latest"].role if record["latest"] is not None else None


def _error_reply(error: ServiceError):
    headers = {"x-amzn-errortype": error.code, "Content-Type": "application/json", "status": error.status}
    body = error.body()
    if "retryAfterSeconds" in body:  # Lambda's API model carries it in the Retry-After header, not the body
        headers["Retry-After"] = str(body.pop("retryAfterSeconds"))
    return error.status, headers, json.dumps(body)


def _enrich_keeping_the_invocations_id(headers: dict, body):
    """moto gives every response a random x-amzn-RequestId; an Invoke's is the invocation's own, as on AWS."""
    invocation = headers.pop("x-amzn-RequestId", None)
    headers, body = BaseResponse._enrich_response(headers, body)
    if invocation:
        headers["x-amzn-requestid"] = invocation
    return headers, body


PATCHES = {
    (LambdaResponse, "_enrich_response"): staticmethod(_enrich_keeping_the_invocations_id),
    (LambdaResponse, "call_action"): _call_action,
    (LambdaResponse, "invoke"): _http_invoke,
    (LambdaBackend, "invoke"): _backend_invoke,
    (LambdaSimpleBackend, "invoke"): _backend_invoke,
    (LambdaFunction, "invoke"): _function_invoke,
    (LambdaFunction, "get_configuration"): _get_configuration,
    **_MAPPING_PATCHES,
}
