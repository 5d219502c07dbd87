"""The invoke console: pick a function, qualifier and event, invoke, and read what Lambda answered.

CSS classes: lab-invoke-console (root), lab-invoke-function, lab-invoke-qualifier, lab-invoke-refresh,
lab-invoke-kind, lab-invoke-event, lab-invoke-type, lab-invoke-button, lab-invoke-result (status, version,
payload, FunctionError), lab-invoke-report (the REPORT summary), lab-invoke-log (the log tail).
"""

from __future__ import annotations

import base64
import json

import ipywidgets as w

from .. import events, pricing
from ._common import (WHOLE_LABEL, Controller, alias_names, client, function_names, note, parse_json, pre, pretty,
                      problem, published_versions, tag, table)

CUSTOM = "(your own JSON)"
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


class InvokeConsole(Controller):
    """State: the choices, the event text and the last answer (`self.answer`, a dict, or None)."""

    def __init__(self, function_name: str | None = None, event: dict | None = None, lambda_client=None) -> None:
        self.lam = client("lambda", lambda_client)
        self.answer: dict | None = None
        self.message = ""
        self.function = tag(w.Dropdown(description="Function"), "lab-invoke-function")
        self.qualifier = tag(w.Dropdown(description="Qualifier"), "lab-invoke-qualifier")
        self.refresh_button = tag(w.Button(description="Refresh lists", icon="refresh"), "lab-invoke-refresh")
        self.kind = tag(w.Dropdown(description="Sample event", options=[CUSTOM, *events.KINDS], value=CUSTOM,
                                   style=WHOLE_LABEL),
                        "lab-invoke-kind")
        self.event = tag(w.Textarea(value=json.dumps(event if event is not None else {}, indent=2),
                                    layout=w.Layout(width="100%", height="12em")), "lab-invoke-event")
        self.invocation_type = tag(w.ToggleButtons(options=INVOCATION_TYPES, value="RequestResponse",
                                                   tooltips=["synchronous: wait for the answer",
                                                             "asynchronous: Lambda queues it and answers 202",
                                                             "check permission and parameters only: 204"]),
                                   "lab-invoke-type")
        self.button = tag(w.Button(description="Invoke", button_style="primary", icon="play"), "lab-invoke-button")
        self.result = tag(w.HTML(), "lab-invoke-result")
        self.report = tag(w.HTML(), "lab-invoke-report")
        self.log = tag(w.HTML(), "lab-invoke-log")
        self.function.observe(self._on_function, "value")
        self.kind.observe(self._on_kind, "value")
        self.event.observe(self._on_edit, "value")
        self.refresh_button.on_click(lambda _: self.refresh(self.function.value))
        self.button.on_click(lambda _: self.invoke())
        self.widget = self._root([
            w.HBox([self.function, self.qualifier, self.refresh_button]),
            w.HBox([self.kind, self.invocation_type]), self.event, self.button,
            self.result, self.report, self.log], "lab-invoke-console")
        self.refresh(function_name)

    # -- callbacks: change state, then render -------------------------------------------------------
    def refresh(self, function_name: str | None = None) -> None:
        """Read the function list (and the chosen one's versions and aliases) from Lambda again."""
        self.message = ""
        try:
            names = function_names(self.lam)
        except Exception as error:  # no credentials, no network: say so in the widget, not as a traceback
            names, self.message = [], problem(error)
        chosen = function_name if function_name in names else (names[0] if names else None)
        if function_name and function_name not in names:
            self.message = f"No function named {function_name!r} in this region yet; create it, then Refresh lists."
        self._set(self.function, options=names, value=chosen)
        self._load_qualifiers()
        self.render()

    def _load_qualifiers(self) -> None:
        name = self.function.value
        options = ["$LATEST"]
        if name:
            try:
                options += published_versions(self.lam, name) + alias_names(self.lam, name)
            except Exception as error:
                self.message = problem(error)
        keep = self.qualifier.value if self.qualifier.value in options else "$LATEST"
        self._set(self.qualifier, options=options, value=keep)

    def _on_function(self, change) -> None:
        if self._ignore():
            return
        self.message = ""
        self._load_qualifiers()
        self.render()

    def _on_kind(self, change) -> None:
        if self._ignore() or change["new"] == CUSTOM:
            return
        self._set(self.event, value=json.dumps(events.generate(change["new"]), indent=2))
        self.message = ""
        self.render()

    def _on_edit(self, change) -> None:
        if self._ignore():
            return
        self._set(self.kind, value=CUSTOM)  # an edited sample is the learner's own event now

    def invoke(self) -> dict | None:
        """Send the event as the chosen invocation type; keep Lambda's answer (or why there is none)."""
        self.answer, self.message = None, ""
        event, bad = parse_json(self.event.value)
        if not bad and not self.function.value:
            bad = "There is no function to invoke yet: create one, then press Refresh lists."
        if bad:
            self.message = bad
            self.render()
            return None
        kind = self.invocation_type.value
        request = {"FunctionName": self.function.value, "InvocationType": kind,
                   "Payload": json.dumps(event).encode()}
        if self.qualifier.value and self.qualifier.value != "$LATEST":
            request["Qualifier"] = self.qualifier.value
        if kind == "RequestResponse":
            request["LogType"] = "Tail"  # the last 4 KB of the log, base64; AWS sends it for synchronous calls only
        self._set(self.button, disabled=True, description="Invoking…")
        try:
            response = self.lam.invoke(**request)
            self.answer = self._read(response, kind)
        except Exception as error:  # a throttle or a missing function is a lesson, not a crash
            self.message = problem(error)
        finally:
            self._set(self.button, disabled=False, description="Invoke")
        self.render()
        return self.answer

    def _read(self, response: dict, kind: str) -> dict:
        log = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
        answer = {"status": response["StatusCode"], "invocation_type": kind,
                  "executed_version": response.get("ExecutedVersion"),
                  "function_error": response.get("FunctionError"),
                  "payload": pretty(response["Payload"].read()) if "Payload" in response else "",
                  "log": log, "report": None, "cost": None, "architecture": None}
        if log:
            try:
                answer["report"] = pricing.parse_report(log)
            except ValueError:
                pass  # a tail cut inside a huge log may have lost its REPORT line; then there is no summary
        if answer["report"] is not None:
            architecture, storage = self._priced_as(answer["executed_version"] or "$LATEST")
            answer["architecture"] = architecture
            answer["cost"] = pricing.invocation_cost(log, architecture, storage)
        return answer

    def _priced_as(self, version: str) -> tuple[str, int]:
        """The architecture and /tmp size of the version that ran: both change the price."""
        try:
            config = self.lam.get_function_configuration(FunctionName=self.function.value, Qualifier=version)
        except Exception:  # the answer matters more than its price: fall back to Lambda's defaults
            return "x86_64", pricing.FREE_EPHEMERAL_MB
        return ((config.get("Architectures") or ["x86_64"])[0],
                (config.get("EphemeralStorage") or {}).get("Size", pricing.FREE_EPHEMERAL_MB))

    # -- render: state -> child widgets -------------------------------------------------------------
    def render(self) -> None:
        a = self.answer
        if a is None:
            self.result.value = note(self.message, "error") if self.message else note(
                "Choose a function and an event, then press Invoke.")
            self.report.value = self.log.value = ""
            return
        rows = [("StatusCode", a["status"])]
        if a["executed_version"]:
            rows.append(("ExecutedVersion", a["executed_version"]))
        if a["function_error"]:
            rows.append(("FunctionError", a["function_error"]))
        head = {"RequestResponse": "Response: the function failed" if a["function_error"] else "Response",
                "Event": "Accepted: Lambda queued the event and runs it in the background (see the logs viewer)",
                "DryRun": "Dry run: the caller may invoke this function; nothing ran"}[a["invocation_type"]]
        body = table(rows, css="lab-invoke-status")
        if a["invocation_type"] == "RequestResponse":
            label = "Error payload (FunctionError)" if a["function_error"] else "Payload"
            body += f"<b>{label}</b>" + pre(a["payload"], "lab-invoke-payload")
        kind = "error" if a["function_error"] else "ok"
        self.result.value = note(head, kind) + body
        self.report.value = _summary(a)
        self.log.value = ("<b>Log tail (LogResult)</b>" + pre(a["log"], "lab-invoke-logtext")) if a["log"] else ""


def _summary(answer: dict) -> str:
    r = answer["report"]
    if r is None:
        return ""
    start = f"cold start (Init Duration {r.init_ms:.2f} ms)" if r.cold else "warm start"
    rows = [("Duration", f"{r.duration_ms:.2f} ms"), ("Billed Duration", f"{r.billed_ms} ms"),
            ("Memory Size", f"{r.memory_mb} MB"),
            ("Max Memory Used", "-" if r.max_memory_mb is None else f"{r.max_memory_mb} MB"),
            ("Start", start),
            ("Cost", f"{pricing.usd(answer['cost'])} ({answer['architecture']}, request + billed GB-s)")]
    return "<b>REPORT</b>" + table(rows, css="lab-invoke-summary")


def invoke_console(function_name: str | None = None, event: dict | None = None, lambda_client=None) -> w.VBox:
    """A console to invoke a function with a sample or hand-written event and read the whole answer.

    >>> console = invoke_console("hello")       # display it; console.controller holds the state
    >>> console.controller.invoke()["status"]   # what the Invoke button does
    200

    Introduced in notebook 03_programming_model.
    """
    return InvokeConsole(function_name, event, lambda_client).widget
