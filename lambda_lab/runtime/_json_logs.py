"""Lambda's JSON log format: platform records in place of INIT_START/START/END/REPORT, and log-level filtering.

In JSON mode Lambda writes its own (system) lines as Telemetry API events, `{"time", "type", "record"}`, and
keeps only records at or above the function's SystemLogLevel and ApplicationLogLevel. Application lines are
filtered by their `"level"` member; a line that is not a JSON object with a known level counts as INFO.
"""

from __future__ import annotations

import json
import time

from ._report import iso_ms
from ._types import FunctionConfig

__all__ = ["invocation_lines", "level_of"]

_ORDER = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
# what runtimes and logging libraries write in "level", as Lambda's levels
_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}


def level_of(message: str) -> str:
    """The level Lambda reads from an application line: its JSON `level`, else INFO."""
    if not message.startswith("{"):
        return "INFO"
    try:
        level = json.loads(message).get("level")
    except (ValueError, AttributeError):
        return "INFO"
    if not isinstance(level, str):
        return "INFO"
    level = _ALIASES.get(level.upper(), level.upper())
    return level if level in _ORDER else "INFO"


def _kept(level: str, threshold: str | None) -> bool:
    return _ORDER[level] >= _ORDER[threshold or "INFO"]


def _platform(epoch_ms: int, kind: str, record: dict) -> list:
    # Lambda writes its own records compactly, without spaces
    return [epoch_ms, json.dumps({"time": iso_ms(epoch_ms), "type": kind, "record": record}, separators=(",", ":"))]


def _runtime_version(init_line: str) -> dict:
    """runtimeVersion (and its ARN) from the Text INIT_START line, so both formats name the same version."""
    fields = dict(part.split(": ", 1) for part in init_line.removeprefix("INIT_START ").split("\t") if ": " in part)
    found = {"runtimeVersion": fields.get("Runtime Version"), "runtimeVersionArn": fields.get("Runtime Version ARN")}
    return {key: value for key, value in found.items() if value}


def init_lines(config: FunctionConfig, started_ms: int, init_events: list, init_line: str,
               initialization_type: str) -> list:
    """An init phase logged on its own (provisioned concurrency initialises before any request), in JSON mode."""
    record = {"initializationType": initialization_type, "phase": "init", **_runtime_version(init_line),
              "functionName": config.function_name, "functionVersion": config.version}
    lines = [_platform(started_ms, "platform.initStart", record)] if _kept("INFO", config.logging.system_level) else []
    return lines + [e for e in init_events if _kept(level_of(e[1]), config.logging.application_level)]


def invocation_lines(config: FunctionConfig, request_id: str, started_ms: int, now_ms: int, init_ms: float | None,
                     init_events: list, events: list, duration_ms: float, billed_ms: int, max_memory_mb: int,
                     status: str, error_type: str | None, init_line: str, produced_bytes: int) -> list:
    """One invocation's log in JSON mode, filtered by the function's levels: [[epoch ms, message], ...].

    `status` is the Telemetry API's: success, failure (the handler's error), error (the runtime's), timeout.
    """
    system, application = config.logging.system_level, config.logging.application_level
    ok = status == "success"
    lines: list = []

    def add_platform(level: str, epoch_ms: int, kind: str, record: dict) -> None:
        if _kept(level, system):
            lines.append(_platform(epoch_ms, kind, record))

    def add_application(batch: list) -> None:
        lines.extend(event for event in batch if _kept(level_of(event[1]), application))

    if init_ms is not None:
        record = {"initializationType": "on-demand", "phase": "init"}
        record.update(_runtime_version(init_line))
        record.update(functionName=config.function_name, functionVersion=config.version)
        add_platform("INFO", started_ms, "platform.initStart", record)
        add_application(init_events)
    add_platform("INFO", started_ms, "platform.start", {"requestId": request_id, "version": config.version})
    add_application(events)
    done = {"requestId": request_id, "status": status}
    if error_type and not ok:
        done["errorType"] = error_type
    done["metrics"] = {"durationMs": round(duration_ms, 3), "producedBytes": produced_bytes}
    add_platform("DEBUG" if ok else "WARN", now_ms, "platform.runtimeDone", done)
    metrics = {"durationMs": round(duration_ms, 3), "billedDurationMs": billed_ms, "memorySizeMB": config.memory_mb,
               "maxMemoryUsedMB": max_memory_mb}
    if init_ms is not None:
        metrics["initDurationMs"] = round(init_ms, 3)
    report = {"requestId": request_id, "metrics": metrics, "status": status}
    if error_type and not ok:
        report["errorType"] = error_type
    add_platform("INFO" if ok else "WARN", now_ms, "platform.report", report)
    return lines
