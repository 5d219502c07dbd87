"""Exercise checks: each says what is wrong and where to look, or that the work is done.

Every exercise notebook (exercises/NN_topic_ex_KK.ipynb) ends with a cell like

    from lambda_lab import checks
    checks.ex_05_timeout(function_name="report")

A check talks to the lab (or a real account) through plain boto3, as the learner's code does. It raises
`CheckFailed` with a helpful message, or prints one line starting with "Check passed".
"""

from __future__ import annotations

import importlib
import pkgutil


class CheckFailed(AssertionError):
    """The exercise is not done yet; the message says what is wrong and where to look."""


def passed(what: str) -> None:
    print(f"Check passed: {what}")


def require(condition: bool, message: str) -> None:
    """Fail with `message` unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)


def function_config(name: str, missing: str) -> dict:
    """The function's configuration, or CheckFailed with `missing` (what to run first) if it does not exist."""
    import boto3

    lam = boto3.client("lambda")
    try:
        return lam.get_function_configuration(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        raise CheckFailed(f"There is no function '{name}' yet. {missing}") from None


def queue_url(sqs, name_or_arn: str) -> str | None:
    """The URL of the queue named (or whose ARN is given: another account's too), or None if there is none
    (an ARN of something else, such as a topic or a bucket, names no queue)."""
    parts = name_or_arn.split(":")
    if name_or_arn.startswith("arn:"):
        if len(parts) != 6 or parts[2] != "sqs":
            return None
        where = {"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]}
    else:
        where = {"QueueName": name_or_arn}
    try:
        return sqs.get_queue_url(**where)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return None


def mappings_from(lam, function_name: str, source_arn: str) -> list[dict]:
    """The function's event source mappings that read `source_arn`."""
    pages = lam.get_paginator("list_event_source_mappings").paginate(FunctionName=function_name)
    return [m for page in pages for m in page["EventSourceMappings"] if m["EventSourceArn"] == source_arn]


def log_streams(group: str, newest: int | None = None) -> list[list[str]]:
    """The messages of each stream of a log group, newest stream first ([] before the group exists)."""
    import boto3

    logs = boto3.client("logs")
    try:
        streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [[event["message"] for event in logs.get_log_events(
        logGroupName=group, logStreamName=stream["logStreamName"])["events"]] for stream in streams[:newest]]


def take_messages(sqs, url: str, wanted, rounds: int = 30):
    """Yield the bodies (JSON, else None) of the queue's messages for which `wanted(body)` holds, deleting each;
    the learner's other messages are left as they were, visible at once."""
    import json

    seen = []
    try:
        for _ in range(rounds):
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                        WaitTimeSeconds=0).get("Messages", [])
            if not batch:
                return
            for message in batch:
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    body = None
                if wanted(body):
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    yield body
                else:
                    seen.append(message["ReceiptHandle"])
    finally:
        for handle in seen:
            try:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
            except Exception:  # noqa: BLE001 - a message deleted meanwhile is not the check's business
                pass


def take_message(sqs, url: str, wanted) -> dict | None:
    """The first message body for which `wanted(body)` holds, taken off the queue; None if there is none."""
    import contextlib

    with contextlib.closing(take_messages(sqs, url, wanted)) as bodies:
        return next(bodies, None)


def _load_all() -> dict:
    """Every check function, from the modules in this package named ex_NN_*.py."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("ex_"):
            loaded = importlib.import_module(f"{__name__}.{module.name}")
            found.update({name: _recorded(name, getattr(loaded, name)) for name in getattr(loaded, "__all__", [])})
    return found


def _recorded(name: str, check):
    """The check, noting each pass or failure in the learner's progress (lambda_lab.progress())."""
    import functools

    @functools.wraps(check)
    def run(*args, **kwargs):
        from ..exam import _store

        try:
            result = check(*args, **kwargs)
        except CheckFailed:
            _store.record_check(name, False)
            raise
        _store.record_check(name, True)
        return result

    return run


CHECKS = _load_all()
globals().update(CHECKS)
__all__ = ["CheckFailed", "passed", "require", "function_config", "queue_url", "mappings_from", "log_streams",
           "take_messages", "take_message",
           "CHECKS", *CHECKS]
