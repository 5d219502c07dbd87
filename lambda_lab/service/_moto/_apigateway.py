"""REST API deployments as API Gateway keeps them: the API as it was when `create_deployment` ran.

moto records a deployment as an id and a date; the front door needs what was deployed, so each deployment gets a
snapshot (resources with their methods and integrations, authorizers, binary media types). moto's API Gateway
module takes a while to import, so it is never imported only for this: it is patched at once when it is already
loaded (moto's CloudFormation imports it), else the moment it is first imported (`warm_imports`' thread).
"""

from __future__ import annotations

import json
import sys

from . import _lazy

MODULE = "moto.apigateway.models"
_ATTRIBUTE = "lambda_lab_snapshot"
_originals: dict = {}

__all__ = ["install", "uninstall", "rest_deployment"]


def snapshot(api) -> dict:
    """What a deployment freezes of a moto RestAPI, in boto3's shapes (get_resources with embedded methods)."""
    return json.loads(json.dumps({
        "resources": [resource.to_dict() for resource in api.resources.values()],
        "authorizers": {key: authorizer.to_json() for key, authorizer in api.authorizers.items()},
        "binaryMediaTypes": list(api.binaryMediaTypes or []),
    }, default=str))


def _create_deployment(self, name, description, stage_variables=None):
    """moto's RestAPI.create_deployment, plus a snapshot; an existing stage keeps its variables and settings."""
    old = self.stages.get(name) if name else None
    deployment = _originals["create_deployment"](self, name, description, stage_variables)
    setattr(deployment, _ATTRIBUTE, snapshot(self))
    if old is not None:  # moto replaces the stage (losing its variables); AWS moves it to the new deployment
        old.deployment_id = deployment.id
        old.variables = {**(old.variables or {}), **(stage_variables or {})}
        self.stages[name] = old
    return deployment


def _create_authorizer(self, *args, **kwargs):
    """moto's RestAPI.create_authorizer, keeping identityValidationExpression (moto 5.2.1 drops it: a typo)."""
    authorizer = _originals["create_authorizer"](self, *args, **kwargs)
    if kwargs.get("identiy_validation_expression"):
        authorizer.identity_validation_expression = kwargs["identiy_validation_expression"]
    return authorizer


_REPLACEMENTS = {"create_deployment": _create_deployment, "create_authorizer": _create_authorizer}


def _patch(module) -> None:
    for name, replacement in _REPLACEMENTS.items():
        if name not in _originals:
            _originals[name] = module.RestAPI.__dict__[name]
            setattr(module.RestAPI, name, replacement)


def install() -> None:
    _lazy.when_imported(MODULE, lambda: _patch(sys.modules[MODULE]), ready=lambda module: hasattr(module, "RestAPI"))


def uninstall() -> None:
    _lazy.forget(MODULE)
    module = sys.modules.get(MODULE)
    for name in list(_originals):
        if module is not None:
            setattr(module.RestAPI, name, _originals[name])
        del _originals[name]


def rest_deployment(account: str, region: str, api_id: str, deployment_id: str | None) -> dict | None:
    """The snapshot of a REST API's deployment, or None when the lab has none (then the API serves as it is)."""
    module = sys.modules.get(MODULE)
    if module is None or not deployment_id:
        return None
    try:
        deployment = module.apigateway_backends[account][region].apis[api_id].deployments[deployment_id]
    except KeyError:
        return None
    return getattr(deployment, _ATTRIBUTE, None)
