"""Lab: the course's local AWS, started in one line and stopped cleanly."""

from __future__ import annotations

import json
import os
import sys

from ._install import install, uninstall
from .service import provide_managed_policies

EXECUTION_ROLE = "lambda-lab-execution-role"
BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# AWS managed policies the lessons attach; moto's full catalogue takes 0.7 s to load
LESSON_POLICIES = ["AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole", "AWSLambdaDynamoDBExecutionRole",
                   "AWSLambdaKinesisExecutionRole", "AWSLambdaRole", "AWSLambda_FullAccess", "AmazonS3ReadOnlyAccess",
                   "AmazonS3FullAccess", "AmazonDynamoDBFullAccess", "AmazonSQSFullAccess", "AmazonSNSFullAccess"]
_TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


class Lab:
    """An in-process AWS (moto) whose Lambda runs handler code for real; plain boto3 talks to it.

    >>> lab = Lab()
    >>> boto3.client("lambda").list_functions()["Functions"]
    []
    >>> lab.stop()

    Introduced in notebook 00_start_here.
    """

    _current: Lab | None = None

    def __init__(self, backend: str = "local", region: str | None = None, seed: int | None = None,
                 idle_timeout: float = 600.0, isolate_imports: bool = True, quiet: bool = False) -> None:
        if backend != "local":
            raise ValueError(f"backend={backend!r} is not available in this version of lambda-lab; use 'local'.")
        if Lab._current is not None:  # re-running a notebook's setup cell replaces the old lab
            Lab._current.stop()
        from moto import mock_aws

        self.backend = backend
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self._saved_env = {k: os.environ.get(k) for k in ("AWS_DEFAULT_REGION",)}
        os.environ["AWS_DEFAULT_REGION"] = self.region
        self._mock = mock_aws()
        self._mock.start()
        # the lab says once, here, what a warning at each function's first call would say
        self._engine = install(seed=seed, idle_timeout_s=idle_timeout, isolate_imports=isolate_imports,
                               warn_python_version=False)
        self.role_arn = self._create_role()
        self.front_door = self._start_front_door()
        if not quiet:
            print(f"lambda-lab: a local AWS in region {self.region} is ready. Python handlers run on this machine's "
                  f"Python ({sys.version.split()[0]}), whatever python3.x Runtime a function names.")
        self._stopped = False
        Lab._current = self

    @property
    def endpoint_url(self) -> str:
        """Where handler code's boto3 calls go: this lab's loopback endpoint."""
        return self._engine.endpoint.url

    @property
    def invocations(self) -> list:
        """Every invocation so far, oldest first, with its measured and modelled figures."""
        return list(self._engine.service.history)

    def environments(self, function_name: str | None = None) -> list:
        """Live execution environments (worker processes), optionally of one function."""
        return self._engine.runtime.environments(function_name)

    def wait_for_async(self, timeout: float | None = 60.0) -> None:
        """Return once queued events, retries, deliveries and event source mappings have all finished.

        Lambda's delays (a retry a minute later, a message visible again after its visibility timeout) are
        fast-forwarded on `lab.clock`, so this takes seconds, not minutes.
        """
        self._engine.wait_for_async(timeout)

    @property
    def clock(self):
        """The lab clock: simulated time for retries and schedules; `lab.clock.speed`, `lab.clock.advance(s)`."""
        return self._engine.service.clock

    @property
    def async_events(self) -> list:
        """Every asynchronous event: its attempts (simulated times), outcome and deliveries."""
        return list(self._engine.service.queue.events)

    @property
    def refusals(self) -> list:
        """Invocations a push source could not make, and why (a missing resource-based policy statement)."""
        return list(self._engine.service.refusals)

    def stop(self) -> None:
        """End every process the lab started and forget its AWS state."""
        if getattr(self, "_stopped", True):
            return
        self._stopped = True
        self.front_door.stop()
        uninstall()
        self._mock.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if Lab._current is self:
            Lab._current = None

    def rest_api_url(self, api_id: str, stage: str) -> str:
        """Where a REST API's stage answers on this machine: `requests.get(url + "/hello")`."""
        return self.front_door.rest_api_url(api_id, stage)

    def http_api_url(self, api_id: str, stage: str = "$default") -> str:
        """Where an HTTP API's stage answers on this machine."""
        return self.front_door.http_api_url(api_id, stage)

    def function_url(self, function_name: str, qualifier: str | None = None) -> str:
        """A function URL on this machine (on AWS, FunctionUrl points at lambda-url.<region>.on.aws)."""
        return self.front_door.function_url(function_name, qualifier)

    def allow(self, *policy_names: str) -> None:
        """Attach AWS managed policies to the lab's execution role, e.g. lab.allow("AWSLambdaSQSQueueExecutionRole")."""
        import boto3

        iam = boto3.client("iam", region_name=self.region)
        managed = {p["PolicyName"]: p["Arn"] for page in iam.get_paginator("list_policies").paginate(Scope="AWS")
                   for p in page["Policies"]}
        for name in policy_names:
            if name not in managed:
                raise ValueError(f"{name} is not an AWS managed policy the lab knows; it knows: "
                                 f"{', '.join(sorted(managed))}")
            iam.attach_role_policy(RoleName=EXECUTION_ROLE, PolicyArn=managed[name])

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else f"endpoint {self.endpoint_url}"
        return f"<Lab {self.backend} region={self.region} {state}>"

    def _start_front_door(self):
        import boto3

        from .service._front_door import FrontDoor

        # the notebook's own credentials and the handlers' generated keys may both sign AWS_IAM requests
        return FrontDoor(credentials=[boto3.Session().get_credentials().get_frozen_credentials(),
                                      self._engine.credentials])

    def _create_role(self) -> str:
        import boto3

        iam = boto3.client("iam", region_name=self.region)
        account = boto3.client("sts", region_name=self.region).get_caller_identity()["Account"]
        provide_managed_policies(account, LESSON_POLICIES)
        role = iam.create_role(RoleName=EXECUTION_ROLE, AssumeRolePolicyDocument=json.dumps(_TRUST_LAMBDA),
                               Description="Execution role for lambda-lab functions: CloudWatch Logs only")
        iam.attach_role_policy(RoleName=EXECUTION_ROLE, PolicyArn=BASIC_EXECUTION_POLICY)
        return role["Role"]["Arn"]
