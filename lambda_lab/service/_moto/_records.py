"""Reading moto's records: functions, versions, aliases, layers, policies and roles, as the service needs them."""

from __future__ import annotations

from moto.awslambda.models import LambdaBackend, LambdaFunction

from ...runtime import CodeArchive, FunctionConfig
from .._errors import ServiceError, invalid, not_found
from .._logging_config import as_runtime
from .._target import Alias, Target
from .._secrets_extension import extension_layer
from ._extension_layers import extensions_of
from .._names import split_function_ref
from . import _state


def backend_of(fn: LambdaFunction) -> LambdaBackend:
    from moto.awslambda.utils import get_backend

    return get_backend(fn.account_id, fn.region)


def resolve(backend: LambdaBackend, ref: str, qualifier: str | None) -> Target:
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
    elsewhere = reserved_elsewhere(storage, name)

    def record_of(v: str) -> LambdaFunction:
        fn = latest if v == "$LATEST" else storage._get_version(name, v)
        if fn is None:
            raise not_found(f"{unqualified}:{v}")
        return fn

    return Target(name, unqualified, qualifier, version, alias, lambda v: _config(record_of(v)),
                  None if reserved is None else int(reserved), elsewhere, lambda v: dead_letter_target(record_of(v)))


def dead_letter_target(fn: LambdaFunction) -> str | None:
    """The DLQ a version sends failed events to; None without one (an empty TargetArn removes it)."""
    return (getattr(fn, "lab_dead_letter", None) or {}).get("TargetArn") or None


def _config(fn: LambdaFunction) -> FunctionConfig:
    """The runtime's view of one function version, frozen at this moment."""
    if fn.package_type != "Zip":
        raise invalid("The lab runs .zip deployment packages; container images (PackageType=Image) need Docker.")
    return FunctionConfig(
        function_name=fn.function_name, version=str(fn.version), handler=fn.handler, runtime=fn.run_time,
        code=CodeArchive(fn.code_digest, fn.code_bytes), memory_mb=int(fn.memory_size),
        timeout_s=float(fn.timeout), environment=tuple(sorted((fn.environment_vars or {}).items())),
        region=fn.region, account_id=fn.account_id, architecture=fn.architectures[0],
        ephemeral_mb=int(fn.ephemeral_storage), role=fn.role or "",
        layers=tuple(_layer(fn, layer["Arn"]) for layer in fn.layers or ()
                     if extension_layer(layer["Arn"], fn.region) is None),  # AWS's own: served, not unzipped
        extensions=extensions_of(fn),
        logging=as_runtime(getattr(fn, "lab_logging", None)),
        tracing=(fn.tracing_config or {}).get("Mode") or "PassThrough")


def _layer(fn: LambdaFunction, arn: str) -> CodeArchive:
    version = backend_of(fn).layers_versions_by_arn(arn)
    if version is None:
        raise ServiceError("ResourceNotFoundException", f"Layer version {arn} does not exist.", 404)
    return CodeArchive(version.code_digest, version.code_bytes)


def reserved_elsewhere(storage, name: str) -> int:
    """Reserved concurrency of the account's other functions (it is not available to this one)."""
    return sum(int(r["latest"].reserved_concurrency or 0) for n, r in storage._functions.items()
               if n != name and r["latest"] is not None)


def function_by_arn(arn: str) -> LambdaFunction | None:
    """The function record an ARN (perhaps qualified with a version or alias) names, in any account/region."""
    try:
        _, _, _, region, account, _, name, *rest = arn.split(":")
    except ValueError:
        return None
    from moto.awslambda.utils import get_backend

    storage = get_backend(account, region)._lambdas
    record = storage._functions.get(name)
    if record is None:
        return None
    qualifier = rest[0] if rest else None
    if qualifier in (None, "$LATEST"):
        return record["latest"]
    if qualifier.isdigit():
        return storage._get_version(name, qualifier)
    alias = storage._aliases[f"arn:aws:lambda:{region}:{account}:function:{name}"].get(qualifier)
    return storage._get_version(name, str(alias.function_version)) if alias else None


def policy_of(fn: LambdaFunction, invoked_arn: str) -> tuple[dict, int]:
    """The statements that govern `invoked_arn` (Lambda keeps one policy per version and alias; moto one per
    function), in AWS's shape; and how many statements belong to other qualifiers."""
    from .._front_door_shapes import applicable_policy

    return applicable_policy({"Statement": list(fn.policy.statements)}, invoked_arn, False)


def push_allowed(function_arn: str, principal: str, **conditions) -> tuple[bool, str]:
    """Whether a push source (`principal`, e.g. "sns.amazonaws.com") may invoke `function_arn`; and why not."""
    from .._permissions import may_invoke

    fn = function_by_arn(function_arn)
    if fn is None:
        return False, f"no function {function_arn}"
    policy, elsewhere = policy_of(fn, function_arn)
    allowed, why = may_invoke(policy, principal, **conditions)
    if not allowed and elsewhere:
        why += (f" ({elsewhere} statement(s) of its policy are on another version or alias and do not apply to "
                f"{function_arn}.)")
    return allowed, why


def role_documents(account_id: str, role_arn: str) -> list:
    """The policy documents of an execution role: inline and attached managed ones."""
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account_id]["global"].get_role_by_arn(role_arn)
    except Exception:
        return []
    # on a stand-in account, what was attached a moment ago has not reached Lambda yet (.._iam_propagation)
    pending = _state.service.iam.pending(account_id, role.name) if _state.service is not None else set()
    documents = [document for name, document in role.policies.items() if name not in pending]
    for arn, policy in role.managed_policies.items():
        version = next((v for v in policy.versions if v.is_default), None) if arn not in pending else None
        if version is not None:
            documents.append(version.document)
    return documents
