"""Who may invoke a function: a resource-based policy read as Lambda reads it for push sources.

>>> allowed, why = may_invoke(policy, "s3.amazonaws.com", source_arn="arn:aws:s3:::uploads")
"""

from __future__ import annotations

import fnmatch
import json


def may_invoke(policy: dict | str | None, principal: str, source_arn: str | None = None,
               source_account: str | None = None, action: str = "lambda:InvokeFunction",
               url_auth_type: str | None = None) -> tuple[bool, str]:
    """Whether some statement lets `principal` (e.g. "s3.amazonaws.com" or "*") call `action`; and why not."""
    if isinstance(policy, str):
        policy = json.loads(policy)
    statements = (policy or {}).get("Statement", [])
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": source_account,
               "lambda:functionurlauthtype": url_auth_type}
    for statement in statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        if not _action_matches(statement.get("Action"), action):
            continue
        if not _principal_matches(statement.get("Principal"), principal):
            continue
        if _conditions_hold(statement.get("Condition") or {}, context):
            return True, ""
    if not statements:
        why = "the function has no resource-based policy"
    else:
        why = f"none of its {len(statements)} policy statement(s) matches"
    return False, (f"{principal} may not call {action}: {why}. Grant it with boto3's lambda add_permission("
                   f"FunctionName=..., StatementId=..., Action='{action}', Principal='{principal}'"
                   + (f", SourceArn='{source_arn}'" if source_arn else "") + ").")


def _action_matches(actions, wanted: str) -> bool:
    actions = [actions] if isinstance(actions, str) else (actions or [])
    return any(fnmatch.fnmatchcase(wanted.lower(), a.lower()) for a in actions)


def _principal_matches(principal, wanted: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        values = [v for value in principal.values() for v in ([value] if isinstance(value, str) else value)]
        return "*" in values or wanted in values
    return principal == wanted


def _conditions_hold(conditions: dict, context: dict) -> bool:
    for operator, pairs in conditions.items():
        for key, expected in pairs.items():
            actual = context.get(key.lower())
            expected = [expected] if isinstance(expected, str) else expected
            if actual is None:
                return False
            if operator in ("ArnLike", "StringLike"):
                ok = any(fnmatch.fnmatchcase(actual, e) for e in expected)
            elif operator in ("ArnEquals", "StringEquals"):
                ok = actual in expected
            else:  # an operator the lab does not evaluate: deny, as an unmet condition would
                ok = False
            if not ok:
                return False
    return True
