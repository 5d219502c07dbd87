"""The Monitor view: a function's AWS/Lambda metrics from CloudWatch, as the console's Monitor tab shows them.

CSS classes: lab-monitor-view (root), lab-monitor-function, lab-monitor-hours, lab-monitor-refresh,
lab-monitor-summary, lab-monitor-chart.
"""

from __future__ import annotations

import ipywidgets as w

from .. import plots
from ._common import Controller, client, function_names, note, png, problem, table, tag

WINDOWS = {"last hour": 1.0, "last 3 hours": 3.0, "last 12 hours": 12.0, "last day": 24.0}


class MonitorView(Controller):
    """State: the series `plots.monitor_metrics` read (`series`), their `totals`, a message."""

    def __init__(self, function_name: str | None = None, lambda_client=None, cloudwatch_client=None) -> None:
        self.lam = client("lambda", lambda_client)
        self.cloudwatch = client("cloudwatch", cloudwatch_client)
        self.series: dict = {}
        self.totals: dict = {}
        self.message = ""
        self.function = tag(w.Dropdown(description="Function"), "lab-monitor-function")
        self.hours = tag(w.Dropdown(options=list(WINDOWS), value="last hour", description="Window"),
                         "lab-monitor-hours")
        self.refresh_button = tag(w.Button(description="Refresh", icon="refresh"), "lab-monitor-refresh")
        self.summary = tag(w.HTML(), "lab-monitor-summary")
        self.chart = tag(w.Image(format="png", layout=w.Layout(max_width="900px")), "lab-monitor-chart")
        self.function.observe(lambda _: self._ignore() or self.refresh(), "value")
        self.hours.observe(lambda _: self._ignore() or self.refresh(), "value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.widget = self._root([w.HBox([self.function, self.hours, self.refresh_button]), self.summary,
                                  self.chart], "lab-monitor-view")
        try:
            names = function_names(self.lam)
        except Exception as error:
            names, self.message = [], problem(error)
        self._set(self.function, options=names,
                  value=function_name if function_name in names else (names[0] if names else None))
        self.refresh()

    def refresh(self) -> None:
        """Read the chosen function's metrics again (CloudWatch GetMetricData) and redraw."""
        name = self.function.value
        if not name:
            self.message = self.message or "No function yet: create one, then press Refresh."
            return self.render()
        try:
            hours = WINDOWS[self.hours.value]
            self.series = plots.monitor_metrics(name, hours=hours, period=60 if hours <= 3 else 300,
                                                cloudwatch=self.cloudwatch)
            self.figure = plots.monitor(name, hours=hours, period=60 if hours <= 3 else 300, series=self.series)
            self.message = ""
        except Exception as error:  # a learner without cloudwatch:GetMetricData sees why, not a traceback
            self.series, self.figure, self.message = {}, None, problem(error)
        invocations = sum(v for _, v in self.series.get("invocations", []))
        errors = sum(v for _, v in self.series.get("errors", []))
        self.totals = {
            "invocations": invocations, "errors": errors,
            "success rate (%)": round(100 * (invocations - errors) / invocations, 1) if invocations else None,
            "throttles": sum(v for _, v in self.series.get("throttles", [])),
            "worst p99 duration (ms)": max((v for _, v in self.series.get("duration_p99", [])), default=None),
            "peak concurrency": max((v for _, v in self.series.get("concurrency", [])), default=None)}
        self.render()

    def render(self) -> None:
        if self.message:
            self.summary.value = note(self.message, "error" if self.function.value else "info")
            return
        rows = [(key, "–" if value is None else f"{value:g}") for key, value in self.totals.items()]
        self.summary.value = table(rows, css="lab-monitor-totals") + note(
            "From CloudWatch (namespace AWS/Lambda, dimension FunctionName): what Lambda publishes for every "
            "invocation. Locally the window ends at the lab clock's now.")
        if getattr(self, "figure", None) is not None:
            self.chart.value = png(self.figure)


def monitor_view(function_name: str | None = None) -> w.VBox:
    """The console's Monitor tab for a function: invocations, duration p50/p99, errors, throttles, concurrency.

    >>> view = monitor_view("hello")        # the last expression of a cell displays it
    >>> view.controller.totals              # the window's figures: invocations, errors, success rate, ...
    """
    return MonitorView(function_name).widget
