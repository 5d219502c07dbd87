"""The API's long tail as Lambda answers it: name forms, RevisionIds, preconditions, alias and version conflicts,
KMS keys and account settings; `before` runs ahead of moto, `after` on moto's successful reply."""

from __future__ import annotations

import json
import uuid
from functools import lru_cache
from urllib.parse import quote, unquote

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse

from .._account import account_settings
from .._errors import ServiceError, invalid, not_found
from .._names import split_function_ref
from .._validation import _service_model
from . import _state

STALE_FUNCTION = ("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
                  "to retrieve the latest Revision Id")
STALE_POLICY = ("The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve "
                "the latest Revision Id")

_LATEST_ONLY = ("UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion")
_FUNCTION_CONFIGURATIONS = ("CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion")
_OK_STATUS = {"GetAlias": 200, "UpdateAlias": 200, "DeleteAlias": 204}  # moto answers 201 to all three
_CREATE_GRANT = ("Lambda was unable to configure access to your environment variables because the KMS key is invalid "
                 "for CreateGrant. Please check your KMS key settings. KMS Exception: {} KMS Message: {}")


def revision_of(record) -> str:
    """The RevisionId of a function version (moto keeps none) or an alias (moto's own)."""
    if hasattr(record, "revision_id"):
        return record.revision_id
    revision = record.__dict__.get("lab_revision")
    if revision is None:
        revision = record.lab_revision = str(uuid.uuid4())
    return revision


def _bump(record) -> None:
    if hasattr(record, "revision_id"):
        record.revision_id = str(uuid.uuid4())
    else:
        record.lab_revision = str(uuid.uuid4())


def complete_configuration(fn: LambdaFunction, config: dict) -> dict:
    """Add what moto leaves out of a FunctionConfiguration, or fixes: RevisionId, KMSKeyArn, SnapStart."""
    config["RevisionId"] = revision_of(fn)
    if getattr(fn, "lab_kms_key", None):
        config["KMSKeyArn"] = fn.lab_kms_key
    apply_on = getattr(fn, "lab_snap_start", "None")
    # SnapStart snapshots published versions only: it shows as On there, never on $LATEST
    config["SnapStart"] = {"ApplyOn": apply_on,
                           "OptimizationStatus": "On" if apply_on != "None" and str(fn.version).isdigit() else "Off"}
    return config


# -- before moto ---------------------------------------------------------------------------------
def before(response: LambdaResponse, action: str, params: dict):
    """Check and rewrite the request; a reply (status, headers, body) here answers it without moto."""
    if action in ("Invoke", "InvokeAsync"):
        return _check_kms_at_invoke(response, params)
    if action == "GetAccountSettings":
        return 200, {"status": 200, "Content-Type": "application/json"}, json.dumps(_account(response.backend))
    qualifier = _normalize_function_ref(response, action)
    storage = response.backend._lambdas
    name = split_function_ref(params["FunctionName"])[0] if params.get("FunctionName") else None
    record = storage._functions.get(name) if name else None
    response._lab_versions = len(record["versions"]) if record else 0  # `after` tells a new version by it
    if record is None or record["latest"] is None:
        if action in ("CreateFunction",):
            _check_kms_key(params)
        return None  # moto answers ResourceNotFoundException
    latest = record["latest"]
    if action in _LATEST_ONLY:
        _precondition(params.get("RevisionId"), latest, STALE_FUNCTION)
    if action == "UpdateFunctionConfiguration":
        _check_kms_key(params)
    if action == "PublishVersion":
        _check_code_sha(params.get("CodeSha256"), latest)
        last = record["versions"][-1] if record["versions"] else None
        if last is not None and getattr(last, "lab_kms_key", None) != getattr(latest, "lab_kms_key", None):
            latest.code_or_config_updated = True  # a KMS key change is a configuration change
    if action in ("AddPermission", "RemovePermission"):
        _permission_precondition(response, action, params, storage, name, qualifier)
        _check_statement(response, action, qualifier, latest)
    if action == "UpdateAlias":
        alias = _alias(storage, response.backend, name, params.get("Name"))
        if alias is not None:
            _precondition(params.get("RevisionId"), alias, STALE_FUNCTION)
    if action == "CreateAlias":
        alias = _alias(storage, response.backend, name, params.get("Name"))
        if alias is not None:
            raise ServiceError("ResourceConflictException", f"Alias already exists: {alias.arn}", 409)
    if action == "DeleteFunction" and qualifier:
        _check_version_delete(storage, response.backend, name, qualifier)
    return None


def _normalize_function_ref(response: LambdaResponse, action: str) -> str | None:
    """Give moto the bare name in the path (it splits ARNs itself, badly) and the qualifier as `Qualifier`."""
    parts = response.path.split("/")
    if "functions" not in parts or len(parts) <= parts.index("functions") + 1:
        return None
    at = parts.index("functions") + 1
    if not parts[at]:
        return None
    given = (response.querystring.get("Qualifier") or [None])[0]
    name, qualifier = split_function_ref(unquote(parts[at]), given)
    if qualifier and action not in _takes_qualifier():
        if action in _LATEST_ONLY:
            if qualifier != "$LATEST":
                raise invalid("Current operation does not support versions other than $LATEST")
            qualifier = None
        else:
            raise invalid("This operation is permitted on Lambda functions only. Aliases and versions do not support "
                          "this operation. Please specify either a function name or an unqualified function ARN.")
    if qualifier:
        response.querystring["Qualifier"] = [qualifier]
    parts[at] = quote(name)
    response.path = "/".join(parts)
    return qualifier


@lru_cache(maxsize=1)
def _takes_qualifier() -> frozenset:
    model = _service_model()
    return frozenset(op for op in model.operation_names
                     if model.operation_model(op).input_shape is not None
                     and "Qualifier" in model.operation_model(op).input_shape.members)


def _account(backend: LambdaBackend) -> dict:
    """The account's limits and usage: every stored package counts, each version's and each layer version's."""
    functions = [r for r in backend._lambdas._functions.values() if r["latest"] is not None]
    sizes = [int(fn.code_size or 0) for r in functions for fn in (r["latest"], *r["versions"])]
    sizes += [int(v.code_size or 0) for layer in backend._layers._layers.values() for v in layer.layer_versions.values()]
    reserved = [int(r["latest"].reserved_concurrency or 0) for r in functions]
    return account_settings(_state.service.account_concurrency, reserved, sizes, len(functions))


def _precondition(given: str | None, record, message: str) -> None:
    if given and given != revision_of(record):
        raise ServiceError("PreconditionFailedException", message, 412)


def _check_code_sha(given: str | None, latest: LambdaFunction) -> None:
    if given is not None and given != latest.code_sha_256:
        raise invalid(f"CodeSHA256 ({given}) is different from current CodeSHA256 in $LATEST "
                      f"({latest.code_sha_256}). Please try again with the CodeSHA256 in $LATEST.")


def _permission_precondition(response, action, params, storage, name, qualifier) -> None:
    """A policy's RevisionId is its function version's (or alias's); moto checks its own, which never matches."""
    if action == "AddPermission":
        given = params.get("RevisionId")
        if given is not None:
            body = json.loads(response.body)
            body.pop("RevisionId", None)
            response.body = json.dumps(body)
    else:
        given = (response.querystring.pop("RevisionId", None) or [None])[0]
    if given:
        _precondition(given, _policy_owner(storage, response.backend, name, qualifier), STALE_POLICY)


def _check_statement(response: LambdaResponse, action: str, qualifier: str | None, latest: LambdaFunction) -> None:
    if action == "AddPermission" and qualifier == "$LATEST":
        raise invalid("We currently do not support adding policies for $LATEST.")
    if action == "RemovePermission":
        sid = unquote(response.path.rstrip("/").rsplit("/", 1)[-1])
        statements = latest.policy.statements
        resource = policy_resource(response.backend, latest.function_name, qualifier)
        mine = [s for s in statements if s.get("Sid") == sid and s.get("Resource") == resource]
        if statements and not mine:  # no policy at all: moto's answer is AWS's
            raise ServiceError("ResourceNotFoundException", f"Statement {sid} is not found in resource policy.", 404)
        if mine:  # moto removes the first statement with that id, whichever qualifier it is on: put this one first
            statements.remove(mine[0])
            statements.insert(0, mine[0])


def _policy_owner(storage, backend, name: str, qualifier: str | None):
    """The record whose RevisionId a policy carries: $LATEST, a version or an alias."""
    if qualifier in (None, "$LATEST"):
        return storage._functions[name]["latest"]
    if qualifier.isdigit():
        found = storage._get_version(name, qualifier)
    else:
        found = _alias(storage, backend, name, qualifier)
    if found is None:
        raise not_found(f"{_unqualified(backend, name)}:{qualifier}")
    return found


def not_found_policy() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The resource you requested does not exist.", 404)


def _check_version_delete(storage, backend, name: str, qualifier: str) -> None:
    if qualifier == "$LATEST":
        raise invalid("$LATEST version cannot be deleted without deleting the function.")
    if not qualifier.isdigit():
        raise invalid("Deletion of aliases is not currently supported.")
    users = sorted(a.name for a in storage._aliases[_unqualified(backend, name)].values()
                   if str(a.function_version) == qualifier
                   or qualifier in {str(k) for k in ((a.routing_config or {}).get("AdditionalVersionWeights") or {})})
    if users:
        raise ServiceError("ResourceConflictException", "Unable to delete version because the following aliases "
                           f"reference it: [{', '.join(users)}]", 409)
    if storage._get_version(name, qualifier) is None:
        raise not_found(f"{_unqualified(backend, name)}:{qualifier}")


def _check_kms_key(params: dict) -> None:
    """Lambda creates a KMS grant on the key when it is set: an alias, a missing key or one pending deletion fail."""
    arn = params.get("KMSKeyArn")
    if not arn:
        return
    fields = arn.split(":", 5)
    if len(fields) < 6 or fields[2] != "kms":
        raise invalid(_CREATE_GRANT.format("InvalidArnException", f"ARN does not refer to a valid KMS key: {arn}"))
    region, account, resource = fields[3], fields[4], fields[5]
    if resource.startswith("alias/"):
        raise invalid(_CREATE_GRANT.format("InvalidArnException", "Key Aliases are not supported for this operation."))
    from moto.kms.models import kms_backends

    key = kms_backends[account][region].keys.get(resource.removeprefix("key/")) if account.isdigit() else None
    if key is None:
        raise invalid(_CREATE_GRANT.format("NotFoundException", f"Key '{arn}' does not exist"))
    if key.key_state == "PendingDeletion":
        raise invalid(_CREATE_GRANT.format("KMSInvalidStateException", f"{arn} is pending deletion."))


_DECRYPT = ("Lambda was unable to decrypt the environment variables because {}. Please check the function's KMS key "
            "settings. KMS Exception: {}KMS Message: {}")


def _check_kms_at_invoke(response: LambdaResponse, params: dict) -> None:
    """A key disabled, scheduled for deletion or deleted after it was set: the invoke fails as Lambda's does (502)."""
    name, qualifier = split_function_ref(params.get("FunctionName", ""),
                                         (response.querystring.get("Qualifier") or [None])[0])
    storage = response.backend._lambdas
    record = storage._functions.get(name)
    fn = record and record["latest"]
    if fn is None or not getattr(fn, "lab_kms_key", None) and not record["versions"]:
        return None  # the usual case, kept cheap: no key anywhere on this function
    if qualifier not in (None, "$LATEST"):
        alias = None if qualifier.isdigit() else _alias(storage, response.backend, name, qualifier)
        fn = storage._get_version(name, str(alias.function_version) if alias else qualifier)
    arn = getattr(fn, "lab_kms_key", None)
    if not arn or not fn.environment_vars:
        return None  # nothing to decrypt
    from moto.kms.models import kms_backends

    _, _, _, region, account, resource = arn.split(":", 5)
    key = kms_backends[account][region].keys.get(resource.removeprefix("key/"))
    if key is None:
        raise ServiceError("KMSNotFoundException", _DECRYPT.format(
            "the KMS key was not found", "NotFoundException", f"Key '{arn}' does not exist"), 502)
    if key.key_state == "Disabled":
        raise ServiceError("KMSDisabledException", _DECRYPT.format(
            "the KMS key used is disabled", "DisabledException", f"{arn} is disabled."), 502)
    if key.key_state == "PendingDeletion":
        raise ServiceError("KMSInvalidStateException", _DECRYPT.format(
            "the KMS key used is in an invalid state for Decrypt", "KMSInvalidStateException",
            f"{arn} is pending deletion."), 502)
    return None


def _alias(storage, backend: LambdaBackend, name: str, alias_name: str | None):
    return storage._aliases[_unqualified(backend, name)].get(alias_name) if alias_name else None


def policy_resource(backend: LambdaBackend, function_name: str, qualifier: str | None) -> str:
    """The ARN a statement added with this qualifier governs: Lambda keeps one policy per version and alias."""
    name, qualifier = split_function_ref(function_name, qualifier)
    return _unqualified(backend, name) + (f":{qualifier}" if qualifier and qualifier != "$LATEST" else "")


def _unqualified(backend: LambdaBackend, name: str) -> str:
    return f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}"


# -- after moto ----------------------------------------------------------------------------------
def after(response: LambdaResponse, action: str, params: dict, reply):
    """Keep what moto drops, move RevisionIds on, and answer with AWS's status codes and fields."""
    if action in ("Invoke", "InvokeAsync", "GetAccountSettings") or not params.get("FunctionName"):
        return reply
    backend, storage = response.backend, response.backend._lambdas
    name = split_function_ref(params["FunctionName"])[0]
    record = storage._functions.get(name)
    qualifier = (response.querystring.get("Qualifier") or [None])[0]
    status, headers, body = reply
    if action in _OK_STATUS:
        status = headers["status"] = _OK_STATUS[action]
        body = "" if status == 204 else body
    if record is None or record["latest"] is None:
        return status, headers, body
    latest = record["latest"]
    revision_of(latest)  # give $LATEST its RevisionId now, before moto copies it into a listing
    if action in ("CreateFunction", "UpdateFunctionConfiguration") and "KMSKeyArn" in params:
        latest.lab_kms_key = params["KMSKeyArn"] or None  # "" goes back to Lambda's own key
    if action in ("CreateFunction", "UpdateFunctionConfiguration") and params.get("SnapStart"):
        latest.lab_snap_start = params["SnapStart"].get("ApplyOn") or "None"
    if action == "UpdateFunctionConfiguration" and params.get("EphemeralStorage"):
        latest.ephemeral_storage = params["EphemeralStorage"]["Size"]  # moto keeps the size it was created with
    if action in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
        _bump(latest)
    if action == "PublishVersion" or (action in ("CreateFunction", "UpdateFunctionCode") and params.get("Publish")):
        published = json.loads(body).get("Version")
        if published and published != "$LATEST" and getattr(response, "_lab_versions", None) != len(record["versions"]):
            _bump(record["versions"][-1])  # a copy of $LATEST: its own RevisionId
            _bump(latest)  # publishing moves $LATEST's RevisionId on too, as AWS does
    if action in ("AddPermission", "RemovePermission"):
        _bump(_policy_owner(storage, backend, name, qualifier))
    if action == "UpdateAlias":
        _bump(_alias(storage, backend, name, params.get("Name")))
    if action in _FUNCTION_CONFIGURATIONS:
        body = _with_revision(body, storage, name, latest)
    elif action in ("UpdateAlias",):
        data = json.loads(body)
        data["RevisionId"] = _alias(storage, backend, name, params.get("Name")).revision_id
        body = json.dumps(data)
    elif action == "GetPolicy":
        data = json.loads(body)
        policy = json.loads(data["Policy"])
        resource = policy_resource(backend, params["FunctionName"], qualifier)
        policy["Statement"] = [st for st in policy.get("Statement", []) if st.get("Resource") == resource]
        if not policy["Statement"]:  # the statements moto keeps belong to the function's other versions/aliases
            raise not_found_policy()
        data["Policy"] = json.dumps(policy)
        data["RevisionId"] = revision_of(_policy_owner(storage, backend, name, qualifier))
        body = json.dumps(data)
    elif action == "GetFunction" and getattr(_state.service, "code_locations", None) is not None:
        data = json.loads(body)
        code = data.get("Code") or {}
        if code.get("RepositoryType") == "S3":  # a zip package: link it as AWS does (images have ImageUri)
            version = str(data.get("Configuration", {}).get("Version", "$LATEST"))
            code["Location"] = _state.service.code_locations.url(backend.account_id, backend.region_name, name,
                                                                 version)
            body = json.dumps(data)
    elif action == "ListAliases" and response.querystring.get("FunctionVersion"):
        wanted = response.querystring["FunctionVersion"][0]
        data = json.loads(body)
        data["Aliases"] = [a for a in data["Aliases"] if str(a.get("FunctionVersion")) == wanted]
        body = json.dumps(data)
    return status, headers, body


def _with_revision(body: str, storage, name: str, latest: LambdaFunction) -> str:
    """What moto's reply leaves out or got wrong, from the version this FunctionConfiguration describes."""
    data = json.loads(body)
    version = str(data.get("Version", "$LATEST"))
    fn = latest if version == "$LATEST" else (storage._get_version(name, version) or latest)
    data.pop("KMSKeyArn", None)
    data.update(complete_configuration(fn, {"EphemeralStorage": {"Size": int(fn.ephemeral_storage)}}))
    return json.dumps(data)


# moto routes no path to GetAccountSettings (it answers 404): the same table, with that path added
from moto.awslambda import urls as _urls  # noqa: E402

ACCOUNT_SETTINGS_PATH = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"
PATCHES = {(_urls, "url_paths"): {**_urls.url_paths, ACCOUNT_SETTINGS_PATH: LambdaResponse.dispatch}}
