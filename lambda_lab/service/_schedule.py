"""EventBridge schedule expressions: when `rate(...)` and `cron(...)` fire next, in UTC.

>>> next_fire("rate(5 minutes)", after=0.0)
300.0
>>> next_fire("cron(0 12 * * ? *)", after=0.0)   # noon UTC every day
43200.0
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}  # AWS: 1 = Sunday


def next_fire(expression: str, after: float) -> float:
    """The first firing time strictly after `after` (epoch seconds)."""
    rate = _RATE.match(expression.strip())
    if rate:
        return after + int(rate.group(1)) * _UNIT_S[rate.group(2).rstrip("s")]
    cron = _CRON.match(expression.strip())
    if not cron:
        raise ValueError(f"not a schedule expression: {expression!r} (use rate(5 minutes) or cron(0 12 * * ? *))")
    minutes, hours, days, months, weekdays, years = cron.groups()
    allowed = (_field(minutes, 0, 59), _field(hours, 0, 23), _field(days, 1, 31), _field(months, 1, 12, _MONTHS),
               _field(weekdays, 1, 7, _DAYS), _field(years, 1970, 2199))
    moment = dt.datetime.fromtimestamp(after, dt.timezone.utc).replace(second=0, microsecond=0)
    moment += dt.timedelta(minutes=1)
    for _ in range(5 * 366 * 24):  # hour steps over five years at most
        if moment.year not in allowed[5] or moment.month not in allowed[3] or not _day_ok(moment, allowed):
            moment = (moment + dt.timedelta(days=1)).replace(hour=0, minute=0)
            continue
        if moment.hour not in allowed[1]:
            moment = (moment + dt.timedelta(hours=1)).replace(minute=0)
            continue
        later = [m for m in sorted(allowed[0]) if m >= moment.minute]
        if later:
            return moment.replace(minute=later[0]).timestamp()
        moment = (moment + dt.timedelta(hours=1)).replace(minute=0)
    raise ValueError(f"{expression} does not fire in the next five years")


def _day_ok(moment: dt.datetime, allowed) -> bool:
    aws_weekday = (moment.isoweekday() % 7) + 1  # Python: Monday 1 .. Sunday 7; AWS: Sunday 1 .. Saturday 7
    return moment.day in allowed[2] and aws_weekday in allowed[4]


def _field(text: str, low: int, high: int, names: dict | None = None) -> set[int]:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in text.upper().split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            start, end = (_value(p, names) for p in part.split("-"))
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return {v for v in values if low <= v <= high}


def _value(text: str, names: dict | None) -> int:
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise ValueError(f"unsupported cron field value {text!r} (L, W and # are not supported in the lab)")
    return int(text)
