"""The course's ipywidgets: each factory returns a displayable widget whose `.controller` holds its state.

>>> from lambda_lab import widgets
>>> widgets.invoke_console("hello")        # the last expression of a cell displays it

They call only the public AWS API (boto3's "lambda" and "logs" clients), so they work against real AWS as
well as the lab; where a lab is running they also chart its invocation history. Every widget and its key
parts carry stable CSS classes (lab-invoke-console, lab-invoke-result, ...) that a browser test waits for.
"""

from ._calculator import CostCalculator, cost_calculator
from ._console import InvokeConsole, invoke_console
from ._logs import LogsViewer, logs_viewer
from ._monitor import MonitorView, monitor_view
from ._tuner import MemoryTuner, memory_tuner
from ._versions import VersionsManager, versions_manager

__all__ = ["invoke_console", "memory_tuner", "versions_manager", "logs_viewer", "cost_calculator", "monitor_view",
           "InvokeConsole", "MemoryTuner", "VersionsManager", "LogsViewer", "CostCalculator",
           "MonitorView"]
