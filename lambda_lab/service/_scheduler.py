"""EventBridge Scheduler's timing: when a schedule runs next, in its time zone, within its dates and window.

A `rate(...)` schedule runs first at its `StartDate`, or at once when it has none, then at each period
after; `cron(...)` reads as EventBridge rules read it (`_schedule.next_fire`), in the schedule's
`ScheduleExpressionTimezone`, from `StartDate` on; `at(yyyy-mm-ddThh:mm:ss)` runs once, at that local time
(at once if that time has already passed when the schedule is made), and ignores both dates. A `FLEXIBLE` window of W minutes runs each
occurrence W/2 minutes late: AWS picks a random point in the window, the lab the middle, so that runs
are repeatable.

>>> plan = Plan("cron(0 9 * * ? *)", "Europe/Paris")
>>> next_run(plan, after=0.0)          # 09:00 in Paris on 1 January 1970, 08:00 UTC
28800.0
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ._schedule import next_fire

__all__ = ["Plan", "next_run", "is_one_time", "Input"]

_AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")


@dataclass(frozen=True)
class Plan:
    """A schedule's timing fields, as CreateSchedule takes them (dates as epoch seconds)."""

    expression: str
    timezone: str = "UTC"
    start: float | None = None
    end: float | None = None
    window_minutes: int = 0  # FlexibleTimeWindow: 0 for OFF
    anchor: float = 0.0  # when the schedule was made or last changed: a rate schedule without StartDate starts then


def is_one_time(expression: str) -> bool:
    return bool(_AT.match(expression.strip()))


def next_run(plan: Plan, after: float, first: bool = False) -> float | None:
    """When the next occurrence after `after` is delivered (its window applied); None when none is left.

    `first`: the schedule was just made or changed, so a one-time schedule already due runs at once.
    """
    scheduled = _next_occurrence(plan, after, first)
    if scheduled is None or (plan.end is not None and scheduled > plan.end and not is_one_time(plan.expression)):
        return None
    return scheduled + plan.window_minutes * 60 / 2


def scheduled_time(plan: Plan, delivered: float) -> float:
    """The occurrence a delivery time belongs to (the window taken off again)."""
    return delivered - plan.window_minutes * 60 / 2


def _next_occurrence(plan: Plan, after: float, first: bool) -> float | None:
    zone = ZoneInfo(plan.timezone or "UTC")
    text = plan.expression.strip()
    once = _AT.match(text)
    if once:
        moment = dt.datetime(*map(int, once.groups()), tzinfo=zone).timestamp()
        if moment > after:
            return moment
        return after if first else None
    if text.startswith("rate("):
        start = plan.start if plan.start is not None else plan.anchor
        if start > after or (first and start >= after):
            return start
        period = next_fire(text, 0.0)
        return start + (int((after - start) // period) + 1) * period
    if plan.start is not None and plan.start > after:
        after = plan.start - 1  # a cron time equal to StartDate counts
    # cron fields name local times: run the UTC cron on local wall-clock time, then convert back
    offset = dt.datetime.fromtimestamp(after, zone).utcoffset().total_seconds()
    local = next_fire(text, after + offset)
    wall = dt.datetime.fromtimestamp(local, dt.timezone.utc).replace(tzinfo=zone)
    return wall.timestamp()


class Input:
    """A target's Input with Scheduler's context attributes filled in, as Scheduler sends it."""

    KEYS = ("<aws.scheduler.schedule-arn>", "<aws.scheduler.scheduled-time>", "<aws.scheduler.execution-id>",
            "<aws.scheduler.attempt-number>")

    @staticmethod
    def render(template: str | None, schedule_arn: str, scheduled: float, execution_id: str, attempt: int) -> str:
        if not template:
            return "{}"  # no Input: Lambda receives an empty JSON object
        values = (schedule_arn, dt.datetime.fromtimestamp(scheduled, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  execution_id, str(attempt))
        for key, value in zip(Input.KEYS, values):
            template = template.replace(key, value)
        return template
