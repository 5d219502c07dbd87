"""The execution role's session that a handler's SDK calls run as: an STS assumed role in moto's records."""

from __future__ import annotations

from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

# Lambda's execution-role sessions last as long as the environment; a day bounds any environment here.
_SESSION_SECONDS = 24 * 60 * 60


def assume_execution_role(account_id: str, region: str, role_arn: str, session_name: str) -> dict[str, str]:
    """Assume `role_arn` as `session_name`; the credentials as Lambda puts them in the environment."""
    role = sts_backends[account_id][get_partition(region)].assume_role(
        region_name=region, role_session_name=session_name, role_arn=role_arn, policy=None,
        duration=_SESSION_SECONDS, external_id=None)
    return {"AWS_ACCESS_KEY_ID": role.access_key_id, "AWS_SECRET_ACCESS_KEY": role.secret_access_key,
            "AWS_SESSION_TOKEN": role.session_token}


def is_assumed(account_id: str, region: str, role_arn: str, access_key_id: str) -> bool:
    """Whether moto still holds the session (resetting moto's state forgets it)."""
    parts = role_arn.split(":")
    owner = parts[4] if len(parts) > 4 and parts[4].isdigit() else account_id  # moto files it under the role's account
    return sts_backends[owner][get_partition(region)].get_assumed_role_from_access_key(access_key_id) is not None
