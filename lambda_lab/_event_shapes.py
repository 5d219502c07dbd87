"""The pieces lambda_lab.events builds events from: a seeded generator, a fixed clock, AWS-style ids and the
encodings AWS applies (form-encoded S3 keys, DynamoDB typed values, SQS and SNS message attributes)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import struct
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

ACCOUNT = "123456789012"  # moto's default account: the ARNs match what the lab's own boto3 calls return
REGION = "us-east-1"
DEFAULT_SEED = 0
# A fixed clock, so a notebook shows the same event on every run (nbval compares outputs)
DEFAULT_NOW = datetime(2026, 1, 15, 9, 30, 0, tzinfo=timezone.utc)
SOURCE_IP = "203.0.113.25"  # an address reserved for documentation (RFC 5737)
USER_AGENT = "curl/8.5.0"

rng = random.Random(DEFAULT_SEED)

_UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def clock(now: datetime | None) -> datetime:
    if now is None:
        return DEFAULT_NOW
    return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)


def uuid4() -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def hex_id(n: int, upper: bool = False) -> str:
    text = f"{rng.getrandbits(4 * n):0{n}x}"
    return text.upper() if upper else text


def digits(n: int) -> str:
    return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(n - 1))


def token(n: int, alphabet: str = _UPPER_DIGITS) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def lower_id(n: int) -> str:
    return token(n, _LOWER_ALNUM)


def b64_random(nbytes: int) -> str:
    return base64.b64encode(rng.randbytes(nbytes)).decode()


def iso_ms(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso_s(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def clf_time(dt: datetime) -> str:
    """API Gateway's requestTime: '15/Jan/2026:09:30:00 +0000' (strftime's %b follows the locale)."""
    month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[dt.month - 1]
    return f"{dt.day:02d}/{month}/{dt:%Y:%H:%M:%S} +0000"


def region_of(arn: str) -> str:
    return arn.split(":")[3]


def trace_id(dt: datetime) -> str:
    return f"Root=1-{int(dt.timestamp()):08x}-{hex_id(24)}"


def s3_key(key: str) -> str:
    """The key as S3 notifications carry it: form-encoded, so 'red flower.jpg' is 'red+flower.jpg'.

    The S3 user guide ("Event message structure") documents the '+'; '/' stays as it is in the notifications
    S3 sends today (the Lambda console's template shows 'test%2Fkey', which real events do not).
    """
    return quote_plus(key, safe="/")


def text_body(body: Any) -> tuple[str | None, bool]:
    """A request or response body as the wire carries it: (text or None, whether it is JSON)."""
    if body is None or isinstance(body, (str, bytes)):
        return body, False
    return json.dumps(body), True


def encode_body(body: str | bytes | None, is_base64: bool) -> tuple[str | None, bool]:
    """Bytes, or any body with is_base64=True, travel base64-encoded with isBase64Encoded true."""
    if body is None:
        return None, False
    if isinstance(body, bytes) or is_base64:
        raw = body if isinstance(body, bytes) else body.encode()
        return base64.b64encode(raw).decode(), True
    return body, False


def query_pairs(query: str | dict | None) -> list[tuple[str, str]]:
    """A query string or {name: value or [values]} as ordered (name, value) pairs."""
    if not query:
        return []
    if isinstance(query, str):
        return parse_qsl(query.lstrip("?"), keep_blank_values=True)
    return [(k, str(v)) for k, vs in query.items() for v in (vs if isinstance(vs, (list, tuple)) else [vs])]


def multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def default_headers(host: str, now: datetime, has_json_body: bool) -> dict[str, str]:
    """What a client and API Gateway's front door add to every request (names as the client sent them)."""
    headers = {"Accept": "*/*", "Host": host, "User-Agent": USER_AGENT, "X-Amzn-Trace-Id": trace_id(now),
               "X-Forwarded-For": SOURCE_IP, "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"}
    if has_json_body:
        headers["Content-Type"] = "application/json"
    return headers


def dynamodb_image(item: dict[str, Any]) -> dict[str, dict]:
    """A plain item in DynamoDB's typed JSON, as streams carry it: {"n": 1} -> {"n": {"N": "1"}}."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: _json_safe(serializer.serialize(_decimals(value))) for name, value in item.items()}


def _decimals(value: Any) -> Any:
    # TypeSerializer refuses float (it would lose precision); DynamoDB numbers are decimal strings anyway
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_decimals(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {_decimals(v) for v in value}
    return value


def _json_safe(typed: Any) -> Any:
    """Binary as base64 text (as in the stream's JSON); set members sorted so the event is the same every run."""
    if isinstance(typed, dict):
        out = {}
        for tag, value in typed.items():
            if tag == "B":
                out[tag] = _b64(value)
            elif tag == "BS":
                out[tag] = sorted(_b64(v) for v in value)
            elif tag in ("SS", "NS"):
                out[tag] = sorted(value)
            elif tag == "M":
                out[tag] = {k: _json_safe(v) for k, v in value.items()}
            elif tag == "L":
                out[tag] = [_json_safe(v) for v in value]
            else:
                out[tag] = value
        return out
    return typed


def _b64(value: Any) -> str:
    raw = getattr(value, "value", value)  # boto3 wraps some binary in a Binary object
    return base64.b64encode(bytes(raw)).decode()


def _attribute(value: Any) -> tuple[str, str | bytes]:
    """(DataType, value) for an SQS or SNS message attribute given as a plain Python value."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, bytes)):
        return "String", str(value)
    if isinstance(value, bytes):
        return "Binary", value
    return "Number", str(value)


def sqs_message_attributes(attributes: dict[str, Any] | None) -> tuple[dict, str | None]:
    """Lambda's shape of SQS message attributes, and their MD5 as SQS computes it (None when there are none).

    The MD5 follows the SQS developer guide ("Calculating the MD5 message digest for message attributes"):
    for each name in order, length-prefixed name, type and value, with a transport byte (1 text, 2 binary).
    """
    if not attributes:
        return {}, None
    shaped, digest = {}, hashlib.md5()
    for name in sorted(attributes):
        data_type, value = _attribute(attributes[name])
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": data_type}
        for part in (name.encode(), data_type.encode()):
            digest.update(struct.pack("!I", len(part)) + part)
        if isinstance(value, bytes):
            entry["binaryValue"] = base64.b64encode(value).decode()
            digest.update(b"\x02" + struct.pack("!I", len(value)) + value)
        else:
            entry["stringValue"] = value
            digest.update(b"\x01" + struct.pack("!I", len(value.encode())) + value.encode())
        shaped[name] = entry
    return shaped, digest.hexdigest()


def sns_message_attributes(attributes: dict[str, Any] | None) -> dict:
    shaped = {}
    for name, value in (attributes or {}).items():
        data_type, value = _attribute(value)
        shaped[name] = {"Type": data_type,
                        "Value": base64.b64encode(value).decode() if isinstance(value, bytes) else value}
    return shaped


def dynamodb_size(*images: dict[str, dict] | None) -> int:
    """SizeBytes of a stream record, by the DynamoDB guide's item-size rules ("Item sizes and formats").

    The rules reproduce the SizeBytes of SAM CLI's DynamoDB sample records exactly (26, 59 and 38).
    """
    return sum(len(name.encode()) + _typed_size(value) for image in images if image for name, value in image.items())


def _typed_size(typed: dict) -> int:
    (tag, value), = typed.items()
    if tag == "S":
        return len(value.encode())
    if tag == "N":
        return _number_size(value)
    if tag == "B":
        return len(base64.b64decode(value))
    if tag in ("BOOL", "NULL"):
        return 1
    if tag == "SS":
        return sum(len(v.encode()) for v in value)
    if tag == "NS":
        return sum(_number_size(v) for v in value)
    if tag == "BS":
        return sum(len(base64.b64decode(v)) for v in value)
    if tag == "M":  # 3 bytes of overhead, plus 1 per element
        return 3 + sum(len(k.encode()) + _typed_size(v) + 1 for k, v in value.items())
    return 3 + sum(_typed_size(v) + 1 for v in value)  # "L"


def _number_size(text: str) -> int:
    significant = text.lstrip("-").replace(".", "").strip("0") or "0"
    return (len(significant) + 1) // 2 + 1


def http_v2(method, path, query, headers, body, is_base64, cookies, route_key, stage, path_parameters,
            stage_variables, account, api_id, host, request_id, now, extra) -> dict:
    """The payload 2.0 request that API Gateway HTTP APIs and function URLs share.

    Key order and the parts left out when empty follow the API Gateway guide's payload 2.0 example.
    """
    text, is_json = text_body(body)
    text, encoded = encode_body(text, is_base64)
    header_pairs = merged_headers(default_headers(host, now, is_json), headers)
    joined: dict[str, str] = {}
    for name, value in header_pairs:  # payload 2.0: names lower-cased, repeats joined by commas
        name = name.lower()
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    pairs = query_pairs(query)
    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": path,
                             "rawQueryString": "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)}
    if cookies:
        event["cookies"] = list(cookies)
    event["headers"] = joined
    if pairs:
        event["queryStringParameters"] = {k: ",".join(vs) for k, vs in multi(pairs).items()}
    event["requestContext"] = {
        "accountId": account, "apiId": api_id, "domainName": host, "domainPrefix": api_id,
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": SOURCE_IP,
                 "userAgent": joined.get("user-agent", USER_AGENT)},
        "requestId": request_id, "routeKey": route_key, "stage": stage,
        "time": clf_time(now), "timeEpoch": epoch_ms(now),
    }
    if text is not None:
        event["body"] = text
    if path_parameters:
        event["pathParameters"] = {k: str(v) for k, v in path_parameters.items()}
    event["isBase64Encoded"] = encoded
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return {**event, **extra}


def _quote(text: str) -> str:
    return quote(text, safe="-_.~")


def merged_headers(defaults: dict[str, str], given: dict | None) -> list[tuple[str, str]]:
    """The client's headers over the defaults, matching names case-insensitively as HTTP does."""
    pairs = query_pairs(given)
    overridden = {name.lower() for name, _ in pairs}
    return [(k, v) for k, v in defaults.items() if k.lower() not in overridden] + pairs


def resource_for(path: str, path_parameters: dict | None) -> str:
    """'/orders/42' with {"id": "42"} is the resource '/orders/{id}'."""
    by_value = {str(v): k for k, v in (path_parameters or {}).items()}
    return "/".join("{" + by_value[part] + "}" if part in by_value else part for part in path.split("/"))


def s3_record(event_name: str, bucket: str, obj: dict, region: str, now: datetime | None, extra: dict) -> dict:
    now = clock(now)
    # S3 sequencers grow with time, so a later event on the same key sorts later: a time prefix does the same
    obj["sequencer"] = f"{int(now.timestamp() * 1e9):016X}{hex_id(2, upper=True)}"
    # 2.1 is the version the S3 guide shows for object-created and -removed events; its newest revision moves
    # every event type to one version (2.4 and later) and adds fields, but keeps all of these
    record = {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region, "eventTime": iso_ms(now),
        "eventName": event_name, "userIdentity": {"principalId": f"AWS:{token(21)}"},
        "requestParameters": {"sourceIPAddress": SOURCE_IP},
        "responseElements": {"x-amz-request-id": hex_id(16, upper=True), "x-amz-id-2": b64_random(57)},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "lambda-lab-trigger",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": token(14)},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": obj},
    }
    return {"Records": [{**record, **extra}]}
