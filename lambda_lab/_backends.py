"""Where a lab's AWS is: in this process (local, the default), a real account, or any AWS-compatible endpoint."""

from __future__ import annotations

import ipaddress
import math
import os
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import UnknownRegionError
from botocore.handlers import BUILTIN_HANDLERS

from ._install import install, uninstall
from .service import generate_credentials, warm_imports
from .service._endpoint import known_regions

BACKENDS = ("local", "aws", "endpoint")
_ENV_KEYS = ("AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
             "AWS_SESSION_TOKEN")


class LabStoppedError(RuntimeError):
    """A boto3 call after the local lab stopped, which would otherwise have gone to real AWS."""


class _StoppedGuard:
    """A botocore before-send handler: once a local lab stops, no request leaves this machine until a new Lab.

    Registered as moto registers its own (in botocore's BUILTIN_HANDLERS), so every session and client made
    after `import lambda_lab` carries it, those made before the lab stopped included.
    """

    def __init__(self) -> None:
        self.armed = False
        self.mock_class = None  # moto's mock class: while any mock_aws runs, moto answers, nothing leaves

    def arm(self, mock_class) -> None:
        self.armed, self.mock_class = True, mock_class
        if boto3.DEFAULT_SESSION is not None:  # a session made before lambda_lab was imported, restored by moto
            boto3.DEFAULT_SESSION.events.register("before-send", self, unique_id="lambda-lab-stopped-guard")

    def __call__(self, request, **kwargs) -> None:
        if not self.armed or getattr(self.mock_class, "_mocks_active", False):
            return None
        host = urlsplit(request.url).hostname or ""
        if _is_loopback(host):  # LocalStack or a moto server on this machine: no real account behind it
            return None
        raise LabStoppedError(
            f"The local lab was stopped (lab.stop()), so this boto3 request to {host} was not sent: it would have "
            "gone to real AWS with whatever credentials this machine holds. Start a new local lab with "
            "lambda_lab.Lab(), or choose a real account on purpose with lambda_lab.Lab(backend='aws').")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_guard = _StoppedGuard()
BUILTIN_HANDLERS.append(("before-send", _guard))


class Backend:
    """Sets the process up so that plain boto3 clients reach this backend; undoes it on stop()."""

    name = "?"
    engine = None  # the local runtime and service; None elsewhere

    def __init__(self, region: str) -> None:
        _guard.armed = False  # a backend chosen on purpose: boto3 may go where it points
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
        # moto's FOOBARKEY is the same in every kernel; own keys mean only this kernel (and its handlers, with
        # theirs) can sign for AWS_IAM function URLs and routes. Set before any boto3 session reads them.
        self.credentials = generate_credentials()
        os.environ.update(self.credentials)
        try:
            # the lab says once, at start, what a warning at each function's first call would say
            self.engine = install(seed=seed, idle_timeout_s=idle_timeout, isolate_imports=isolate_imports,
                                  warn_python_version=False)
            warm_imports()
        except BaseException:  # an interrupted start leaves neither moto running nor the keys in the environment
            self.stop()
            raise

    def stop(self) -> None:
        uninstall()
        self._mock.stop()
        super().stop()
        _guard.arm(type(self._mock))  # a re-run cell must not reach real AWS with the machine's credentials


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


def check_region(region: str, backend: str) -> str:
    """The region, if the backend can serve it; else a ValueError naming it and where valid ones come from."""
    if not isinstance(region, str) or not region:
        raise ValueError(f"region must be a region name such as 'us-east-1', not {region!r}")
    known = known_regions()
    if region in known:
        return region
    if backend != "local":  # a region newer than this botocore still matches its partition's pattern
        try:
            boto3.session.Session()._session.get_partition_for_region(region)
            return region
        except UnknownRegionError:
            pass
    served = " the local lab serves" if backend == "local" else ""
    raise ValueError(f"region {region!r} is not an AWS region{served}: pass a region such as 'us-east-1' or "
                     "'eu-west-1'. The valid ones come from botocore's endpoint data: "
                     "boto3.session.Session().get_available_regions('lambda') lists them, and "
                     "get_available_partitions() names the other partitions (aws-cn, aws-us-gov, ...).")


def check_lab_args(seed, idle_timeout, budget_usd, role_wait_s=None) -> None:
    """Refuse Lab arguments a learner may plausibly get wrong, before anything starts."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be a whole number (e.g. Lab(seed=7)) or None, not {seed!r}")
    if not _positive(idle_timeout):
        raise ValueError(f"idle_timeout is in seconds and must be above 0 (e.g. Lab(idle_timeout=600)), "
                         f"not {idle_timeout!r}")
    if budget_usd is not None and not (_number(budget_usd) and budget_usd >= 0):
        raise ValueError(f"budget_usd is in US dollars and must be 0 or more (e.g. Lab(budget_usd=0.5)) or None, "
                         f"not {budget_usd!r}")
    if role_wait_s is not None and not (_number(role_wait_s) and 0 <= role_wait_s <= 60):
        raise ValueError(f"role_wait_s is in seconds, from 0 to 60 (e.g. Lab(backend='endpoint', role_wait_s=0)), "
                         f"or None for the backend's default, not {role_wait_s!r}")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _positive(value) -> bool:
    return _number(value) and value > 0


def choose(backend: str | None) -> str:
    """The backend asked for, explicitly or with LAMBDA_LAB_BACKEND; never a real account by default."""
    chosen = backend or os.environ.get("LAMBDA_LAB_BACKEND") or "local"
    if chosen not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {chosen!r}")
    return chosen
