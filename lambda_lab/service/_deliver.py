"""Where failed or finished asynchronous events go: DLQs and destinations, through plain boto3.

The lab's own process calls the lab's AWS with boto3 like any client, so a delivery lands exactly where
a learner's `receive_message` or `get_object` will look for it.
"""

from __future__ import annotations

import json
import threading
import time

import boto3

_session_lock = threading.Lock()
_clients: dict = {}


def _client(service: str, region: str):
    with _session_lock:  # boto3's default session is not safe to share while creating clients
        key = (service, region)
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(service, region_name=region)
        return _clients[key]


def forget_clients() -> None:
    """A new lab (or an uninstall): clients made for the last one carry its credentials and endpoint."""
    with _session_lock:
        _clients.clear()


def _parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN."""
    _, _, service, region, account, resource = arn.split(":", 5)
    return service, region, account, resource


def first_kilobyte(text: str) -> str:
    """The first 1,024 bytes of `text` in UTF-8, less a character cut in two: first_kilobyte("é" * 600) is 512 é."""
    return text.encode()[:1024].decode(errors="ignore")


def send_to_dead_letter(arn: str, event: bytes, request_id: str, status: int, message: str) -> None:
    """The original event, with RequestID, ErrorCode and ErrorMessage attributes, as Lambda sends it."""
    attributes = {"RequestID": {"DataType": "String", "StringValue": request_id},
                  "ErrorCode": {"DataType": "Number", "StringValue": str(status)},
                  "ErrorMessage": {"DataType": "String", "StringValue": first_kilobyte(message) or "(none)"}}
    service, region, account, name = _parts(arn)
    body = event.decode() if event else "{}"
    if service == "sqs":
        sqs = _client("sqs", region)
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    elif service == "sns":
        _client("sns", region).publish(TopicArn=arn, Message=body, MessageAttributes=attributes)
    else:
        raise ValueError(f"a dead-letter queue must be an SQS queue or an SNS topic, not {arn}")


def send_record(arn: str, record: dict, success: bool) -> None:
    """A destination record to an SQS queue, SNS topic, function, EventBridge bus or (failures) S3 bucket."""
    service, region, account, resource = _parts(arn)
    text = json.dumps(record)
    if service == "sqs":
        sqs = _client("sqs", region)
        url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=text)
    elif service == "sns":
        _client("sns", region).publish(TopicArn=arn, Message=text)
    elif service == "lambda":
        _client("lambda", region).invoke(FunctionName=arn, InvocationType="Event", Payload=text.encode())
    elif service == "events":
        detail_type = "Lambda Function Invocation Result - " + ("Success" if success else "Failure")
        _client("events", region).put_events(Entries=[{"Source": "lambda", "DetailType": detail_type,
                                                       "Detail": text, "EventBusName": arn}])
    elif service == "s3" and not success:
        context = record["requestContext"]
        day = time.strftime("%Y/%m/%d", time.gmtime())
        key = f"aws/lambda/async/{context['functionArn'].split(':')[6]}/{day}/{context['requestId']}"
        _client("s3", region or "us-east-1").put_object(Bucket=resource, Key=key, Body=text.encode())
    else:
        raise ValueError(f"{arn} cannot be an {'on-success' if success else 'on-failure'} destination")
