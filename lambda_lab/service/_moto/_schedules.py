"""EventBridge Scheduler in moto, run on the lab clock: schedules with a Lambda target invoke it asynchronously.

moto stores schedules and never runs them. The lab arms a timer per schedule on the lab clock; each run
assumes the target's `RoleArn` as Scheduler does (the role must trust scheduler.amazonaws.com and allow
lambda:InvokeFunction) and invokes the function with `InvocationType=Event` and the target's `Input`.
A run that cannot invoke is retried per `Target.RetryPolicy` (throttling) or fails at once (a missing
permission or function, as Scheduler does), and what is given up goes to `Target.DeadLetterConfig` with
Scheduler's message attributes (the role needs sqs:SendMessage there too). `ActionAfterCompletion=DELETE` deletes the schedule after its last run.
"""

from __future__ import annotations

import datetime as dt
import uuid

from moto.iam.models import iam_backends
from moto.scheduler.models import EventBridgeSchedulerBackend, Schedule

from .._deliver import _client
from .._errors import ServiceError
from .._permissions import may_invoke, role_allows
from .._scheduler import Input, Plan, is_one_time, next_run, scheduled_time
from . import _state
from ._records import backend_of, function_by_arn, resolve, role_documents

RETRY_BACKOFF_S = (60.0, 120.0, 240.0, 480.0)  # then every 8 minutes; AWS backs off exponentially, with jitter
_RETRYABLE = ("TooManyRequestsException", "ServiceException")


def _original(owner, attr):
    return _state.originals[(owner, attr)]


def _create_schedule(self: EventBridgeSchedulerBackend, *args, **kwargs) -> Schedule:
    schedule = _original(EventBridgeSchedulerBackend, "create_schedule")(self, *args, **kwargs)
    _arm(self, schedule, first=True)
    return schedule


def _update_schedule(self: EventBridgeSchedulerBackend, *args, **kwargs) -> Schedule:
    schedule = _original(EventBridgeSchedulerBackend, "update_schedule")(self, *args, **kwargs)
    _arm(self, schedule, first=True)
    return schedule


def _plan(schedule: Schedule) -> Plan:
    window = schedule.flexible_time_window or {}
    minutes = int(window.get("MaximumWindowInMinutes") or 0) if window.get("Mode") == "FLEXIBLE" else 0
    return Plan(schedule.schedule_expression, schedule.schedule_expression_timezone or "UTC",
                _epoch(schedule.start_date), _epoch(schedule.end_date), minutes, schedule.lab_anchor)


def _epoch(value) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _arm(backend: EventBridgeSchedulerBackend, schedule: Schedule, first: bool = False,
         after: float | None = None) -> None:
    """Set the timer for the schedule's next run; a newer arming (an update) makes older timers no-ops."""
    service = _state.service
    if service is None:
        return
    generation = schedule.lab_generation = getattr(schedule, "lab_generation", 0) + (1 if first else 0)
    now = service.clock.now()
    if first:
        schedule.lab_anchor = now
    plan = _plan(schedule)
    due = next_run(plan, now if after is None else after, first=first)
    if due is None:
        return _complete(backend, schedule)

    def fire() -> None:
        current = backend.schedule_groups.get(schedule.group_name)
        if (_state.service is not service or current is None or current.schedules.get(schedule.name) is not schedule
                or schedule.lab_generation != generation):
            return  # deleted, changed (the change armed its own timer) or another lab now
        if schedule.state == "ENABLED":
            _run(schedule, scheduled_time(plan, due), due, attempt=1)
        if is_one_time(plan.expression):
            return _complete(backend, schedule)
        _arm(backend, schedule, after=scheduled_time(plan, due))

    service.clock.call_later(due - service.clock.now(), fire)


def _complete(backend: EventBridgeSchedulerBackend, schedule: Schedule) -> None:
    """After the last run: ActionAfterCompletion DELETE removes the schedule, as Scheduler does."""
    if schedule.action_after_completion == "DELETE":
        group = backend.schedule_groups.get(schedule.group_name)
        if group is not None and group.schedules.get(schedule.name) is schedule:
            del group.schedules[schedule.name]


def _run(schedule: Schedule, scheduled: float, first_try: float, attempt: int, execution_id: str | None = None):
    """One attempt to deliver an occurrence; a retryable failure tries again later on the clock."""
    service = _state.service
    target = schedule.target
    if target["Arn"].split(":")[2] != "lambda":
        return service.refuse("scheduler", target["Arn"], "the lab runs EventBridge Scheduler schedules whose "
                              "target is a Lambda function; other targets are stored, not run")
    execution_id = execution_id or str(uuid.uuid4())
    payload = Input.render(target.get("Input"), schedule.arn, scheduled, execution_id, attempt)
    try:
        _invoke(schedule, payload)
        return
    except ServiceError as error:
        failure = error
    policy = target.get("RetryPolicy") or {}
    max_attempts = int(policy.get("MaximumRetryAttempts", 185))
    max_age = int(policy.get("MaximumEventAgeInSeconds", 86400))
    if failure.code not in _RETRYABLE:
        return _dead_letter(schedule, payload, failure, scheduled, attempt - 1, None, execution_id)
    if attempt > max_attempts:
        return _dead_letter(schedule, payload, failure, scheduled, attempt - 1, "MaximumRetryAttempts", execution_id)
    delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S)) - 1]
    if service.clock.now() + delay - first_try > max_age:
        return _dead_letter(schedule, payload, failure, scheduled, attempt - 1, "MaximumEventAgeInSeconds",
                            execution_id)
    service.clock.call_later(delay, lambda: _run(schedule, scheduled, first_try, attempt + 1, execution_id))


def _invoke(schedule: Schedule, payload: str) -> None:
    """Invoke the target as Scheduler does: as its role, asynchronously."""
    target = schedule.target
    arn = target["Arn"]
    account = schedule.arn.split(":")[4]
    why = _role_refusal(account, target.get("RoleArn", ""), schedule.arn)
    if why:
        _state.service.refuse("scheduler", arn, why)
        raise ServiceError("AccessDeniedException", why, 403)
    fn = function_by_arn(arn)
    if fn is None:
        raise ServiceError("ResourceNotFoundException", f"Function not found: {arn}", 404)
    parts = arn.split(":")
    resolved = resolve(backend_of(fn), ":".join(parts[:7]), parts[7] if len(parts) > 7 else None)
    _state.service.invoke(resolved, payload.encode(), "Event")


def _role_refusal(account: str, role_arn: str, schedule_arn: str) -> str | None:
    """Why Scheduler could not invoke as `role_arn`, or None."""
    try:
        role = iam_backends[account]["global"].get_role_by_arn(role_arn)
    except Exception:
        return f"Scheduler could not assume {role_arn}: no such role. Create it and pass its ARN as Target.RoleArn."
    trusted, _ = may_invoke(role.assume_role_policy_document, "scheduler.amazonaws.com", source_arn=schedule_arn,
                            source_account=account, action="sts:AssumeRole")
    if not trusted:
        return (f"Scheduler could not assume {role_arn}: its trust policy must let the service principal "
                "scheduler.amazonaws.com call sts:AssumeRole.")
    if not role_allows(role_documents(account, role_arn), "lambda:InvokeFunction"):
        return (f"{role_arn} may not call lambda:InvokeFunction: add a policy to the role that allows it on the "
                "target function.")
    return None


def _dead_letter(schedule: Schedule, payload: str, error: ServiceError, scheduled: float, retries: int,
                 condition: str | None, execution_id: str) -> None:
    """The failed occurrence to Target.DeadLetterConfig, with Scheduler's attributes; without one it is lost."""
    arn = (schedule.target.get("DeadLetterConfig") or {}).get("Arn")
    if not arn:
        return
    _, _, _, region, account, name = arn.split(":")
    if not role_allows(role_documents(account, schedule.target.get("RoleArn", "")), "sqs:SendMessage"):
        return _state.service.refuse("scheduler", schedule.target["Arn"], f"dead-letter queue {arn}: the schedule's "
                                     "role may not call sqs:SendMessage, so Scheduler cannot deliver the failed run")
    values = {"ERROR_CODE": error.code, "ERROR_MESSAGE": error.message[:1024], "EXECUTION_ID": execution_id,
              "IS_PAYLOAD_TRUNCATED": "false", "RETRY_ATTEMPTS": str(retries),
              "SCHEDULED_TIME": dt.datetime.fromtimestamp(scheduled, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "SCHEDULE_ARN": schedule.arn, "TARGET_ARN": schedule.target["Arn"]}
    if condition:
        values["EXHAUSTED_RETRY_CONDITION"] = condition
    sqs = _client("sqs", region)
    try:
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=payload, MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in values.items()})
    except Exception as failure:  # a deleted DLQ: keep why, where the learner looks
        _state.service.refuse("scheduler", schedule.target["Arn"], f"dead-letter queue {arn}: {failure}")


PATCHES = {
    (EventBridgeSchedulerBackend, "create_schedule"): _create_schedule,
    (EventBridgeSchedulerBackend, "update_schedule"): _update_schedule,
}
