"""The one place that reaches into moto's internals (pinned to moto 5.2.1; tests/test_moto_seam.py guards it).

moto keeps the records (functions, versions, aliases, logs, queues, rules); these modules replace the few
methods through which an invocation passes, so that it runs on the lab's runtime with Lambda's semantics,
and check requests before moto stores them. `install()` swaps them in, `uninstall()` puts moto's back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _state
from ._lambda_api import PATCHES as _LAMBDA_PATCHES
from ._triggers import PATCHES as _TRIGGER_PATCHES
from ._triggers import mappings, resolve_arn
from ._logs import write_log
from ._records import provide_managed_policies

if TYPE_CHECKING:
    from .._invoke import LambdaService

MOTO_VERSION = "5.2.1"
PATCHED = {**_LAMBDA_PATCHES, **_TRIGGER_PATCHES}  # (owner, attribute): replacement
_INHERITED = object()  # marks a method the class inherits: uninstall deletes our override

__all__ = ["MOTO_VERSION", "PATCHED", "install", "uninstall", "write_log", "provide_managed_policies",
           "warm_imports"]


def install(service: LambdaService) -> None:
    """Route moto's Lambda through `service` until `uninstall()`."""
    if not _state.originals:
        for (owner, attr), replacement in PATCHED.items():
            _state.originals[(owner, attr)] = owner.__dict__.get(attr, _INHERITED)
            setattr(owner, attr, replacement)
    _state.service = service
    service.mappings.bind(mappings, resolve_arn)


def uninstall() -> None:
    for (owner, attr), original in _state.originals.items():
        if original is _INHERITED:
            delattr(owner, attr)
        else:
            setattr(owner, attr, original)
    _state.originals.clear()
    _state.service = None


def warm_imports() -> None:
    """moto's API Gateway pulls in schema validators that take seconds to import: do it while the learner reads."""
    import importlib
    import threading

    def load() -> None:
        for module in ("moto.apigateway.models", "moto.apigatewayv2.models"):
            try:
                importlib.import_module(module)
            except Exception:  # a failed warm-up only means the first API call imports it instead
                pass

    threading.Thread(target=load, name="lambda-lab-warm-imports", daemon=True).start()
