"""Lambda event filtering: which records of a queue or stream a mapping's `FilterCriteria` lets through.

The rule syntax of the Lambda developer guide ("Control which events Lambda sends to your function"):
exact values (strings, numbers, `null`, `""`), `prefix`, `suffix`, `equals-ignore-case`, `anything-but`,
`numeric` comparisons and ranges, `exists`, `$or`; several filters are ORed, the keys of one pattern ANDed.
A record is matched as Lambda sees it: an SQS record with its `body`, a Kinesis record's `kinesis`
fields with `data` base64-decoded, a DynamoDB stream record as sent; a JSON payload is parsed first, and
a payload that is not JSON only matches plain-value rules on its key.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..limits import value


__all__ = ["FilterError", "compile_criteria", "matches", "document_of"]

MAX_FILTERS = value("filters_max")  # Lambda's default quota of filters per event source mapping
_NUMERIC_OPS = ("=", "<", "<=", ">", ">=")
_MISSING = object()


class FilterError(ValueError):
    """A `FilterCriteria` Lambda would refuse; the message says what is wrong."""


def compile_criteria(criteria: Any) -> list[dict]:
    """The patterns of a `FilterCriteria` (`{"Filters": [{"Pattern": "<json>"}]}`), checked as Lambda checks them."""
    if criteria in (None, {}):
        return []
    if not isinstance(criteria, dict) or not isinstance(criteria.get("Filters", []), list):
        raise FilterError('FilterCriteria must look like {"Filters": [{"Pattern": "<JSON pattern>"}]}')
    filters = criteria.get("Filters") or []
    if len(filters) > MAX_FILTERS:
        raise FilterError(f"FilterCriteria has {len(filters)} filters; at most {MAX_FILTERS} are allowed per mapping")
    patterns = []
    for number, item in enumerate(filters, 1):
        text = item.get("Pattern") if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise FilterError(f"filter {number} has no Pattern string")
        try:
            pattern = json.loads(text)
        except ValueError:
            raise FilterError(f"filter {number}'s Pattern is not JSON: {text[:80]!r}") from None
        if not isinstance(pattern, dict) or not pattern:
            raise FilterError(f"filter {number}'s Pattern must be a non-empty JSON object, e.g. "
                              '{"body": {"type": ["order"]}}')
        _check_object(pattern, f"filter {number}")
        patterns.append(pattern)
    return patterns


def _check_object(pattern: dict, where: str) -> None:
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(p, dict) and p for p in value):
                raise FilterError(f"{where}: $or takes a list of at least two pattern objects")
            for sub in value:
                _check_object(sub, where)
        elif isinstance(value, dict):
            if not value:
                raise FilterError(f"{where}: {key!r} is an empty object")
            _check_object(value, f"{where}.{key}")
        elif isinstance(value, list):
            if not value:
                raise FilterError(f"{where}: {key!r} has an empty list of rules")
            for rule in value:
                _check_rule(rule, f"{where}.{key}")
        else:
            raise FilterError(f"{where}: {key!r} must be an object or a list of rules, e.g. [{json.dumps(value)}]")


def _check_rule(rule: Any, where: str) -> None:
    if rule is None or isinstance(rule, (str, int, float, bool)):
        return
    if not isinstance(rule, dict) or len(rule) != 1:
        raise FilterError(f"{where}: a rule is a value or an object with one operator, not {json.dumps(rule)}")
    (op, arg), = rule.items()
    if op in ("prefix", "suffix"):
        ok = isinstance(arg, str) or (isinstance(arg, dict) and list(arg) == ["equals-ignore-case"]
                                      and isinstance(arg["equals-ignore-case"], str))
    elif op == "equals-ignore-case":
        ok = isinstance(arg, str)
    elif op == "exists":
        ok = isinstance(arg, bool)
    elif op == "numeric":
        ok = _numeric_ok(arg)
    elif op == "anything-but":
        ok = _anything_but_ok(arg)
    else:
        raise FilterError(f"{where}: unknown operator {op!r} (Lambda supports prefix, suffix, equals-ignore-case, "
                          "anything-but, numeric and exists)")
    if not ok:
        raise FilterError(f"{where}: malformed {op!r} rule {json.dumps(rule)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_ok(arg: Any) -> bool:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        return False
    ops, values = arg[::2], arg[1::2]
    if not all(op in _NUMERIC_OPS for op in ops) or not all(_is_number(v) for v in values):
        return False
    if len(arg) == 4:  # a range: a lower bound then an upper bound
        return ops[0] in (">", ">=") and ops[1] in ("<", "<=") and values[0] < values[1]
    return True


def _anything_but_ok(arg: Any) -> bool:
    if isinstance(arg, (str, int, float)) and not isinstance(arg, bool):
        return True
    if isinstance(arg, list):
        return bool(arg) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in arg)
    if isinstance(arg, dict) and len(arg) == 1:
        (op, value), = arg.items()
        if op in ("prefix", "suffix"):
            return isinstance(value, str)
        if op == "equals-ignore-case":
            return isinstance(value, str) or (isinstance(value, list) and bool(value)
                                              and all(isinstance(v, str) for v in value))
    return False


# -- matching ------------------------------------------------------------------------------------
def matches(patterns: list[dict], document: dict) -> bool:
    """Whether any pattern matches (no patterns: everything does)."""
    return not patterns or any(_match_object(p, document) for p in patterns)


def _match_object(pattern: dict, node: Any) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(_match_object(sub, node) for sub in expected):
                return False
            continue
        value = node.get(key, _MISSING) if isinstance(node, dict) else _MISSING
        if isinstance(expected, dict):
            values = value if isinstance(value, list) else [value]
            if not any(isinstance(v, dict) and _match_object(expected, v) for v in values):
                return False
        elif not any(_match_rule(rule, value) for rule in expected):
            return False
    return True


def _match_rule(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict) and "exists" in rule:
        present = value is not _MISSING and not isinstance(value, dict)
        return present == rule["exists"]
    if value is _MISSING:
        return False
    if isinstance(value, list):  # an array matches if any of its elements does
        return any(_match_rule(rule, v) for v in value)
    if not isinstance(rule, dict):
        return _equal(rule, value)
    (op, arg), = rule.items()
    if op == "prefix":
        return isinstance(value, str) and _affix(value, arg, str.startswith)
    if op == "suffix":
        return isinstance(value, str) and _affix(value, arg, str.endswith)
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == arg.casefold()
    if op == "numeric":
        return _is_number(value) and all(_compare(value, o, v) for o, v in zip(arg[::2], arg[1::2]))
    return not _anything_but_hit(arg, value)  # anything-but


def _equal(rule: Any, value: Any) -> bool:
    if _is_number(rule) and _is_number(value):
        return float(rule) == float(value)
    return type(rule) is type(value) and rule == value


def _affix(value: str, arg: Any, test) -> bool:
    if isinstance(arg, dict):
        return test(value.casefold(), arg["equals-ignore-case"].casefold())
    return test(value, arg)


def _compare(value: float, op: str, bound: float) -> bool:
    return {"=": value == bound, "<": value < bound, "<=": value <= bound, ">": value > bound,
            ">=": value >= bound}[op]


def _anything_but_hit(arg: Any, value: Any) -> bool:
    if isinstance(arg, dict):
        (op, inner), = arg.items()
        if not isinstance(value, str):
            return False
        if op == "prefix":
            return value.startswith(inner)
        if op == "suffix":
            return value.endswith(inner)
        wanted = inner if isinstance(inner, list) else [inner]
        return any(value.casefold() == w.casefold() for w in wanted)
    return any(_equal(v, value) for v in (arg if isinstance(arg, list) else [arg]))


# -- what a record looks like to a filter ----------------------------------------------------------
def document_of(kind: str, record: dict) -> dict:
    """The record as Lambda's filters see it (`kind` is sqs, kinesis or dynamodb)."""
    if kind == "sqs":
        return {**record, "body": _parsed(record.get("body"))}
    if kind == "kinesis":
        fields = dict(record.get("kinesis", {}))
        try:
            raw = base64.b64decode(fields.get("data", ""), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raw = fields.get("data")
        return {**fields, "data": _parsed(raw)}
    return record


def _parsed(text: Any) -> Any:
    """A JSON object or array payload, parsed; anything else stays the plain string it is."""
    if isinstance(text, str) and text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text
