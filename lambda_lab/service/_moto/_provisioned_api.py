"""Put/Get/Delete/ListProvisionedConcurrencyConfig(s) in moto, which has none of them (it answers 404).

The lab adds Lambda's path (`/2019-09-30/functions/<name>/provisioned-concurrency`) to the Lambda backend's
routes and answers there with AWS's rules and wording; the configs and their environments live in the
service (`service/_provisioned.py`).
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from moto.awslambda.models import LambdaBackend
from moto.awslambda.responses import LambdaResponse

from .._errors import ServiceError, invalid, not_found
from ...limits import min_unreserved
from .._names import split_function_ref
from .._provisioned import ALLOCATION_S, Allocation
from .._validation import validate_request
from . import _state
from ._loops import _LambdaUrls
from ._records import resolve

__all__ = ["PATCHES", "ROUTE"]

ROUTE = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/provisioned-concurrency/?$"
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
NOT_PUBLISHED = "The function resource provided must be an alias or a published version."
NO_CONFIG = "No Provisioned Concurrency Config found for this function"
ABOVE_RESERVED = "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
_ACTIONS = {"PUT": "PutProvisionedConcurrencyConfig", "GET": "GetProvisionedConcurrencyConfig",
            "DELETE": "DeleteProvisionedConcurrencyConfig"}


def provisioned_concurrency(request, full_url, headers):
    """PUT, GET or DELETE one config (`?Qualifier=`), or GET them all (`?List=ALL`)."""
    response = LambdaResponse()
    response.setup_class(request, full_url, headers)
    query = {key: values[0] for key, values in response.querystring.items() if values}
    listing = request.method == "GET" and query.get("List") == "ALL"
    action = "ListProvisionedConcurrencyConfigs" if listing else _ACTIONS.get(request.method)
    params = {"FunctionName": unquote(response.path.rstrip("/").split("/")[-2])}
    params.update({k: query[k] for k in ("Qualifier", "Marker") if k in query})
    try:
        if "MaxItems" in query:
            params["MaxItems"] = _integer(query["MaxItems"], "maxItems")
        if action == "PutProvisionedConcurrencyConfig":
            body = json.loads(response.body or "{}") or {}
            params["ProvisionedConcurrentExecutions"] = body.get("ProvisionedConcurrentExecutions")
        validate_request(action, params)
        status, answer = _answer(response.backend, action, params)
    except ServiceError as error:
        headers = {"x-amzn-errortype": error.code, "Content-Type": "application/json"}
        return error.status, headers, json.dumps(error.body())
    if answer is None:
        return status, {}, ""
    return status, {"Content-Type": "application/json"}, json.dumps(answer)


def _answer(backend: LambdaBackend, action: str, params: dict) -> tuple[int, dict | None]:
    store = _state.service.provisioned
    name, qualifier = split_function_ref(params["FunctionName"], params.get("Qualifier"))
    unqualified = f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}"
    if name not in backend._lambdas._functions:
        raise not_found(unqualified)
    if action == "ListProvisionedConcurrencyConfigs":
        items = [{"FunctionArn": a.function_arn, **store.shown(a)} for a in _current(backend, name)]
        start = int(params["Marker"]) if str(params.get("Marker", "")).isdigit() else 0
        end = start + int(params.get("MaxItems") or 50)
        page = {"ProvisionedConcurrencyConfigs": items[start:end]}
        if end < len(items):
            page["NextMarker"] = str(end)
        return 200, page
    if qualifier in (None, "$LATEST"):
        raise invalid(UNPUBLISHED if action == "PutProvisionedConcurrencyConfig" else NOT_PUBLISHED)
    version, token = _named(backend, name, qualifier, unqualified)
    existing = {a.qualifier: a for a in _current(backend, name)}
    if action == "GetProvisionedConcurrencyConfig":
        if qualifier not in existing:
            raise ServiceError("ProvisionedConcurrencyConfigNotFoundException", NO_CONFIG, 404)
        return 200, store.shown(existing[qualifier])
    if action == "DeleteProvisionedConcurrencyConfig":
        store.delete(name, qualifier)  # idempotent, as Lambda's: no config is no error
        return 204, None
    requested = int(params["ProvisionedConcurrentExecutions"])
    if version == "$LATEST":
        raise invalid(UNPUBLISHED)
    if not qualifier.isdigit() and (token.routing_config or {}).get("AdditionalVersionWeights"):
        raise invalid("Alias with weights can not be used with Provisioned Concurrency")
    _check_conflicts(backend, name, qualifier, version, existing, unqualified)
    _check_concurrency(backend, name, qualifier, requested)
    now = _state.service.clock.now()
    config = resolve(backend, name, version).config_for(version)
    return 202, store.put(Allocation(name, qualifier, f"{unqualified}:{qualifier}", version, config, requested,
                                     now, now + ALLOCATION_S, token))


def _named(backend: LambdaBackend, name: str, qualifier: str, unqualified: str) -> tuple[str, object]:
    """The version a qualifier runs and the record it names (a version or an alias)."""
    storage = backend._lambdas
    if qualifier.isdigit():
        fn = storage._get_version(name, qualifier)
        if fn is None:
            raise not_found(f"{unqualified}:{qualifier}")
        return qualifier, fn
    alias = storage._aliases[unqualified].get(qualifier)
    if alias is None:
        raise ServiceError("ResourceNotFoundException", f"Cannot find alias arn: {unqualified}:{qualifier}", 404)
    return str(alias.function_version), alias


def _current(backend: LambdaBackend, name: str) -> list[Allocation]:
    """The function's configs that still stand: a deleted (or re-created) version or alias takes its config along,
    and an alias moved to another version moves its environments there (allocated again)."""
    store, storage = _state.service.provisioned, backend._lambdas
    unqualified = f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}"
    kept = []
    for allocation in store.list(name):
        q = allocation.qualifier
        record = storage._get_version(name, q) if q.isdigit() else storage._aliases[unqualified].get(q)
        if record is not allocation.token:
            store.delete(name, q)
            continue
        version = q if q.isdigit() else str(record.function_version)
        if version != allocation.version and version != "$LATEST":
            now = _state.service.clock.now()
            store.put(Allocation(name, q, allocation.function_arn, version,
                                 resolve(backend, name, version).config_for(version), allocation.requested,
                                 allocation.last_modified, now + ALLOCATION_S, record))
            allocation = store.get(name, q)
        kept.append(allocation)
    return kept


def _check_conflicts(backend: LambdaBackend, name: str, qualifier: str, version: str, existing: dict,
                     unqualified: str) -> None:
    """One version is provisioned either directly or through an alias, never both (AWS's wording)."""
    if not qualifier.isdigit():
        if version in existing:
            raise ServiceError("ResourceConflictException", "Alias can't be used for Provisioned Concurrency "
                               "configuration on an already Provisioned version", 409)
        return
    aliases = backend._lambdas._aliases[unqualified]
    if any(q in aliases and str(aliases[q].function_version) == version for q in existing if not q.isdigit()):
        raise ServiceError("ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias", 409)


def _check_concurrency(backend: LambdaBackend, name: str, qualifier: str, requested: int) -> None:
    """Provisioned concurrency comes out of the function's reserved concurrency, or else the account's unreserved
    pool, which keeps its minimum (100)."""
    functions = backend._lambdas._functions
    store = _state.service.provisioned

    def reserved_of(function: str) -> int | None:
        record = functions.get(function)
        value = record["latest"].reserved_concurrency if record and record["latest"] is not None else None
        return None if value is None else int(value)

    reserved = reserved_of(name)
    if reserved is not None:
        own = sum(a.requested for a in store.list(name) if a.qualifier != qualifier)
        if own + requested > reserved:
            raise invalid(f"{ABOVE_RESERVED} (lambda-lab: {name} reserves {reserved}; its other configs take "
                          f"{own}. Raise put_function_concurrency or ask for at most {max(0, reserved - own)}.)")
        return
    account = _state.service.account_concurrency
    unreserved = account - sum(reserved_of(n) or 0 for n in functions)
    taken = sum(a.requested for a in store.others(name, qualifier) if reserved_of(a.function_name) is None)
    if unreserved - taken - requested < min_unreserved(account):
        raise invalid(f"Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                      f"below its minimum value of [{min_unreserved(account)}].")


def _integer(text: str, member: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ServiceError("ValidationException", f"1 validation error detected: Value '{text}' at '{member}' "
                           "failed to satisfy constraint: Member must be a number") from None


_ROUTES = _LambdaUrls.__dict__["url_paths"]  # the recursion-config route's table, read at each use


def _url_paths(self):
    return {**_ROUTES.fget(self), ROUTE: provisioned_concurrency}


PATCHES = {(_LambdaUrls, "url_paths"): property(_url_paths)}
