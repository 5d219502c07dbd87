"""Checks for the exercises of notebook 10_capstone.

The check drives the learner's pipeline as a shop would: it uploads receipts to the bucket, waits, and reads
each end (the table, the inbox, the failures queue). When something is missing it names the first broken
link and the lesson section that explains it, without writing the answer out.
"""

import time
import uuid
from urllib.parse import unquote_plus

import boto3

from . import passed, queue_url, require, take_message, take_messages

__all__ = ["ex_10_upload_pipeline", "ex_10_stream_failures"]

ON_AWS_WAIT_S = 420  # on AWS a failing asynchronous event takes about three minutes of retries, then delivery
GOOD_RECEIPT = "item,price,quantity\ncoffee,2.50,2\ncroissant,1.80,1\n"
BAD_RECEIPT = "this is not,a receipt\n1,2\n"


def ex_10_upload_pipeline(bucket: str = "lab-receipt-uploads", function_name: str = "import-upload",
                          table: str = "receipts", inbox: str = "receipt-inbox") -> None:
    """Uploads reach the table and the inbox; a malformed upload reaches the OnFailure destination."""
    lam, s3, dynamodb, sqs = (boto3.client(s) for s in ("lambda", "s3", "dynamodb", "sqs"))
    try:
        config = lam.get_function_configuration(FunctionName=function_name)
    except lam.exceptions.ResourceNotFoundException:
        require(False, f"There is no function '{function_name}'. Run the exercise's setup cell first.")
    inbox_url = queue_url(sqs, inbox)
    require(inbox_url is not None, f"There is no queue '{inbox}'. Run the exercise's setup cell first.")

    token = uuid.uuid4().hex[:8]
    good = [f"check-{token}-{n}" for n in (1, 2)]
    bad = f"check-{token}-broken"
    for receipt_id in good:
        s3.put_object(Bucket=bucket, Key=f"{receipt_id}.csv", Body=GOOD_RECEIPT.encode())
    s3.put_object(Bucket=bucket, Key=f"{bad}.csv", Body=BAD_RECEIPT.encode())

    from .. import Lab

    lab = Lab._current
    local = lab is not None and lab.backend == "local"
    if local:
        lab.wait_for_async()  # retries, the stream and the topic, fast-forwarded on the lab clock
    deadline = time.monotonic() + (0 if local else ON_AWS_WAIT_S)
    stored, announced, record = set(), set(), None
    while True:
        stored |= {r for r in good if r not in stored and _stored(dynamodb, table, r)}
        announced |= _take_announcements(sqs, inbox_url, set(good) - announced)
        destination = _on_failure(lam, function_name)
        failures_url = queue_url(sqs, destination) if record is None and destination else None
        if failures_url:
            record = _take_record(sqs, failures_url, f"{bad}.csv")
        if (len(stored) == len(good) and len(announced) == len(good) and record) or time.monotonic() > deadline:
            break
        time.sleep(10)

    # link 1: the bucket invokes import-upload, which writes the table
    if len(stored) < len(good):
        _diagnose_upload_link(lam, s3, bucket, function_name, config, lab if local else None, good)
    # link 2: the table's stream reaches notify, which publishes to the topic the inbox subscribes to
    if len(announced) < len(good):
        _diagnose_stream_link(lam, dynamodb, table, inbox, lab if local else None)
    # link 3: an upload that fails every attempt lands in the OnFailure destination
    _diagnose_failure_link(lam, sqs, function_name, config, record, lab if local else None, f"{bad}.csv")
    passed(f"uploads to {bucket} reach the table '{table}' and the inbox '{inbox}', and a malformed upload reaches "
           f"'{_on_failure(lam, function_name).split(':')[-1]}' after "
           f"{record['requestContext']['approximateInvokeCount']} attempts ({record['requestContext']['condition']}).")


# -- reading the pipeline's ends ---------------------------------------------------------------------
def _stored(dynamodb, table: str, receipt_id: str) -> bool:
    try:
        return "Item" in dynamodb.get_item(TableName=table, Key={"receipt_id": {"S": receipt_id}})
    except dynamodb.exceptions.ResourceNotFoundException:
        require(False, f"There is no table '{table}'. Run the exercise's setup cell first.")


def _take_announcements(sqs, url: str, receipt_ids: set) -> set:
    if not receipt_ids:
        return set()
    return {body["receipt_id"] for body in take_messages(
        sqs, url, lambda b: isinstance(b, dict) and b.get("receipt_id") in receipt_ids)}


def _take_record(sqs, url: str, key: str) -> dict | None:
    def ours(body) -> bool:
        try:
            return unquote_plus(body["requestPayload"]["Records"][0]["s3"]["object"]["key"]) == key
        except (TypeError, KeyError, IndexError):
            return False
    return take_message(sqs, url, ours)


def _on_failure(lam, function_name: str) -> str | None:
    try:
        config = lam.get_function_event_invoke_config(FunctionName=function_name)
    except lam.exceptions.ResourceNotFoundException:
        return None
    return ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")


# -- naming the broken link ----------------------------------------------------------------------------
def _diagnose_upload_link(lam, s3, bucket, function_name, config, lab, good) -> None:
    s3_section = "notebook 02, section 'S3: a notification on the bucket'"
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    targets = notification.get("LambdaFunctionConfigurations", [])
    mine = [t for t in targets if t["LambdaFunctionArn"].split(":")[6] == function_name]
    if not mine:
        refusals = [r for r in (lab.refusals if lab else []) if r["source"] == "s3"
                    and r["function"].split(":")[6] == function_name]
        if refusals:
            require(False, f"Broken link: S3 -> '{function_name}'. S3 refused your notification configuration "
                           "('Unable to validate the following destination configurations') because it may not "
                           f"invoke the function: {refusals[-1]['reason']} The function's resource-based policy must "
                           f"let S3, from this bucket, invoke it before the notification can be saved ({s3_section}).")
        if targets:
            others = sorted({t["LambdaFunctionArn"].split(":")[6] for t in targets})
            require(False, f"Broken link: S3 -> '{function_name}'. The bucket notifies {', '.join(others)}, not "
                           f"'{function_name}'.")
        other_kinds = [k for k in ("QueueConfigurations", "TopicConfigurations") if notification.get(k)]
        hint = (f" (It has {', '.join(other_kinds)}: those send to a queue or topic, not to a function.)"
                if other_kinds else "")
        require(False, f"Broken link: S3 -> '{function_name}'. The bucket '{bucket}' sends no notification to the "
                       f"function, so uploads go nowhere.{hint} A push source needs two things, in order: the "
                       f"function's permission, then the bucket's notification ({s3_section}).")
    for target in mine:
        events = target.get("Events", [])
        if not any(e in ("s3:ObjectCreated:*", "s3:ObjectCreated:Put") for e in events):
            require(False, f"Broken link: S3 -> '{function_name}'. The notification fires on {events}, which an "
                           "upload with put_object does not produce.")
        rules = {r["Name"].lower(): r["Value"] for r in
                 (target.get("Filter") or {}).get("Key", {}).get("FilterRules", [])}
        if rules.get("prefix") or not ".csv".endswith(rules.get("suffix", "")):
            require(False, f"Broken link: S3 -> '{function_name}'. The notification's filter {rules} leaves out "
                           f"uploads such as '{good[0]}.csv' at the top of the bucket.")
    failures = _async_failures(lab, function_name, good)
    require(not failures, f"Broken link: '{function_name}' -> table. S3 invoked the function, but it failed on the "
                          f"check's well-formed uploads ({failures[:1]}). Keep its code as the setup cell made it; "
                          f"its log is in /aws/lambda/{function_name}.")
    require(False, f"Broken link: S3 -> '{function_name}' -> table. The bucket notification looks right, but the "
                   f"check's uploads ({', '.join(r + '.csv' for r in good)}) did not reach the table. Read "
                   f"/aws/lambda/{function_name} in CloudWatch Logs to see whether the function ran.")


def _diagnose_stream_link(lam, dynamodb, table, inbox, lab) -> None:
    stream = dynamodb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
    require(stream is not None, f"Broken link: table -> notify. The table '{table}' has no stream any more; the "
                                "setup cell created it with StreamSpecification NEW_IMAGE.")
    mappings = lam.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]
    require(mappings, f"Broken link: table -> notify. No event source mapping reads the stream of '{table}' "
                      "any more; the setup cell made one.")
    require(any(m["State"] in ("Enabled", "Enabling", "Creating", "Updating") for m in mappings),
            f"Broken link: table -> notify. The mapping from the stream of '{table}' is disabled, so its poller reads "
            "nothing.")
    require(False, "Broken link: notify -> inbox. The receipts reached the table, but their messages did not "
                   f"reach the queue '{inbox}'. Did notify fail (its log is in /aws/lambda/notify), or is the "
                   "queue's subscription to the topic gone?")


def _diagnose_failure_link(lam, sqs, function_name, config, record, lab, bad_key) -> None:
    try:
        invoke_config = lam.get_function_event_invoke_config(FunctionName=function_name)
    except lam.exceptions.ResourceNotFoundException:
        invoke_config = {}
    destinations = invoke_config.get("DestinationConfig") or {}
    on_failure = (destinations.get("OnFailure") or {}).get("Destination")
    on_success = (destinations.get("OnSuccess") or {}).get("Destination")
    dead_letter = (config.get("DeadLetterConfig") or {}).get("TargetArn")
    if not on_failure:
        if dead_letter:
            require(False, f"Broken link: failures. '{function_name}' has a dead-letter queue "
                           f"({dead_letter.split(':')[-1]}), which receives only the event. This exercise asks for "
                           "an OnFailure destination, whose record also says why the event failed and how often it "
                           "was tried (notebook 04, section "
                           "'Destinations: OnSuccess and OnFailure').")
        if on_success:
            require(False, f"Broken link: failures. '{function_name}' has an OnSuccess destination but no OnFailure "
                           "one. OnSuccess receives only the events that succeeded.")
        require(False, f"Broken link: failures. '{function_name}' has no OnFailure destination, so a malformed "
                       "upload is retried twice and then dropped: nobody learns that a receipt was lost (notebook 04, "
                       "section 'Destinations: OnSuccess and OnFailure').")
    require(on_failure.split(":")[2] == "sqs",
            f"Broken link: failures. The OnFailure destination of '{function_name}' is {on_failure}; this exercise "
            "asks for the SQS queue 'upload-failures'.")
    require(queue_url(sqs, on_failure) is not None,
            f"Broken link: failures. The OnFailure destination points at the queue '{on_failure.split(':')[-1]}', "
            "which does not exist.")
    role = config["Role"]
    require(_role_allows(role, "sqs:SendMessage"),
            "Broken link: failures. Lambda sends the failure record *as the function's execution role*, and "
            f"{role.split('/')[-1]} may not call sqs:SendMessage (any more: put_function_event_invoke_config "
            "refuses a destination the role cannot send to, but a permission removed later only shows when a "
            "record is lost). Give the role that permission again.")
    if record is None and lab is not None:
        mine = [e for e in lab.async_events if e.function_name == function_name and bad_key in e.payload.decode()]
        require(not mine or mine[-1].outcome != "Success",
                f"The malformed upload {bad_key} did not fail: keep '{function_name}''s code as the setup cell made "
                "it (it must raise on a file that is not a receipt).")
        problems = [f"{kind} {status}" for e in mine for kind, _, status in e.deliveries if status != "ok"]
        require(not problems, f"Lambda could not deliver the failure record: {'; '.join(problems)}.")
    require(record is not None, f"Broken link: failures. The failure record for {bad_key} did not arrive in "
                                f"'{on_failure.split(':')[-1]}'. Is something else reading that queue?")
    require(record["requestContext"]["condition"] in ("RetriesExhausted", "EventAgeExceeded"),
            f"The record for {bad_key} says {record['requestContext']['condition']}, not a failure.")


def _async_failures(lab, function_name: str, receipt_ids) -> list:
    """Error types of the function's asynchronous attempts on the check's uploads (local lab only)."""
    if lab is None:
        return []
    return [a.error_type for e in lab.async_events if e.function_name == function_name
            and any(r in e.payload.decode() for r in receipt_ids) for a in e.attempts if a.outcome == "error"]


def _role_allows(role_arn: str, action: str) -> bool:
    """Whether the role's inline or attached policies allow `action`, read with boto3's IAM client."""
    from ..service._permissions import role_allows

    iam = boto3.client("iam")
    name = role_arn.split("/")[-1]
    documents = [iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                 for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        documents.append(iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)
                         ["PolicyVersion"]["Document"])
    return role_allows([d if isinstance(d, (dict, str)) else {} for d in documents], action)


# -- Exercise 10.2: a poison record in the table's stream ------------------------------------------------
_WHEN_A_BATCH_FAILS = "notebook 09, section 'When a batch fails'"


def _stream_mapping(lam, function_name: str) -> dict | None:
    for page in lam.get_paginator("list_event_source_mappings").paginate(FunctionName=function_name):
        for mapping in page["EventSourceMappings"]:
            if ":dynamodb:" in mapping["EventSourceArn"]:
                return lam.get_event_source_mapping(UUID=mapping["UUID"])
    return None


def _queue_count(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def ex_10_stream_failures(function_name: str = "notify", failures: str = "notify-failures", table: str = "receipts",
                          inbox: str = "receipt-inbox", max_retries: int = 3) -> None:
    """A record `notify` cannot handle is given up after a few retries, isolated from its batch, and recorded."""
    lam, dynamodb, sqs = (boto3.client(s) for s in ("lambda", "dynamodb", "sqs"))
    mapping = _stream_mapping(lam, function_name)
    inbox_url = queue_url(sqs, inbox)
    require(mapping is not None and inbox_url is not None,
            f"There is no event source mapping from the '{table}' stream to '{function_name}', or no queue '{inbox}'. "
            "Run the exercise's setup cell first: it builds the pipeline.")
    retries = mapping.get("MaximumRetryAttempts", -1)
    require(retries != -1,
            f"A record '{function_name}' cannot handle is retried for as long as it stays in the stream (a day for a "
            "DynamoDB stream), and every receipt behind it in its shard waits: the mapping's retries are unlimited. "
            f"The task allows at most {max_retries}; {_WHEN_A_BATCH_FAILS}, lists the settings a stream mapping has "
            "for a batch that keeps failing.")
    require(0 <= retries <= max_retries,
            f"The mapping retries a failing batch {retries} times; the task allows at most {max_retries}: each retry "
            "holds up the whole shard (and announces the good receipts of the batch once more).")
    require(bool(mapping.get("BisectBatchOnFunctionError")),
            "Once the retries run out the mapping gives up on the whole batch: the good receipts that arrived "
            "with the bad record would never be announced. Lambda can corner the bad record instead "
            f"({_WHEN_A_BATCH_FAILS}).")
    failures_url = queue_url(sqs, failures)
    require(failures_url is not None, f"There is no queue '{failures}' yet: create it for the records that are "
                                      "given up.")
    failures_arn = sqs.get_queue_attributes(QueueUrl=failures_url,
                                            AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    destination = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    require(destination == failures_arn,
            "The records the mapping gives up on go nowhere" + (f" but {destination}" if destination else "") +
            f": nobody would know which receipts were never announced. They must be described in '{failures}' "
            f"({_WHEN_A_BATCH_FAILS}).")
    require(mapping["State"] in ("Enabled", "Enabling", "Updating", "Creating"),
            f"The mapping is {mapping['State']}: nothing is read from the stream.")

    token = uuid.uuid4().hex[:6]
    good = [f"check-{token}-{n}" for n in (1, 2)]
    before = _queue_count(sqs, failures_url)
    dynamodb.put_item(TableName=table, Item={"receipt_id": {"S": good[0]}, "total": {"N": "3.50"}})
    dynamodb.put_item(TableName=table, Item={"receipt_id": {"S": f"check-{token}-legacy"}})  # no total: poison
    dynamodb.put_item(TableName=table, Item={"receipt_id": {"S": good[1]}, "total": {"N": "4.20"}})
    from .._lab import Lab

    lab = Lab.current()
    local = lab is not None and getattr(lab, "backend", "local") == "local"
    until = time.monotonic() + (0 if local else ON_AWS_WAIT_S)
    announced = set()
    while True:
        if local:
            lab.wait_for_async()
        announced |= _take_announcements(sqs, inbox_url, set(good))
        if (announced == set(good) and _queue_count(sqs, failures_url) > before) or time.monotonic() >= until:
            break
        time.sleep(10)
    missing = sorted(set(good) - announced)
    require(not missing, f"The check's good receipts {', '.join(missing)}, written just after a bad one, were never "
                         f"announced in '{inbox}'. Look at the log group /aws/lambda/{function_name} and at the "
                         "mapping's settings.")
    require(_queue_count(sqs, failures_url) > before,
            f"The check's bad receipt was given up, but no record of it reached '{failures}'. On AWS the execution "
            "role must be allowed to send to that queue; look at the role's policies.")
    passed(f"a bad record is retried at most {retries} times, cornered by splitting its batch, and described in "
           f"'{failures}'; the good receipts around it were announced.")
