"""The memory tuner: move a slider, and the function is reconfigured, invoked and charted at that size.

CSS classes: lab-memory-tuner (root), lab-tuner-memory, lab-tuner-architecture, lab-tuner-count,
lab-tuner-reset, lab-tuner-progress, lab-tuner-status, lab-tuner-table, lab-tuner-chart.
"""

from __future__ import annotations

import base64
import json
import statistics
import urllib.request

import ipywidgets as w

from .. import plots, pricing
from ._common import WHOLE_LABEL, Controller, client, lab_or_none, note, png, problem, tag, table

MIN_MB, MAX_MB, STEP_MB = 128, 10_240, 64  # Lambda takes any size in 1 MB steps; 64 keeps the slider usable


class MemoryTuner(Controller):
    """State: the function's original configuration, the measured points, and the last status line."""

    def __init__(self, function_name: str, payload=None, invocations: int = 5, code: bytes | None = None,
                 lambda_client=None) -> None:
        self.lam = client("lambda", lambda_client)
        self.name = function_name
        self.payload = json.dumps(payload if payload is not None else {}).encode()
        self.code = code
        self.points: list[dict] = []
        self.figure, self.image = None, b""  # the chart of every point so far, and its PNG
        self.status, self.status_kind = "", "info"
        self.kept_why = ""  # why the architecture did not change, when it did not
        config = self.lam.get_function_configuration(FunctionName=function_name)
        self.original = {"memory_mb": config["MemorySize"],
                         "architecture": (config.get("Architectures") or ["x86_64"])[0]}
        self.memory = tag(w.IntSlider(value=_on_slider(config["MemorySize"]), min=MIN_MB, max=MAX_MB, step=STEP_MB,
                                      description="Memory (MB)", continuous_update=False, style=WHOLE_LABEL,
                                      layout=w.Layout(width="60%")), "lab-tuner-memory")
        self.architecture = tag(w.ToggleButtons(options=["x86_64", "arm64"], value=self.original["architecture"],
                                                description="Architecture"), "lab-tuner-architecture")
        self.count = tag(w.BoundedIntText(value=invocations, min=1, max=100, description="Invocations",
                                          layout=w.Layout(width="12em")), "lab-tuner-count")
        self.reset_button = tag(w.Button(description="Reset", icon="undo",
                                         tooltip="put back the memory and architecture the function had"),
                                "lab-tuner-reset")
        self.progress = tag(w.IntProgress(min=0, max=invocations, layout=w.Layout(width="60%")), "lab-tuner-progress")
        self.status_html = tag(w.HTML(), "lab-tuner-status")
        self.table_html = tag(w.HTML(), "lab-tuner-table")
        self.chart = tag(w.Image(format="png", layout=w.Layout(max_width="700px")), "lab-tuner-chart")
        self.memory.observe(self._on_change, "value")
        self.architecture.observe(self._on_change, "value")
        self.reset_button.on_click(lambda _: self.reset())
        self.widget = self._root([self.memory, w.HBox([self.architecture, self.count, self.reset_button]),
                                  self.progress, self.status_html, self.table_html, self.chart], "lab-memory-tuner")
        self.render()

    # -- callbacks -------------------------------------------------------------------------------------
    def _on_change(self, change) -> None:
        if not self._ignore():
            self.measure(self.memory.value, self.architecture.value)

    def measure(self, memory_mb: int, architecture: str) -> dict | None:
        """Configure `memory_mb` and `architecture`, wait for the update, invoke N times, add the point."""
        self.status, self.status_kind = f"Setting {memory_mb} MB ({architecture})…", "info"
        self.render()
        try:
            applied = self._configure(memory_mb, architecture)
            if applied != architecture:  # measuring now would chart a point for a setting that never ran
                self.status, self.status_kind = f"The function still runs on {applied}: {self.kept_why}", "error"
                self._set(self.architecture, value=applied)
                self.render()
                return None
            point = self._invoke(memory_mb, architecture, self.count.value)
        except Exception as error:  # e.g. more memory than the account allows: show AWS's words
            self.status, self.status_kind = problem(error), "error"
            self.render()
            return None
        self.status, self.status_kind = (f"{memory_mb} MB ({architecture}): {point['avg_ms']:.1f} ms on "
                                         f"average, {pricing.usd(point['cost_per_million'])} per million."), "ok"
        self.points.append(point)
        self.figure = plots.memory_points_chart(self.points, self.name)
        self.image = png(self.figure)
        self.render()
        return point

    def reset(self) -> None:
        """Put back the configuration the function had when the tuner opened; the points stay."""
        try:
            self._configure(self.original["memory_mb"], self.original["architecture"])
        except Exception as error:
            self.status, self.status_kind = problem(error), "error"
        else:
            self.status, self.status_kind = (f"Restored {self.original['memory_mb']} MB "
                                             f"({self.original['architecture']})."), "ok"
        self._set(self.memory, value=_on_slider(self.original["memory_mb"]))
        self._set(self.architecture, value=self.original["architecture"])
        self.render()

    # -- the Lambda API --------------------------------------------------------------------------------
    def _configure(self, memory_mb: int, architecture: str) -> str:
        """Set memory (and architecture, which only UpdateFunctionCode takes); return the architecture now set."""
        waiter = self.lam.get_waiter("function_updated_v2")  # an update is asynchronous: LastUpdateStatus InProgress
        config = self.lam.get_function_configuration(FunctionName=self.name)
        current = (config.get("Architectures") or ["x86_64"])[0]
        if config["MemorySize"] != memory_mb:
            self.lam.update_function_configuration(FunctionName=self.name, MemorySize=memory_mb)
            waiter.wait(FunctionName=self.name)
        self.storage_mb = (config.get("EphemeralStorage") or {}).get("Size", pricing.FREE_EPHEMERAL_MB)
        if current != architecture:
            code = self.code or _download_code(self.lam, self.name)
            if code is None:
                self.kept_why = "changing it re-uploads the code (UpdateFunctionCode), so pass code=<your zip>."
                return current
            self.lam.update_function_code(FunctionName=self.name, ZipFile=code, Architectures=[architecture])
            waiter.wait(FunctionName=self.name)
            current = (self.lam.get_function_configuration(FunctionName=self.name).get("Architectures")
                       or ["x86_64"])[0]
            self.kept_why = "this backend ignored UpdateFunctionCode's Architectures."
        return current

    def _invoke(self, memory_mb: int, architecture: str, n: int) -> dict:
        reports, errors = [], 0
        self._set(self.progress, max=n, value=0)
        for i in range(n):
            response = self.lam.invoke(FunctionName=self.name, Payload=self.payload, LogType="Tail")
            response["Payload"].read()
            errors += "FunctionError" in response
            reports.append(pricing.parse_report(base64.b64decode(response["LogResult"]).decode(errors="replace")))
            self._set(self.progress, value=i + 1)
        warm = [r for r in reports if not r.cold] or reports  # a cold start measures init, not the memory size
        cost = statistics.fmean(pricing.cost_per_invocation(r.billed_ms, r.memory_mb, architecture, self.storage_mb)
                                for r in warm)
        return {"memory_mb": memory_mb, "architecture": architecture, "invocations": n,
                "cold": sum(r.cold for r in reports), "errors": errors,
                "avg_ms": statistics.fmean(r.duration_ms for r in warm),
                "avg_billed_ms": statistics.fmean(r.billed_ms for r in warm),
                "cost": cost, "cost_per_million": cost * 1e6}

    # -- render ----------------------------------------------------------------------------------------
    def render(self) -> None:
        self.status_html.value = note(self.status or f"{self.name}: {self.original['memory_mb']} MB "
                                      f"({self.original['architecture']}). Move the slider to measure another size.",
                                      self.status_kind)
        rows = [(p["memory_mb"], p["architecture"], f"{p['avg_ms']:.2f}", f"{p['avg_billed_ms']:.1f}",
                 pricing.usd(p["cost"]), f"{p['cold']} cold, {p['errors']} errors", p.get("note", ""))
                for p in self.points]
        self.table_html.value = table(rows, ("MB", "architecture", "avg ms (warm)", "billed ms", "per invocation",
                                             "of N", ""), "lab-tuner-points") if rows else ""
        self.chart.value = self.image
        self.chart.layout.display = None if self.image else "none"  # an empty Image shows a broken icon


def _on_slider(memory_mb: int) -> int:
    """The slider position nearest a size, e.g. 1769 MB sits at 1792 (the slider moves in 64 MB steps)."""
    return min(MAX_MB, max(MIN_MB, MIN_MB + round((memory_mb - MIN_MB) / STEP_MB) * STEP_MB))


def _download_code(lam, name: str) -> bytes | None:
    """The deployment package from GetFunction's presigned URL (Code.Location), which AWS and the lab both serve."""
    try:
        location = lam.get_function(FunctionName=name)["Code"]["Location"]
        with urllib.request.urlopen(location, timeout=30) as response:  # noqa: S310 - an https URL from AWS
            return response.read()
    except Exception:
        return None


def memory_tuner(function_name: str, payload=None, invocations: int = 5, code: bytes | None = None,
                 lambda_client=None) -> w.VBox:
    """A memory slider and architecture toggle that reconfigure, invoke and chart the function at each setting.

    Changing the architecture needs the deployment package (UpdateFunctionCode takes Architectures): the tuner
    downloads it from GetFunction's Code.Location, or uses `code=` (your zip's bytes) if you pass it. Reset puts back the original configuration.

    >>> tuner = memory_tuner("resize", {"width": 200}, invocations=5)
    >>> tuner.controller.memory.value = 1024    # what moving the slider does

    Introduced in notebook 06_memory_and_cost.
    """
    return MemoryTuner(function_name, payload, invocations, code, lambda_client).widget
