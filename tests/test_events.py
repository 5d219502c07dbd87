"""lambda_lab.events: every kind of event has the shape AWS documents, and a real handler can read it.

The expected shapes below are transcribed from AWS's own sample events: SAM CLI's `generate-event`
templates (samcli/lib/generated_sample_events/events/...), aws-lambda-go's events/testdata and Powertools
for AWS Lambda's tests/events. Each spec names its file.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, unquote_plus

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

import lambda_lab
from lambda_lab import events

NULL = type(None)


def assert_shape(value, spec, where="event"):
    """`spec` is a type (or tuple of types), a dict of key -> spec, or [spec] for a list of such items."""
    if isinstance(spec, dict):
        assert isinstance(value, dict), f"{where} should be an object, is {value!r}"
        missing = sorted(set(spec) - set(value))
        assert not missing, f"{where} lacks {missing}"
        for key, sub in spec.items():
            assert_shape(value[key], sub, f"{where}.{key}")
    elif isinstance(spec, list):
        assert isinstance(value, list) and value, f"{where} should be a non-empty list, is {value!r}"
        for i, item in enumerate(value):
            assert_shape(item, spec[0], f"{where}[{i}]")
    else:
        types = spec if isinstance(spec, tuple) else (spec,)
        # JSON has no int/bool split: a bool must not pass for a number, nor a number for a bool
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        assert ok, f"{where} should be {spec}, is {value!r}"


@pytest.fixture(autouse=True)
def _fresh_seed():
    events.seed()
    yield
    events.seed()


# --- API Gateway REST (payload 1.0) ---

# SAM CLI apigateway/AwsProxy.json and Powertools apiGatewayProxyEvent.json
REST_V1 = {
    "resource": str, "path": str, "httpMethod": str, "headers": dict, "multiValueHeaders": dict,
    "queryStringParameters": (dict, NULL), "multiValueQueryStringParameters": (dict, NULL),
    "pathParameters": (dict, NULL), "stageVariables": (dict, NULL),
    "requestContext": {"accountId": str, "apiId": str, "domainName": str, "domainPrefix": str,
                       "extendedRequestId": str, "httpMethod": str, "identity": {"sourceIp": str, "userAgent": str},
                       "path": str, "protocol": str, "requestId": str, "requestTime": str,
                       "requestTimeEpoch": int, "resourceId": str, "resourcePath": str, "stage": str},
    "body": (str, NULL), "isBase64Encoded": bool,
}
# Powertools apiGatewayProxyEvent.json, requestContext.identity without the mTLS clientCert
IDENTITY_KEYS = {"accessKey", "accountId", "caller", "cognitoAuthenticationProvider", "cognitoAuthenticationType",
                 "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId", "sourceIp", "user", "userAgent",
                 "userArn"}


def test_rest_api_event_has_the_proxy_shape_with_nulls_where_aws_sends_null():
    event = events.api_gateway_rest()
    assert_shape(event, REST_V1)
    assert set(event["requestContext"]["identity"]) == IDENTITY_KEYS
    assert (event["httpMethod"], event["path"], event["resource"]) == ("GET", "/hello", "/hello")
    assert event["requestContext"]["path"] == "/prod/hello"  # the stage is part of the context's path
    context = event["requestContext"]
    assert context["domainName"] == f"{context['apiId']}.execute-api.us-east-1.amazonaws.com"
    for key in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables", "body"):
        assert event[key] is None, key
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["requestTime"] == "15/Jan/2026:09:30:00 +0000"
    assert event["requestContext"]["requestTimeEpoch"] == 1768469400000


def test_rest_api_repeated_query_names_and_headers_keep_the_last_value_and_all_in_multi_value():
    event = events.api_gateway_rest(query="tag=a&tag=b&page=2", headers={"X-Tag": ["1", "2"], "user-agent": "me"})
    assert event["queryStringParameters"] == {"tag": "b", "page": "2"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "page": ["2"]}
    assert event["headers"]["X-Tag"] == "2" and event["multiValueHeaders"]["X-Tag"] == ["1", "2"]
    # a header the caller sets replaces the default of the same name, whatever its case
    assert "User-Agent" not in event["headers"] and event["headers"]["user-agent"] == "me"
    assert event["requestContext"]["identity"]["userAgent"] == "me"


def test_rest_api_bodies_json_bytes_and_base64():
    json_event = events.api_gateway_rest("POST", body={"item": "book"})
    assert json.loads(json_event["body"]) == {"item": "book"}
    assert json_event["headers"]["Content-Type"] == "application/json" and not json_event["isBase64Encoded"]
    binary = events.api_gateway_rest("PUT", body=b"\x89PNG")
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\x89PNG"
    text = events.api_gateway_rest("PUT", body="hi", is_base64=True)
    assert text["isBase64Encoded"] is True and base64.b64decode(text["body"]) == b"hi"


def test_rest_api_resource_comes_from_path_parameters():
    event = events.api_gateway_rest("GET", "/orders/42/items/7", path_parameters={"id": 42, "item": "7"})
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/orders/{id}/items/{item}"
    assert event["pathParameters"] == {"id": "42", "item": "7"}
    assert events.api_gateway_rest(path="/x/y", resource="/{proxy+}")["resource"] == "/{proxy+}"


# --- HTTP API (payload 2.0) and function URLs ---

# API Gateway guide "payload format 2.0", SAM CLI apigateway/HttpApi.json, Powertools apiGatewayProxyV2Event.json
HTTP_V2 = {
    "version": str, "routeKey": str, "rawPath": str, "rawQueryString": str, "headers": dict,
    "requestContext": {"accountId": str, "apiId": str, "domainName": str, "domainPrefix": str,
                       "http": {"method": str, "path": str, "protocol": str, "sourceIp": str, "userAgent": str},
                       "requestId": str, "routeKey": str, "stage": str, "time": str, "timeEpoch": int},
    "isBase64Encoded": bool,
}


def test_http_api_event_has_the_v2_shape_and_lower_case_headers():
    event = events.api_gateway_http("POST", "/orders", query={"tag": ["a", "b"], "q": "x y"}, body={"n": 1},
                                    headers={"X-Custom": "1", "X-Custom-List": ["a", "b"]}, cookies=["s=1", "t=2"])
    assert_shape(event, HTTP_V2)
    assert event["version"] == "2.0" and event["routeKey"] == event["requestContext"]["routeKey"] == "POST /orders"
    assert all(name == name.lower() for name in event["headers"]), event["headers"]
    assert event["headers"]["x-custom"] == "1" and event["headers"]["x-custom-list"] == "a,b"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "x y"}  # repeats joined by commas
    assert parse_qsl(event["rawQueryString"]) == [("tag", "a"), ("tag", "b"), ("q", "x y")]
    assert event["cookies"] == ["s=1", "t=2"] and json.loads(event["body"]) == {"n": 1}
    assert event["requestContext"]["http"]["method"] == "POST" and event["requestContext"]["stage"] == "$default"
    assert "multiValueHeaders" not in event and "multiValueQueryStringParameters" not in event


def test_http_api_leaves_out_what_the_request_lacks():
    event = events.api_gateway_http()
    for key in ("cookies", "queryStringParameters", "body", "pathParameters", "stageVariables"):
        assert key not in event, key
    assert event["rawQueryString"] == "" and event["routeKey"] == "GET /hello"
    with_params = events.api_gateway_http("GET", "/orders/42", path_parameters={"id": "42"})
    assert with_params["routeKey"] == "GET /orders/{id}" and with_params["pathParameters"] == {"id": "42"}


def test_function_url_event_uses_the_v2_shape_on_a_lambda_url_domain():
    event = events.function_url("POST", "/hook", body="ping", region="eu-west-1")
    assert_shape(event, HTTP_V2)
    context = event["requestContext"]
    assert re.fullmatch(r"[a-z0-9]{32}\.lambda-url\.eu-west-1\.on\.aws", context["domainName"])
    assert context["domainName"] == f"{context['apiId']}.lambda-url.eu-west-1.on.aws" == event["headers"]["host"]
    assert event["routeKey"] == context["routeKey"] == context["stage"] == "$default"
    assert context["accountId"] == "anonymous"  # AuthType NONE (Powertools lambdaFunctionUrlEvent.json)
    assert "pathParameters" not in event and "stageVariables" not in event


def test_proxy_response_has_status_headers_body_and_base64_flag():
    assert events.proxy_response() == {"statusCode": 200, "headers": {}, "body": "", "isBase64Encoded": False}
    response = events.proxy_response(201, {"id": 1}, headers={"X-Id": "1"})
    assert response["headers"] == {"X-Id": "1", "Content-Type": "application/json"}
    assert json.loads(response["body"]) == {"id": 1}
    image = events.proxy_response(200, b"\x00\x01", headers={"content-type": "image/png"})
    assert image["isBase64Encoded"] and base64.b64decode(image["body"]) == b"\x00\x01"
    assert image["headers"] == {"content-type": "image/png"}


# --- S3 ---

# S3 user guide "Event message structure" (version 2.1); SAM CLI s3/S3Delete.json
S3_RECORD = {
    "eventVersion": str, "eventSource": str, "awsRegion": str, "eventTime": str, "eventName": str,
    "userIdentity": {"principalId": str}, "requestParameters": {"sourceIPAddress": str},
    "responseElements": {"x-amz-request-id": str, "x-amz-id-2": str},
    "s3": {"s3SchemaVersion": str, "configurationId": str,
           "bucket": {"name": str, "ownerIdentity": {"principalId": str}, "arn": str},
           "object": {"key": str, "sequencer": str}},
}


def test_s3_put_record_shape_and_values():
    event = events.s3_put(bucket="photos", size=2048, region="eu-west-1")
    assert_shape(event, {"Records": [S3_RECORD]})
    record = event["Records"][0]
    assert (record["eventVersion"], record["eventSource"]) == ("2.1", "aws:s3")
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["awsRegion"] == "eu-west-1" and record["eventTime"] == "2026-01-15T09:30:00.000Z"
    assert (record["s3"]["bucket"]["name"], record["s3"]["bucket"]["arn"]) == ("photos", "arn:aws:s3:::photos")
    obj = record["s3"]["object"]
    assert obj["size"] == 2048 and re.fullmatch(r"[0-9a-f]{32}", obj["eTag"])
    assert re.fullmatch(r"[0-9A-F]{18}", obj["sequencer"])
    assert "versionId" not in obj and events.s3_put(version_id="v1")["Records"][0]["s3"]["object"]["versionId"] == "v1"


@pytest.mark.parametrize("key, sent", [
    ("uploads/photo 1.jpg", "uploads/photo+1.jpg"),  # the S3 guide's own example: spaces become '+'
    ("a+b.txt", "a%2Bb.txt"),                        # so a real '+' must be escaped
    ("logs/dt=2026-01-15/part-0.csv", "logs/dt%3D2026-01-15/part-0.csv"),
    ("café/menü.pdf", "caf%C3%A9/men%C3%BC.pdf"),
])
def test_s3_keys_arrive_url_encoded_and_unquote_plus_restores_them(key, sent):
    arrived = events.s3_put(key=key)["Records"][0]["s3"]["object"]["key"]
    assert arrived == sent and unquote_plus(arrived) == key
    assert events.s3_delete(key=key)["Records"][0]["s3"]["object"]["key"] == sent


def test_s3_delete_record_carries_only_key_and_sequencer():
    record = events.s3_delete(bucket="photos")["Records"][0]
    assert_shape(record, S3_RECORD)
    assert record["eventName"] == "ObjectRemoved:Delete" and set(record["s3"]["object"]) == {"key", "sequencer"}


def test_s3_sequencer_grows_with_time():
    early = events.s3_put(now=datetime(2026, 1, 1, tzinfo=timezone.utc))["Records"][0]["s3"]["object"]["sequencer"]
    late = events.s3_put(now=datetime(2026, 1, 2, tzinfo=timezone.utc))["Records"][0]["s3"]["object"]["sequencer"]
    assert len(early) == len(late) and int(late, 16) > int(early, 16)


# --- SQS ---

# SAM CLI sqs/Sqs.json; aws-lambda-go sqs-event.json for message attributes
SQS_RECORD = {
    "messageId": str, "receiptHandle": str, "body": str,
    "attributes": {"ApproximateReceiveCount": str, "SentTimestamp": str, "SenderId": str,
                   "ApproximateFirstReceiveTimestamp": str},
    "messageAttributes": dict, "md5OfBody": str, "eventSource": str, "eventSourceARN": str, "awsRegion": str,
}


def test_sqs_records_shape_real_md5_and_region_from_the_queue_arn():
    arn = "arn:aws:sqs:eu-central-1:123456789012:orders"
    event = events.sqs(["hello", {"orderId": 7}, "héllo"], queue_arn=arn)
    assert_shape(event, {"Records": [SQS_RECORD]})
    assert [r["body"] for r in event["Records"]] == ["hello", '{"orderId": 7}', "héllo"]
    for record in event["Records"]:
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert (record["eventSource"], record["eventSourceARN"]) == ("aws:sqs", arn)
        assert record["awsRegion"] == "eu-central-1"
        assert record["messageAttributes"] == {} and "md5OfMessageAttributes" not in record
        attributes = record["attributes"]
        assert attributes["SentTimestamp"] == "1768469400000"
        assert int(attributes["ApproximateFirstReceiveTimestamp"]) >= int(attributes["SentTimestamp"])
    assert len({r["messageId"] for r in event["Records"]}) == 3
    assert events.sqs("one")["Records"][0]["body"] == "one"  # a single body needs no list


def test_sqs_attributes_override_and_fifo_queues_add_their_own():
    record = events.sqs(attributes={"ApproximateReceiveCount": 3})["Records"][0]
    assert record["attributes"]["ApproximateReceiveCount"] == "3"
    fifo = events.sqs(queue_arn="arn:aws:sqs:us-east-1:123456789012:orders.fifo")["Records"][0]["attributes"]
    assert {"MessageGroupId", "MessageDeduplicationId", "SequenceNumber"} <= set(fifo)


def test_sqs_message_attributes_and_their_md5_match_what_sqs_computes():
    from moto import mock_aws

    plain = {"source": "web", "priority": 5, "blob": b"\x00\x01"}
    record = events.sqs(["hi"], message_attributes=plain)["Records"][0]
    assert record["messageAttributes"]["source"] == {"stringValue": "web", "stringListValues": [],
                                                     "binaryListValues": [], "dataType": "String"}
    assert record["messageAttributes"]["priority"]["dataType"] == "Number"
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    with mock_aws():  # SQS's own digest of the same attributes, as SendMessage reports it
        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName="md5-check")["QueueUrl"]
        sent = client.send_message(QueueUrl=url, MessageBody="hi", MessageAttributes={
            "source": {"DataType": "String", "StringValue": "web"},
            "priority": {"DataType": "Number", "StringValue": "5"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]


def test_sqs_batch_response_lists_the_failed_message_ids():
    event = events.sqs(["ok", "bad"])
    failed = [r for r in event["Records"] if r["body"] == "bad"]
    expected = {"batchItemFailures": [{"itemIdentifier": failed[0]["messageId"]}]}
    assert events.sqs_batch_response(failed) == expected
    assert events.sqs_batch_response([failed[0]["messageId"]]) == expected
    assert events.sqs_batch_response([]) == {"batchItemFailures": []}


# --- SNS ---

# SAM CLI sns/Sns.json; aws-lambda-go sns-event.json
SNS_RECORD = {
    "EventSource": str, "EventVersion": str, "EventSubscriptionArn": str,
    "Sns": {"Type": str, "MessageId": str, "TopicArn": str, "Subject": (str, NULL), "Message": str,
            "Timestamp": str, "SignatureVersion": str, "Signature": str, "SigningCertUrl": str,
            "UnsubscribeUrl": str, "MessageAttributes": dict},
}


def test_sns_record_shape_and_values():
    topic = "arn:aws:sns:eu-west-1:123456789012:orders"
    event = events.sns({"orderId": 7}, topic_arn=topic, attributes={"kind": "order", "total": 9.5})
    assert_shape(event, {"Records": [SNS_RECORD]})
    assert len(event["Records"]) == 1  # SNS invokes with exactly one record
    record = event["Records"][0]
    sns = record["Sns"]
    assert (record["EventSource"], record["EventVersion"], sns["Type"]) == ("aws:sns", "1.0", "Notification")
    assert record["EventSubscriptionArn"].startswith(topic + ":") and sns["TopicArn"] == topic
    assert json.loads(sns["Message"]) == {"orderId": 7} and sns["Subject"] is None
    assert sns["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"},
                                        "total": {"Type": "Number", "Value": "9.5"}}
    assert sns["SigningCertUrl"].startswith("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-")
    assert sns["UnsubscribeUrl"].endswith("SubscriptionArn=" + record["EventSubscriptionArn"])
    assert events.sns(subject="Hi")["Records"][0]["Sns"]["Subject"] == "Hi"


# --- DynamoDB streams ---

# SAM CLI dynamodb/DynamoDBUpdate.json; aws-lambda-go dynamodb-event.json
DYNAMODB_RECORD = {
    "eventID": str, "eventName": str, "eventVersion": str, "eventSource": str, "awsRegion": str,
    "dynamodb": {"ApproximateCreationDateTime": int, "Keys": dict, "SequenceNumber": str, "SizeBytes": int,
                 "StreamViewType": str},
    "eventSourceARN": str,
}


def test_dynamodb_images_round_trip_through_boto3s_type_deserializer():
    item = {"name": "Ada", "age": 36, "score": 9.75, "admin": True, "manager": None,
            "address": {"city": "London", "zip": "NW1"}, "langs": ["en", {"level": 2}],
            "tags": {"b", "a", "c"}, "lucky": {7, 3}}
    event = events.dynamodb_stream("INSERT", keys={"id": "u-1"}, new_image=item)
    assert_shape(event, {"Records": [DYNAMODB_RECORD]})
    record = event["Records"][0]
    assert (record["eventVersion"], record["eventSource"]) == ("1.1", "aws:dynamodb")
    image = record["dynamodb"]["NewImage"]
    assert image["age"] == {"N": "36"} and image["admin"] == {"BOOL": True} and image["manager"] == {"NULL": True}
    assert image["address"]["M"]["city"] == {"S": "London"} and image["langs"]["L"][0] == {"S": "en"}
    assert image["tags"] == {"SS": ["a", "b", "c"]}  # sorted, so the event is the same on every run
    deserialize = TypeDeserializer().deserialize
    back = {name: deserialize(value) for name, value in json.loads(json.dumps(image)).items()}
    assert back == {"id": "u-1", **item, "age": Decimal(36), "score": Decimal("9.75"),
                    "langs": ["en", {"level": Decimal(2)}], "lucky": {Decimal(3), Decimal(7)}}
    assert {k: deserialize(v) for k, v in record["dynamodb"]["Keys"].items()} == {"id": "u-1"}


def test_dynamodb_binary_values_are_base64_text():
    event = events.dynamodb_stream(new_image={"raw": b"\x00\x01", "raws": {b"\x02"}})
    image = event["Records"][0]["dynamodb"]["NewImage"]
    assert image["raw"] == {"B": "AAE="} and image["raws"] == {"BS": ["Ag=="]}


@pytest.mark.parametrize("event_name, view_type, images", [
    ("INSERT", "NEW_AND_OLD_IMAGES", {"NewImage"}), ("MODIFY", "NEW_AND_OLD_IMAGES", {"NewImage", "OldImage"}),
    ("REMOVE", "NEW_AND_OLD_IMAGES", {"OldImage"}), ("MODIFY", "NEW_IMAGE", {"NewImage"}),
    ("MODIFY", "OLD_IMAGE", {"OldImage"}), ("INSERT", "OLD_IMAGE", set()), ("REMOVE", "NEW_IMAGE", set()),
    ("MODIFY", "KEYS_ONLY", set()),
])
def test_dynamodb_images_follow_the_event_and_the_view_type(event_name, view_type, images):
    section = events.dynamodb_stream(event_name, view_type=view_type)["Records"][0]["dynamodb"]
    assert {"NewImage", "OldImage"} & set(section) == images
    assert section["StreamViewType"] == view_type
    for name in images:  # images always carry the key attributes
        assert section[name]["id"] == section["Keys"]["id"]


def test_dynamodb_refuses_records_that_cannot_happen():
    with pytest.raises(ValueError, match="INSERT record has no OldImage"):
        events.dynamodb_stream("INSERT", old_image={"a": 1})
    with pytest.raises(ValueError, match="REMOVE record has no NewImage"):
        events.dynamodb_stream("REMOVE", new_image={"a": 1})
    with pytest.raises(ValueError, match="event_name"):
        events.dynamodb_stream("UPDATE")
    with pytest.raises(ValueError, match="view_type"):
        events.dynamodb_stream(view_type="BOTH")


def test_dynamodb_size_bytes_matches_sams_sample_records():
    # SAM CLI dynamodb/DynamoDBUpdate.json: the same items give SizeBytes 26, 59 and 38
    keys = {"Id": 101}
    sizes = [events.dynamodb_stream(name, keys, new, old)["Records"][0]["dynamodb"]["SizeBytes"] for name, new, old in [
        ("INSERT", {"Message": "New item!"}, None),
        ("MODIFY", {"Message": "This item has changed"}, {"Message": "New item!"}),
        ("REMOVE", None, {"Message": "This item has changed"})]]
    assert sizes == [26, 59, 38]
    # DynamoDB guide, "Item sizes and formats": a list or map costs 3 bytes, plus 1 per element
    nested = events.dynamodb_stream("INSERT", {"id": "a"}, {"m": {"x": "yy"}, "l": [True, None]})
    assert nested["Records"][0]["dynamodb"]["SizeBytes"] == 3 + (3 + (1 + 3 + 4) + (1 + 3 + 2 + 2))


# --- Kinesis ---

# SAM CLI kinesis/Kinesis.json; Powertools kinesisStreamEvent.json
KINESIS_RECORD = {
    "kinesis": {"kinesisSchemaVersion": str, "partitionKey": str, "sequenceNumber": str, "data": str,
                "approximateArrivalTimestamp": float},
    "eventSource": str, "eventVersion": str, "eventID": str, "eventName": str, "invokeIdentityArn": str,
    "awsRegion": str, "eventSourceARN": str,
}


def test_kinesis_data_is_base64_of_bytes_text_or_json():
    arn = "arn:aws:kinesis:ap-south-1:123456789012:stream/telemetry"
    event = events.kinesis([b"\x00raw", "text", {"temp": 21.5}], stream_arn=arn, partition_key="sensor-1")
    assert_shape(event, {"Records": [KINESIS_RECORD]})
    records = event["Records"]
    decoded = [base64.b64decode(r["kinesis"]["data"]) for r in records]
    assert decoded == [b"\x00raw", b"text", b'{"temp": 21.5}']
    sequences = [int(r["kinesis"]["sequenceNumber"]) for r in records]
    assert sequences == sorted(set(sequences))
    for record in records:
        assert record["eventID"] == f"shardId-000000000000:{record['kinesis']['sequenceNumber']}"
        assert (record["eventSource"], record["eventName"]) == ("aws:kinesis", "aws:kinesis:record")
        assert record["awsRegion"] == "ap-south-1" and record["kinesis"]["partitionKey"] == "sensor-1"
        assert record["invokeIdentityArn"].startswith("arn:aws:iam::123456789012:role/")


# --- EventBridge ---

# SAM CLI cloudwatch/ScheduledEvent.json
EVENTBRIDGE = {"version": str, "id": str, "detail-type": str, "source": str, "account": str, "time": str,
               "region": str, "resources": list, "detail": dict}


def test_eventbridge_and_scheduled_events():
    event = events.eventbridge(detail={"orderId": "o-9"}, resources=["arn:aws:s3:::b"])
    assert_shape(event, EVENTBRIDGE)
    assert (event["version"], event["detail-type"], event["source"]) == ("0", "Order Placed", "com.example.orders")
    assert event["detail"] == {"orderId": "o-9"} and event["time"] == "2026-01-15T09:30:00Z"
    tick = events.scheduled("nightly", region="eu-west-1")
    assert_shape(tick, EVENTBRIDGE)
    assert (tick["detail-type"], tick["source"], tick["detail"]) == ("Scheduled Event", "aws.events", {})
    assert tick["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/nightly"]


# --- CloudWatch Logs ---

def test_cloudwatch_logs_data_is_base64_gzip_json():
    event = events.cloudwatch_logs("/aws/lambda/pay", "s1", ["[ERROR] one", "[ERROR] two"])
    assert set(event) == {"awslogs"} and set(event["awslogs"]) == {"data"}
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    # SAM CLI cloudwatch/CloudwatchLogs.json, decoded
    assert_shape(payload, {"messageType": str, "owner": str, "logGroup": str, "logStream": str,
                           "subscriptionFilters": [str], "logEvents": [{"id": str, "timestamp": int, "message": str}]})
    assert payload["messageType"] == "DATA_MESSAGE" and payload["owner"] == "123456789012"
    assert (payload["logGroup"], payload["logStream"]) == ("/aws/lambda/pay", "s1")
    assert [e["message"] for e in payload["logEvents"]] == ["[ERROR] one", "[ERROR] two"]
    # the gzip header's MTIME is zero, so the same log lines give the same data on every run
    assert base64.b64decode(event["awslogs"]["data"])[4:8] == b"\0\0\0\0"


# --- Asynchronous invocation destinations ---

def test_destination_records_follow_the_reference_shape():
    success = events.destination_record({"orderId": 1}, {"ok": True})
    # lambda-behaviour.md, "Asynchronous invocation": the destination record
    assert_shape(success, {"version": str, "timestamp": str,
                           "requestContext": {"requestId": str, "functionArn": str, "condition": str,
                                              "approximateInvokeCount": int},
                           "requestPayload": dict, "responseContext": {"statusCode": int, "executedVersion": str},
                           "responsePayload": dict})
    assert success["version"] == "1.0" and success["requestContext"]["condition"] == "Success"
    assert "functionError" not in success["responseContext"]
    function_arn = success["requestContext"]["functionArn"]
    assert function_arn == "arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST"
    failure = events.destination_record({"orderId": 1}, condition="RetriesExhausted", executed_version="3",
                                        function_arn="arn:aws:lambda:us-east-1:123456789012:function:pay")
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "3", "functionError": "Unhandled"}
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"].endswith("function:pay:3")
    assert failure["responsePayload"]["requestId"] == failure["requestContext"]["requestId"]
    assert {"errorMessage", "errorType", "requestId", "stackTrace"} <= set(failure["responsePayload"])
    aged = events.destination_record(condition="EventAgeExceeded", approximate_invoke_count=0)
    assert aged["requestContext"]["approximateInvokeCount"] == 0
    with pytest.raises(ValueError, match="condition"):
        events.destination_record(condition="Failure")


# --- Every kind: one entry point, JSON-ready, fresh, repeatable ---

def test_kinds_are_the_intended_short_names():
    assert list(events.KINDS) == ["apigw-rest", "apigw-http", "function-url", "s3-put", "s3-delete", "sqs", "sns",
                                  "dynamodb", "kinesis", "eventbridge", "scheduled", "cloudwatch-logs", "destination"]


def test_public_names_are_exactly_the_intended_ones():
    assert set(events.__all__) == {"KINDS", "api_gateway_http", "api_gateway_rest", "cloudwatch_logs",
                                   "destination_record", "dynamodb_stream", "eventbridge", "function_url", "generate",
                                   "kinesis", "proxy_response", "s3_delete", "s3_put", "scheduled", "seed", "sns",
                                   "sqs", "sqs_batch_response"}


def _scramble(value):
    """Empty every dict and list inside `value`, as careless handler code might."""
    children = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        _scramble(child)
    if isinstance(value, (dict, list)):
        value.clear()


@pytest.mark.parametrize("kind", list(events.KINDS))
def test_every_kind_is_plain_json_and_a_fresh_dict(kind):
    event = events.generate(kind)
    assert json.loads(json.dumps(event)) == event
    events.seed()
    expected = json.loads(json.dumps(events.generate(kind)))
    events.seed()
    _scramble(events.generate(kind))
    events.seed()
    assert events.generate(kind) == expected  # nothing in one event is shared with the next


def test_seed_makes_events_repeatable_and_now_moves_the_clock():
    events.seed(7)
    first = [events.generate(kind) for kind in events.KINDS]
    events.seed(7)
    assert [events.generate(kind) for kind in events.KINDS] == first
    events.seed(8)
    assert [events.generate(kind) for kind in events.KINDS] != first
    later = events.generate("s3-put", now=datetime(2026, 5, 1, 12, 0, 0, 250000))  # naive means UTC
    assert later["Records"][0]["eventTime"] == "2026-05-01T12:00:00.250Z"
    assert events.generate("sqs", now=datetime(2026, 5, 1, tzinfo=timezone.utc))["Records"][0]["attributes"][
        "SentTimestamp"] == "1777593600000"


def test_generate_passes_overrides_and_names_unknown_kinds():
    assert events.generate("sqs", bodies=["a", "b"])["Records"][1]["body"] == "b"
    with pytest.raises(ValueError, match=r"Unknown event kind 's3_put'\. Did you mean 's3-put'\?"):
        events.generate("s3_put")


def test_events_satisfy_powertools_parser_models():
    """Powertools for AWS Lambda's Pydantic models of each event (pinned in requirements.txt for this test)."""
    from aws_lambda_powertools.utilities import parser
    from aws_lambda_powertools.utilities.parser import models

    pairs = [("apigw-rest", models.APIGatewayProxyEventModel), ("apigw-http", models.APIGatewayProxyEventV2Model),
             ("function-url", models.LambdaFunctionUrlModel), ("s3-put", models.S3Model), ("s3-delete", models.S3Model),
             ("sqs", models.SqsModel), ("sns", models.SnsModel), ("dynamodb", models.DynamoDBStreamModel),
             ("kinesis", models.KinesisDataStreamModel), ("eventbridge", models.EventBridgeModel),
             ("scheduled", models.EventBridgeModel), ("cloudwatch-logs", models.CloudWatchLogsModel)]
    for kind, model in pairs:
        parser.parse(event=events.generate(kind), model=model)


# --- End to end: a real handler reads these events ---

HANDLER = '''
import json
from urllib.parse import unquote_plus


def handler(event, context):
    if "httpMethod" in event:  # API Gateway REST proxy
        order = json.loads(event["body"])
        body = json.dumps({"id": event["pathParameters"]["id"], "qty": order["qty"]})
        return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": body,
                "isBase64Encoded": False}
    record = event["Records"][0]
    if record.get("eventSource") == "aws:s3":
        return {"bucket": record["s3"]["bucket"]["name"], "key": unquote_plus(record["s3"]["object"]["key"])}
    failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"]).get("bad")]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
'''


def test_a_real_handler_reads_the_events():
    with lambda_lab.Lab() as lab:
        lam = boto3.client("lambda", region_name=lab.region)
        lam.create_function(FunctionName="reads-events", Runtime="python3.13", Role=lab.role_arn,
                            Handler="app.handler", Code={"ZipFile": lambda_lab.zip_source(HANDLER)})

        def invoke(event):
            response = lam.invoke(FunctionName="reads-events", Payload=json.dumps(event))
            assert response["StatusCode"] == 200 and "FunctionError" not in response
            return json.loads(response["Payload"].read())

        assert invoke(events.s3_put("photos", "holiday/day 1.jpg")) == {"bucket": "photos", "key": "holiday/day 1.jpg"}
        api = events.api_gateway_rest("POST", "/orders/42", body={"qty": 2}, path_parameters={"id": "42"})
        assert invoke(api) == events.proxy_response(201, {"id": "42", "qty": 2})
        batch = events.sqs([{"n": 1}, {"n": 2, "bad": True}, {"n": 3}])
        assert invoke(batch) == events.sqs_batch_response([batch["Records"][1]])
