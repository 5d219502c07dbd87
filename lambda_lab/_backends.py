"""Where a lab's AWS is: in this process (local, the default), a real account, or any AWS-compatible endpoint."""

from __future__ import annotations

import os

from ._install import install, uninstall
from .service import warm_imports

BACKENDS = ("local", "aws", "endpoint")
_ENV_KEYS = ("AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


class Backend:
    """Sets the process up so that plain boto3 clients reach this backend; undoes it on stop()."""

    name = "?"
    engine = None  # the local runtime and service; None elsewhere

    def __init__(self, region: str) -> None:
        self.region = region
        self._saved = {k: os.environ.get(k) for k in _ENV_KEYS}
        os.environ["AWS_DEFAULT_REGION"] = region

    def stop(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class LocalBackend(Backend):
    """moto in this process, with the lab's runtime installed: handlers run here, for real."""

    name = "local"

    def __init__(self, region: str, seed: int | None, idle_timeout: float, isolate_imports: bool) -> None:
        super().__init__(region)
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start()
        # the lab says once, at start, what a warning at each function's first call would say
        self.engine = install(seed=seed, idle_timeout_s=idle_timeout, isolate_imports=isolate_imports,
                              warn_python_version=False)
        warm_imports()

    def stop(self) -> None:
        uninstall()
        self._mock.stop()
        super().stop()


class RemoteBackend(Backend):
    """A real account (`aws`), or an AWS-compatible endpoint such as LocalStack or a moto server (`endpoint`)."""

    def __init__(self, name: str, region: str, endpoint_url: str | None) -> None:
        if name == "endpoint" and not endpoint_url:
            raise ValueError("backend='endpoint' needs endpoint_url, e.g. Lab(backend='endpoint', "
                             "endpoint_url='http://127.0.0.1:4566')")
        super().__init__(region)
        self.name, self.endpoint_url = name, endpoint_url
        if endpoint_url:
            os.environ["AWS_ENDPOINT_URL"] = endpoint_url  # every boto3 client made from now on goes there
            if not os.environ.get("AWS_ACCESS_KEY_ID"):
                os.environ["AWS_ACCESS_KEY_ID"] = "lambda-lab"  # local endpoints want some credentials, any
                os.environ["AWS_SECRET_ACCESS_KEY"] = "lambda-lab"
        elif name == "aws":
            os.environ.pop("AWS_ENDPOINT_URL", None)


def choose(backend: str | None) -> str:
    """The backend asked for, explicitly or with LAMBDA_LAB_BACKEND; never a real account by default."""
    chosen = backend or os.environ.get("LAMBDA_LAB_BACKEND") or "local"
    if chosen not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {chosen!r}")
    return chosen
