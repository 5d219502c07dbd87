"""Checks for the exercises of notebook 10_capstone.

The check drives the learner's pipeline as a shop would: it uploads receipts to the bucket, waits, and reads
each end (the table, the inbox, the failures queue). When something is missing it names the first broken
link and says which API call or setting fixes it.
"""

import json
import time
import uuid
from urllib.parse import unquote_plus

import boto3

from . import passed, require

__all__ = ["ex_10_upload_pipeline"]

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
    inbox_url = _queue_url(sqs, inbox)
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
        if record is None and destination and _queue_url(sqs, destination.split(":")[-1]):
            record = _take_record(sqs, _queue_url(sqs, destination.split(":")[-1]), f"{bad}.csv")
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
def _queue_url(sqs, name: str) -> str | None:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return None


def _stored(dynamodb, table: str, receipt_id: str) -> bool:
    try:
        return "Item" in dynamodb.get_item(TableName=table, Key={"receipt_id": {"S": receipt_id}})
    except dynamodb.exceptions.ResourceNotFoundException:
        require(False, f"There is no table '{table}'. Run the exercise's setup cell first.")


def _messages(sqs, url: str, wanted):
    """Yield (message, body) for the queue's messages; `wanted(body)` True ones are deleted, the rest left visible."""
    seen = []
    try:
        for _ in range(30):
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
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
    finally:  # the learner's other messages stay as they were: visible at once
        for handle in seen:
            try:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
            except Exception:  # noqa: BLE001 - a message deleted meanwhile is not the check's business
                pass


def _take_announcements(sqs, url: str, receipt_ids: set) -> set:
    if not receipt_ids:
        return set()
    return {body["receipt_id"] for body in _messages(
        sqs, url, lambda b: isinstance(b, dict) and b.get("receipt_id") in receipt_ids)}


def _take_record(sqs, url: str, key: str) -> dict | None:
    def ours(body) -> bool:
        try:
            return unquote_plus(body["requestPayload"]["Records"][0]["s3"]["object"]["key"]) == key
        except (TypeError, KeyError, IndexError):
            return False
    return next(iter(_messages(sqs, url, ours)), None)


def _on_failure(lam, function_name: str) -> str | None:
    try:
        config = lam.get_function_event_invoke_config(FunctionName=function_name)
    except lam.exceptions.ResourceNotFoundException:
        return None
    return ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")


# -- naming the broken link ----------------------------------------------------------------------------
def _diagnose_upload_link(lam, s3, bucket, function_name, config, lab, good) -> None:
    where = f"arn:aws:s3:::{bucket}"
    grant = (f"lam.add_permission(FunctionName='{function_name}', StatementId='s3-uploads', "
             f"Action='lambda:InvokeFunction', Principal='s3.amazonaws.com', SourceArn='{where}', "
             "SourceAccount=<your account id>)")
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    targets = notification.get("LambdaFunctionConfigurations", [])
    mine = [t for t in targets if t["LambdaFunctionArn"].split(":")[6] == function_name]
    if not mine:
        refusals = [r for r in (lab.refusals if lab else []) if r["source"] == "s3"
                    and r["function"].split(":")[6] == function_name]
        if refusals:
            require(False, f"Broken link: S3 -> '{function_name}'. S3 refused your notification configuration "
                           f"('Unable to validate the following destination configurations') because it may not "
                           f"invoke the function: {refusals[-1]['reason']} Add the permission first: {grant}; "
                           "then call put_bucket_notification_configuration again.")
        if targets:
            others = sorted({t["LambdaFunctionArn"].split(":")[6] for t in targets})
            require(False, f"Broken link: S3 -> '{function_name}'. The bucket notifies {', '.join(others)}, not "
                           f"'{function_name}'. Put '{function_name}''s ARN in LambdaFunctionConfigurations.")
        other_kinds = [k for k in ("QueueConfigurations", "TopicConfigurations") if notification.get(k)]
        hint = (f" (It has {', '.join(other_kinds)}: those send to a queue or topic, not to a function.)"
                if other_kinds else "")
        require(False, f"Broken link: S3 -> '{function_name}'. The bucket '{bucket}' sends no notification to the "
                       f"function, so uploads go nowhere.{hint} Two steps: let S3 invoke the function ({grant}), "
                       f"then s3.put_bucket_notification_configuration(Bucket='{bucket}', NotificationConfiguration="
                       "{'LambdaFunctionConfigurations': [{'LambdaFunctionArn': <function ARN>, "
                       "'Events': ['s3:ObjectCreated:*'], 'Filter': {'Key': {'FilterRules': "
                       "[{'Name': 'suffix', 'Value': '.csv'}]}}}]}).")
    for target in mine:
        events = target.get("Events", [])
        if not any(e in ("s3:ObjectCreated:*", "s3:ObjectCreated:Put") for e in events):
            require(False, f"Broken link: S3 -> '{function_name}'. The notification fires on {events}; an upload "
                           "with put_object is 's3:ObjectCreated:Put'. Use 's3:ObjectCreated:*'.")
        rules = {r["Name"].lower(): r["Value"] for r in
                 (target.get("Filter") or {}).get("Key", {}).get("FilterRules", [])}
        if rules.get("prefix") or not ".csv".endswith(rules.get("suffix", "")):
            require(False, f"Broken link: S3 -> '{function_name}'. The notification's filter {rules} leaves out "
                           f"uploads such as '{good[0]}.csv' at the top of the bucket. Filter on the suffix '.csv' "
                           "only.")
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
    require(mappings, f"Broken link: table -> notify. No event source mapping reads the stream of '{table}': "
                      "create_event_source_mapping(EventSourceArn=<stream ARN>, FunctionName='notify', "
                      "StartingPosition='TRIM_HORIZON').")
    require(any(m["State"] in ("Enabled", "Enabling", "Creating", "Updating") for m in mappings),
            f"Broken link: table -> notify. The mapping from the stream of '{table}' is disabled: "
            "update_event_source_mapping(UUID=..., Enabled=True).")
    require(False, f"Broken link: notify -> inbox. The receipts reached the table, but their messages did not "
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
                           "was tried: put_function_event_invoke_config(FunctionName=..., DestinationConfig="
                           "{'OnFailure': {'Destination': <queue ARN>}}).")
        if on_success:
            require(False, f"Broken link: failures. '{function_name}' has an OnSuccess destination but no OnFailure "
                           "one. OnSuccess receives only the events that succeeded; use DestinationConfig="
                           "{'OnFailure': {'Destination': <queue ARN>}}.")
        require(False, f"Broken link: failures. '{function_name}' has no OnFailure destination, so a malformed "
                       "upload is retried twice and then dropped: nobody learns that a receipt was lost. Call "
                       "put_function_event_invoke_config(FunctionName=..., DestinationConfig={'OnFailure': "
                       "{'Destination': <ARN of the queue 'upload-failures'>}}).")
    require(on_failure.split(":")[2] == "sqs",
            f"Broken link: failures. The OnFailure destination of '{function_name}' is {on_failure}; this exercise "
            "asks for the SQS queue 'upload-failures' (its ARN comes from get_queue_attributes(..., "
            "AttributeNames=['QueueArn'])).")
    require(_queue_url(sqs, on_failure.split(":")[-1]) is not None,
            f"Broken link: failures. The OnFailure destination points at the queue '{on_failure.split(':')[-1]}', "
            "which does not exist. Use the ARN of 'upload-failures'.")
    role = config["Role"]
    require(_role_allows(role, "sqs:SendMessage"),
            f"Broken link: failures. Lambda sends the failure record *as the function's execution role*, and "
            f"{role.split('/')[-1]} may not call sqs:SendMessage (any more: put_function_event_invoke_config "
            "refuses a destination the role cannot send to, but a permission removed later only shows when a "
            "record is lost). Allow it: lab.allow('AmazonSQSFullAccess'), or better an "
            "inline policy (iam.put_role_policy) allowing sqs:SendMessage on the queue's ARN.")
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
