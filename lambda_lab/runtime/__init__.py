"""Runs handler code the way Lambda does: processes, context, logs, limits. Knows nothing of moto."""

from ._engine import Runtime, RuntimeVersionWarning
from ._model import billed_duration_ms, cpu_share, modelled_duration_ms
from ._types import CodeArchive, FunctionConfig, InvokeRequest, InvokeResult, LogConfig

__all__ = ["Runtime", "RuntimeVersionWarning", "CodeArchive", "FunctionConfig", "InvokeRequest", "InvokeResult",
           "LogConfig", "billed_duration_ms", "cpu_share", "modelled_duration_ms"]
