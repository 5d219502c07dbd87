"""Checks for the exercises of notebook 03_programming_model."""

import base64
import json
import re
import time

import boto3

from . import function_config, log_streams, passed, require

__all__ = ["ex_03_context_and_logging", "ex_03_fix_invoice_totals"]

_START = re.compile(r"^START RequestId: (\S+)", re.M)
_REPORT = re.compile(r"^REPORT RequestId: (\S+)\tDuration: (\d+\.\d+) ms", re.M)
_ROOT_LOGGER = ("Lambda's Python runtime leaves the root logger at its default level, WARNING, so INFO records "
                "are dropped. Lower the root logger's level in the code that runs when the module loads (notebook "
                "03, section 'Logging'). (logging.basicConfig(level=...) does nothing here: the runtime has already "
                "given the root logger a handler.)")


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
            "The id Lambda gave this invocation travels in the context object (notebook 03, section 'The context').")
    remaining = payload["remaining_ms"]
    timeout_ms = config["Timeout"] * 1000
    require(isinstance(remaining, (int, float)) and not isinstance(remaining, bool),
            f"remaining_ms is {remaining!r}; it should be a number of milliseconds, measured by the context object "
            "while the handler runs (notebook 03, section 'The context').")
    require(remaining <= timeout_ms, f"remaining_ms is {remaining}, more than the whole timeout ({timeout_ms} ms). "
                                     "Ask the context object, whose clock counts down from the timeout.")
    report = _REPORT.search(tail)
    if report:
        lasted = float(report.group(2))
        if timeout_ms - remaining > lasted + 100:  # more time was left than the answer says
            if remaining <= config["Timeout"]:
                require(False, f"remaining_ms is {remaining}: that looks like seconds. "
                               "The context's clock answers milliseconds; return its figure as it is.")
            require(False, f"remaining_ms is {remaining}, but the invocation took only {lasted:.0f} ms of its "
                           f"{timeout_ms} ms timeout (REPORT line), so more time was left. Return "
                           "the context's own figure as it is.")


def _explain_error(payload) -> str:
    payload = payload if isinstance(payload, dict) else {}
    kind, message = payload.get("errorType", "?"), payload.get("errorMessage", "")
    said = f"The function failed with {kind}: {message}"
    if kind == "Runtime.MarshalError" and "method" in message:
        return (f"{said}. The answer holds a method, not its result: call it.")
    if kind == "AttributeError" and "LambdaContext" in message:
        return (f"{said}. Python's context attributes are snake_case; the camelCase names are Node.js's "
                "(notebook 03, the table in section 'The context').")
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


# -- exercise 03.2: a deployed function that fails three ways ---------------------------------------------------------
WORK_S = 0.15  # what the exercise's handler spends on each invoice (its time.sleep stands for fetching it)


def _sample_invoices(count: int) -> list[dict]:
    """`count` invoices with known totals, as the check sends them."""
    return [{"id": f"inv-{n:03d}", "lines": [n, 2 * n + 1, 0.5]} for n in range(1, count + 1)]


def ex_03_fix_invoice_totals(function_name: str = "invoice-totals", timeout_s: int = 2) -> None:
    """The function starts, answers JSON, and hands back the invoices it had no time for, within its timeout."""
    lam = boto3.client("lambda")
    config = function_config(function_name, "Run the exercise's setup cell first.")
    require(config["Timeout"] == timeout_s,
            f"'{function_name}' now has a {config['Timeout']} s timeout; its callers wait at most {timeout_s} s, so "
            "the task keeps it. Make the handler fit in the time it has instead.")
    few, many = _sample_invoices(3), _sample_invoices(int(3 * timeout_s / WORK_S))
    for invoices in (few, many):
        response = lam.invoke(FunctionName=function_name, Payload=json.dumps({"invoices": invoices}).encode())
        answer = _json(response["Payload"].read())
        if response.get("FunctionError"):
            require(False, _explain_failure(answer, config, len(invoices)))
        _check_totals(answer, invoices, config)
    passed(f"'{function_name}' starts, answers JSON, and returns the invoices it had no time for instead of timing "
           "out.")


def _explain_failure(payload, config: dict, count: int) -> str:
    """What the error payload says, and where in notebook 03 the learner can read about it."""
    payload = payload if isinstance(payload, dict) else {}
    kind, message = payload.get("errorType", "?"), payload.get("errorMessage", "")
    said = f"Invoked with {count} invoices, the function failed: {kind}: {message}"
    if kind in ("Runtime.ImportModuleError", "Runtime.HandlerNotFound", "Runtime.MalformedHandlerName"):
        return (f"{said}. The runtime cannot find the code to start. Compare the Handler setting "
                f"({config['Handler']!r}) with the files the setup cell listed in the deployment package (notebook "
                "03, section 'The handler: a file and a function').")
    if kind == "Sandbox.Timedout":
        return (f"{said}. Each invoice takes about {WORK_S} s of work, so {count} of them cannot fit in "
                f"{config['Timeout']} s, and a timeout loses the work already done. The handler must notice that "
                "its time is running out, stop, and hand back the invoices it did not do (notebook 03, section "
                "'The context').")
    if kind == "Runtime.MarshalError":
        return (f"{said}. The handler ran, but Lambda could not turn its answer into JSON. Return only values JSON "
                "can hold: strings, numbers, lists, dicts, true/false and null (notebook 03, section 'The event').")
    return f"{said}. Invoke it yourself and read the error payload and the function's log."


def _check_totals(answer, invoices: list[dict], config: dict) -> None:
    ids = [invoice["id"] for invoice in invoices]
    require(isinstance(answer, dict) and isinstance(answer.get("totals"), list) and isinstance(answer.get("left"), list),
            f"The function answered {str(answer)[:200]!r}; the task asks for a dict with a list 'totals' and a list "
            "'left' (and 'finished_at').")
    done = [t.get("id") if isinstance(t, dict) else t for t in answer["totals"]]
    require(done + list(answer["left"]) == ids,
            f"For {len(ids)} invoices the answer's 'totals' cover {len(done)} and 'left' names {len(answer['left'])}; "
            "together, in order, they must be every invoice id of the event exactly once.")
    expected = {invoice["id"]: sum(invoice["lines"]) for invoice in invoices}
    wrong = [t for t in answer["totals"] if not isinstance(t.get("total"), (int, float))
             or abs(t["total"] - expected[t["id"]]) > 1e-6]
    if wrong:
        require(False, f"The total of {wrong[0]['id']} is {wrong[0].get('total')!r}, not the sum of its lines. Keep "
                       "the setup's arithmetic.")
    finished = answer.get("finished_at")
    require(isinstance(finished, str) and _is_iso(finished),
            f"'finished_at' is {finished!r}; the task asks for the time as an ISO 8601 string, as in "
            "2026-06-01T12:00:00+00:00.")
    if len(invoices) * WORK_S > config["Timeout"]:
        require(answer["left"], f"All {len(invoices)} invoices were done within {config['Timeout']} s, which their "
                                "work cannot fit. Keep the time.sleep that stands for fetching each invoice.")
        require(done, f"The answer for {len(invoices)} invoices did none of them: stop only when the time left "
                      "cannot fit one more invoice.")


def _is_iso(text: str) -> bool:
    import datetime

    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
