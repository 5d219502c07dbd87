"""Checks for the exercises of notebook 02_functions_and_events."""

import fnmatch
import json
import time

import boto3

from . import function_config, log_streams, passed, require

__all__ = ["ex_02_s3_trigger"]

CHECK_KEY = "lambda-lab-check/ex02-upload.txt"  # the object the check uploads to see the trigger fire


def ex_02_s3_trigger(function_name: str = "new-invoice", bucket: str = "lab-invoices") -> None:
    """An upload to `bucket` invokes `function_name`: S3 may invoke it, and the bucket notifies it."""
    lam = boto3.client("lambda")
    function_arn = function_config(function_name, "Run the exercise's setup cell first.")["FunctionArn"]
    _check_permission(lam, function_name, bucket)
    _check_notification(bucket, function_arn)
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=CHECK_KEY, Body=b"uploaded by the check")
    seen = _wait_for(lambda: _logged(function_name, CHECK_KEY))
    s3.delete_object(Bucket=bucket, Key=CHECK_KEY)
    require(seen, f"The permission and the notification look right, but uploading s3://{bucket}/{CHECK_KEY} did not "
                  f"show up in the log of '{function_name}' (log group /aws/lambda/{function_name}). Did you change "
                  "the function's code? It must print the key it receives.")
    passed(f"an upload to {bucket} invokes '{function_name}', and only S3 calling for {bucket} may invoke it.")


def _check_permission(lam, function_name: str, bucket: str) -> None:
    bucket_arn = f"arn:aws:s3:::{bucket}"
    try:
        policy = json.loads(lam.get_policy(FunctionName=function_name)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        require(False, f"'{function_name}' has no resource-based policy, so S3 may not invoke it (S3 answers "
                       "'Unable to validate the following destination configurations'). Add a statement with "
                       "lam.add_permission(FunctionName=..., StatementId=..., Action='lambda:InvokeFunction', "
                       f"Principal='s3.amazonaws.com', SourceArn='{bucket_arn}').")
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    invoking = [s for s in statements if s.get("Effect", "Allow") == "Allow" and _allows_invoke(s.get("Action"))]
    if not invoking:
        actions = sorted({a for s in statements for a in _as_list(s.get("Action"))})
        require(False, f"The policy of '{function_name}' allows {', '.join(actions) or 'nothing'}, but S3 needs "
                       "Action='lambda:InvokeFunction' (lambda:InvokeFunctionUrl is for function URLs).")
    problems = [_statement_problem(s, bucket_arn) for s in invoking]
    if None in problems:
        return
    require(False, problems[0] + " (Fix it: lam.remove_permission(FunctionName=..., StatementId=...), then "
                                 "add_permission again.)")


def _statement_problem(statement: dict, bucket_arn: str) -> str | None:
    """What keeps this statement from being the right one for S3 and the bucket; None if it is right."""
    sid = statement.get("Sid", "?")
    principals = _principals(statement.get("Principal"))
    if "s3.amazonaws.com" not in principals:
        if "*" in principals:
            return (f"Statement '{sid}' lets any principal ('*') invoke the function. Name the one service that "
                    "should: Principal='s3.amazonaws.com'.")
        hint = ""
        if "lambda.amazonaws.com" in principals:
            hint = (" lambda.amazonaws.com is the service that assumes the function's execution role; the "
                    "resource-based policy names who may *invoke* the function.")
        return (f"Statement '{sid}' lets {', '.join(sorted(principals)) or 'no principal'} invoke the function, but "
                f"S3 calls as the service principal 's3.amazonaws.com'.{hint}")
    conditions = statement.get("Condition") or {}
    source_arns = [v for op, pairs in conditions.items() if op in ("ArnLike", "ArnEquals", "StringLike", "StringEquals")
                   for k, vals in pairs.items() if k.lower() == "aws:sourcearn" for v in _as_list(vals)]
    if not source_arns:
        return (f"Statement '{sid}' lets s3.amazonaws.com invoke the function for any bucket whose owner points it "
                f"at the function. Limit it to your bucket with SourceArn='{bucket_arn}'.")
    if not any(fnmatch.fnmatchcase(bucket_arn, arn) for arn in source_arns):
        given = source_arns[0]
        hint = ""
        if given.startswith("arn:aws:lambda:"):
            hint = " That is the function's ARN; SourceArn names the caller, the bucket."
        elif given.startswith(bucket_arn + "/"):
            hint = " SourceArn names the bucket itself, not the objects in it."
        elif given.startswith("arn:aws:s3:") and not given.startswith("arn:aws:s3:::"):
            hint = " An S3 bucket's ARN has no region and no account: arn:aws:s3:::<bucket>."
        return f"Statement '{sid}' has SourceArn '{given}', which does not match the bucket '{bucket_arn}'.{hint}"
    accounts = [v for op, pairs in conditions.items() for k, vals in pairs.items()
                if k.lower() == "aws:sourceaccount" for v in _as_list(vals)]
    owner = boto3.client("sts").get_caller_identity()["Account"]
    if accounts and owner not in accounts:
        return (f"Statement '{sid}' has SourceAccount {accounts[0]}, but the bucket belongs to account {owner}.")
    return None


def _check_notification(bucket: str, function_arn: str) -> None:
    config = boto3.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    targets = config.get("LambdaFunctionConfigurations", [])
    require(targets, f"The bucket {bucket} notifies no function yet. After the permission, call "
                     f"s3.put_bucket_notification_configuration(Bucket='{bucket}', NotificationConfiguration="
                     "{'LambdaFunctionConfigurations': [{'LambdaFunctionArn': function_arn, "
                     "'Events': ['s3:ObjectCreated:*']}]}).")
    ours = [t for t in targets if t["LambdaFunctionArn"] == function_arn
            or t["LambdaFunctionArn"].startswith(function_arn + ":")]
    require(ours, f"The bucket {bucket} notifies {', '.join(t['LambdaFunctionArn'] for t in targets)}, not this "
                  f"function ({function_arn}).")
    created = [t for t in ours if any(fnmatch.fnmatchcase("s3:ObjectCreated:Put", e) for e in t.get("Events", []))]
    require(created, f"The notification for {bucket} listens to {', '.join(ours[0].get('Events', []))}; uploads "
                     "are 's3:ObjectCreated:*' events (a PUT is s3:ObjectCreated:Put).")
    require(any(not t.get("Filter") for t in created),
            f"The notification for {bucket} has a Filter on the key; the task is every new object, so leave it out.")


def _wait_for(found, timeout_s: float = 30.0) -> bool:
    """Let the upload's asynchronous invocation happen: at once in the lab, by polling the logs on AWS."""
    from .._lab import Lab

    lab = Lab._current
    if lab is not None and not getattr(lab, "_stopped", True):
        lab.wait_for_async()
        return found()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found():
            return True
        time.sleep(2)
    return False


def _logged(function_name: str, text: str) -> bool:
    """Whether any log event of the function mentions `text`."""
    return any(text in message for stream in log_streams(f"/aws/lambda/{function_name}") for message in stream)


def _allows_invoke(actions) -> bool:
    return any(fnmatch.fnmatchcase("lambda:invokefunction", a.lower()) for a in _as_list(actions))


def _principals(principal) -> set[str]:
    if isinstance(principal, str):
        return {principal}
    if isinstance(principal, dict):
        return {v for value in principal.values() for v in _as_list(value)}
    return set()


def _as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
