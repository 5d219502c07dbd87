"""Lab: the course's AWS, started in one line: local by default, a real account only when asked."""

from __future__ import annotations

import difflib
import getpass
import json
import os
import re
import sys
import time
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ._backends import LabStoppedError, LocalBackend, RemoteBackend, check_lab_args, check_region, choose
from ._cleanup import cleanup
from ._display import compact_errors
from ._quotas import quota_warning
from ._recorder import Recorder, install_id as _install_id, lab_home
from ._remote_views import RemoteViews, when_iam_ready
from .service import aws_managed_policy_arn, provide_managed_policies

EXECUTION_ROLE = "lambda-lab-execution-role"
BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
BASIC_INLINE_POLICY = "lambda-lab-basic-execution"  # the same statements, where the managed policy is missing
_BASIC_STATEMENTS = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "*"}]}
# AWS managed policies the lessons attach, made at start; lab.allow and attach_role_policy make any other on demand
LESSON_POLICIES = ["AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole", "AWSLambdaDynamoDBExecutionRole",
                   "AWSLambdaKinesisExecutionRole", "AWSLambdaRole", "AWSLambda_FullAccess", "AmazonS3ReadOnlyAccess",
                   "AmazonS3FullAccess", "AmazonDynamoDBFullAccess", "AmazonSQSFullAccess", "AmazonSNSFullAccess",
                   "AWSLambdaVPCAccessExecutionRole", "AWSXRayDaemonWriteAccess"]
_TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
DEFAULT_BUDGET_USD = 0.10  # per sweep or load test on a real account, unless the learner sets another


# seconds a remote lab waits for its new execution role to reach Lambda (Lab(role_wait_s=...) for another figure)
ROLE_WAIT_S = {"local": 0.0, "endpoint": 3.0, "aws": 10.0}


class CostGuardError(RuntimeError):
    """A sweep or load test on a real account would cost more than the lab's budget allows."""


class Lab:
    """The course's AWS: plain boto3 talks to it; on the local backend handlers run here, for real.

    >>> lab = Lab()                                    # local: moto in this process, no account needed
    >>> lab = Lab(backend="aws")                       # your own account and region, on purpose only
    >>> lab = Lab(backend="endpoint", endpoint_url="http://127.0.0.1:4566")   # LocalStack, a moto server
    >>> lab.cleanup(); lab.stop()

    A new execution role reaches Lambda seconds after IAM makes it, so a remote lab waits after making one:
    `role_wait_s` seconds, by default 10 on an account and 3 on an endpoint (0 suits an endpoint that applies
    IAM at once, as LocalStack and a plain moto server do).

    Introduced in notebook 00_start_here; the other backends in 16_real_account.
    """

    _current: Lab | None = None

    def __init__(self, backend: str | None = None, region: str | None = None, seed: int | None = None,
                 idle_timeout: float = 600.0, isolate_imports: bool = True, quiet: bool = False,
                 endpoint_url: str | None = None, budget_usd: float | None = None, learner: str | None = None,
                 role_wait_s: float | None = None) -> None:
        chosen = choose(backend)  # bad arguments are refused before the running lab is touched
        region = check_region(region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                              or "us-east-1", chosen)
        check_lab_args(seed, idle_timeout, budget_usd, role_wait_s)
        if Lab._current is not None:  # re-running a notebook's setup cell replaces the old lab
            Lab._current.stop()
        self._stopped = True
        self.backend, self.region = chosen, region
        self._role_wait_s = role_wait_s if role_wait_s is not None else ROLE_WAIT_S[chosen]
        # the learner's name is only shown (banner, tag lambda-lab-learner): on Binder and JupyterHub everyone is
        # `jovyan`, so a remote lab's identity is this installation's random id, kept in LAMBDA_LAB_HOME
        self.learner = _safe(learner or os.environ.get("LAMBDA_LAB_LEARNER") or getpass.getuser())
        self._install_id: str | None = None  # read or made once credentials work (`install_id`)
        self.budget_usd = budget_usd if budget_usd is not None else (None if self.backend == "local"
                                                                     else DEFAULT_BUDGET_USD)
        if self.backend == "local":
            self._backend = LocalBackend(self.region, seed, idle_timeout, isolate_imports)
        else:
            self._backend = RemoteBackend(self.backend, self.region, endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))
        self._engine = self._backend.engine
        try:
            self.account = self._caller_account()
            if not quiet:
                print(self._banner())  # which account and region, before anything is created there
                if self.backend != "local":
                    self._say_quota()
            self.recorder = Recorder(self._lab_id, self.learner, self._record_path(), self.account,
                                     tagging=self.backend != "local")
            self.recorder.attach()
            self.role_arn = self._create_role()
            self.front_door = self._start_front_door() if self._engine else None
        except BaseException:
            if getattr(self, "recorder", None) is not None:
                self.recorder.detach()  # a failed start leaves no hooks on boto3's session
            self._backend.stop()
            raise
        self._remote = None if self._engine else RemoteViews(self)  # the views, rebuilt from what AWS gives
        if self._remote:
            self._remote.attach(self.recorder._session)
        self._stopped = False
        Lab._current = self
        compact_errors()  # AWS's errors show as code and message in a notebook, not as botocore's frames

    @classmethod
    def current(cls) -> Lab | None:
        """The running lab, if any (checks and widgets use it to reach the lab's history)."""
        return cls._current

    # -- the local lab's own views -------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        """Where handler code's boto3 calls go: the local lab's loopback endpoint, or the remote endpoint."""
        return self._engine.endpoint.url if self._engine else (self._backend.endpoint_url or "")

    @property
    def invocations(self) -> list:
        """Every invocation so far, oldest first (elsewhere: rebuilt from the REPORT lines in CloudWatch Logs)."""
        if self._engine is None:
            return self._remote.invocations()
        return list(self._local("invocations").service.history)

    def environments(self, function_name: str | None = None) -> list:
        """Live execution environments, optionally of one function (elsewhere: one per log stream, live or not)."""
        if self._engine is None:
            return self._remote.environments(function_name)
        return self._local("environments").runtime.environments(function_name)

    @property
    def clock(self):
        """The lab clock: simulated time for retries and schedules; `lab.clock.speed`, `lab.clock.advance(s)`."""
        return self._local("clock", "time is real: retries come 1 and 2 minutes later and schedules fire on the "
                                    "wall clock; wait with lab.wait_for_async(), nothing can be fast-forwarded."
                           ).service.clock

    @property
    def async_events(self) -> list:
        """Every asynchronous event: attempts, outcome, deliveries (elsewhere: from logs, destination, DLQ records)."""
        if self._engine is None:
            return self._remote.async_events()
        return list(self._local("async_events").service.queue.events)

    @property
    def refusals(self) -> list:
        """Invocations a push source could not make, and why (a missing resource-based policy statement)."""
        return list(self._local("refusals", "a refused push is not logged by Lambda; read the function's policy "
                                            "(lambda.get_policy) and the source's delivery-failure metrics."
                                ).service.refusals)

    def local_only(self, what: str, on_aws: str) -> bool:
        """True on the local lab; elsewhere print `what` is local-only and the "On AWS:" alternative, and False.

        >>> if lab.local_only("the lab clock's fast-forward", on_aws="wait for the real retries (2-3 minutes)"):
        ...     lab.clock.advance(180)
        """
        if self._engine is not None:
            return True
        print(f"Skipped on backend '{self.backend}' (local-only: {what}). On AWS: {on_aws}")
        return False

    def wait_for_async(self, timeout: float | str | None = "auto", progress: bool = True) -> None:
        """Return once queued events, retries, deliveries and event source mappings have all finished.

        Locally, Lambda's delays (a retry a minute later, a message visible again after its visibility
        timeout) are fast-forwarded on `lab.clock`, so this takes seconds ('auto': at most 60 s). On a real
        account nothing can be fast-forwarded: it polls CloudWatch Logs and the destination and DLQ queues for
        the events this kernel sent with InvocationType='Event' ('auto': 30 s, 200 s while AWS's retries are
        pending), with a progress line unless `progress=False`.
        """
        if timeout == "auto" and self._engine is not None:
            timeout = 60.0
        if timeout is not None and timeout != "auto" and (isinstance(timeout, bool) or not isinstance(
                timeout, (int, float)) or not timeout > 0):
            raise ValueError(f"timeout is in seconds and must be above 0, or None to wait as long as it takes, "
                             f"or 'auto' (e.g. lab.wait_for_async(timeout=60)), not {timeout!r}")
        if self._stopped:  # its queues and workers are gone: waiting would only time out
            raise LabStoppedError("lab.wait_for_async(): this lab was stopped (lab.stop()), so nothing is left to "
                                  "wait for. Start a new one with lambda_lab.Lab() and run the cells again.")
        if self._engine:
            self._engine.wait_for_async(timeout)
            self._finish_deployments(timeout)
        else:
            self._remote.wait_for_async(timeout, progress)

    def _finish_deployments(self, timeout: float | None) -> None:
        """CodeDeploy deployments still shifting traffic or waiting for a hook: fast-forward to each next step."""
        from .service import _deployments

        engine = _deployments._active
        if engine is None or engine.clock is not self._engine.service.clock:
            return  # this lab's engine was replaced by a newer lab's
        deadline = None if timeout is None else time.monotonic() + timeout
        clock = engine.clock
        while (due := engine.next_due()) is not None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"still busy after {timeout} s: {len(engine.running())} CodeDeploy deployment(s) "
                                   "still running")
            if due > clock.now():
                clock.advance(due - clock.now())
            self._engine.wait_for_async(None if deadline is None else max(deadline - time.monotonic(), 0.1))

    # -- any backend ---------------------------------------------------------------------------
    def wait_until_ready(self, function_name: str) -> None:
        """Wait until a function can be invoked (on AWS a new or updated function is briefly Pending)."""
        lam = boto3.client("lambda", region_name=self.region)
        lam.get_waiter("function_active_v2").wait(FunctionName=function_name)
        lam.get_waiter("function_updated_v2").wait(FunctionName=function_name)

    def unique_name(self, name: str) -> str:
        """A name no other account uses, for what AWS names globally (S3 buckets): `name` in the local lab, where
        the whole AWS is this lab's, and `name-<this installation's id>` on an account.

        >>> s3.create_bucket(Bucket=lab.unique_name("lab-reports"), **lab.bucket_location)
        """
        return name if self.backend == "local" else f"{name}-{self.install_id}"

    @property
    def bucket_location(self) -> dict:
        """`create_bucket`'s extra argument for this lab's region: none in us-east-1, a LocationConstraint elsewhere."""
        if self.region == "us-east-1":
            return {}
        return {"CreateBucketConfiguration": {"LocationConstraint": self.region}}

    def wait_for_iam(self, call, *args, timeout: float = 60.0, retry: bool | None = None, **kwargs):
        """Make an AWS call that needs a new role or permission, retrying while IAM has not reached Lambda yet.

        >>> lab.allow("AmazonSQSFullAccess")
        >>> lab.wait_for_iam(lam.put_function_event_invoke_config, FunctionName="f", DestinationConfig=...)

        Only on an account or endpoint (`retry=None`): in the local lab permissions apply at once, so a refusal
        there is a real one.
        """
        return when_iam_ready(call, args, kwargs, timeout, self.backend != "local" if retry is None else retry)

    def guard_cost(self, estimate_usd: float, what: str, allow: bool = False) -> None:
        """Refuse work on a paid backend whose estimated cost is above the budget, unless `allow`."""
        if self.budget_usd is None or allow or estimate_usd <= self.budget_usd:
            return
        raise CostGuardError(f"{what} would cost about ${estimate_usd:.4f} on account {self.account}, above this "
                             f"lab's budget of ${self.budget_usd:.4f}. Raise it with Lab(budget_usd=...) or pass "
                             "allow_cost=True if you mean it.")

    def cleanup(self, this_notebook: bool = False) -> list[tuple[str, str]]:
        """Delete everything this lab (and this learner's earlier labs) created, and nothing else.

        this_notebook=True: only what this lab made since it started, as a lesson's last cell does on a real
        account; other notebooks' resources and the execution role they share stay for a later lab.cleanup().
        """
        if this_notebook:  # the execution role stays: the install's other notebooks share it
            return cleanup(self.recorder, self.region,
                           only=[r for r in self.recorder.since_start if r != ("role", self._role_name)])
        return cleanup(self.recorder, self.region)

    @property
    def created(self) -> list[tuple[str, str]]:
        """What was created through boto3 since the lab started: (kind, id) pairs, oldest first."""
        return list(self.recorder.created)

    def allow(self, *policy_names: str) -> None:
        """Attach AWS managed policies to the lab's execution role, e.g. lab.allow("SecretsManagerReadWrite")."""
        iam = boto3.client("iam", region_name=self.region)
        if self.backend == "local":  # every AWS managed policy, from moto's copy of AWS's catalogue
            arns = [aws_managed_policy_arn(name, iam.meta.partition) for name in policy_names]  # all known first
        else:
            arns = [self._managed_policy_arn(iam, name) for name in policy_names]
        for arn in arns:
            iam.attach_role_policy(RoleName=self._role_name, PolicyArn=arn)

    @staticmethod
    def _managed_policy_arn(iam, name: str) -> str:
        """The ARN of AWS managed policy `name` in the remote account: its path from AWS's catalogue, checked with
        GetPolicy; a policy the catalogue does not know (newer than it) is looked for in the account's list."""
        try:
            arn = aws_managed_policy_arn(name, iam.meta.partition)
            iam.get_policy(PolicyArn=arn)
            return arn
        except (ValueError, iam.exceptions.NoSuchEntityException):
            pass
        managed = {p["PolicyName"]: p["Arn"] for page in iam.get_paginator("list_policies").paginate(Scope="AWS")
                   for p in page["Policies"]}
        if name not in managed:
            close = difflib.get_close_matches(name, managed, n=5, cutoff=0.6)
            raise ValueError(f"{name!r} is not an AWS managed policy here (names are case-sensitive)."
                             + (f" Did you mean {', '.join(close)}?" if close else ""))
        return managed[name]

    def deploy(self, template, parameters: dict | None = None, stack_name: str | None = None,
               quiet: bool = False) -> dict:
        """Create or update a CloudFormation/SAM stack (template: a file path or the text) with plain boto3,
        printing its events as they happen; returns the stack's outputs. Stack name: `sam-app` unless given."""
        from ._deploy import deploy

        return deploy(self.region, template, parameters, stack_name, quiet)

    def _door(self):
        """The local lab's front door, or a stand-in account's (tools/standin_account.py: LAMBDA_LAB_FRONT_DOOR)."""
        if self.front_door:
            return self.front_door
        url = os.environ.get("LAMBDA_LAB_FRONT_DOOR") if self.backend == "endpoint" else None
        if not url:
            return None
        from .service._front_door import DoorUrls

        return DoorUrls(url.rstrip("/"))

    def rest_api_url(self, api_id: str, stage: str) -> str:
        """Where a REST API's stage answers: `requests.get(url + "/hello")`."""
        door = self._door()
        if door:
            return door.rest_api_url(api_id, stage)
        return f"https://{api_id}.execute-api.{self.region}.amazonaws.com/{stage}"

    def http_api_url(self, api_id: str, stage: str = "$default") -> str:
        """Where an HTTP API's stage answers."""
        door = self._door()
        if door:
            return door.http_api_url(api_id, stage)
        suffix = "" if stage == "$default" else f"/{stage}"
        return f"https://{api_id}.execute-api.{self.region}.amazonaws.com{suffix}"

    def function_url(self, function_name: str, qualifier: str | None = None) -> str:
        """A function's URL (locally on this machine; on AWS, lambda-url.<region>.on.aws)."""
        door = self._door()
        if door:
            return door.function_url(function_name, qualifier)
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        return boto3.client("lambda", region_name=self.region).get_function_url_config(
            FunctionName=function_name, **kwargs)["FunctionUrl"]

    def stop(self) -> None:
        """End every process the lab started; the local backend's AWS state goes with it."""
        if self._stopped:
            return
        self._stopped = True
        if self.front_door:
            self.front_door.stop()
        self.recorder.detach()
        if self._remote:
            self._remote.detach()
        self._backend.stop()
        if Lab._current is self:
            Lab._current = None

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else (f"endpoint {self.endpoint_url}" if self.endpoint_url else
                                                 f"account {self.account}")
        return f"<Lab {self.backend} region={self.region} {state}>"

    # -- starting ------------------------------------------------------------------------------
    def _local(self, what: str, on_aws: str = "read CloudWatch Logs (boto3.client('logs')) instead."):
        if self._engine is None:
            raise RuntimeError(f"lab.{what} belongs to the local lab, which runs handlers itself (local-only on "
                               f"backend '{self.backend}'; skip such a cell with `if lab.local_only(...):`). "
                               f"On AWS: {on_aws}")
        return self._engine

    def _caller_account(self) -> str:
        try:
            return boto3.client("sts", region_name=self.region).get_caller_identity()["Account"]
        except NoCredentialsError:
            raise RuntimeError("No AWS credentials found. Configure them first (aws configure, or the "
                               "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables, or an AWS profile), "
                               "or use the local lab: Lab().") from None

    def _banner(self) -> str:
        if self.backend == "local":
            return (f"lambda-lab: a local AWS in region {self.region} is ready. Python handlers run on this "
                    f"machine's Python ({sys.version.split()[0]}), whatever python3.x Runtime a function names.")
        where = f"AWS account {self.account}" if self.backend == "aws" else f"the endpoint {self.endpoint_url}"
        budget = f" Sweeps and load tests are refused above ${self.budget_usd:.2f} each." if self.budget_usd else ""
        return (f"lambda-lab: using {where} in region {self.region}. What you create through boto3 is recorded and "
                f"tagged lambda-lab={self._lab_id} (learner {self.learner}); lab.cleanup() removes it.{budget}")

    def _say_quota(self) -> None:
        """Warn at start when the account's concurrency quota is too low for the lessons' reservations."""
        try:
            limit = boto3.client("lambda", region_name=self.region).get_account_settings()["AccountLimit"]
        except (ClientError, BotoCoreError):
            return  # a learner's policy may not allow GetAccountSettings: the lessons' own errors will say it
        warning = quota_warning(limit)
        if warning:
            print(warning)

    def _record_path(self) -> Path | None:
        if self.backend == "local":
            return None  # the local AWS vanishes with the lab: nothing to find after a crash
        return lab_home() / f"{self.account}-{self.region}-{self.install_id}.json"

    @property
    def install_id(self) -> str | None:
        """This installation's random id (LAMBDA_LAB_HOME/install-id): a remote lab's identity; None locally."""
        if self._install_id is None and self.backend != "local":
            self._install_id = _install_id(lab_home())
        return self._install_id

    @property
    def _lab_id(self) -> str:
        """The `lambda-lab` tag's value: this install's id on a remote backend (a local AWS is this lab's alone)."""
        return f"lambda-lab-{self.learner}" if self.backend == "local" else f"lambda-lab-{self.install_id}"

    @property
    def _role_name(self) -> str:
        return EXECUTION_ROLE if self.backend == "local" else f"{EXECUTION_ROLE}-{self.install_id}"

    def _start_front_door(self):
        from .service._front_door import FrontDoor

        # the notebook's generated credentials and the handlers' own may sign AWS_IAM requests; nothing else
        return FrontDoor(clock=self._engine.service.clock, region=self.region,
                         credentials=lambda: [self._backend.credentials, self._engine.credentials,
                                              *self._engine.execution_credentials.sessions()])

    def _create_role(self) -> str:
        """The execution role: basic logging only; lessons add what they need (least privilege)."""
        iam = boto3.client("iam", region_name=self.region)
        if self.backend == "local":
            provide_managed_policies(self.account, LESSON_POLICIES)
        name = self._role_name
        try:
            role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(_TRUST_LAMBDA),
                                   Description="Execution role for lambda-lab functions: CloudWatch Logs only")
        except ClientError as error:
            if error.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            # this installation's role from before, perhaps from a start that failed half-way: make sure it can log
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
            attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
            if not attached & {_basic_policy_arn(iam)} and BASIC_INLINE_POLICY not in iam.list_role_policies(
                    RoleName=name)["PolicyNames"]:
                _allow_logging(iam, name)
            return arn
        try:
            _allow_logging(iam, name)
        except BaseException:  # a role without its policy must not outlive a failed start
            _delete_role_quietly(iam, name)
            self.recorder.forget("role", name)
            raise
        if self.backend != "local":
            # IAM is eventually consistent: Lambda may refuse a brand-new role for a few seconds (a stand-in
            # account for 2); a role kept from an earlier start is ready
            iam.get_waiter("role_exists").wait(RoleName=self._role_name)
            time.sleep(self._role_wait_s)
        return role["Role"]["Arn"]


def _basic_policy_arn(iam) -> str:
    return BASIC_EXECUTION_POLICY.replace("arn:aws:", f"arn:{iam.meta.partition}:", 1)


def _allow_logging(iam, role_name: str) -> None:
    """AWSLambdaBasicExecutionRole, or the same statements inline where the endpoint lacks AWS managed policies."""
    try:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=_basic_policy_arn(iam))
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":  # a plain moto server or an emulator without them
            raise
        iam.put_role_policy(RoleName=role_name, PolicyName=BASIC_INLINE_POLICY,
                            PolicyDocument=json.dumps(_BASIC_STATEMENTS))


def _delete_role_quietly(iam, role_name: str) -> None:
    """Undo a half-made role; the error that made it half-made is the one worth showing."""
    for undo in (lambda: iam.detach_role_policy(RoleName=role_name, PolicyArn=_basic_policy_arn(iam)),
                 lambda: iam.delete_role_policy(RoleName=role_name, PolicyName=BASIC_INLINE_POLICY),
                 lambda: iam.delete_role(RoleName=role_name)):
        try:
            undo()
        except (ClientError, BotoCoreError):
            pass


def _safe(name: str) -> str:
    """A learner name usable in resource names and tags."""
    return re.sub(r"[^a-zA-Z0-9_-]", "-", name)[:32] or "learner"
