"""IAM changes noted as they happen, for the delay with which they reach Lambda (see .._iam_propagation)."""

from __future__ import annotations

from moto.iam.models import IAMBackend

from . import _state
from ._managed_policies import PATCHES as _POLICY_PATCHES

__all__ = ["PATCHES"]


def _noting(original, key_of):
    """moto's method, then the change noted with the service (only a stand-in account delays IAM)."""

    def method(self: IAMBackend, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if _state.service is not None:  # it notes nothing where IAM has no delay (the local lab)
            _state.service.iam.changed(self.account_id, *key_of(*args, **kwargs))
        return result

    method.__name__ = original.__name__
    method.__doc__ = original.__doc__
    return method


def _created(role_name, *args, **kwargs):
    return role_name, ""


def _attached(policy_arn, role_name, *args, **kwargs):
    return role_name, policy_arn


def _put(role_name, policy_name, *args, **kwargs):
    return role_name, policy_name


PATCHES = {
    (IAMBackend, "create_role"): _noting(IAMBackend.create_role, _created),
    (IAMBackend, "attach_role_policy"): _noting(_POLICY_PATCHES[(IAMBackend, "attach_role_policy")], _attached),
    (IAMBackend, "put_role_policy"): _noting(IAMBackend.put_role_policy, _put),
}
