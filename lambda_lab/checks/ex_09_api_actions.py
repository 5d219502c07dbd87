"""Checks for the exercises of notebook 09_api_actions."""

import re
import time
import uuid

import boto3

from ..service._permissions import poller_refusal
from . import passed, require

__all__ = ["ex_09_sqs_mapping"]

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
        queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    except (lam.exceptions.ResourceNotFoundException, sqs.exceptions.QueueDoesNotExist):
        require(False, f"The function '{function_name}' or the queue '{queue_name}' does not exist. Run the "
                       "exercise's setup cell first: it creates both.")
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    create = (f"lam.create_event_source_mapping(EventSourceArn='{queue_arn}', FunctionName='{function_name}', "
              f"BatchSize={batch_size})")

    mappings = [m for page in lam.get_paginator("list_event_source_mappings").paginate(FunctionName=function_name)
                for m in page["EventSourceMappings"] if m["EventSourceArn"] == queue_arn]
    if not mappings:
        refusal = poller_refusal(_role_documents(config["Role"]), queue_arn)
        require(refusal is None,
                f"There is no event source mapping from '{queue_name}' to '{function_name}' yet, and the function's "
                f"execution role cannot read the queue, so creating one fails with InvalidParameterValueException "
                f"('{refusal}'). A mapping's poller reads the queue as the function's execution role (not through "
                "the function's resource-based policy): first give the role sqs:ReceiveMessage, sqs:DeleteMessage "
                "and sqs:GetQueueAttributes, with lab.allow(\"AWSLambdaSQSQueueExecutionRole\") or an inline "
                f"policy (iam.put_role_policy), then call {create}.")
        elsewhere = [m["FunctionArn"] for page in lam.get_paginator("list_event_source_mappings").paginate(
                     EventSourceArn=queue_arn) for m in page["EventSourceMappings"]]
        require(not elsewhere, f"'{queue_name}' has an event source mapping, but to {', '.join(elsewhere)}, not to "
                               f"'{function_name}'. Delete it (delete_event_source_mapping) and call {create}.")
        require(False, f"The execution role may read '{queue_name}' now, but there is no event source mapping from "
                       f"it to '{function_name}' yet: call {create}.")
    require(len(mappings) == 1,
            f"{len(mappings)} event source mappings read '{queue_name}' for '{function_name}': each one polls the "
            "queue, so messages are split between them. Keep one and delete the others "
            "(delete_event_source_mapping(UUID=...)).")
    mapping = lam.get_event_source_mapping(UUID=mappings[0]["UUID"])
    update = f"lam.update_event_source_mapping(UUID='{mapping['UUID']}', BatchSize={batch_size})"
    if mapping["BatchSize"] != batch_size:
        default = " (10 is what SQS mappings get when BatchSize is left out)" if mapping["BatchSize"] == 10 else ""
        require(False, f"The mapping's BatchSize is {mapping['BatchSize']}{default}; the task asks for batches of at "
                       f"most {batch_size}. Change it with {update}.")
    require(mapping["State"] in ("Enabled", "Enabling", "Creating", "Updating"),
            f"The mapping is {mapping['State']}: its poller does not read the queue. Switch it on with "
            f"lam.update_event_source_mapping(UUID='{mapping['UUID']}', Enabled=True).")

    marker = f"check-{uuid.uuid4().hex[:8]}"
    bodies = [f"{marker}-{n}" for n in range(TEST_MESSAGES)]
    for first in range(0, TEST_MESSAGES, 10):  # SendMessageBatch takes up to 10 messages
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[{"Id": str(n), "MessageBody": body}
                                                            for n, body in enumerate(bodies[first:first + 10])])
    sizes = _wait_for_batches(function_name, marker)
    require(sum(sizes) >= TEST_MESSAGES,
            f"The check sent {TEST_MESSAGES} messages to '{queue_name}', but the handler's log shows only "
            f"{sum(sizes)} of them. Look at the function's log group /aws/lambda/{function_name} for errors.")
    require(max(sizes) <= batch_size, f"A batch of {max(sizes)} messages reached the handler; the mapping should "
                                      f"send at most {batch_size} at a time.")
    passed(f"'{queue_name}' feeds '{function_name}': the check's {TEST_MESSAGES} messages reached the handler in "
           f"batches of at most {batch_size}.")
