"""Checks for the exercises of notebook 03_programming_model."""

import base64
import json
import re
import time

import boto3

from . import function_config, log_streams, passed, require

__all__ = ["ex_03_context_and_logging"]

_START = re.compile(r"^START RequestId: (\S+)", re.M)
_REPORT = re.compile(r"^REPORT RequestId: (\S+)\tDuration: (\d+\.\d+) ms", re.M)
_ROOT_LOGGER = ("Lambda's Python runtime leaves the root logger at its default level, WARNING, so INFO records "
                "are dropped. Lower it at module level: logging.getLogger().setLevel(logging.INFO). "
                "(logging.basicConfig(level=...) does nothing here: the runtime has already given the root logger "
                "a handler.)")


def ex_03_context_and_logging(function_name: str = "request-reporter") -> None:
    """The handler returns its request id and remaining time, and logs the request at INFO level."""
    lam = boto3.client("lambda")
    config = function_config(function_name, "Write the handler in `source`, then run the cell that calls "
                                            "deploy(source).")
    response = lam.invoke(FunctionName=function_name, Payload=b"{}", LogType="Tail")
    body = response["Payload"].read()
    tail = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    started = _START.search(tail)
    require(started is not None, "The invocation's log tail has no START line; invoke the function once yourself "
                                 "and look at its log.")
    request_id = started.group(1)
    payload = _json(body)
    if response.get("FunctionError"):
        require(False, _explain_error(payload))
    _check_payload(payload, request_id, config, tail)
    group = (config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{function_name}"
    lines = _wait_for_lines(request_id, group)
    info = [line for line in lines if line.startswith("[INFO]") and _field(line, 2) == request_id]
    if not info:
        require(False, _explain_missing_info(lines, request_id, group))
    passed(f"'{function_name}' answers its request id and the time it has left, and logs each request at INFO "
           "level in CloudWatch Logs.")


def _check_payload(payload, request_id: str, config: dict, tail: str) -> None:
    require(isinstance(payload, dict), f"The handler returned {payload!r}; return a dict with the keys "
                                       "'request_id' and 'remaining_ms'.")
    missing = [key for key in ("request_id", "remaining_ms") if key not in payload]
    require(not missing, f"The answer {payload!r} lacks {', '.join(repr(k) for k in missing)}.")
    require(payload["request_id"] == request_id,
            f"request_id is {payload['request_id']!r}, but this invocation's START and REPORT lines say {request_id}. "
            "The id Lambda gave this invocation is context.aws_request_id.")
    remaining = payload["remaining_ms"]
    timeout_ms = config["Timeout"] * 1000
    require(isinstance(remaining, (int, float)) and not isinstance(remaining, bool),
            f"remaining_ms is {remaining!r}; it should be a number of milliseconds, from "
            "context.get_remaining_time_in_millis().")
    require(remaining <= timeout_ms, f"remaining_ms is {remaining}, more than the whole timeout ({timeout_ms} ms). "
                                     "Use context.get_remaining_time_in_millis(), which counts down from it.")
    report = _REPORT.search(tail)
    if report:
        lasted = float(report.group(2))
        if timeout_ms - remaining > lasted + 100:  # more time was left than the answer says
            if remaining <= config["Timeout"]:
                require(False, f"remaining_ms is {remaining}: that looks like seconds. "
                               "get_remaining_time_in_millis() answers milliseconds; return it as it is.")
            require(False, f"remaining_ms is {remaining}, but the invocation took only {lasted:.0f} ms of its "
                           f"{timeout_ms} ms timeout (REPORT line), so more time was left. Return "
                           "context.get_remaining_time_in_millis() as it is.")


def _explain_error(payload) -> str:
    payload = payload if isinstance(payload, dict) else {}
    kind, message = payload.get("errorType", "?"), payload.get("errorMessage", "")
    said = f"The function failed with {kind}: {message}"
    if kind == "Runtime.MarshalError" and "method" in message:
        return (f"{said}. The answer holds a method, not its result: call it, "
                "context.get_remaining_time_in_millis() with the parentheses.")
    if kind == "AttributeError" and "LambdaContext" in message:
        return (f"{said}. Python's context attributes are snake_case: context.aws_request_id and "
                "context.get_remaining_time_in_millis() (awsRequestId and getRemainingTimeInMillis are Node.js).")
    if kind in ("Runtime.HandlerNotFound", "Runtime.ImportModuleError", "Runtime.UserCodeSyntaxError"):
        return (f"{said}. deploy(source) puts your source in app.py with the handler app.handler: define "
                "def handler(event, context) in it.")
    return f"{said}. Run the function yourself and read its log (the traceback is there)."


def _explain_missing_info(lines: list[str], request_id: str, group: str) -> str:
    where = f"CloudWatch Logs (log group {group})"
    leveled = [line for line in lines if line.startswith("[") and _field(line, 2) == request_id]
    if any(line.startswith(("[WARNING]", "[ERROR]", "[CRITICAL]")) for line in leveled):
        return (f"{where} has a log line for request {request_id}, but at {leveled[0].split(chr(9))[0]}, not "
                f"[INFO]. Use logger.info(...). {_ROOT_LOGGER}")
    printed = [line for line in lines if request_id in line and not line.startswith(("START", "END", "REPORT", "["))]
    if printed:
        return (f"{where} has the request id in a plain line ({printed[0][:80]!r}): that is print(), which has no "
                f"level. Log it with the logging module, at INFO. {_ROOT_LOGGER}")
    return (f"{where} has no [INFO] line for request {request_id}. If your handler calls logging.info(...) or "
            f"logger.info(...), that is the classic surprise: {_ROOT_LOGGER}")


def _wait_for_lines(request_id: str, group: str) -> list[str]:
    """The messages of the log stream that holds this invocation; on AWS, CloudWatch may need a few seconds."""
    from .._lab import Lab

    lab = Lab._current
    patience = 0.0 if lab is not None and not getattr(lab, "_stopped", True) else 20.0
    deadline = time.monotonic() + patience
    while True:
        lines = _stream_lines(group, request_id)
        if any(line.startswith(f"REPORT RequestId: {request_id}") for line in lines) or time.monotonic() >= deadline:
            return lines
        time.sleep(2)


def _stream_lines(group: str, request_id: str) -> list[str]:
    """The messages of the (recent) log stream that holds this request."""
    return next((stream for stream in log_streams(group, newest=10) if any(request_id in m for m in stream)), [])


def _field(line: str, index: int) -> str:
    parts = line.split("\t")
    return parts[index] if len(parts) > index else ""


def _json(body: bytes):
    try:
        return json.loads(body or b"null")
    except ValueError:
        return body.decode(errors="replace")
