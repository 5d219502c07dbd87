"""Checks for the exercises of notebook 02_functions_and_events."""

import fnmatch
import json
import time
import uuid

import boto3

from . import function_config, log_streams, mappings_from, passed, queue_url, require

__all__ = ["ex_02_s3_trigger", "ex_02_poison_message"]

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
                       "lam.add_permission that lets the S3 service invoke it, for this bucket only (notebook 02, "
                       "section 'S3: a notification on the bucket').")
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    invoking = [s for s in statements if s.get("Effect", "Allow") == "Allow" and _allows_invoke(s.get("Action"))]
    if not invoking:
        actions = sorted({a for s in statements for a in _as_list(s.get("Action"))})
        require(False, f"The policy of '{function_name}' allows {', '.join(actions) or 'nothing'}, but S3 needs "
                       "the action that invokes the function itself (the URL action is for function URLs only).")
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
                    "should call it, by its service principal.")
        hint = ""
        if "lambda.amazonaws.com" in principals:
            hint = (" lambda.amazonaws.com is the service that assumes the function's execution role; the "
                    "resource-based policy names who may *invoke* the function.")
        return (f"Statement '{sid}' lets {', '.join(sorted(principals)) or 'no principal'} invoke the function, but "
                f"the caller here is S3, which calls as its own service principal.{hint}")
    conditions = statement.get("Condition") or {}
    source_arns = [v for op, pairs in conditions.items() if op in ("ArnLike", "ArnEquals", "StringLike", "StringEquals")
                   for k, vals in pairs.items() if k.lower() == "aws:sourcearn" for v in _as_list(vals)]
    if not source_arns:
        return (f"Statement '{sid}' lets s3.amazonaws.com invoke the function for any bucket whose owner points it "
                "at the function. Limit it to your bucket with a SourceArn.")
    if not any(fnmatch.fnmatchcase(bucket_arn, arn) for arn in source_arns):
        given = source_arns[0]
        hint = ""
        if given.startswith("arn:aws:lambda:"):
            hint = " That is the function's ARN; SourceArn names the caller, the bucket."
        elif given.startswith(bucket_arn + "/"):
            hint = " SourceArn names the bucket itself, not the objects in it."
        elif given.startswith("arn:aws:s3:") and not given.startswith("arn:aws:s3:::"):
            hint = " An S3 bucket's ARN has no region and no account."
        return (f"Statement '{sid}' has SourceArn '{given}', which does not match the bucket "
                f"'{bucket_arn.rsplit(':', 1)[-1]}'.{hint}")
    accounts = [v for op, pairs in conditions.items() for k, vals in pairs.items()
                if k.lower() == "aws:sourceaccount" for v in _as_list(vals)]
    owner = boto3.client("sts").get_caller_identity()["Account"]
    if accounts and owner not in accounts:
        return (f"Statement '{sid}' has SourceAccount {accounts[0]}, but the bucket belongs to account {owner}.")
    return None


def _check_notification(bucket: str, function_arn: str) -> None:
    config = boto3.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    targets = config.get("LambdaFunctionConfigurations", [])
    require(targets, f"The bucket {bucket} notifies no function yet. After the permission, configure the bucket "
                     "with s3.put_bucket_notification_configuration (notebook 02, section 'S3: a notification on "
                     "the bucket').")
    ours = [t for t in targets if t["LambdaFunctionArn"] == function_arn
            or t["LambdaFunctionArn"].startswith(function_arn + ":")]
    require(ours, f"The bucket {bucket} notifies {', '.join(t['LambdaFunctionArn'] for t in targets)}, not this "
                  f"function ({function_arn}).")
    created = [t for t in ours if any(fnmatch.fnmatchcase("s3:ObjectCreated:Put", e) for e in t.get("Events", []))]
    require(created, f"The notification for {bucket} listens to {', '.join(ours[0].get('Events', []))}, which "
                     "uploads do not send. Which event type does an upload send? (notebook 02, section 'What "
                     "events look like': its eventName)")
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


# -- exercise 02.2: a poison message in an SQS batch ------------------------------------------------------------------
_BATCH_SECTION = "notebook 02, section 'When a batch fails'"


def ex_02_poison_message(function_name: str = "charge-orders", queue_name: str = "orders", timeout_s: int = 10) -> None:
    """One malformed message no longer makes the queue's good orders be charged again, and it still reaches the DLQ."""
    lam, sqs = boto3.client("lambda"), boto3.client("sqs")
    config = function_config(function_name, "Run the exercise's setup cell first.")
    url = queue_url(sqs, queue_name)
    require(url, f"There is no queue '{queue_name}'. Run the exercise's setup cell first.")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    mappings = mappings_from(lam, function_name, attributes["QueueArn"])
    require(mappings, f"There is no event source mapping from '{queue_name}' to '{function_name}' any more. Keep "
                      "the setup's mapping and change it (update_event_source_mapping) instead of deleting it.")
    mapping = lam.get_event_source_mapping(UUID=mappings[0]["UUID"])
    require("ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
            f"The mapping from '{queue_name}' to '{function_name}' still returns the whole batch to the queue when the "
            "function fails, so the valid orders in that batch are charged again when it comes back. The mapping "
            "needs a setting that lets the function say which messages failed, and the handler must use it "
            f"({_BATCH_SECTION}).")
    require(config["Timeout"] == timeout_s,
            f"The function's timeout is {config['Timeout']} s; the task keeps it at {timeout_s} s (charging a card "
            "can be slow). Leave the function's timeout alone and change the queue instead.")
    visibility = int(attributes["VisibilityTimeout"])
    require(visibility >= 6 * timeout_s,
            f"The queue's visibility timeout is {visibility} s: less than AWS recommends for a function whose "
            f"timeout is {timeout_s} s, so a batch that is retried or throttled can be delivered again while it is "
            f"still being worked on. {_BATCH_SECTION[0].upper() + _BATCH_SECTION[1:]} says how long it should be.")
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    require(redrive.get("deadLetterTargetArn"),
            f"The queue '{queue_name}' has no redrive policy any more, so a message that always fails would come "
            "back for as long as the queue keeps it. Put back the setup's redrive policy.")
    dlq_url = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].rsplit(":", 1)[-1])["QueueUrl"]

    marker = f"check-{uuid.uuid4().hex[:8]}"
    good = [f"{marker}-a", f"{marker}-b"]
    bad = f"order {marker}-c, 12 EUR, from the old till"
    require(mapping["State"] in ("Enabled", "Enabling", "Updating", "Creating"),
            f"The mapping from '{queue_name}' to '{function_name}' is {mapping['State']}: nothing reads the queue. "
            "Switch it back on.")
    _set_enabled(lam, mapping["UUID"], False)  # so that the three messages arrive in one batch, as in the setup
    try:
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": json.dumps({"id": good[0], "amount": 18})},
            {"Id": "c", "MessageBody": bad},
            {"Id": "b", "MessageBody": json.dumps({"id": good[1], "amount": 25})}])
    finally:
        _set_enabled(lam, mapping["UUID"], True)
    try:
        charged, dead = _settle(function_name, good, dlq_url, bad)
    finally:
        _drop_dead_letters(dlq_url, marker)
    counts = [charged.count(order) for order in good]
    require(max(counts) > 0,
            f"The check sent two valid orders ({', '.join(good)}), and '{function_name}' never logged "
            "'Charged order <id>: ...' for them. Keep that log line: the check (and the accountants) read it.")
    require(max(counts) == 1 and min(counts) == 1,
            f"The check sent two valid orders and one malformed message in one batch, and the valid orders were "
            f"charged {' and '.join(map(str, counts))} times: the batch still fails as a whole. With the mapping's "
            "setting on, the handler must not raise for one bad message; it must answer which messages failed, "
            f"naming each the way Lambda identifies a message ({_BATCH_SECTION}). Read the function's log.")
    require(dead,
            f"The check's malformed message never reached the dead-letter queue: the handler reported it as a "
            "success, so Lambda deleted it from the queue and the order is lost. Report it as failed, so that the "
            "queue's redrive policy moves it after maxReceiveCount receives.")
    passed(f"a malformed message no longer makes '{function_name}' charge the other orders of its batch again, it "
           f"still reaches the dead-letter queue, and '{queue_name}' gives each batch enough time.")


def _set_enabled(lam, uuid: str, enabled: bool, patience_s: float = 90.0) -> None:
    """Switch the mapping off or on and wait until it is (at once in the lab; AWS takes a few seconds)."""
    lam.update_event_source_mapping(UUID=uuid, Enabled=enabled)
    deadline = time.monotonic() + patience_s
    while lam.get_event_source_mapping(UUID=uuid)["State"] != ("Enabled" if enabled else "Disabled"):
        if time.monotonic() > deadline:
            return
        time.sleep(2)


def _settle(function_name: str, good: list[str], dlq_url: str, bad: str) -> tuple[list[str], bool]:
    """(the check's order ids charged, once per charge; whether the malformed message reached the DLQ)."""
    from .._lab import Lab

    lab = Lab.current()
    local = lab is not None and getattr(lab, "backend", "local") == "local" and not getattr(lab, "_stopped", True)
    deadline = time.monotonic() + (0 if local else 300)  # on AWS: three receives, a visibility timeout apart
    while True:
        if local:
            try:
                lab.wait_for_async()
            except TimeoutError:
                require(False, "The check's messages were still being retried after a minute of waiting. Does the "
                               "queue still have its redrive policy?")
        charged = [line.split(":")[0].rsplit(" ", 1)[-1] for line in _log_lines(function_name, "Charged order ")]
        charged = [order for order in charged if order in good]
        dead = any(bad in m["Body"] for m in _peek(dlq_url))
        if (dead and len(charged) >= len(good)) or time.monotonic() >= deadline:
            return charged, dead
        time.sleep(5)


def _log_lines(function_name: str, text: str) -> list[str]:
    logs = boto3.client("logs")
    try:
        return [event["message"] for page in logs.get_paginator("filter_log_events").paginate(
                logGroupName=f"/aws/lambda/{function_name}")
                for event in page["events"] if text in event["message"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def _peek(queue_url: str) -> list[dict]:
    """The queue's visible messages, made visible again at once (the learner's DLQ is left as it was)."""
    sqs = boto3.client("sqs")
    seen = []
    for _ in range(5):
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        seen += [m for m in got if m["MessageId"] not in {s["MessageId"] for s in seen}]
        if not got:
            break
    return seen


def _drop_dead_letters(queue_url: str, marker: str) -> None:
    """Delete the check's own messages from the DLQ, so they do not confuse the learner's next look at it."""
    sqs = boto3.client("sqs")
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=5).get(
            "Messages", []):
        if marker in message["Body"]:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
