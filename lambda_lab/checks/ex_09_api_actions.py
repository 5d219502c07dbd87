"""Checks for the exercises of notebook 09_api_actions."""

import json
import re
import time
import uuid

import boto3

from ..service._permissions import poller_refusal
from . import passed, queue_url, require

__all__ = ["ex_09_sqs_mapping", "ex_09_payment_failures"]

TEST_MESSAGES = 12
_BATCH_LINE = re.compile(r"batch of (\d+): ?(.*)")


def _role_documents(role_arn: str) -> list:
    """Every policy document of the role: attached managed policies (default versions) and inline ones."""
    iam = boto3.client("iam")
    role = role_arn.rsplit("/", 1)[-1]
    documents = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        for attached in page["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            documents.append(iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                                    VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"])
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for name in page["PolicyNames"]:
            documents.append(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
    return documents


def _wait_for_batches(function_name: str, marker: str, deadline_s: float = 60.0) -> list[int]:
    """Sizes of the batches whose log lines name the check's messages (the lab fast-forwards; AWS is polled)."""
    from .._lab import Lab

    lab = Lab.current()
    local = lab is not None and getattr(lab, "backend", "local") == "local"  # elsewhere, nothing fast-forwards
    logs = boto3.client("logs")
    until = time.monotonic() + (0 if local else deadline_s)
    while True:
        if local:
            lab.wait_for_async()
        sizes = []
        try:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{function_name}")
            for page in pages:
                for event in page["events"]:
                    match = _BATCH_LINE.search(event["message"])
                    if match and marker in match.group(2):
                        sizes.append(sum(marker in body for body in match.group(2).split()))
        except logs.exceptions.ResourceNotFoundException:
            pass
        if sum(sizes) >= TEST_MESSAGES or time.monotonic() >= until:
            return sizes
        time.sleep(2)


def ex_09_sqs_mapping(function_name: str = "order-batches", queue_name: str = "orders", batch_size: int = 5) -> None:
    """An enabled event source mapping feeds the queue to the function in batches of at most `batch_size`."""
    lam, sqs = boto3.client("lambda"), boto3.client("sqs")
    try:
        config = lam.get_function_configuration(FunctionName=function_name)
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    except (lam.exceptions.ResourceNotFoundException, sqs.exceptions.QueueDoesNotExist):
        require(False, f"The function '{function_name}' or the queue '{queue_name}' does not exist. Run the "
                       "exercise's setup cell first: it creates both.")
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    where = "notebook 09, section 'CreateEventSourceMapping'"

    mappings = [m for page in lam.get_paginator("list_event_source_mappings").paginate(FunctionName=function_name)
                for m in page["EventSourceMappings"] if m["EventSourceArn"] == queue_arn]
    if not mappings:
        refusal = poller_refusal(_role_documents(config["Role"]), queue_arn)
        require(refusal is None,
                f"There is no event source mapping from '{queue_name}' to '{function_name}' yet, and the function's "
                "execution role cannot read the queue, so creating one fails with InvalidParameterValueException "
                f"('{refusal}'). A mapping's poller reads the queue as the function's execution role (not through "
                f"the function's resource-based policy): first give the role what a poller needs ({where}, names "
                "the actions and an AWS managed policy that holds them), then create the mapping.")
        elsewhere = [m["FunctionArn"] for page in lam.get_paginator("list_event_source_mappings").paginate(
                     EventSourceArn=queue_arn) for m in page["EventSourceMappings"]]
        require(not elsewhere, f"'{queue_name}' has an event source mapping, but to {', '.join(elsewhere)}, not to "
                               f"'{function_name}'. Delete it, and connect the queue to '{function_name}' instead.")
        require(False, f"The execution role may read '{queue_name}' now, but there is no event source mapping from "
                       f"it to '{function_name}' yet: create one that sends batches of at most {batch_size} ({where}).")
    require(len(mappings) == 1,
            f"{len(mappings)} event source mappings read '{queue_name}' for '{function_name}': each one polls the "
            "queue, so messages are split between them. Keep one and delete the others "
            "(delete_event_source_mapping(UUID=...)).")
    mapping = lam.get_event_source_mapping(UUID=mappings[0]["UUID"])
    if mapping["BatchSize"] != batch_size:
        default = " (10 is what SQS mappings get when BatchSize is left out)" if mapping["BatchSize"] == 10 else ""
        require(False, f"The mapping's BatchSize is {mapping['BatchSize']}{default}; the task asks for batches of at "
                       f"most {batch_size}. Change the mapping you have (UpdateEventSourceMapping) rather than adding "
                       "a second one.")
    require(mapping["State"] in ("Enabled", "Enabling", "Creating", "Updating"),
            f"The mapping is {mapping['State']}: its poller does not read the queue. Switch it on ({where}).")

    marker = f"check-{uuid.uuid4().hex[:8]}"
    bodies = [f"{marker}-{n}" for n in range(TEST_MESSAGES)]
    for first in range(0, TEST_MESSAGES, 10):  # SendMessageBatch takes up to 10 messages
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": body}
                                                            for n, body in enumerate(bodies[first:first + 10])])
    sizes = _wait_for_batches(function_name, marker)
    require(sum(sizes) >= TEST_MESSAGES,
            f"The check sent {TEST_MESSAGES} messages to '{queue_name}', but the handler's log shows only "
            f"{sum(sizes)} of them. Look at the function's log group /aws/lambda/{function_name} for errors.")
    require(max(sizes) <= batch_size, f"A batch of {max(sizes)} messages reached the handler; the mapping should "
                                      f"send at most {batch_size} at a time.")
    passed(f"'{queue_name}' feeds '{function_name}': the check's {TEST_MESSAGES} messages reached the handler in "
           f"batches of at most {batch_size}.")


def _queue(sqs, name: str) -> tuple[str, dict] | tuple[None, None]:
    """The queue's URL and attributes, or (None, None) if there is no such queue."""
    url = queue_url(sqs, name)
    if url is None:
        return None, None
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def _log_counts(function_name: str, ids: list[str]) -> dict[str, tuple[int, int]]:
    """(times settled, times refused) per payment id, from the handler's log lines."""
    logs = boto3.client("logs")
    counts = {i: [0, 0] for i in ids}
    try:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{function_name}"):
            for event in page["events"]:
                for i in ids:
                    counts[i][0] += f"settled {i}:" in event["message"]
                    counts[i][1] += f"could not settle {i}:" in event["message"]
    except logs.exceptions.ResourceNotFoundException:
        pass
    return {i: (a, b) for i, (a, b) in counts.items()}


def _wait(done, deadline_s: float) -> None:
    """Fast-forward the local lab until `done()`, or poll a remote account until the deadline."""
    from .._lab import Lab

    lab = Lab.current()
    local = lab is not None and getattr(lab, "backend", "local") == "local"
    until = time.monotonic() + (0 if local else deadline_s)
    while True:
        if local:
            lab.wait_for_async()
        if done() or time.monotonic() >= until:
            return
        time.sleep(5)


def ex_09_payment_failures(function_name: str = "settle", queue_name: str = "payments",
                           dlq_name: str = "payments-dlq", attempts: int = 3) -> None:
    """Failed payments come back alone, land in the dead-letter queue after `attempts` receives, none is lost."""
    lam, sqs = boto3.client("lambda"), boto3.client("sqs")
    where = "Notebook 09, section 'When a batch fails'"
    try:
        config = lam.get_function_configuration(FunctionName=function_name)
    except lam.exceptions.ResourceNotFoundException:
        config = None
    url, attributes = _queue(sqs, queue_name)
    require(config is not None and url is not None,
            f"The function '{function_name}' or the queue '{queue_name}' does not exist. Run the exercise's setup "
            "cell first: it creates both.")
    mappings = [m for page in lam.get_paginator("list_event_source_mappings").paginate(FunctionName=function_name)
                for m in page["EventSourceMappings"] if m["EventSourceArn"] == attributes["QueueArn"]]
    require(len(mappings) == 1, f"The task keeps the one event source mapping from '{queue_name}' to "
                                f"'{function_name}' that the setup cell made; now there are {len(mappings)}. Run the "
                                "setup cell again in a fresh kernel.")
    mapping = lam.get_event_source_mapping(UUID=mappings[0]["UUID"])

    require("ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []),
            f"'{function_name}' answers each batch with the message ids of the payments it could not settle (read "
            f"its return statement), but the mapping from '{queue_name}' ignores that answer. To Lambda the handler "
            "returned normally, so the whole batch succeeded and every message of it was deleted, the failed ones "
            f"too. {where}, says how a mapping can be told to use the handler's answer.")
    require(not (config.get("DeadLetterConfig") or {}).get("TargetArn"),
            f"'{function_name}' has a dead-letter queue of its own (DeadLetterConfig). That one only receives "
            "asynchronous events that failed; a mapping invokes the function synchronously, so nothing from "
            f"'{queue_name}' would ever reach it. Remove it, and look for where an SQS source keeps the messages "
            f"that never succeed: {where}.")
    dlq_url, dlq_attributes = _queue(sqs, dlq_name)
    require(dlq_url is not None, f"There is no queue '{dlq_name}' yet: create it for the payments that keep failing.")
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    require(bool(redrive),
            f"A payment that keeps failing now comes back to '{queue_name}' again and again until the queue's "
            f"retention period ends, and is never moved to '{dlq_name}': nothing tells SQS to move it. {where}, "
            "says which queue owns an SQS source's dead-letter queue, and how.")
    require(redrive.get("deadLetterTargetArn") == dlq_attributes["QueueArn"],
            f"'{queue_name}' sends its failed messages to {redrive.get('deadLetterTargetArn')}, not to '{dlq_name}'.")
    receives = int(redrive.get("maxReceiveCount", 0))
    require(receives == attempts,
            f"'{queue_name}' moves a message to '{dlq_name}' after {receives} receives; the finance team wants each "
            f"payment tried {attempts} times in all before it is set aside.")
    visibility, timeout = int(attributes["VisibilityTimeout"]), config["Timeout"]
    require(visibility >= 6 * timeout,
            f"'{queue_name}' hides a received message for {visibility} s. That is less than AWS recommends for a "
            f"function whose timeout is {timeout} s: a batch retried after throttling could reappear while it is still "
            f"being worked on. {where}, gives the rule.")
    require(mapping["State"] in ("Enabled", "Enabling", "Updating", "Creating"),
            f"The mapping is {mapping['State']}: its poller does not read '{queue_name}'. Switch it back on.")

    marker = uuid.uuid4().hex[:6]
    good, bad = [f"C{marker}-{n}" for n in range(4)], f"C{marker}-bad"
    entries = [{"id": i, "amount": 12.5} for i in good] + [{"id": bad, "amount": -1}]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": json.dumps(e)}
                                                  for n, e in enumerate(entries)])
    parked = []

    def done() -> bool:
        for message in sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", []):
            if bad in message["Body"]:
                parked.append(message)
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
        return bool(parked)

    _wait(done, deadline_s=6 * visibility + 120)
    counts = _log_counts(function_name, good + [bad])
    twice = [i for i in good if counts[i][0] > 1]
    require(not twice, f"The check's good payments {', '.join(twice)} were settled more than once: customers were "
                       "charged twice. Look at the function's log group and at what the mapping does with a batch "
                       "in which one payment failed.")
    require(all(counts[i][0] == 1 for i in good),
            f"Not every good payment of the check was settled: {counts}. Look at /aws/lambda/{function_name}.")
    require(bool(parked), f"The check's bad payment {bad} did not reach '{dlq_name}'. Look at the function's log "
                          "group and at the queues' attributes.")
    require(counts[bad][1] == attempts,
            f"The check's bad payment was tried {counts[bad][1]} times before it reached '{dlq_name}'; the task "
            f"asks for {attempts}.")
    passed(f"a failed payment is tried {attempts} times on its own and then kept in '{dlq_name}'; the good payments "
           f"of its batch were settled once each; '{queue_name}' hides messages for {visibility} s "
           f"(function timeout {timeout} s).")
