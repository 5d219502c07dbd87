"""The one place that reaches into moto's internals (pinned to moto 5.2.1; tests/test_moto_seam.py guards it).

moto keeps the records (functions, versions, aliases, logs, queues, rules); these modules replace the few
methods through which an invocation passes, so that it runs on the lab's runtime with Lambda's semantics,
and check requests before moto stores them. `install()` swaps them in, `uninstall()` puts moto's back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _deployments
from .._deliver import forget_clients
from . import _apigateway, _lazy, _state
from ._cloudwatch import PATCHES as _CLOUDWATCH_PATCHES
from ._cloudwatch import evaluate_alarms, publish as publish_metrics
from ._codedeploy import PATCHES as _CODEDEPLOY_PATCHES
from ._codedeploy import bind as bind_deployments
from ._lambda_api import PATCHES as _LAMBDA_PATCHES
from ._api_rules import PATCHES as _RULES_PATCHES
from ._triggers import PATCHES as _TRIGGER_PATCHES
from ._triggers import mappings, resolve_arn
from ._logs import PATCHES as _LOGS_PATCHES
from ._logs import write_log
from ._provisioned_api import PATCHES as _PROVISIONED_PATCHES
from ._managed_policies import PATCHES as _POLICY_PATCHES, aws_managed_policy_arn, provide_managed_policies
from ._packages import read_package
from ._records import role_documents
from ._sqs import PATCHES as _SQS_PATCHES
from ._models import PATCHES as _MODEL_PATCHES, forget_method_names
from ._xray import PATCHES as _XRAY_PATCHES, put_documents
from ._extension_layers import PATCHES as _EXTENSION_LAYER_PATCHES
from ._iam import PATCHES as _IAM_PATCHES

if TYPE_CHECKING:
    from .._invoke import LambdaService

MOTO_VERSION = "5.2.1"
# (owner, attribute): replacement
PATCHED = {**_LAMBDA_PATCHES, **_TRIGGER_PATCHES, **_RULES_PATCHES, **_LOGS_PATCHES, **_CLOUDWATCH_PATCHES,
           **_XRAY_PATCHES, **_EXTENSION_LAYER_PATCHES, **_POLICY_PATCHES,
           **_CODEDEPLOY_PATCHES, **_PROVISIONED_PATCHES, **_SQS_PATCHES,
           **_MODEL_PATCHES, **_IAM_PATCHES}  # _IAM_PATCHES after _POLICY_PATCHES: it wraps attach_role_policy's
_INHERITED = object()  # marks a method the class inherits: uninstall deletes our override

__all__ = ["MOTO_VERSION", "PATCHED", "lazy_patches", "install", "uninstall", "write_log", "provide_managed_policies", "role_documents",
           "aws_managed_policy_arn",
           "warm_imports", "publish_metrics"]


def lazy_patches() -> dict:
    """The patches of moto's CloudFormation (imports it: seconds of CPU; install() waits for moto to import it)."""
    from ._cloudformation import PATCHES

    return PATCHES


def _patch(patches: dict) -> None:
    for (owner, attr), replacement in patches.items():
        _state.originals[(owner, attr)] = owner.__dict__.get(attr, _INHERITED)
        setattr(owner, attr, replacement)
    forget_method_names()


def install(service: LambdaService) -> None:
    """Route moto's Lambda through `service` until `uninstall()`."""
    if not _state.originals:
        _patch(PATCHED)
        _lazy.when_imported("moto.cloudformation", lambda: _patch(lazy_patches()))
    _state.service = service
    forget_clients()  # deliveries use clients of this lab, not of one installed before
    if getattr(service, "code_locations", None) is not None:
        service.code_locations.bind(read_package)
    _apigateway.install()  # REST API deployments keep a snapshot of what they deployed
    service.mappings.bind(mappings, resolve_arn)
    service.tracer.put = put_documents
    service.metrics.bind(publish_metrics, evaluate_alarms)
    bind_deployments(service)


def uninstall() -> None:
    for (owner, attr), original in _state.originals.items():
        if original is _INHERITED:
            delattr(owner, attr)
        else:
            setattr(owner, attr, original)
    _state.originals.clear()
    forget_method_names()
    _lazy.forget("moto.cloudformation")
    _apigateway.uninstall()
    _state.service = None
    forget_clients()
    _deployments.bind(None)


def warm_imports() -> None:
    """moto's API Gateway pulls in schema validators that take seconds to import: do it while the learner reads."""
    import importlib
    import threading

    def load() -> None:
        # jsonschema (through moto's OpenAPI validator) imports rfc3987_syntax when it is installed (Jupyter
        # brings it), which builds a grammar for IRI formats: 1.3 s of CPU in every kernel and test process.
        # moto never validates IRIs, so jsonschema is imported here without that optional checker.
        import sys

        hidden = "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules
        if hidden:
            sys.modules["rfc3987_syntax"] = None  # `import rfc3987_syntax` raises ImportError: jsonschema skips it
        try:
            for module in ("moto.apigateway.models", "moto.apigatewayv2.models"):
                try:
                    importlib.import_module(module)
                except Exception:  # a failed warm-up only means the first API call imports it instead
                    pass
        finally:
            if hidden and sys.modules.get("rfc3987_syntax", 0) is None:
                del sys.modules["rfc3987_syntax"]  # anyone else who needs it can import it as usual

    threading.Thread(target=load, name="lambda-lab-warm-imports", daemon=True).start()
