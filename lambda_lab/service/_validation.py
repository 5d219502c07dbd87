"""Request validation as Lambda does it: the API model's constraints first, then the service's own rules.

Values outside the model's ranges and patterns fail with `ValidationException` in AWS's wording; values
the model allows but Lambda does not (a 901-second timeout, a deprecated runtime) fail with
`InvalidParameterValueException`.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from functools import lru_cache

from ..limits import value
from ..runtime._unpack import unsafe_member
from ._errors import ServiceError, invalid

RESERVED_ENV_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
SUPPORTED_RUNTIMES = ("python3.12", "python3.13", "python3.14", "nodejs22.x", "nodejs24.x")
DEPRECATED_RUNTIMES = re.compile(r"^(python2\.7|python3\.[0-9]|nodejs|nodejs\d+\.\d+(-edge)?|nodejs1?[0-8]\.x)$")
MEMORY_MAX_MB, TIMEOUT_MAX_S, ENV_MAX_BYTES = value("memory_max_mb"), value("timeout_max_s"), value("env_max_bytes")
# A ZipFile upload may be 50 MB; AWS measures the request, where the zip travels base64-encoded (4/3 larger).
UPLOAD_REQUEST_MAX_BYTES = 69_905_067
UNZIPPED_MAX_BYTES = value("unzipped_max_bytes")  # 250 MB: the function's package and all its layers, unzipped
UPLOAD_ACTIONS = ("CreateFunction", "UpdateFunctionCode", "PublishLayerVersion")
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@lru_cache(maxsize=1)
def _service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("lambda")


def validate_request(operation: str, params: dict) -> None:
    """Check `params` (the parsed request, as botocore names its members) against the model and the rules."""
    try:
        shape = _service_model().operation_model(operation).input_shape
    except Exception:  # an operation this botocore does not know: nothing to check against
        return
    problems: list[str] = []
    if shape is not None:
        _check(shape, params, "", problems)
    if problems:
        count = len(problems)
        raise ServiceError("ValidationException",
                           f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems))
    rule = _RULES.get(operation)
    if rule:
        rule(params)


def _check(shape, value, path: str, problems: list[str]) -> None:
    meta, kind = shape.metadata, shape.type_name
    where = path or shape.name

    def fail(constraint: str, shown=value) -> None:
        if isinstance(shown, (dict, list)):
            shown = json.dumps(shown)
        problems.append(f"Value '{shown}' at '{where}' failed to satisfy constraint: {constraint}")

    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _check(member, value[name], _member_path(path, name), problems)
    elif kind == "list" and isinstance(value, list):
        _check_size(meta, len(value), fail)
        for i, item in enumerate(value):
            _check(shape.member, item, f"{where}.{i + 1}.member", problems)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            key_meta = shape.key.metadata
            if "pattern" in key_meta and not re.fullmatch(key_meta["pattern"], key):
                fail(f"Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
                     f"{key_meta['pattern']}]", shown=key)
            _check(shape.value, item, where, problems)
    elif kind == "string" and isinstance(value, str):
        _check_size(meta, len(value), fail, noun="length")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            fail(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            fail(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    elif kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)):
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")


def _check_size(meta, size, fail, noun="length"):
    if "min" in meta and size < meta["min"]:
        fail(f"Member must have {noun} greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        fail(f"Member must have {noun} less than or equal to {meta['max']}")


def _member_path(path: str, name: str) -> str:
    camel = name[0].lower() + name[1:]
    return f"{path}.{camel}" if path else camel


# -- the service's own rules ---------------------------------------------------------------------
def _function_settings(params: dict, creating: bool) -> None:
    if creating and not _FUNCTION_NAME.match(params.get("FunctionName", "")):
        raise invalid(f"Function name '{params.get('FunctionName')}' is not valid: use 1-64 letters, digits, "
                      "hyphens or underscores.")
    memory = params.get("MemorySize")
    if memory is not None and not value("memory_min_mb") <= memory <= MEMORY_MAX_MB:
        raise invalid(f"MemorySize '{memory}' is not valid: choose 128 to {MEMORY_MAX_MB} MB, in 1 MB steps.")
    timeout = params.get("Timeout")
    if timeout is not None and not 1 <= timeout <= TIMEOUT_MAX_S:
        raise invalid(f"Timeout '{timeout}' is not valid: a function may run for 1 to {TIMEOUT_MAX_S} seconds.")
    runtime = params.get("Runtime")
    if runtime and DEPRECATED_RUNTIMES.match(runtime):
        raise invalid(f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS "
                      f"Lambda functions. We recommend you use a supported runtime while creating or updating "
                      f"functions. (Supported here: {', '.join(SUPPORTED_RUNTIMES)}.)")
    handler = params.get("Handler")
    if creating and params.get("PackageType", "Zip") == "Zip" and not handler:
        raise invalid("Handler is required for a .zip deployment package, e.g. 'app.handler' for "
                      "def handler(event, context) in app.py.")
    variables = (params.get("Environment") or {}).get("Variables")
    if variables:
        _environment(variables)
    if len(params.get("Layers") or []) > value("layers_max"):
        raise invalid(f"Cannot reference more than {value('layers_max')} layers.")


def _environment(variables: dict) -> None:
    reserved = sorted(k for k in variables if k in RESERVED_ENV_KEYS)
    if reserved:
        raise invalid("Lambda was unable to configure your environment variables because the environment "
                      "variables you have provided contains reserved keys that are currently not supported for "
                      f"modification. Reserved keys used in this request: {', '.join(reserved)}")
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > ENV_MAX_BYTES:
        raise invalid("Lambda was unable to configure your environment variables because the environment "
                      f"variables you have provided exceeded the 4KB limit. String measured: {measured[:200]}...")


def _alias(params: dict) -> None:
    weights = ((params.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
    if not weights:
        return
    if len(weights) > 1:
        raise invalid("An alias can send traffic to at most one additional version: "
                      f"AdditionalVersionWeights has {len(weights)} entries.")
    primary = params.get("FunctionVersion")
    if primary == "$LATEST":
        raise invalid("$LATEST is not supported for an alias pointing to more than 1 version")
    if primary is not None and primary in weights:
        raise invalid(f"Version {primary} is both the alias's FunctionVersion and its additional version; "
                      "route the extra share to a different published version.")


_RULES = {
    "CreateFunction": lambda p: _function_settings(p, creating=True),
    "UpdateFunctionConfiguration": lambda p: _function_settings(p, creating=False),
    "CreateAlias": _alias,
    "UpdateAlias": _alias,
}


# -- deployment packages -------------------------------------------------------------------------
def check_upload_size(operation: str, request_bytes: int) -> None:
    """A direct upload over 50 MB: AWS refuses the request itself (HTTP 413), before reading it."""
    if operation in UPLOAD_ACTIONS and request_bytes >= UPLOAD_REQUEST_MAX_BYTES:
        raise ServiceError("RequestEntityTooLargeException",
                           f"Request must be smaller than {UPLOAD_REQUEST_MAX_BYTES} bytes for the {operation} "
                           "operation", 413)


def unzipped_size(zip_bytes: bytes, argument: str) -> int:
    """The package's unzipped size from the zip's central directory; `argument` names the zip in errors."""
    # Nothing is extracted here, and Python's zipfile never inflates a member past the size recorded in
    # the central directory, so this figure also bounds what the runtime writes (no zip bomb gets through).
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise invalid("Could not unzip uploaded file. Please check your file, then try to upload again. "
                      f"(lambda-lab: {argument} is not a .zip archive; build one with lambda_lab.zip_source(...) "
                      "or lambda_lab.zip_folder(...).)") from None
    if not members:
        raise invalid("Uploaded file must be a non-empty zip")
    for info in members:
        reason = unsafe_member(info.filename)
        if reason:
            raise invalid("Could not unzip uploaded file. Please check your file, then try to upload again. "
                          f"(lambda-lab: {argument} has the member '{info.filename}', which would unpack outside "
                          f"the package's folder: {reason}. Zip paths relative to the package's root.)")
    return sum(info.file_size for info in members)


def check_unzipped_size(code_bytes: int, layer_bytes: int = 0) -> None:
    """250 MB unzipped for the function and its layers together."""
    # With layers, AWS's message names what is left for the function's own code (262144000 less the
    # layers' unzipped size): real refusals read e.g. "smaller than 255174947 bytes".
    if code_bytes + layer_bytes >= UNZIPPED_MAX_BYTES:
        raise invalid(f"Unzipped size must be smaller than {max(0, UNZIPPED_MAX_BYTES - layer_bytes)} bytes")
