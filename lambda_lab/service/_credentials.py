"""Each function's own credentials: its execution role's session, as Lambda gives every environment.

The handler's SDK signs with them, the loopback endpoint admits them, and STS answers GetCallerIdentity
with `arn:aws:sts::<account>:assumed-role/<role>/<function>`. Made when an environment starts, never per call.
"""

from __future__ import annotations

import threading

from ._endpoint import LoopbackEndpoint
from ._moto._identity import assume_execution_role, is_assumed


class ExecutionCredentials:
    """`credentials(config)`: the environment variables of `config`'s execution-role session."""

    def __init__(self, endpoint: LoopbackEndpoint) -> None:
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._sessions: dict[tuple, dict[str, str]] = {}

    def __call__(self, config) -> dict[str, str]:
        if not config.role:
            return {}
        key = (config.account_id, config.region, config.role, config.function_name)
        with self._lock:
            found = self._sessions.get(key)
            if found is None or not is_assumed(config.account_id, config.region, config.role,
                                               found["AWS_ACCESS_KEY_ID"]):
                found = assume_execution_role(config.account_id, config.region, config.role, config.function_name)
                self.endpoint.admit(found)
                self._sessions[key] = found
            return dict(found)

    def sessions(self) -> list[dict[str, str]]:
        """Every session handed out so far (they may sign AWS_IAM requests to the front door)."""
        with self._lock:
            return list(self._sessions.values())
