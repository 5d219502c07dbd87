"""LoggingConfig (advanced logging controls): stored and shown as Lambda shows it, JSON logs as the Python runtime
and Lambda write them, level filtering, custom log groups, and filter patterns over what the lab wrote."""

import json
import re

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import invoke

ISO_MS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

JSON_HANDLER = """
    import logging
    logger = logging.getLogger("orders")
    def handler(event, context):
        print("plain print")
        logger.info("order %s taken", 42, extra={"orderId": 42})
        logger.debug("not shown at INFO")
        try:
            1 / 0
        except ZeroDivisionError:
            logger.exception("could not divide")
        if event.get("fail"):
            raise ValueError("bad order")
        return logging.getLogger().level
"""


def _lines(tail):
    return [line for line in tail.splitlines() if line]


def _records(tail):
    return [json.loads(line) for line in _lines(tail) if line.startswith("{")]


def _group_messages(group):
    logs = boto3.client("logs")
    return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]


def test_default_logging_config_is_text_with_the_default_group(lam, make_function):
    name = make_function("def handler(e, c):\n    return 1\n")
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    assert lam.get_function(FunctionName=name)["Configuration"]["LoggingConfig"]["LogFormat"] == "Text"


def test_json_format_defaults_both_levels_to_info_and_updates_merge(lam, make_function):
    name = make_function("def handler(e, c):\n    return 1\n", LoggingConfig={"LogFormat": "JSON"})
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
        "LogGroup": f"/aws/lambda/{name}"}
    updated = lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert updated["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO",
                                        "LogGroup": f"/aws/lambda/{name}"}
    back = lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "Text"})
    assert back["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == back["LoggingConfig"]


def test_levels_with_text_format_are_refused_as_lambda_refuses_them(lam, make_function):
    name = make_function("def handler(e, c):\n    return 1\n")
    with pytest.raises(ClientError) as refused:
        lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == (
        'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the '
        'LogFormat to "Json" and try again.')
    with pytest.raises(ClientError) as bad_enum:
        lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "XML"})
    assert bad_enum.value.response["Error"]["Code"] == "ValidationException"
    assert "'XML' at 'loggingConfig.logFormat'" in bad_enum.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as bad_level:
        lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "JSON",
                                                                           "SystemLogLevel": "ERROR"})
    assert bad_level.value.response["Error"]["Code"] == "ValidationException"
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"]["LogFormat"] == "Text"


def test_published_versions_keep_their_logging_config(lam, make_function):
    name = make_function("def handler(e, c):\n    print('hi')\n    return 1\n")
    assert lam.publish_version(FunctionName=name)["LoggingConfig"]["LogFormat"] == "Text"
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "JSON"})
    version2 = lam.publish_version(FunctionName=name)
    assert version2["Version"] == "2"  # the logging change alone makes a new version
    assert version2["LoggingConfig"]["LogFormat"] == "JSON"
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["LoggingConfig"] == {
        "LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    _, _, text_tail = invoke(lam, name, Qualifier="1")
    assert re.search(r"^START RequestId: \S+ Version: 1$", text_tail, re.M)
    _, _, json_tail = invoke(lam, name, Qualifier="2")
    assert [r["type"] for r in _records(json_tail)] == ["platform.initStart", "platform.start", "platform.report"]


def test_json_logs_have_the_runtimes_and_lambdas_shapes(lam, make_function):
    name = make_function(JSON_HANDLER, LoggingConfig={"LogFormat": "JSON"})
    response, level, tail = invoke(lam, name)
    assert level == 20  # ApplicationLogLevel INFO sets the root logger's level, as the runtime does
    lines = _lines(tail)
    records = [json.loads(line) for line in lines if line.startswith("{")]
    init, start, info, error, report = records
    request_id = start["record"]["requestId"]
    assert list(init) == ["time", "type", "record"] and re.fullmatch(ISO_MS, init["time"])
    assert init["type"] == "platform.initStart"
    assert list(init["record"]) == ["initializationType", "phase", "runtimeVersion", "runtimeVersionArn",
                                    "functionName", "functionVersion"]
    assert init["record"]["functionName"] == name and init["record"]["initializationType"] == "on-demand"
    assert start == {"time": start["time"], "type": "platform.start",
                     "record": {"requestId": request_id, "version": "$LATEST"}}
    assert "plain print" in lines  # print() stays a plain line
    assert info == {"timestamp": info["timestamp"], "level": "INFO", "message": "order 42 taken", "logger": "orders",
                    "requestId": request_id, "orderId": 42}
    assert re.fullmatch(ISO_MS, info["timestamp"])
    assert list(error) == ["timestamp", "level", "message", "logger", "stackTrace", "errorType", "errorMessage",
                           "requestId", "location"]
    assert (error["level"], error["errorType"], error["errorMessage"]) == ("ERROR", "ZeroDivisionError",
                                                                          "division by zero")
    assert re.fullmatch(r"/var/task/app\.py:handler:\d+", error["location"])
    assert error["stackTrace"][0].startswith('  File "/var/task/app.py", line ')
    assert report["type"] == "platform.report" and report["record"]["status"] == "success"
    assert list(report["record"]) == ["requestId", "metrics", "status"]
    assert list(report["record"]["metrics"]) == ["durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
                                                 "initDurationMs"]
    assert report["record"]["metrics"]["memorySizeMB"] == 128
    assert not any(line.startswith(("START", "END", "REPORT", "INIT_START")) for line in lines)
    assert "not shown at INFO" not in tail
    assert _group_messages(f"/aws/lambda/{name}") == lines  # CloudWatch holds what LogResult's tail shows

    _, _, warm = invoke(lam, name)
    warm_report = _records(warm)[-1]["record"]
    assert "initDurationMs" not in warm_report["metrics"]


def test_unhandled_error_is_one_json_line_and_a_failure_report(lam, make_function):
    name = make_function(JSON_HANDLER, LoggingConfig={"LogFormat": "JSON"})
    response, payload, tail = invoke(lam, name, {"fail": True})
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "ValueError"
    records = _records(tail)
    unhandled = next(r for r in records if r.get("errorMessage") == "bad order")
    assert list(unhandled) == ["timestamp", "level", "errorMessage", "errorType", "requestId", "stackTrace"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", unhandled["timestamp"])  # the runtime's: no ms, no Z
    assert unhandled["level"] == "ERROR" and unhandled["requestId"] == payload["requestId"]
    types = [r.get("type") for r in records if "type" in r]
    assert types[-2:] == ["platform.runtimeDone", "platform.report"]  # a failed invocation's runtimeDone is WARN
    assert records[-1]["record"]["status"] == "failure"


def test_application_log_level_filters_logging_print_and_sets_the_root_level(lam, make_function):
    name = make_function(JSON_HANDLER, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "ERROR"})
    _, level, tail = invoke(lam, name)
    assert level == 40
    app = [r for r in _records(tail) if "level" in r]
    assert [r["message"] for r in app] == ["could not divide"]
    assert "plain print" not in tail  # unstructured output counts as INFO, below ERROR
    assert [r["type"] for r in _records(tail) if "type" in r] == ["platform.initStart", "platform.start",
                                                                    "platform.report"]


def test_system_log_level_filters_platform_records(lam, make_function):
    quiet = make_function("def handler(e, c):\n    print('hi')\n    return 1\n",
                          LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    _, _, tail = invoke(lam, quiet)
    assert _lines(tail) == ["hi"]
    chatty = make_function("def handler(e, c):\n    return 1\n",
                           LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "DEBUG"})
    _, _, tail = invoke(lam, chatty)
    done = [r for r in _records(tail) if r["type"] == "platform.runtimeDone"]
    assert len(done) == 1 and done[0]["record"]["status"] == "success"
    assert list(done[0]["record"]["metrics"]) == ["durationMs", "producedBytes"]
    assert done[0]["record"]["metrics"]["producedBytes"] == 1  # the payload `1`


def test_custom_log_group_receives_the_functions_logs(lam, make_function):
    name = make_function("""
        import os
        def handler(event, context):
            print("to the custom group")
            return [context.log_group_name, os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]]
    """, LoggingConfig={"LogFormat": "Text", "LogGroup": "/shared/app-logs"})
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "Text", "LogGroup": "/shared/app-logs"}
    _, payload, _ = invoke(lam, name)
    assert payload == ["/shared/app-logs", "/shared/app-logs"]
    assert "to the custom group" in _group_messages("/shared/app-logs")
    logs = boto3.client("logs")
    assert not logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]


def test_filter_patterns_over_what_the_lab_wrote(lam, make_function):
    name = make_function(JSON_HANDLER, LoggingConfig={"LogFormat": "JSON"})
    invoke(lam, name)
    invoke(lam, name, {"fail": True})
    logs = boto3.client("logs")

    def found(pattern):
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern=pattern)["events"]
        return [e["message"] for e in events]

    errors = [json.loads(m) for m in found('{ $.level = "ERROR" }')]
    assert [e.get("message", e.get("errorMessage")) for e in errors] == ["could not divide", "could not divide",
                                                                        "bad order"]
    assert len(found('{ $.type = "platform.report" && $.record.status = "failure" }')) == 1
    assert len(found('{ $.record.metrics.memorySizeMB >= 128 }')) == 2
    assert len(found('{ $.orderId = 42 }')) == 2
    assert found('"plain print"') == ["plain print", "plain print"]
    assert len(found("?ZeroDivisionError ?ValueError")) == 3  # two logged exceptions, one unhandled error
    assert [json.loads(m)["message"] for m in found("orders -could")] == ["order 42 taken", "order 42 taken"]
    assert len(found("%platform\\.(start|report)%")) == 4
    with pytest.raises(ClientError) as bad:
        found("{ $.level = }")
    assert bad.value.response["Error"]["Code"] == "InvalidParameterException"


def test_node_console_methods_write_json_as_the_node_runtime_does(lam, make_function):
    from test_node import need_node

    need_node()
    name = make_function({"index.mjs": """
        export const handler = async (event) => {
          console.log("total", {items: 2});
          console.debug("below INFO");
          console.warn("careful");
          console.error("failed", new TypeError("bad type"));
          if (event.fail) throw new RangeError("out of range");
          return "ok";
        };
    """}, handler="index.handler", runtime="nodejs22.x", LoggingConfig={"LogFormat": "JSON"})
    _, _, tail = invoke(lam, name, {"fail": True})
    records = _records(tail)
    request_id = records[1]["record"]["requestId"]
    app = [r for r in records if "level" in r]
    assert app[0] == {"timestamp": app[0]["timestamp"], "level": "INFO", "requestId": request_id,
                      "message": "total { items: 2 }"}
    assert [r["level"] for r in app] == ["INFO", "WARN", "ERROR", "ERROR"]  # console.debug is below INFO
    logged = app[2]
    assert list(logged) == ["timestamp", "level", "requestId", "message", "errorType", "errorMessage", "stackTrace"]
    assert (logged["errorType"], logged["errorMessage"]) == ("TypeError", "bad type")
    assert logged["stackTrace"][1].startswith("    at Runtime.handler (file:///var/task/index.mjs:")
    unhandled = app[3]["message"]  # the runtime logs the error object alone
    assert (unhandled["errorType"], unhandled["errorMessage"]) == ("RangeError", "out of range")
    assert unhandled["stackTrace"][0] == "RangeError: out of range"


def test_filter_patterns_on_text_logs(lam, make_function):
    name = make_function("""
        def handler(event, context):
            print("alpha one")
            print("beta two")
            print('{"not": "a lambda line"}')
            return 1
    """)
    invoke(lam, name)
    logs = boto3.client("logs")

    def found(pattern):
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern=pattern)["events"]
        return [e["message"] for e in events]

    assert found("?alpha ?beta") == ["alpha one", "beta two"]
    assert found("one -beta") == ["alpha one"]
    assert found('{ $.not = "a lambda*" }') == ['{"not": "a lambda line"}']
    assert found('{ $.level = "ERROR" }') == []
    assert len(found("RequestId")) == 3  # START, END and REPORT
