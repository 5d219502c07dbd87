"""Checks for the exercises of notebook 04_invocation_types."""

import json
import time
import uuid

import boto3

from . import function_config, passed, require

__all__ = ["ex_04_dead_letter"]

ON_AWS_WAIT_S = 420  # on AWS two retries take about three minutes, and delivery a little more


def _arn_name(arn: str) -> str:
    return arn.split(":")[-1]


def _failure_settings(lam, name: str) -> dict:
    """Where a failed asynchronous event of `name` ($LATEST) can go, and the OnSuccess destination if any."""
    config = function_config(name, "Run the exercise's setup cell first: it creates the function.")
    try:
        invoke_config = lam.get_function_event_invoke_config(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        invoke_config = {}
    destinations = invoke_config.get("DestinationConfig") or {}
    return {"DeadLetterConfig": (config.get("DeadLetterConfig") or {}).get("TargetArn"),
            "OnFailure": (destinations.get("OnFailure") or {}).get("Destination"),
            "OnSuccess": (destinations.get("OnSuccess") or {}).get("Destination")}


def _others_with_failure_settings(lam, name: str) -> list[str]:
    """Other functions of the account that have a DLQ or an OnFailure destination."""
    others = []
    for page in lam.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            other = function["FunctionName"]
            if other != name:
                settings = _failure_settings(lam, other)
                if settings["DeadLetterConfig"] or settings["OnFailure"]:
                    others.append(other)
    return others


def _queue_url(sqs, arn: str) -> str | None:
    _, _, _, _, account, queue = arn.split(":", 5)
    try:
        return sqs.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=account)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return None


def _find(sqs, url: str, event: dict) -> bool:
    """Whether `event` is in the queue, as a DLQ message (the event itself) or a destination record."""
    seen = []
    try:
        for _ in range(20):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                           WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return False
            for message in messages:
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    body = None
                if body == event or (isinstance(body, dict) and body.get("requestPayload") == event):
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    return True
                seen.append(message["ReceiptHandle"])
        return False
    finally:  # leave the learner's other messages as they were: visible at once
        for handle in seen:
            try:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
            except Exception:  # noqa: BLE001 - a message deleted meanwhile is not the check's business
                pass


def ex_04_dead_letter(function_name: str = "process-order") -> None:
    """A failed asynchronous event of `function_name` ends up in an SQS queue (DLQ or OnFailure destination)."""
    lam = boto3.client("lambda")
    sqs = boto3.client("sqs")
    names = {f["FunctionName"] for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]}
    require(function_name in names, f"There is no function '{function_name}': run the exercise's setup cell first.")
    settings = _failure_settings(lam, function_name)
    targets = {kind: arn for kind, arn in settings.items() if arn and kind != "OnSuccess"}
    if not targets:
        if settings["OnSuccess"]:
            require(False, f"'{function_name}' has an OnSuccess destination ({_arn_name(settings['OnSuccess'])}) "
                           "but no OnFailure one. OnSuccess only receives events that succeeded; a failed event "
                           "needs DestinationConfig={'OnFailure': {'Destination': queue_arn}} "
                           "(put_function_event_invoke_config) or a DeadLetterConfig on the function.")
        elsewhere = _others_with_failure_settings(lam, function_name)
        if elsewhere:
            require(False, f"A dead-letter queue or OnFailure destination is set on {', '.join(map(repr, elsewhere))}, "
                           f"not on '{function_name}'. It is a setting of the function whose events fail: set "
                           f"DeadLetterConfig on '{function_name}' with update_function_configuration.")
        require(False, f"'{function_name}' has no dead-letter queue and no OnFailure destination, so Lambda drops "
                       "its failed asynchronous events after the last retry. Create an SQS queue, then call "
                       "update_function_configuration(FunctionName=..., DeadLetterConfig={'TargetArn': queue_arn}) "
                       "(or put_function_event_invoke_config with an OnFailure destination).")
    queues = {}
    for kind, arn in targets.items():
        require(arn.split(":")[2] == "sqs",
                f"The {kind} of '{function_name}' is {arn}: this exercise asks for an SQS queue (the check reads "
                "the queue to find the failed event). Use the queue's ARN, from get_queue_attributes(... "
                "AttributeNames=['QueueArn']).")
        url = _queue_url(sqs, arn)
        require(url is not None, f"The {kind} of '{function_name}' points at the queue '{_arn_name(arn)}', which does "
                                 "not exist. Create it with sqs.create_queue, and use the ARN of that queue.")
        queues[kind] = url

    event = {"order_id": f"check-{uuid.uuid4().hex[:8]}", "quantity": 0}  # an order process-order refuses
    response = lam.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event).encode())
    require(response["StatusCode"] == 202, f"An asynchronous invoke of '{function_name}' answered "
                                           f"{response['StatusCode']}, not 202.")
    from .. import Lab

    lab = Lab.current()
    local = lab is not None and lab.backend == "local"
    deadline = time.monotonic() + (0 if local else ON_AWS_WAIT_S)
    if local:
        lab.wait_for_async()  # the local lab fast-forwards the one- and two-minute retry delays
    while True:
        found = [kind for kind, url in queues.items() if _find(sqs, url, event)]
        if found or time.monotonic() > deadline:
            break
        time.sleep(10)
    if not found and local:
        mine = [e for e in lab.async_events if e.function_name == function_name and json.loads(e.payload or b"{}")
                == event]
        outcome = mine[-1].outcome if mine else None
        require(outcome != "Success", f"The check's order {event} did not fail: keep '{function_name}''s code as it "
                                      "was (it refuses a quantity of 0) and change only its configuration.")
        problems = [f"{kind} {status}" for e in mine for kind, _, status in e.deliveries if status != "ok"]
        require(not problems, f"Lambda could not deliver the failed event: {'; '.join(problems)}.")
    require(found, f"The failed event {event} did not arrive in {', '.join(_arn_name(a) for a in targets.values())}. "
                   f"Check the ARN in the settings of '{function_name}' and that nothing else reads that queue.")
    how = " and ".join(f"{kind} ({_arn_name(targets[kind])})" for kind in found)
    passed(f"a failed asynchronous event of '{function_name}' reached its {how}, with the original event.")
