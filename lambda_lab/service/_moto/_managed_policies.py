"""AWS managed policies from moto's copy of AWS's catalogue, each made real only when something names it.

moto 5 starts IAM without AWS's ~1,500 managed policies; making them all costs every lab start. The
lessons' few are made at start; any other is made the first time an ARN or `lab.allow` names it, so
`attach_role_policy(PolicyArn="arn:aws:iam::aws:policy/SecretsManagerReadWrite")` works as on AWS.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache

from moto.iam.models import AWSManagedPolicy, IAMBackend, iam_backends

__all__ = ["aws_managed_policy_arn", "provide_managed_policies", "PATCHES"]


@lru_cache(maxsize=1)
def _catalogue() -> dict:
    """Name: AWS's record of the policy (path, default version, document), as moto ships them."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def aws_managed_policy_arn(name: str, partition: str = "aws") -> str:
    """The ARN of the AWS managed policy `name`; a ValueError naming close matches when AWS has none."""
    found = _catalogue().get(name)
    if found is None:
        close = difflib.get_close_matches(name, _catalogue(), n=5, cutoff=0.6)
        lower = [n for n in _catalogue() if n.lower() == str(name).lower()]
        hint = f" Did you mean {', '.join(dict.fromkeys(lower + close))}?" if lower or close else ""
        raise ValueError(f"{name!r} is not an AWS managed policy (names are case-sensitive).{hint} AWS's list: "
                         "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html")
    return f"arn:{partition}:iam::aws:policy{found.get('Path') or '/'}{name}"


def provide_managed_policies(account_id: str, names: list[str]) -> None:
    """Make these AWS managed policies attachable in the account now, and any other when an ARN names it.

    Only accounts the lab set up so answer on demand: a plain moto (a user's own mock, a bare server) keeps
    moto's IAM without AWS's policies.
    """
    backend = iam_backends[account_id]["global"]
    backend.lab_managed_on_demand = True  # on the backend: a moto reset forgets it with the account's state
    _provide(backend, names)


def _provide(backend: IAMBackend, names) -> None:
    for name in names:
        if name in _catalogue():
            policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, _catalogue()[name])
            if policy.arn not in backend.managed_policies:
                backend.managed_policies[policy.arn] = policy
                backend.aws_managed_policies.append(policy)  # list_policies(Scope="AWS") shows it, as AWS does


def _on_demand(original):
    """moto's method, after making the AWS managed policy its ARN names (arn:aws:iam::aws:policy/...)."""

    def method(self: IAMBackend, policy_arn: str, *args, **kwargs):
        if (getattr(self, "lab_managed_on_demand", False) and isinstance(policy_arn, str)
                and ":iam::aws:policy/" in policy_arn and policy_arn not in self.managed_policies):
            _provide(self, [policy_arn.rsplit("/", 1)[-1]])
        return original(self, policy_arn, *args, **kwargs)

    method.__name__ = original.__name__
    method.__doc__ = original.__doc__
    return method


PATCHES = {(IAMBackend, name): _on_demand(getattr(IAMBackend, name)) for name in (
    "attach_role_policy", "attach_user_policy", "attach_group_policy", "get_policy", "get_policy_version")}
