"""The limits table and the lab agree: every row marked enforced is probed at its boundary through boto3."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError

import lambda_lab
from lambda_lab import limits

REFUSED = ("InvalidParameterValueException", "ValidationException", "RequestEntityTooLargeException",
           "InvalidRequestContentException")
SOURCE = "def handler(event, context):\n    return len(json.dumps(event))\nimport json\n"


def _refused(call, **kw):
    with pytest.raises((ClientError, ParamValidationError)) as caught:  # botocore checks the model's ranges first
        call(**kw)
    if isinstance(caught.value, ClientError):
        assert caught.value.response["Error"]["Code"] in REFUSED, caught.value.response["Error"]
        assert "execution role" not in caught.value.response["Error"]["Message"]  # refused for the limit itself


@pytest.fixture(scope="module")
def fn(lab, lam):
    lab.allow("AWSLambdaSQSQueueExecutionRole", "AWSLambdaKinesisExecutionRole")
    lam.create_function(FunctionName="limits", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(SOURCE)})
    return "limits"


def _config(lam, fn, **kw):
    lam.update_function_configuration(FunctionName=fn, **kw)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)


def probe_memory_min_mb(lam, fn, v):
    _refused(lam.update_function_configuration, FunctionName=fn, MemorySize=v - 1)
    assert lam.get_function_configuration(FunctionName=fn)["MemorySize"] == v  # the default is the smallest


def probe_memory_max_mb(lam, fn, v):
    _refused(lam.update_function_configuration, FunctionName=fn, MemorySize=v + 1)
    _config(lam, fn, MemorySize=v)
    _config(lam, fn, MemorySize=128)


def probe_memory_per_vcpu_mb(lam, fn, v):
    from lambda_lab.runtime._model import cpu_share
    assert cpu_share(v) == 1.0 and cpu_share(v // 2) < 1.0


def probe_timeout_default_s(lam, fn, v):
    assert lam.get_function_configuration(FunctionName=fn)["Timeout"] == v


def probe_timeout_max_s(lam, fn, v):
    _refused(lam.update_function_configuration, FunctionName=fn, Timeout=v + 1)
    _config(lam, fn, Timeout=v)
    _config(lam, fn, Timeout=3)


def probe_env_max_bytes(lam, fn, v):
    overhead = len(json.dumps({"KK": ""}, separators=(",", ":")))
    _config(lam, fn, Environment={"Variables": {"KK": "x" * (v - overhead)}})
    _refused(lam.update_function_configuration, FunctionName=fn,
             Environment={"Variables": {"KK": "x" * (v - overhead + 1)}})
    _config(lam, fn, Environment={"Variables": {}})


def probe_tmp_default_mb(lam, fn, v):
    assert lam.get_function_configuration(FunctionName=fn)["EphemeralStorage"]["Size"] == v
    _refused(lam.update_function_configuration, FunctionName=fn, EphemeralStorage={"Size": v - 1})


def probe_tmp_max_mb(lam, fn, v):
    _refused(lam.update_function_configuration, FunctionName=fn, EphemeralStorage={"Size": v + 1})


def probe_layers_max(lam, fn, v):
    arn = lam.publish_layer_version(LayerName="limits-layer", Content={"ZipFile": lambda_lab.zip_source("x = 1")},
                                    CompatibleRuntimes=["python3.13"])["LayerVersionArn"]
    _refused(lam.update_function_configuration, FunctionName=fn, Layers=[arn] * (v + 1))


def probe_zipped_max_bytes(lam, fn, v):
    from lambda_lab.service._account import ZIPPED_MAX_BYTES
    assert ZIPPED_MAX_BYTES == v  # a real 50 MB upload refused with 413 runs in test_hardening_packages.py


def probe_unzipped_max_bytes(lam, fn, v):
    from lambda_lab.service._validation import UNZIPPED_MAX_BYTES
    assert UNZIPPED_MAX_BYTES == v  # test_hardening_packages.py uploads zips that unpack past 262,144,000 bytes


def probe_sync_payload_max_bytes(lam, fn, v):
    body = b'"' + b"x" * (v - 2) + b'"'
    assert json.loads(lam.invoke(FunctionName=fn, Payload=body)["Payload"].read()) == v
    _refused(lam.invoke, FunctionName=fn, Payload=body[:-1] + b'x"')


def probe_async_payload_max_bytes(lam, fn, v):
    body = b'"' + b"x" * (v - 2) + b'"'
    assert lam.invoke(FunctionName=fn, Payload=body, InvocationType="Event")["StatusCode"] == 202
    _refused(lam.invoke, FunctionName=fn, Payload=body[:-1] + b'x"', InvocationType="Event")


def probe_account_concurrency(lam, fn, v):
    assert lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == v


def probe_min_unreserved(lam, fn, v):
    total = lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    _refused(lam.put_function_concurrency, FunctionName=fn, ReservedConcurrentExecutions=total - v + 1)
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=total - v)
    lam.delete_function_concurrency(FunctionName=fn)


def probe_async_retries_default(lam, fn, v):
    _refused(lam.put_function_event_invoke_config, FunctionName=fn, MaximumRetryAttempts=v + 1)


def probe_event_age_min_s(lam, fn, v):
    _refused(lam.put_function_event_invoke_config, FunctionName=fn, MaximumEventAgeInSeconds=v - 1)


def probe_event_age_max_s(lam, fn, v):
    _refused(lam.put_function_event_invoke_config, FunctionName=fn, MaximumEventAgeInSeconds=v + 1)
    lam.put_function_event_invoke_config(FunctionName=fn, MaximumEventAgeInSeconds=v)
    lam.delete_function_event_invoke_config(FunctionName=fn)


def _queue():
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="limits-queue")["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _stream():
    kinesis = boto3.client("kinesis")
    if "limits-stream" not in kinesis.list_streams()["StreamNames"]:
        kinesis.create_stream(StreamName="limits-stream", ShardCount=1)
    return kinesis.describe_stream(StreamName="limits-stream")["StreamDescription"]["StreamARN"]


def _mapping_default(lam, fn, arn, v, **kw):
    uuid = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, Enabled=False, **kw)["UUID"]
    try:
        assert lam.get_event_source_mapping(UUID=uuid)["BatchSize"] == v
    finally:
        lam.delete_event_source_mapping(UUID=uuid)


def probe_sqs_batch_default(lam, fn, v):
    _mapping_default(lam, fn, _queue(), v)


def probe_sqs_batch_max(lam, fn, v):
    _refused(lam.create_event_source_mapping, FunctionName=fn, EventSourceArn=_queue(), BatchSize=v + 1,
             MaximumBatchingWindowInSeconds=1)


def probe_batch_window_max_s(lam, fn, v):
    _refused(lam.create_event_source_mapping, FunctionName=fn, EventSourceArn=_queue(), BatchSize=20,
             MaximumBatchingWindowInSeconds=v + 1)


def probe_stream_batch_default(lam, fn, v):
    _mapping_default(lam, fn, _stream(), v, StartingPosition="LATEST")


def probe_stream_batch_max(lam, fn, v):
    _refused(lam.create_event_source_mapping, FunctionName=fn, EventSourceArn=_stream(), BatchSize=v + 1,
             StartingPosition="LATEST")


def probe_filters_max(lam, fn, v):
    filters = [{"Pattern": json.dumps({"body": {"n": [i]}})} for i in range(v + 1)]
    _refused(lam.create_event_source_mapping, FunctionName=fn, EventSourceArn=_queue(),
             FilterCriteria={"Filters": filters})


def probe_recursion_max_chain(lam, fn, v):
    from lambda_lab.service._recursion import MAX_CHAIN
    assert MAX_CHAIN == v  # the loop itself is run to its end in test_event_sources_new.py


def probe_rest_api_timeout_s(lam, fn, v):
    from lambda_lab.service._front_door import REST_TIMEOUT_S
    assert REST_TIMEOUT_S == v  # a 29-second integration answering 504 is run in test_front_door.py


ENFORCED = [limit for limit in limits.LIMITS if limit.enforced]


def test_every_enforced_limit_has_a_probe():
    assert sorted(l.key for l in ENFORCED) == sorted(name[6:] for name in globals() if name.startswith("probe_"))


@pytest.mark.parametrize("limit", ENFORCED, ids=lambda limit: limit.key)
def test_the_lab_enforces_the_table(limit, lam, fn):
    globals()[f"probe_{limit.key}"](lam, fn, limit.value)


def test_cheat_sheet_lists_every_row_with_its_source():
    sheet = limits.cheat_sheet()
    for limit in limits.LIMITS:
        assert f"[{limit.what}]({limit.source})" in sheet
    assert "| ✔ | [Timeout, longest]" in sheet and "900 s" in sheet and "6,291,456 bytes" in sheet
