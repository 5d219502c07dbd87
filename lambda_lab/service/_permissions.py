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


def role_allows(documents: list[dict | str], action: str) -> bool:
    """Whether a role's policy documents allow `action` (e.g. "sqs:ReceiveMessage") on some resource.

    The lab checks actions, not resource ARNs: enough to tell a learner which managed policy is missing.
    """
    allowed = False
    for document in documents:
        if isinstance(document, str):
            document = json.loads(document)
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            if _action_matches(statement.get("Action"), action):
                if statement.get("Effect") == "Deny":
                    return False
                allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


# What Lambda's pollers call on each source with the function's execution role, and AWS's refusal.
POLLER_ACTIONS = {
    "sqs": (("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
            "The provided execution role does not have permissions to call {short} on SQS"),
    "kinesis": (("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"),
                "The provided execution role does not have permissions to call {short} on Kinesis"),
    "dynamodb": (("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
                  "dynamodb:ListStreams"),
                 "Cannot access stream {source}. Please ensure the role can perform the GetRecords, "
                 "GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM."),
}

# The AWS managed policy that grants a poller what it needs, per source: the hint a refusal gives.
POLLER_POLICIES = {"sqs": "AWSLambdaSQSQueueExecutionRole", "kinesis": "AWSLambdaKinesisExecutionRole",
                   "dynamodb": "AWSLambdaDynamoDBExecutionRole"}


def poller_refusal(documents: list[dict | str], source_arn: str) -> str | None:
    """AWS's message when the execution role cannot read `source_arn`, or None when it can."""
    kind = source_arn.split(":")[2]
    if kind not in POLLER_ACTIONS:
        return None
    actions, message = POLLER_ACTIONS[kind]
    for action in actions:
        if not role_allows(documents, action):
            return message.format(short=action.split(":")[1], source=source_arn)
    return None


# What Lambda calls with the function's execution role to deliver to a DLQ or destination, and AWS's name for it.
DELIVERY_ACTIONS = {
    "sqs": ("sqs:SendMessage", "SQS"), "sns": ("sns:Publish", "SNS"), "lambda": ("lambda:InvokeFunction", "Lambda"),
    "events": ("events:PutEvents", "EventBridge"), "s3": ("s3:PutObject", "S3"),
}


def delivery_refusal(documents: list[dict | str], target_arn: str) -> str | None:
    """AWS's message when the execution role may not deliver to `target_arn`, or None when it may."""
    parts = target_arn.split(":")
    kind = parts[2] if len(parts) > 2 else ""
    if kind not in DELIVERY_ACTIONS:
        return None  # not a target Lambda delivers to: the ARN's own validation answers
    action, service = DELIVERY_ACTIONS[kind]
    if role_allows(documents, action):
        return None
    return f"The provided execution role does not have permissions to call {action.split(':')[1]} on {service}"
