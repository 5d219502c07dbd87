"""Invoke's refusals, word for word: invocation type, client context, payloads that are not JSON, throttles."""

import base64
import json

import pytest
from botocore.exceptions import ClientError

WORKS = "def handler(event, context):\n    return {'event': event, 'custom': (context.client_context.custom\n" \
        "        if context.client_context else None)}\n"


def _error(call):
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"], raised.value.response


def test_an_unknown_invocation_type_names_the_three_that_exist(lam, make_function):
    name = make_function(WORKS)
    error, _ = _error(lambda: lam.invoke(FunctionName=name, InvocationType="Async", Payload=b"{}"))
    assert error == {"Code": "InvalidParameterValueException",
                     "Message": "Unsupported InvocationType 'Async': use RequestResponse, Event or DryRun."}


@pytest.mark.parametrize("context, message", [
    ("not base64!", "Client context must be a valid Base64-encoded JSON object."),
    (base64.b64encode(b"not json").decode(), "Client context must be a valid Base64-encoded JSON object."),
    (base64.b64encode(b"[1, 2]").decode(), "Client context must be a JSON object."),
])
def test_a_bad_client_context_is_refused_with_what_it_must_be(lam, make_function, context, message):
    name = make_function(WORKS)
    error, _ = _error(lambda: lam.invoke(FunctionName=name, Payload=b"{}", ClientContext=context))
    assert error == {"Code": "InvalidRequestContentException", "Message": message}


def test_a_good_client_context_reaches_the_handler(lam, make_function):
    name = make_function(WORKS)
    context = base64.b64encode(json.dumps({"custom": {"who": "ada"}}).encode()).decode()
    answer = json.loads(lam.invoke(FunctionName=name, Payload=b'{"a": 1}', ClientContext=context)["Payload"].read())
    assert answer == {"event": {"a": 1}, "custom": {"who": "ada"}}


@pytest.mark.parametrize("payload, reason", [
    (b"not json", "Expecting value: line 1 column 1 (char 0)"),
    (b'{"a": 1', "Expecting ',' delimiter: line 1 column 8 (char 7)"),
])
def test_a_payload_that_is_not_json_says_where_and_how_to_fix_it(lam, make_function, payload, reason):
    name = make_function(WORKS)
    for kind in ("RequestResponse", "Event", "DryRun"):
        error, _ = _error(lambda: lam.invoke(FunctionName=name, InvocationType=kind, Payload=payload))
        assert error == {"Code": "InvalidRequestContentException", "Message": (
            f"Could not parse request body into json: Could not parse payload into json: {reason}. "
            "Pass Payload=json.dumps(event).encode().")}


def test_no_payload_is_an_empty_event_and_dry_run_runs_nothing(lab, lam, make_function):
    name = make_function(WORKS)
    answer = lam.invoke(FunctionName=name)
    assert json.loads(answer["Payload"].read()) == {"event": {}, "custom": None}
    assert "LogResult" not in answer and "FunctionError" not in answer
    def runs():
        return [i for i in lab.invocations if i.function_name == name]

    before = len(runs())
    dry = lam.invoke(FunctionName=name, InvocationType="DryRun", Payload=b'{"a": 1}')
    assert dry["StatusCode"] == 204 and dry["Payload"].read() == b"" and len(runs()) == before


def test_a_throttle_answers_429_with_its_reason(lam, make_function):
    name = make_function(WORKS)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    error, response = _error(lambda: lam.invoke(FunctionName=name, Payload=b"{}"))
    assert error == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
