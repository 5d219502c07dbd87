"""The logs viewer: a function's CloudWatch log streams, newest first, and the events of the one picked.

CSS classes: lab-logs-viewer (root), lab-logs-function, lab-logs-stream, lab-logs-refresh, lab-logs-message,
lab-logs-events.
"""

from __future__ import annotations

import time

import ipywidgets as w

from ._common import Controller, client, function_names, note, pre, problem, tag

MAX_STREAMS = 50  # DescribeLogStreams' page size; older streams are rarely what a learner is after
MAX_EVENTS = 2_000


class LogsViewer(Controller):
    """State: the streams as DescribeLogStreams listed them, the chosen stream's events, a message."""

    def __init__(self, function_name: str | None = None, lambda_client=None, logs_client=None) -> None:
        self.lam = client("lambda", lambda_client)
        self.logs = client("logs", logs_client)
        self.streams: list[dict] = []
        self.events: list[dict] = []
        self.message, self.message_kind = "", "info"
        self.group: str | None = None
        self.function = tag(w.Dropdown(description="Function"), "lab-logs-function")
        self.stream = tag(w.Dropdown(description="Log stream", layout=w.Layout(width="70%")), "lab-logs-stream")
        self.refresh_button = tag(w.Button(description="Refresh", icon="refresh"), "lab-logs-refresh")
        self.message_html = tag(w.HTML(), "lab-logs-message")
        self.events_html = tag(w.HTML(), "lab-logs-events")
        self.function.observe(self._on_function, "value")
        self.stream.observe(self._on_stream, "value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.widget = self._root([w.HBox([self.function, self.refresh_button]), self.stream, self.message_html,
                                  self.events_html], "lab-logs-viewer")
        self._wanted = function_name
        self.refresh()

    def _log_group(self) -> str | None:
        """The function's log group: /aws/lambda/<name> unless its LoggingConfig names another."""
        name = self.function.value
        if not name:
            return None
        try:
            config = self.lam.get_function_configuration(FunctionName=name)
        except Exception:
            return f"/aws/lambda/{name}"
        return (config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"

    # -- callbacks -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """List functions and streams again; keep the chosen stream if it is still there, else take the newest."""
        self.message = ""
        try:
            names = function_names(self.lam)
        except Exception as error:
            names = []
            self._say(problem(error), "error")
        wanted = self._wanted or self.function.value
        self._set(self.function, options=names, value=wanted if wanted in names else (names[0] if names else None))
        self._wanted = None
        self._load_streams(keep=self.stream.value)
        self.render()

    def _on_function(self, change) -> None:
        if not self._ignore():
            self.message = ""
            self._load_streams(keep=None)
            self.render()

    def _on_stream(self, change) -> None:
        if not self._ignore():
            self._load_events()
            self.render()

    def _load_streams(self, keep: str | None) -> None:
        self.streams, self.events = [], []
        self.group = group = self._log_group()
        if group:
            try:
                self.streams = self.logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                                              descending=True, limit=MAX_STREAMS)["logStreams"]
            except self.logs.exceptions.ResourceNotFoundException:
                self._say(f"No log group {group} yet: Lambda creates it at the function's first invocation.",
                          "info")
            except Exception as error:
                self._say(problem(error), "error")
        names = [s["logStreamName"] for s in self.streams]
        choice = keep if keep in names else (names[0] if names else None)
        self._set(self.stream, options=[(_label(s), s["logStreamName"]) for s in self.streams], value=choice)
        self._load_events()

    def _load_events(self) -> None:
        self.events = []
        if not self.stream.value:
            return
        request = {"logGroupName": self.group, "logStreamName": self.stream.value, "startFromHead": True}
        try:
            while len(self.events) < MAX_EVENTS:  # the same token twice means the end of the stream
                page = self.logs.get_log_events(**request)
                self.events += page["events"]
                if not page["events"] or page.get("nextForwardToken") in (None, request.get("nextToken")):
                    break
                request["nextToken"] = page["nextForwardToken"]
        except Exception as error:
            self._say(problem(error), "error")

    def _say(self, text: str, kind: str) -> None:
        self.message, self.message_kind = text, kind

    # -- render ----------------------------------------------------------------------------------------
    def render(self) -> None:
        if self.message:
            self.message_html.value = note(self.message, self.message_kind)
        elif self.function.value:
            self.message_html.value = note(f"{self.group}: {len(self.streams)} stream(s), newest first; "
                                           "one stream per execution environment.")
        else:
            self.message_html.value = note("No functions yet.")
        lines = [f"{_clock(e['timestamp'])}  {e['message'].rstrip()}" for e in self.events]
        self.events_html.value = pre("\n".join(lines), "lab-logs-text") if lines else ""


def _clock(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}"


def _label(stream: dict) -> str:
    last = stream.get("lastEventTimestamp")
    return stream["logStreamName"] + (f"  (last event {_clock(last)} UTC)" if last else "")


def logs_viewer(function_name: str | None = None, lambda_client=None, logs_client=None) -> w.VBox:
    """A function's CloudWatch log streams, newest first, with a stream picker and a Refresh button.

    >>> viewer = logs_viewer("hello")
    >>> viewer.controller.refresh()      # what the Refresh button does

    Introduced in notebook 03_programming_model.
    """
    return LogsViewer(function_name, lambda_client, logs_client).widget
