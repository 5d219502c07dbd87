"""A function's LoggingConfig as Lambda keeps it: defaults, merging an update, and Lambda's own rules."""

from __future__ import annotations

from ..runtime import LogConfig
from ._errors import invalid

__all__ = ["merged", "shown", "as_runtime"]

_LEVEL_KEYS = ("ApplicationLogLevel", "SystemLogLevel")


def merged(current: dict | None, given: dict) -> dict:
    """The stored LoggingConfig after a create or update that sent `given` (the API model already checked values).

    Members not sent keep their value; JSON without levels means INFO for both; going back to Text drops them.
    """
    config = {**(current or {}), **{k: v for k, v in (given or {}).items() if v is not None}}
    log_format = config.get("LogFormat", "Text")
    if log_format == "Text":
        if any(key in (given or {}) for key in _LEVEL_KEYS):
            raise invalid('LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your '
                          'request or change the LogFormat to "Json" and try again.')
        for key in _LEVEL_KEYS:
            config.pop(key, None)
    else:
        for key in _LEVEL_KEYS:
            config.setdefault(key, "INFO")
    config["LogFormat"] = log_format
    return config


def shown(stored: dict | None, function_name: str) -> dict:
    """LoggingConfig as GetFunctionConfiguration answers it: format, levels in JSON, and the log group."""
    stored = stored or {}
    shown_config = {"LogFormat": stored.get("LogFormat", "Text")}
    for key in _LEVEL_KEYS:
        if key in stored:
            shown_config[key] = stored[key]
    shown_config["LogGroup"] = stored.get("LogGroup") or f"/aws/lambda/{function_name}"
    return shown_config


def as_runtime(stored: dict | None) -> LogConfig:
    """The runtime's view of a stored LoggingConfig."""
    stored = stored or {}
    return LogConfig(log_format=stored.get("LogFormat", "Text"), application_level=stored.get("ApplicationLogLevel"),
                     system_level=stored.get("SystemLogLevel"), log_group=stored.get("LogGroup"))
