"""Switching the lab's runtime into moto: the pieces that must start and stop together."""

from __future__ import annotations

import atexit
import threading

from .limits import value
from .runtime import Runtime
from .service import (ExecutionCredentials, LambdaService, LoopbackEndpoint, SecretsExtension, attach, detach,
                      generate_credentials, role_documents, share_loaders, write_log)

ACCOUNT_CONCURRENCY = value("account_concurrency")
_lock = threading.Lock()
_active: Engine | None = None


class Engine:
    """A runtime, the service over it, and the loopback endpoint the handlers' SDK calls reach."""

    def __init__(self, seed: int | None = None, idle_timeout_s: float = 600.0, isolate_imports: bool = True,
                 warn_python_version: bool = True, busy_window_s: float = 0.0,
                 account_concurrency: int = ACCOUNT_CONCURRENCY, iam_delay_s: float = 0.0) -> None:
        self.credentials = generate_credentials()
        self.endpoint = LoopbackEndpoint(self.credentials)
        sdk_env = {**self.credentials, "AWS_ENDPOINT_URL": self.endpoint.url}
        self.execution_credentials = ExecutionCredentials(self.endpoint)  # each function's role session
        self.runtime = Runtime(sdk_env=sdk_env, log_sink=write_log, idle_timeout_s=idle_timeout_s,
                               isolate_imports=isolate_imports, warn_python_version=warn_python_version,
                               credentials_for=self.execution_credentials)
        self.service = LambdaService(self.runtime, seed=seed, busy_window_s=busy_window_s,
                                     account_concurrency=account_concurrency, iam_delay_s=iam_delay_s)
        self.service.code_locations = self.endpoint.code_locations  # GetFunction's Code.Location links
        # AWS's Parameters and Secrets extension, for functions whose layers name it; it listens once one starts
        self.secrets_extension = SecretsExtension(self.endpoint.url, role_documents)
        self.runtime.extension_env = self.secrets_extension.environment

    def wait_for_async(self, timeout: float | None = 60.0) -> None:
        """Return once queued events, retries, deliveries and event source mappings have all finished."""
        self.service.wait_for_async(timeout)

    def close(self) -> None:
        self.service.shutdown()
        self.runtime.stop()
        self.secrets_extension.stop()
        self.endpoint.stop()


def install(seed: int | None = None, idle_timeout_s: float = 600.0, isolate_imports: bool = True,
            warn_python_version: bool = True, busy_window_s: float = 0.0,
            account_concurrency: int = ACCOUNT_CONCURRENCY, iam_delay_s: float = 0.0) -> Engine:
    """Run Lambda handlers for real in whatever moto mock is active, until `uninstall()`.

    `busy_window_s`: how long a new function stays Pending, and an update InProgress, unless its configuration
    is read first (0: done by the next call; a stand-in account uses more, see service/_function_states.py).
    `account_concurrency`: the account's concurrency quota (1,000 by default; a new AWS account's can be 10).
    `iam_delay_s`: how long a new role or policy takes to reach Lambda (0; see service/_iam_propagation.py).

    >>> with mock_aws():
    ...     lambda_lab.install()
    ...     boto3.client("lambda").invoke(FunctionName="fn")   # runs fn's handler, no Docker
    """
    global _active
    share_loaders()  # each mock start resets boto3's default session: keep the parsed models
    with _lock:
        if _active is not None:
            _close_active()
        _active = Engine(seed=seed, idle_timeout_s=idle_timeout_s, isolate_imports=isolate_imports,
                         warn_python_version=warn_python_version, busy_window_s=busy_window_s,
                         account_concurrency=account_concurrency, iam_delay_s=iam_delay_s)
        attach(_active.service)
        return _active


def uninstall() -> None:
    """Give moto back its own Lambda and end every process the lab started."""
    with _lock:
        _close_active()


def _close_active() -> None:
    global _active
    if _active is not None:
        detach()
        _active.close()
        _active = None


atexit.register(uninstall)
