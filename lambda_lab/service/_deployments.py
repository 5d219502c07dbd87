"""CodeDeploy's Lambda deployments, run on the lab clock: traffic shifting, lifecycle hooks, alarms, rollback.

A deployment moves an alias from its current version to a target version as its deployment config says
(all at once, a canary then the rest, or linear steps), between a BeforeAllowTraffic and an
AfterAllowTraffic hook. A hook function is invoked asynchronously with its `DeploymentId` and
`LifecycleEventHookExecutionId` and must report Succeeded or Failed within an hour; a failed hook, an
alarm of the deployment group in ALARM, or `stop_deployment` ends it, and a rollback puts the alias back.

The CodeDeploy API (in `_moto/_codedeploy.py`) and the SAM/CloudFormation alias update both start
deployments here:

>>> deployment_id = begin_alias_deployment("us-east-1", "app", "group", "fn", "live", "1", "2")
>>> deployment_status("us-east-1", deployment_id)
'InProgress'
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import threading
from dataclasses import dataclass, field
from typing import Callable

from ._clock import LabClock
from ._errors import ServiceError

__all__ = ["begin_alias_deployment", "deployment_status", "Deployments", "Deployment", "Ports", "PREDEFINED",
           "HOOK_TIMEOUT_S", "active", "traffic_steps", "appspec_revision"]

HOOK_TIMEOUT_S = 3600.0  # CodeDeploy waits an hour for a hook to report
ALARM_POLL_S = 60.0  # how often a running deployment reads its alarms (lab-clock seconds)
HOOKS = ("BeforeAllowTraffic", "AfterAllowTraffic")
EVENTS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
DONE = ("Succeeded", "Failed", "Stopped")


def _canary(percent: int, minutes: int) -> dict:
    return {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": percent, "canaryInterval": minutes}}


def _linear(percent: int, minutes: int) -> dict:
    return {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": percent, "linearInterval": minutes}}


# AWS's predefined deployment configurations, by compute platform (traffic routing for Lambda and ECS)
PREDEFINED = {
    "CodeDeployDefault.LambdaAllAtOnce": ("Lambda", {"type": "AllAtOnce"}),
    "CodeDeployDefault.LambdaCanary10Percent5Minutes": ("Lambda", _canary(10, 5)),
    "CodeDeployDefault.LambdaCanary10Percent10Minutes": ("Lambda", _canary(10, 10)),
    "CodeDeployDefault.LambdaCanary10Percent15Minutes": ("Lambda", _canary(10, 15)),
    "CodeDeployDefault.LambdaCanary10Percent30Minutes": ("Lambda", _canary(10, 30)),
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute": ("Lambda", _linear(10, 1)),
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes": ("Lambda", _linear(10, 2)),
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes": ("Lambda", _linear(10, 3)),
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes": ("Lambda", _linear(10, 10)),
    "CodeDeployDefault.ECSAllAtOnce": ("ECS", {"type": "AllAtOnce"}),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": ("ECS", _canary(10, 5)),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": ("ECS", _canary(10, 15)),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": ("ECS", _linear(10, 1)),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": ("ECS", _linear(10, 3)),
    "CodeDeployDefault.AllAtOnce": ("Server", None),
    "CodeDeployDefault.HalfAtATime": ("Server", None),
    "CodeDeployDefault.OneAtATime": ("Server", None),
}


def traffic_steps(routing: dict) -> list[tuple[float, float]]:
    """(seconds after AllowTraffic starts, the target version's share) for a trafficRoutingConfig."""
    kind = routing.get("type")
    if kind == "TimeBasedCanary":
        canary = routing["timeBasedCanary"]
        return [(0.0, canary["canaryPercentage"] / 100), (canary["canaryInterval"] * 60.0, 1.0)]
    if kind == "TimeBasedLinear":
        linear = routing["timeBasedLinear"]
        percent, minutes = linear["linearPercentage"], linear["linearInterval"]
        steps, share, i = [], percent, 0
        while share < 100:  # equal increments, an interval apart, the last one completing the shift
            steps.append((i * minutes * 60.0, share / 100))
            share, i = share + percent, i + 1
        return steps + [(i * minutes * 60.0, 1.0)]
    return [(0.0, 1.0)]


@dataclass
class Ports:
    """What a deployment does to the rest of the lab; bound by the moto bridge (`_moto/_codedeploy.py`)."""

    set_alias: Callable[[str, str, str, str, str, dict], None]  # account, region, function, alias, version, weights
    invoke: Callable[[str, str, str, bytes], None]  # account, region, function name or ARN, payload (async)
    alarm_states: Callable[[str, str, list], dict]  # account, region, alarm names -> {name: (state, since)}
    group: Callable[[str | None, str, str, str], dict]  # account, region, application, group -> group settings


@dataclass
class Deployment:
    """One Lambda deployment and everything that happened to it (times are lab-clock epoch seconds)."""

    deployment_id: str
    account: str
    region: str
    application: str
    group: str
    config_name: str
    routing: dict
    function: str
    alias: str
    current: str
    target: str
    hooks: dict  # BeforeAllowTraffic / AfterAllowTraffic -> function name
    alarms: list
    rollback_events: set
    created_at: float
    revision: dict = field(default_factory=dict)
    description: str | None = None
    creator: str = "user"
    status: str = "Created"
    started_at: float | None = None
    completed_at: float | None = None
    error: dict | None = None
    rollback_info: dict | None = None
    events: dict = field(default_factory=dict)  # lifecycle event name -> {status, startTime, endTime}
    executions: dict = field(default_factory=dict)  # hook execution id -> lifecycle event name
    phase: str = "Start"
    steps: list = field(default_factory=list)  # (lab time, target share) once AllowTraffic starts
    step: int = 0
    hook_deadline: float | None = None
    weight: float = 0.0  # the target version's share of traffic now
    traffic: list = field(default_factory=list)  # (lab time, target share): the chart's line
    marks: list = field(default_factory=list)  # (lab time, lifecycle event, status): hook results
    alarm_log: list = field(default_factory=list)  # (lab time, alarm, state) whenever a state changes
    token: int = 0  # the live wake-up; older timers see a different token and do nothing
    problem: tuple | None = None  # (code, message) found at creation: the deployment fails as it starts

    @property
    def finished(self) -> bool:
        return self.status in DONE


class Deployments:
    """The lab's CodeDeploy engine for one lab: deployments and custom configs, moved along on `clock`."""

    def __init__(self, clock: LabClock, ports: Ports, seed: int | None = None) -> None:
        self.clock, self.ports = clock, ports
        self.deployments: dict[str, Deployment] = {}
        self.configs: dict[tuple[str, str, str], dict] = {}  # (account, region, name) -> custom config info
        self._lock = threading.RLock()
        self._ids = random.Random(seed)
        self._wake_at: dict[str, float] = {}

    # -- starting ----------------------------------------------------------------------------------
    def routing_of(self, account: str, region: str, config_name: str) -> tuple[str, dict | None]:
        """(compute platform, trafficRoutingConfig) of a predefined or custom deployment config."""
        if config_name in PREDEFINED:
            return PREDEFINED[config_name]
        custom = self.configs.get((account, region, config_name))
        if custom is None:
            raise ServiceError("DeploymentConfigDoesNotExistException",
                               f"The deployment configuration {config_name} does not exist with the user or AWS "
                               f"account: use a CodeDeployDefault.Lambda* name or create_deployment_config first.")
        return custom["computePlatform"], custom.get("trafficRoutingConfig")

    def start(self, account: str, region: str, application: str, group: str, config_name: str, function: str,
              alias: str, current: str, target: str, hooks: dict | None = None, alarms: list | None = None,
              rollback_events: set | None = None, revision: dict | None = None, description: str | None = None,
              creator: str = "user", problem: tuple[str, str] | None = None) -> Deployment:
        """Create a deployment (status Created) and start it on the clock; a `problem` (code, message) fails it."""
        platform, routing = self.routing_of(account, region, config_name)
        if platform != "Lambda":
            raise ServiceError("InvalidDeploymentConfigNameException",
                               f"The deployment configuration {config_name} is for the {platform} compute platform, "
                               f"not Lambda: use a CodeDeployDefault.Lambda* configuration.")
        with self._lock:
            place = (account, region, application, group)
            busy = next((d for d in self.deployments.values()
                         if not d.finished and (d.account, d.region, d.application, d.group) == place), None)
            if busy is not None:
                raise ServiceError("DeploymentLimitExceededException",
                                   f"The deployment group {group} already has an active deployment "
                                   f"({busy.deployment_id}): wait for it to finish or stop it (stop_deployment).")
            deployment = Deployment(self._new_id(), account, region, application, group, config_name, routing or {},
                                    function, alias, str(current), str(target), dict(hooks or {}), list(alarms or []),
                                    set(rollback_events or ()), self.clock.now(), revision or {}, description, creator)
            deployment.events = {name: {"lifecycleEventName": name, "status": "Pending"} for name in EVENTS}
            deployment.traffic.append((deployment.created_at, 0.0))
            deployment.problem = problem
            self.deployments[deployment.deployment_id] = deployment
            self._wake(deployment)
        return deployment

    def get(self, deployment_id: str) -> Deployment:
        found = self.deployments.get(deployment_id)
        if found is None:
            raise ServiceError("DeploymentDoesNotExistException",
                               f"The deployment {deployment_id} could not be found: check the deploymentId that "
                               f"create_deployment returned (list_deployments lists them).")
        return found

    # -- answers from hooks and people -------------------------------------------------------------
    def report_hook(self, deployment_id: str, execution_id: str, status: str) -> None:
        """PutLifecycleEventHookExecutionStatus: a hook says Succeeded or Failed."""
        if status not in ("Succeeded", "Failed"):
            raise ServiceError("InvalidLifecycleEventHookExecutionStatusException",
                               f"The status {status} is not valid: a hook reports status='Succeeded' or 'Failed'.")
        with self._lock:
            deployment = self.get(deployment_id)
            event_name = deployment.executions.get(execution_id)
            if event_name is None:
                raise ServiceError("InvalidLifecycleEventHookExecutionIdException",
                                   f"The lifecycle event hook execution ID {execution_id} is not valid for deployment "
                                   f"{deployment_id}: pass the LifecycleEventHookExecutionId the hook's event carried.")
            event = deployment.events[event_name]
            if event["status"] != "InProgress" or deployment.finished:
                raise ServiceError("LifecycleEventAlreadyCompletedException",
                                   f"The {event_name} lifecycle event of deployment {deployment_id} has already "
                                   f"completed ({event['status']}).")
            now = self.clock.now()
            self._end_event(deployment, event_name, status, now)
            deployment.marks.append((now, event_name, status))
            self._wake(deployment)

    def stop(self, deployment_id: str, rollback: bool | None) -> None:
        """StopDeployment: the deployment ends as Stopped, rolled back if asked (or if the group says so)."""
        with self._lock:
            deployment = self.get(deployment_id)
            if deployment.finished:
                raise ServiceError("DeploymentAlreadyCompletedException",
                                   f"The deployment {deployment_id} has already completed ({deployment.status}).")
            if rollback is None:
                rollback = "DEPLOYMENT_STOP_ON_REQUEST" in deployment.rollback_events
            self._end(deployment, "Stopped", "MANUAL_STOP", "The deployment was stopped by the user (StopDeployment).",
                      rollback)

    # -- waiting -----------------------------------------------------------------------------------
    def next_due(self) -> float | None:
        """Lab time of the next step of any running deployment (what `lab.wait_for_async()` fast-forwards to)."""
        with self._lock:
            dues = [at for key, at in self._wake_at.items()
                    if key in self.deployments and not self.deployments[key].finished]
        return min(dues) if dues else None

    def running(self) -> list[Deployment]:
        with self._lock:
            return [d for d in self.deployments.values() if not d.finished]

    # -- the state machine -------------------------------------------------------------------------
    def _wake(self, deployment: Deployment, at: float | None = None) -> None:
        """Run `_advance` at lab time `at` (now when None); any earlier wake-up is cancelled."""
        deployment.token += 1
        token, key = deployment.token, deployment.deployment_id
        at = self.clock.now() if at is None else at
        self._wake_at[key] = at

        def run() -> None:
            with self._lock:
                if deployment.token != token or deployment.finished:
                    return
                try:
                    self._advance(deployment)
                except Exception as error:  # e.g. the alias was deleted mid-deployment: fail, never hang
                    self._end(deployment, "Failed", "INVALID_LAMBDA_CONFIGURATION",
                              f"The deployment could not move alias {deployment.alias} of {deployment.function}: "
                              f"{error}", rollback=False)

        # the clock may be advanced at any moment (lab.clock.advance, wait_for_async): the delay is taken from
        # a fresh now, and if the clock passed `at` meanwhile the step runs at once (the later timer is then stale)
        self.clock.call_later(at - self.clock.now(), run)
        if self.clock.now() >= at:
            self.clock.call_later(0.0, run)

    def _advance(self, d: Deployment) -> None:
        """Move `d` as far as it can go now, then sleep until its next step, hook deadline or alarm check."""
        now = self.clock.now()
        if d.phase == "Start":
            d.status, d.started_at, d.phase = "InProgress", now, "BeforeAllowTraffic"
            if d.problem:
                self._end(d, "Failed", *d.problem, rollback=False)
                return
            self._begin_hook(d, now)
        if self._alarm_stopped(d, now):
            return
        while not d.finished:
            if d.phase in HOOKS:
                status = d.events[d.phase]["status"]
                if status == "InProgress":
                    if now < d.hook_deadline:
                        break
                    self._end_event(d, d.phase, "Failed", now)
                    d.marks.append((now, d.phase, "Failed"))
                    self._fail(d, "HOOK_EXECUTION_FAILURE", f"The {d.phase} lifecycle event hook "
                               f"{d.hooks[d.phase]} did not report a status "
                               f"(put_lifecycle_event_hook_execution_status) within {HOOK_TIMEOUT_S / 60:.0f} "
                               f"minutes.")
                    return
                if status == "Failed":
                    self._fail(d, "HOOK_EXECUTION_FAILURE", f"The {d.phase} lifecycle event hook {d.hooks[d.phase]} "
                               f"reported Failed (put_lifecycle_event_hook_execution_status).")
                    return
                if d.phase == "BeforeAllowTraffic":
                    d.phase = "AllowTraffic"
                    d.events["AllowTraffic"].update(status="InProgress", startTime=now)
                    d.steps = [(now + offset, share) for offset, share in traffic_steps(d.routing)]
                    continue
                self._succeed(d, now)
                return
            # AllowTraffic: every step whose time has come
            while d.step < len(d.steps) and d.steps[d.step][0] <= now:
                at, share = d.steps[d.step]
                self._shift(d, share, at)
                d.step += 1
            if d.step < len(d.steps):
                break
            self._end_event(d, "AllowTraffic", "Succeeded", now)
            d.phase = "AfterAllowTraffic"
            self._begin_hook(d, now)
        if not d.finished:
            self._wake(d, self._next_wake(d, now))

    def _next_wake(self, d: Deployment, now: float) -> float:
        dues = []
        if d.alarms:
            dues.append(now + ALARM_POLL_S)
        if d.phase in HOOKS and d.hook_deadline is not None:
            dues.append(d.hook_deadline)
        if d.phase == "AllowTraffic" and d.step < len(d.steps):
            dues.append(d.steps[d.step][0])
        return min(dues) if dues else now + ALARM_POLL_S

    def _begin_hook(self, d: Deployment, now: float) -> None:
        name = d.phase
        function = d.hooks.get(name)
        if not function:
            d.events[name].update(status="Skipped", startTime=now, endTime=now)
            return
        execution_id = "".join(self._ids.choices(string.ascii_letters + string.digits, k=64))
        d.executions[execution_id] = name
        d.events[name].update(status="InProgress", startTime=now)
        d.hook_deadline = now + HOOK_TIMEOUT_S
        payload = ('{"DeploymentId": "%s", "LifecycleEventHookExecutionId": "%s"}'
                   % (d.deployment_id, execution_id)).encode()
        try:
            self.ports.invoke(d.account, d.region, function, payload)
        except Exception as error:  # a missing hook function fails the event, as CodeDeploy reports it
            self._end_event(d, name, "Failed", now)
            d.marks.append((now, name, "Failed"))
            d.events[name]["diagnostics"] = {"errorCode": "UnknownError", "message": str(error)}

    def _shift(self, d: Deployment, share: float, at: float) -> None:
        if share >= 1.0:
            self.ports.set_alias(d.account, d.region, d.function, d.alias, d.target, {})
        else:
            self.ports.set_alias(d.account, d.region, d.function, d.alias, d.current, {d.target: round(share, 4)})
        d.weight = share
        d.traffic.append((at, share))

    def _alarm_stopped(self, d: Deployment, now: float) -> bool:
        if not d.alarms:
            return False
        states = self.ports.alarm_states(d.account, d.region, d.alarms)
        for name in d.alarms:
            state, since = states.get(name, (None, now))
            last = next((s for _, n, s in reversed(d.alarm_log) if n == name), None)
            if state is not None and state != last:  # kept from when the alarm changed (or the deployment began)
                d.alarm_log.append((min(max(since, d.created_at), now), name, state))
        firing = [name for name in d.alarms if states.get(name, (None,))[0] == "ALARM"]
        if not firing:
            return False
        self._end(d, "Stopped", "ALARM_ACTIVE", "One or more alarms have been activated according to the Amazon "
                  "CloudWatch metrics you selected, and the affected deployments have been stopped. Activated "
                  f"alarms: <{', '.join(firing)}>", "DEPLOYMENT_STOP_ON_ALARM" in d.rollback_events)
        return True

    # -- endings -----------------------------------------------------------------------------------
    def _end_event(self, d: Deployment, name: str, status: str, now: float) -> None:
        d.events[name].update(status=status, endTime=now)
        d.events[name].setdefault("startTime", now)

    def _succeed(self, d: Deployment, now: float) -> None:
        d.status, d.completed_at, d.phase = "Succeeded", now, "End"

    def _fail(self, d: Deployment, code: str, message: str) -> None:
        self._end(d, "Failed", code, message, "DEPLOYMENT_FAILURE" in d.rollback_events)

    def _end(self, d: Deployment, status: str, code: str, message: str, rollback: bool) -> None:
        now = self.clock.now()
        for event in d.events.values():
            if event["status"] == "InProgress":
                event.update(status="Failed" if status == "Failed" else "Skipped", endTime=now)
            elif event["status"] == "Pending":
                event["status"] = "Skipped"
        d.status, d.completed_at, d.phase = status, now, "End"
        d.error = {"code": code, "message": message}
        if rollback:
            self._roll_back(d, now)

    def _roll_back(self, d: Deployment, now: float) -> None:
        """CodeDeploy's automatic rollback: a new deployment that puts all traffic back on the current version."""
        back = Deployment(self._new_id(), d.account, d.region, d.application, d.group, d.config_name,
                          {"type": "AllAtOnce"}, d.function, d.alias, d.target, d.current, {}, [], set(), now,
                          d.revision, d.description, "codeDeployRollback", status="Succeeded", started_at=now,
                          completed_at=now, phase="End")
        back.events = {name: {"lifecycleEventName": name, "status": "Skipped", "startTime": now, "endTime": now}
                       for name in EVENTS}
        back.events["AllowTraffic"]["status"] = "Succeeded"
        self.ports.set_alias(d.account, d.region, d.function, d.alias, d.current, {})
        d.weight = 0.0
        d.traffic.append((now, 0.0))
        back.traffic = [(now, 1.0)]
        back.rollback_info = {"rollbackTriggeringDeploymentId": d.deployment_id,
                              "rollbackMessage": f"Deployment {back.deployment_id} rolled back deployment "
                                                 f"{d.deployment_id}: all traffic is on version {d.current} again."}
        d.rollback_info = {"rollbackDeploymentId": back.deployment_id,
                           "rollbackMessage": f"Automatic rollback triggered by deployment {back.deployment_id}: "
                                              f"alias {d.alias} points at version {d.current} again."}
        self.deployments[back.deployment_id] = back

    def _new_id(self) -> str:
        return "d-" + "".join(self._ids.choices(string.ascii_uppercase + string.digits, k=9))


# -- the interface for CloudFormation (AWS::Lambda::Alias with a CodeDeployLambdaAliasUpdate policy) -------
_active: Deployments | None = None


def active() -> Deployments:
    """The running lab's CodeDeploy engine."""
    if _active is None:
        raise RuntimeError("no local lab is running: start one with lambda_lab.Lab() before deploying")
    return _active


def bind(engine: Deployments | None) -> None:
    """Make `engine` the one the module-level interface uses (the moto bridge calls this on install)."""
    global _active
    _active = engine


def begin_alias_deployment(region: str, application: str, group: str, function_name: str, alias: str,
                           current_version: str, target_version: str, *, account: str | None = None,
                           before_allow_traffic: str | None = None, after_allow_traffic: str | None = None,
                           description: str | None = None) -> str:
    """Start a CodeDeploy deployment of `alias` from `current_version` to `target_version`; its deployment id.

    The deployment group (`application`/`group`, created as AWS::CodeDeploy::DeploymentGroup or with boto3)
    gives the deployment config, alarms and auto-rollback settings; the hooks are function names, as the
    alias's UpdatePolicy (BeforeAllowTrafficHook / AfterAllowTrafficHook) names them.
    """
    engine = active()
    settings = engine.ports.group(account, region, application, group)
    hooks = {k: v for k, v in (("BeforeAllowTraffic", before_allow_traffic),
                               ("AfterAllowTraffic", after_allow_traffic)) if v}
    spec = {"version": 0.0, "Resources": [{function_name: {"Type": "AWS::Lambda::Function", "Properties": {
        "Name": function_name, "Alias": alias, "CurrentVersion": str(current_version),
        "TargetVersion": str(target_version)}}}], "Hooks": [{k: v} for k, v in hooks.items()]}
    deployment = engine.start(settings["account"], region, application, group, settings["deploymentConfigName"],
                              function_name, alias, current_version, target_version, hooks, settings["alarms"],
                              settings["rollbackEvents"], appspec_revision(json.dumps(spec)), description)
    return deployment.deployment_id


def appspec_revision(content: str) -> dict:
    """A deployment's revision as GetDeployment shows it: the AppSpec content and its SHA-256."""
    return {"revisionType": "AppSpecContent",
            "appSpecContent": {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}}


def deployment_status(region: str, deployment_id: str) -> str:
    """Created, InProgress, Succeeded, Failed or Stopped."""
    return active().get(deployment_id).status
