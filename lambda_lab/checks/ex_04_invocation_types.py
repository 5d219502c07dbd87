"""Checks for the exercises of notebook 04_invocation_types."""

import json
import time
import uuid

import boto3

from . import function_config, passed, queue_url, require, take_message

__all__ = ["ex_04_dead_letter", "ex_04_payment_failures"]

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


def _find(sqs, url: str, event: dict) -> dict | None:
    """The message body holding `event` (a DLQ message, the event itself, or a destination record), taken off
    the queue; None if it is not there."""
    return take_message(sqs, url, lambda body: body == event or (isinstance(body, dict)
                                                                 and body.get("requestPayload") == event))


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
                           "but nothing for failures. OnSuccess only receives events that succeeded. Which settings "
                           "receive the events that fail for good? Notebook 04, 'Destinations: OnSuccess and "
                           "OnFailure' and 'Keeping failed events: a dead-letter queue'.")
        elsewhere = _others_with_failure_settings(lam, function_name)
        if elsewhere:
            require(False, f"A dead-letter queue or OnFailure destination is set on {', '.join(map(repr, elsewhere))}, "
                           f"not on '{function_name}'. Lambda keeps a failed event according to the settings of the "
                           "function whose event failed (notebook 04, 'Keeping failed events: a dead-letter queue').")
        require(False, f"'{function_name}' has no dead-letter queue and no OnFailure destination, so Lambda drops "
                       "its failed asynchronous events after the last retry. Notebook 04 shows two settings that keep "
                       "them ('Keeping failed events: a dead-letter queue' and 'Destinations: OnSuccess and "
                       "OnFailure'); either needs an SQS queue that the execution role may send to.")
    queues = {}
    for kind, arn in targets.items():
        require(arn.split(":")[2] == "sqs",
                f"The {kind} of '{function_name}' is {arn}: this exercise asks for an SQS queue (the check reads "
                "the queue to find the failed event). Use the queue's ARN, from get_queue_attributes(... "
                "AttributeNames=['QueueArn']).")
        url = queue_url(sqs, arn)
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


MAX_AGE_S = 600  # exercise 04.2: a charge older than ten minutes must not run any more
DECLINED = {"card": "declined"}  # an event that charge-card refuses


def _send_and_collect(lam, sqs, function_name: str, url: str, event: dict) -> dict | None:
    """Send `event` asynchronously and return what reached the queue at `url` for it (None if nothing did)."""
    from .. import Lab

    lam.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event).encode())
    lab = Lab.current()
    local = lab is not None and lab.backend == "local"
    if local:
        lab.wait_for_async()
    deadline = time.monotonic() + (0 if local else 180)  # no retries: on AWS the record comes within a minute or two
    while True:
        body = _find(sqs, url, event)
        if body is not None or time.monotonic() > deadline:
            return body
        time.sleep(10)


def ex_04_payment_failures(function_name: str = "charge-card") -> None:
    """Exercise 04.2: no automatic retry, events expire after ten minutes, and every failure is kept with why."""
    lam = boto3.client("lambda")
    sqs = boto3.client("sqs")
    settings = _failure_settings(lam, function_name)
    try:
        invoke_config = lam.get_function_event_invoke_config(FunctionName=function_name)
    except lam.exceptions.ResourceNotFoundException:
        invoke_config = None
    require(invoke_config is not None or settings["DeadLetterConfig"],
            f"'{function_name}' still uses the default settings for asynchronous events, which break requirements 1 "
            "and 2 (how many retries, and how long may an event wait?) and keep no failed charge (requirement 3). "
            "Notebook 04, 'Tuning retries: PutFunctionEventInvokeConfig' and 'Destinations: OnSuccess and OnFailure'.")
    invoke_config = invoke_config or {}
    retries = invoke_config.get("MaximumRetryAttempts", 2)
    require(retries == 0, f"Lambda would still retry a failed charge of '{function_name}' {retries} time"
                          f"{'s' * (retries != 1)}: requirement 1 says a declined or failed charge must never run "
                          "again by itself. Which setting counts retries? Notebook 04, 'Tuning retries'.")
    age = invoke_config.get("MaximumEventAgeInSeconds", 21600)
    require(age <= MAX_AGE_S, f"An event of '{function_name}' may still wait up to {age:,} s (for example while the "
                              "function is throttled) and then charge a customer who gave up long ago: requirement 2 "
                              "allows ten minutes. Notebook 04, 'Tuning retries'.")
    on_failure = settings["OnFailure"]
    if not on_failure:
        if settings["DeadLetterConfig"]:
            require(False, f"'{function_name}' keeps failed charges in a dead-letter queue "
                           f"({_arn_name(settings['DeadLetterConfig'])}). Its messages hold the event and a short "
                           "error message, but neither the error type nor why Lambda gave up (failed, or too old), "
                           "which requirement 3 asks for. Notebook 04 compares the two ways at the end of "
                           "'Destinations: OnSuccess and OnFailure'.")
        require(False, f"Nothing keeps the failed charges of '{function_name}' (requirement 3). Notebook 04, "
                       "'Destinations: OnSuccess and OnFailure'.")
    require(on_failure.split(":")[2] == "sqs", f"The OnFailure destination of '{function_name}' is {on_failure}: this "
                                                "exercise asks for an SQS queue (the check reads it).")
    url = queue_url(sqs, on_failure)
    require(url is not None, f"The OnFailure destination of '{function_name}' points at the queue "
                             f"'{_arn_name(on_failure)}', which does not exist.")

    event = {**DECLINED, "charge_id": f"check-{uuid.uuid4().hex[:8]}"}
    record = _send_and_collect(lam, sqs, function_name, url, event)
    require(record is not None, f"The check's declined charge {event} did not reach '{_arn_name(on_failure)}'. Is "
                                "the function's code unchanged (it refuses a declined card), and does nothing else "
                                "read that queue?")
    context = record.get("requestContext", {})
    require(context.get("condition") == "RetriesExhausted" and context.get("approximateInvokeCount") == 1,
            f"The failure record says condition {context.get('condition')!r} after "
            f"{context.get('approximateInvokeCount')} attempt(s); expected one attempt and no retry.")
    passed(f"a declined charge of '{function_name}' ran once, was not retried, and its record (condition "
           f"{context['condition']}, error {record.get('responsePayload', {}).get('errorType')}) reached "
           f"{_arn_name(on_failure)}; stale events expire after {age} s.")
