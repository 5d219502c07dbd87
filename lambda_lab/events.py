"""Sample events for every kind of source that invokes a Lambda function, the same on every run.

Like `sam local generate-event`, in Python: each builder returns a fresh dict shaped as AWS sends it, with
realistic defaults and keyword arguments for what you want to change.

>>> from lambda_lab import events
>>> events.s3_put(key="reports/May 2026.csv")["Records"][0]["s3"]["object"]["key"]
'reports/May+2026.csv'
>>> events.generate("sqs", bodies=["first", "second"])["Records"][1]["body"]
'second'

Ids come from a seeded generator and times from a fixed clock: `seed(n)` starts the ids again, and every
builder takes `now=` for another time. Shapes follow AWS's own sample events (SAM CLI's generate-event
templates, aws-lambda-go's and Powertools for AWS Lambda's test events) and the service guides; each
builder names its sources.

Introduced in notebook 02_functions_and_events.
"""

from __future__ import annotations

import base64
import difflib
import gzip
import hashlib
import json
from datetime import datetime
from types import MappingProxyType
from typing import Any, Callable, Iterable

from . import _event_shapes as _s
from ._event_shapes import ACCOUNT, REGION

__all__ = ["KINDS", "api_gateway_http", "api_gateway_rest", "cloudwatch_logs", "destination_record",
           "dynamodb_stream", "eventbridge", "function_url", "generate", "kinesis", "proxy_response", "s3_delete",
           "s3_put", "scheduled", "seed", "sns", "sqs", "sqs_batch_response"]

_EXECUTION_ROLE = "lambda-lab-execution-role"  # the role Lab() creates; named here so events stay free of moto


def seed(n: int = _s.DEFAULT_SEED) -> None:
    """Start every event's ids again from `n`: the same seed, the same events.

    Introduced in notebook 02_functions_and_events.
    """
    _s.rng.seed(n)


# --- HTTP: API Gateway REST (payload 1.0), HTTP API (payload 2.0), function URLs, and what handlers return ---

def api_gateway_rest(method: str = "GET", path: str = "/hello", query: str | dict | None = None,
                     headers: dict | None = None, body: Any = None, path_parameters: dict | None = None,
                     is_base64: bool = False, stage: str = "prod", resource: str | None = None, *,
                     stage_variables: dict | None = None, region: str = REGION, now: datetime | None = None,
                     **extra: Any) -> dict:
    """A REST API Lambda proxy request (payload 1.0); parts the request lacks are None, as API Gateway sends null.

    >>> event = api_gateway_rest("GET", "/orders/42", query={"expand": "items"}, path_parameters={"id": "42"})
    >>> event["resource"], event["queryStringParameters"], event["body"]
    ('/orders/{id}', {'expand': 'items'}, None)

    A dict or list body is sent as JSON text; bytes (or is_base64=True) as base64 with isBase64Encoded true.
    `extra` keys are set at the top level. Sources: SAM CLI template apigateway/AwsProxy.json (requestContext,
    requestContext.path with the stage); Powertools tests/events/apiGatewayProxyEvent.json (nulls, identity).

    Introduced in notebook 02_functions_and_events.
    """
    now = _s.clock(now)
    api_id = _s.lower_id(10)
    host = f"{api_id}.execute-api.{region}.amazonaws.com"
    text, is_json = _s.text_body(body)
    text, encoded = _s.encode_body(text, is_base64)
    header_pairs = _s.merged_headers(_s.default_headers(host, now, is_json), headers)
    query_pairs = _s.query_pairs(query)
    resource = resource or _s.resource_for(path, path_parameters)
    user_agent = dict((k.lower(), v) for k, v in header_pairs).get("user-agent", _s.USER_AGENT)
    identity = dict.fromkeys(("accessKey", "accountId", "caller", "cognitoAuthenticationProvider",
                              "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId",
                              "principalOrgId", "sourceIp", "user", "userAgent", "userArn"))
    identity.update(sourceIp=_s.SOURCE_IP, userAgent=user_agent)
    event = {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": dict(header_pairs), "multiValueHeaders": _s.multi(header_pairs),
        "queryStringParameters": dict(query_pairs) or None,
        "multiValueQueryStringParameters": _s.multi(query_pairs) or None,
        "pathParameters": {k: str(v) for k, v in path_parameters.items()} if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": api_id, "domainName": host, "domainPrefix": api_id,
            "extendedRequestId": _s.token(15, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") + "=",
            "httpMethod": method, "identity": identity, "path": f"/{stage}{path}", "protocol": "HTTP/1.1",
            "requestId": _s.uuid4(), "requestTime": _s.clf_time(now), "requestTimeEpoch": _s.epoch_ms(now),
            "resourceId": _s.lower_id(6), "resourcePath": resource, "stage": stage,
        },
        "body": text, "isBase64Encoded": encoded,
    }
    return {**event, **extra}


def api_gateway_http(method: str = "GET", path: str = "/hello", query: str | dict | None = None,
                     headers: dict | None = None, body: Any = None, path_parameters: dict | None = None,
                     is_base64: bool = False, *, cookies: list[str] | None = None, route_key: str | None = None,
                     stage: str = "$default", stage_variables: dict | None = None, region: str = REGION,
                     now: datetime | None = None, **extra: Any) -> dict:
    """An HTTP API Lambda request (payload 2.0): header names lower-case, parts the request lacks left out.

    >>> event = api_gateway_http("POST", "/orders", body={"item": "book"}, cookies=["session=abc"])
    >>> event["routeKey"], event["requestContext"]["http"]["method"], event["headers"]["content-type"]
    ('POST /orders', 'POST', 'application/json')

    Duplicate headers and query names are joined with commas (there are no multiValue* fields).
    `extra` keys are set at the top level. Sources: API Gateway developer guide, "Create AWS Lambda proxy
    integrations for HTTP APIs" (payload format 2.0); SAM CLI template apigateway/HttpApi.json; Powertools
    tests/events/apiGatewayProxyV2Event.json.

    Introduced in notebook 02_functions_and_events.
    """
    now = _s.clock(now)
    api_id = _s.lower_id(10)
    request_id = _s.token(15, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") + "="
    route_key = route_key or f"{method} {_s.resource_for(path, path_parameters)}"
    return _s.http_v2(method, path, query, headers, body, is_base64, cookies, route_key, stage, path_parameters,
                      stage_variables, ACCOUNT, api_id, f"{api_id}.execute-api.{region}.amazonaws.com", request_id,
                      now, extra)


def function_url(method: str = "GET", path: str = "/", query: str | dict | None = None,
                 headers: dict | None = None, body: Any = None, is_base64: bool = False, *,
                 cookies: list[str] | None = None, region: str = REGION, now: datetime | None = None,
                 **extra: Any) -> dict:
    """A request through a function URL (AuthType NONE): payload 2.0 on `<url-id>.lambda-url.<region>.on.aws`.

    >>> function_url("GET", "/", query="name=Ada")["queryStringParameters"]
    {'name': 'Ada'}

    Unlike API Gateway: routeKey and stage are always "$default", there are no pathParameters or
    stageVariables, and an unauthenticated caller's accountId is "anonymous". Sources: Lambda developer
    guide, "Invoking Lambda function URLs" (request payload); Powertools tests/events/lambdaFunctionUrlEvent.json.

    Introduced in notebook 02_functions_and_events.
    """
    now = _s.clock(now)
    url_id = _s.lower_id(32)
    return _s.http_v2(method, path, query, headers, body, is_base64, cookies, "$default", "$default", None, None,
                      "anonymous", url_id, f"{url_id}.lambda-url.{region}.on.aws", _s.uuid4(), now, extra)


def proxy_response(status: int = 200, body: Any = "", headers: dict | None = None, is_base64: bool = False,
                   **extra: Any) -> dict:
    """What a proxy handler returns for API Gateway or a function URL to turn into an HTTP response.

    >>> response = proxy_response(201, {"id": "order-1"})
    >>> response["statusCode"], response["headers"], response["body"]
    (201, {'Content-Type': 'application/json'}, '{"id": "order-1"}')

    `extra` adds fields such as `multiValueHeaders` (REST APIs) or `cookies` (payload 2.0). Source: the
    course's reference sheet (lambda-behaviour.md, "Event shapes"): statusCode, headers, body, isBase64Encoded.

    Introduced in notebook 02_functions_and_events.
    """
    text, is_json = _s.text_body(body)
    text, encoded = _s.encode_body(text, is_base64)
    headers = dict(headers or {})
    if is_json and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return {"statusCode": status, "headers": headers, "body": text if text is not None else "",
            "isBase64Encoded": encoded, **extra}


# --- S3 ---

def s3_put(bucket: str = "example-bucket", key: str = "uploads/photo 1.jpg", size: int = 1024,
           etag: str | None = None, region: str = REGION, *, version_id: str | None = None,
           now: datetime | None = None, **extra: Any) -> dict:
    """An S3 `ObjectCreated:Put` notification; the key arrives form-encoded ('photo 1.jpg' is 'photo+1.jpg').

    >>> from urllib.parse import unquote_plus
    >>> unquote_plus(s3_put(key="uploads/photo 1.jpg")["Records"][0]["s3"]["object"]["key"])
    'uploads/photo 1.jpg'

    `extra` keys are set on the record. Sources: S3 user guide, "Event message structure" (version 2.1
    record; keys form-encoded); aws-lambda-go events/testdata/s3-event-with-decoded.json.

    Introduced in notebook 02_functions_and_events.
    """
    obj = {"key": _s.s3_key(key), "size": size, "eTag": etag or _s.hex_id(32)}
    if version_id:
        obj["versionId"] = version_id
    return _s.s3_record("ObjectCreated:Put", bucket, obj, region, now, extra)


def s3_delete(bucket: str = "example-bucket", key: str = "uploads/photo 1.jpg", region: str = REGION, *,
              version_id: str | None = None, now: datetime | None = None, **extra: Any) -> dict:
    """An S3 `ObjectRemoved:Delete` notification: the object part carries only its key and sequencer.

    `extra` keys are set on the record. Sources: S3 user guide, "Event message structure"; SAM CLI template
    s3/S3Delete.json.

    Introduced in notebook 02_functions_and_events.
    """
    obj = {"key": _s.s3_key(key)}
    if version_id:
        obj["versionId"] = version_id
    return _s.s3_record("ObjectRemoved:Delete", bucket, obj, region, now, extra)


# --- Messaging: SQS, SNS ---

def sqs(bodies: Iterable[Any] | str = ("hello",), queue_arn: str | None = None, attributes: dict | None = None,
        *, message_attributes: dict | None = None, now: datetime | None = None, **extra: Any) -> dict:
    """A batch of SQS messages as an event source mapping delivers them, one record per body.

    >>> event = sqs(["first", {"orderId": 7}])
    >>> [r["body"] for r in event["Records"]]
    ['first', '{"orderId": 7}']

    `attributes` overrides the system attributes (say {"ApproximateReceiveCount": 3} for a retried message);
    `message_attributes` are the sender's, from plain values (str, int/float, bytes). A queue whose name ends
    in .fifo adds MessageGroupId, MessageDeduplicationId and SequenceNumber. `extra` keys are set on every
    record. Sources: SAM CLI template sqs/Sqs.json; aws-lambda-go events/testdata/sqs-event.json (message
    attributes); Powertools SqsSchema (which attributes are optional); SQS API reference, "Message".

    Introduced in notebook 02_functions_and_events.
    """
    now = _s.clock(now)
    queue_arn = queue_arn or f"arn:aws:sqs:{REGION}:{ACCOUNT}:my-queue"
    records = []
    for body in [bodies] if isinstance(bodies, (str, bytes, dict)) else bodies:
        text = body if isinstance(body, str) else body.decode() if isinstance(body, bytes) else json.dumps(body)
        sent = _s.epoch_ms(now)
        system = {"ApproximateReceiveCount": "1", "SentTimestamp": str(sent), "SenderId": f"AIDA{_s.token(17)}",
                  "ApproximateFirstReceiveTimestamp": str(sent + _s.rng.randint(5, 900))}
        if queue_arn.endswith(".fifo"):
            system.update(SequenceNumber=_s.digits(20), MessageGroupId="1",
                          MessageDeduplicationId=hashlib.sha256(text.encode()).hexdigest())
        system.update({k: str(v) for k, v in (attributes or {}).items()})
        shaped, attributes_md5 = _s.sqs_message_attributes(message_attributes)  # a fresh dict per record
        record = {"messageId": _s.uuid4(), "receiptHandle": "AQEB" + _s.b64_random(120), "body": text,
                  "attributes": system, "messageAttributes": shaped,
                  "md5OfBody": hashlib.md5(text.encode()).hexdigest()}
        if attributes_md5:
            record["md5OfMessageAttributes"] = attributes_md5
        record.update(eventSource="aws:sqs", eventSourceARN=queue_arn, awsRegion=_s.region_of(queue_arn))
        records.append({**record, **extra})
    return {"Records": records}


def sqs_batch_response(failed: Iterable[str | dict]) -> dict:
    """A partial batch response: only these messages go back to the queue (needs ReportBatchItemFailures).

    >>> sqs_batch_response(["059f36b4-87a3-44ab-83d2-661975830a7d"])
    {'batchItemFailures': [{'itemIdentifier': '059f36b4-87a3-44ab-83d2-661975830a7d'}]}

    Takes message ids or the records themselves. Kinesis and DynamoDB streams use the same shape with
    sequence numbers as identifiers. Source: the course's reference sheet (lambda-behaviour.md, "Event shapes").

    Introduced in notebook 02_functions_and_events.
    """
    ids = [item["messageId"] if isinstance(item, dict) else item for item in failed]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in ids]}


def sns(message: Any = "hello", subject: str | None = None, topic_arn: str | None = None,
        attributes: dict | None = None, *, now: datetime | None = None, **extra: Any) -> dict:
    """An SNS notification; SNS invokes a function with exactly one record.

    >>> sns({"orderId": 7}, subject="Order placed")["Records"][0]["Sns"]["Message"]
    '{"orderId": 7}'

    `attributes` are message attributes from plain values; a missing subject is None (null), as SNS sends
    it. `extra` keys are set on the record. Sources: SAM CLI template sns/Sns.json; aws-lambda-go
    events/testdata/sns-event.json; aws_lambda_events (Rust) fixture example-sns-event-pascal-case.json
    (real SigningCertUrl and UnsubscribeUrl forms).

    Introduced in notebook 02_functions_and_events.
    """
    now = _s.clock(now)
    topic_arn = topic_arn or f"arn:aws:sns:{REGION}:{ACCOUNT}:my-topic"
    region = _s.region_of(topic_arn)
    subscription_arn = f"{topic_arn}:{_s.uuid4()}"
    record = {
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": "Notification", "MessageId": _s.uuid4(), "TopicArn": topic_arn, "Subject": subject,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": _s.iso_ms(now), "SignatureVersion": "1", "Signature": _s.b64_random(256),
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-{_s.hex_id(32)}.pem",
            "UnsubscribeUrl": (f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
                               f"&SubscriptionArn={subscription_arn}"),
            "MessageAttributes": _s.sns_message_attributes(attributes),
        },
    }
    return {"Records": [{**record, **extra}]}


# --- Streams: DynamoDB, Kinesis ---

_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
_SAMPLE_ITEM = {"status": "PLACED", "total": 42}


def dynamodb_stream(event_name: str = "INSERT", keys: dict | None = None, new_image: dict | None = None,
                    old_image: dict | None = None, view_type: str = "NEW_AND_OLD_IMAGES",
                    stream_arn: str | None = None, *, now: datetime | None = None, **extra: Any) -> dict:
    """One DynamoDB stream record, items given as plain Python and sent in DynamoDB's typed JSON.

    >>> record = dynamodb_stream("MODIFY", {"id": "order-1"}, {"status": "SHIPPED"})["Records"][0]
    >>> record["dynamodb"]["NewImage"]["status"], "OldImage" in record["dynamodb"]
    ({'S': 'SHIPPED'}, True)

    Images hold the keys too. Which images appear follows the event and the view type: INSERT has no
    OldImage, REMOVE no NewImage, KEYS_ONLY neither. `extra` keys are set on the record. Sources: SAM CLI
    template dynamodb/DynamoDBUpdate.json (INSERT, MODIFY and REMOVE records); aws-lambda-go
    events/testdata/dynamodb-event.json (every attribute type); DynamoDB guide, StreamViewType values.

    Introduced in notebook 02_functions_and_events.
    """
    if event_name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ValueError(f"event_name must be 'INSERT', 'MODIFY' or 'REMOVE', not {event_name!r}")
    if view_type not in _VIEW_TYPES:
        raise ValueError(f"view_type must be one of {', '.join(_VIEW_TYPES)}, not {view_type!r}")
    if event_name == "INSERT" and old_image is not None:
        raise ValueError("an INSERT record has no OldImage: the item did not exist before")
    if event_name == "REMOVE" and new_image is not None:
        raise ValueError("a REMOVE record has no NewImage: the item is gone")
    now = _s.clock(now)
    keys = keys or {"id": "order-1"}
    stream_arn = stream_arn or f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/2026-01-01T00:00:00.000"
    if event_name == "MODIFY" and new_image is None:
        new_image = {**_SAMPLE_ITEM, "status": "SHIPPED"}
    new = {**keys, **(new_image if new_image is not None else _SAMPLE_ITEM)}
    old = {**keys, **(old_image if old_image is not None else _SAMPLE_ITEM)}
    section: dict[str, Any] = {"ApproximateCreationDateTime": int(now.timestamp()), "Keys": _s.dynamodb_image(keys)}
    if event_name != "REMOVE" and view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        section["NewImage"] = _s.dynamodb_image(new)
    if event_name != "INSERT" and view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        section["OldImage"] = _s.dynamodb_image(old)
    section.update(SequenceNumber=_s.digits(28),
                   SizeBytes=_s.dynamodb_size(section["Keys"], section.get("NewImage"), section.get("OldImage")),
                   StreamViewType=view_type)
    record = {"eventID": _s.hex_id(32), "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
              "awsRegion": _s.region_of(stream_arn), "dynamodb": section, "eventSourceARN": stream_arn}
    return {"Records": [{**record, **extra}]}


def kinesis(records: Iterable[Any] | bytes | str = (b"hello",), stream_arn: str | None = None,
            partition_key: str = "1", *, now: datetime | None = None, **extra: Any) -> dict:
    """A batch of Kinesis records; each `data` is base64, of bytes, text, or a dict/list sent as JSON.

    >>> import base64
    >>> base64.b64decode(kinesis([{"temp": 21.5}])["Records"][0]["kinesis"]["data"])
    b'{"temp": 21.5}'

    `extra` keys are set on every record. Sources: SAM CLI template kinesis/Kinesis.json; Powertools
    tests/events/kinesisStreamEvent.json.

    Introduced in notebook 02_functions_and_events.
    """
    now = _s.clock(now)
    stream_arn = stream_arn or f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/my-stream"
    sequence = int(_s.digits(56))
    out = []
    for i, item in enumerate([records] if isinstance(records, (bytes, str, dict)) else records):
        data = item if isinstance(item, bytes) else (item if isinstance(item, str) else json.dumps(item)).encode()
        sequence += _s.rng.randint(10**20, 10**21)  # later records, larger numbers
        record = {
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": partition_key,
                        "sequenceNumber": str(sequence), "data": base64.b64encode(data).decode(),
                        "approximateArrivalTimestamp": round(now.timestamp() + i / 1000, 3)},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shardId-000000000000:{sequence}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/{_EXECUTION_ROLE}",
            "awsRegion": _s.region_of(stream_arn), "eventSourceARN": stream_arn,
        }
        out.append({**record, **extra})
    return {"Records": out}


# --- EventBridge, CloudWatch Logs, async destinations ---

def eventbridge(detail_type: str = "Order Placed", source: str = "com.example.orders", detail: dict | None = None,
                resources: list[str] | None = None, *, region: str = REGION, now: datetime | None = None,
                **extra: Any) -> dict:
    """An EventBridge event as a rule delivers it; `detail` defaults to a sample order.

    >>> eventbridge(detail={"orderId": "order-9"})["detail-type"]
    'Order Placed'

    `extra` keys are set at the top level. Sources: SAM CLI template cloudwatch/ScheduledEvent.json (the
    envelope every EventBridge event shares); Powertools EventBridgeModel.

    Introduced in notebook 02_functions_and_events.
    """
    now = _s.clock(now)
    event = {"version": "0", "id": _s.uuid4(), "detail-type": detail_type, "source": source, "account": ACCOUNT,
             "time": _s.iso_s(now), "region": region, "resources": list(resources or []),
             "detail": dict(detail) if detail is not None else {"orderId": "order-1", "total": 42}}
    return {**event, **extra}


def scheduled(rule: str = "my-schedule", *, region: str = REGION, now: datetime | None = None, **extra: Any) -> dict:
    """The event a schedule rule (`rate(5 minutes)`, `cron(...)`) sends: empty detail, the rule's ARN in resources.

    >>> scheduled()["resources"]
    ['arn:aws:events:us-east-1:123456789012:rule/my-schedule']

    Source: SAM CLI template cloudwatch/ScheduledEvent.json.

    Introduced in notebook 02_functions_and_events.
    """
    return eventbridge("Scheduled Event", "aws.events", {}, [f"arn:aws:events:{region}:{ACCOUNT}:rule/{rule}"],
                       region=region, now=now, **extra)


def cloudwatch_logs(log_group: str = "/aws/lambda/my-function", log_stream: str | None = None,
                    messages: Iterable[str] | str = ("[ERROR] payment declined",), *, filter_name: str = "errors",
                    now: datetime | None = None, **extra: Any) -> dict:
    """What a CloudWatch Logs subscription filter sends: {"awslogs": {"data": base64 of gzipped JSON}}.

    >>> import base64, gzip, json
    >>> data = cloudwatch_logs(messages=["hi"])["awslogs"]["data"]
    >>> json.loads(gzip.decompress(base64.b64decode(data)))["logEvents"][0]["message"]
    'hi'

    `extra` keys are set in the decoded payload (beside logGroup, logEvents...). Sources: SAM CLI template
    cloudwatch/CloudwatchLogs.json (decoded: messageType, owner, logGroup, logStream, subscriptionFilters,
    logEvents); Powertools CloudWatchLogsSchema docs (56-digit event ids).

    Introduced in notebook 02_functions_and_events.
    """
    now = _s.clock(now)
    log_stream = log_stream or f"{now:%Y/%m/%d}/[$LATEST]{_s.hex_id(32)}"
    start = _s.epoch_ms(now)
    payload = {"messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": log_group, "logStream": log_stream,
               "subscriptionFilters": [filter_name],
               "logEvents": [{"id": _s.digits(56), "timestamp": start + i, "message": message}
                             for i, message in enumerate([messages] if isinstance(messages, str) else messages)],
               **extra}
    # mtime=0: the same events give the same bytes, so the notebook shows the same data on every run
    data = gzip.compress(json.dumps(payload).encode(), mtime=0)
    return {"awslogs": {"data": base64.b64encode(data).decode()}}


_CONDITIONS = ("Success", "RetriesExhausted", "EventAgeExceeded")


def destination_record(request_payload: Any = None, response_payload: Any = None, condition: str = "Success",
                       function_arn: str | None = None, approximate_invoke_count: int | None = None,
                       function_error: str | None = None, executed_version: str = "$LATEST", *,
                       status_code: int = 200, now: datetime | None = None, **extra: Any) -> dict:
    """The record an asynchronous invocation sends to its OnSuccess or OnFailure destination.

    >>> record = destination_record({"orderId": 7}, condition="RetriesExhausted")
    >>> record["requestContext"]["approximateInvokeCount"], record["responseContext"]["functionError"]
    (3, 'Unhandled')

    The invoke count defaults to 3 for RetriesExhausted (the first try and the two default retries), else 1.
    A failure without `function_error` is "Unhandled" (what modern runtimes report) and without
    `response_payload` carries a sample error; success has no functionError. The function ARN is qualified
    with the version that ran. `extra` keys are set at the top level. An EventBridge destination receives
    this record as the `detail` of `eventbridge("Lambda Function Invocation Result - Success", "lambda", ...)`.
    Sources: Lambda developer guide, "Capturing records of Lambda asynchronous invocations"; the course's
    reference sheet (lambda-behaviour.md, "Asynchronous invocation").

    Introduced in notebook 02_functions_and_events.
    """
    if condition not in _CONDITIONS:
        raise ValueError(f"condition must be one of {', '.join(_CONDITIONS)}, not {condition!r}")
    now = _s.clock(now)
    request_id = _s.uuid4()
    function_arn = function_arn or f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-function"
    if function_arn.count(":") == 6:  # unqualified: the record names the version that ran
        function_arn = f"{function_arn}:{executed_version}"
    failed = condition != "Success"
    if approximate_invoke_count is None:
        approximate_invoke_count = 3 if condition == "RetriesExhausted" else 1
    if failed and response_payload is None:
        response_payload = {"errorMessage": "payment declined", "errorType": "Exception", "requestId": request_id,
                            "stackTrace": ['  File "/var/task/app.py", line 5, in handler\n'
                                           '    raise Exception("payment declined")\n']}
    response_context: dict[str, Any] = {"statusCode": status_code, "executedVersion": executed_version}
    if failed or function_error:
        response_context["functionError"] = function_error or "Unhandled"
    record = {"version": "1.0", "timestamp": _s.iso_ms(now),
              "requestContext": {"requestId": request_id, "functionArn": function_arn, "condition": condition,
                                 "approximateInvokeCount": approximate_invoke_count},
              "requestPayload": request_payload if request_payload is not None else {"orderId": "order-1"},
              "responseContext": response_context, "responsePayload": response_payload}
    return {**record, **extra}


# --- One entry point, for widgets and quick looks ---

KINDS: MappingProxyType[str, Callable[..., dict]] = MappingProxyType({
    "apigw-rest": api_gateway_rest, "apigw-http": api_gateway_http, "function-url": function_url,
    "s3-put": s3_put, "s3-delete": s3_delete, "sqs": sqs, "sns": sns, "dynamodb": dynamodb_stream,
    "kinesis": kinesis, "eventbridge": eventbridge, "scheduled": scheduled, "cloudwatch-logs": cloudwatch_logs,
    "destination": destination_record,
})
"""Every kind of event by short name, in the order a dropdown shows them; each maps to its builder."""


def generate(kind: str, **overrides: Any) -> dict:
    """The event of one kind, by its short name in KINDS, with the builder's keyword arguments.

    >>> generate("s3-put", bucket="photos", now=datetime(2026, 5, 1))["Records"][0]["eventTime"]
    '2026-05-01T00:00:00.000Z'

    Introduced in notebook 02_functions_and_events.
    """
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown event kind {kind!r}.{hint} Kinds: {', '.join(KINDS)}.")
    return KINDS[kind](**overrides)
