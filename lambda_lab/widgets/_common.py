"""What every widget shares: the AWS clients, the lab when there is one, HTML snippets and PNG charts."""

from __future__ import annotations

import html
import io
import json

import ipywidgets as w
from botocore.exceptions import ClientError

WHOLE_LABEL = {"description_width": "initial"}  # ipywidgets otherwise cuts labels longer than ~8 characters


def lab_or_none(lab=None):
    """The given lab, else the notebook's running Lab, else None (the widgets then use the AWS API only)."""
    if lab is not None:
        return lab
    from .._lab import Lab

    current = Lab._current  # re-running a setup cell replaces it, so read it at each use
    return current if current is not None and not getattr(current, "_stopped", True) else None


def client(service: str, given=None):
    """`given` if a widget was handed a client (another region, a profile), else boto3's default."""
    if given is not None:
        return given
    import boto3

    return boto3.client(service)


def function_names(lam) -> list[str]:
    """Every function in the region, sorted, across list_functions pages."""
    names = []
    for page in lam.get_paginator("list_functions").paginate():
        names += [f["FunctionName"] for f in page["Functions"]]
    return sorted(names)


def published_versions(lam, name: str) -> list[str]:
    """Published version numbers, oldest first ($LATEST left out: it is not a version you can pin)."""
    versions = []
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        versions += [v["Version"] for v in page["Versions"] if v["Version"] != "$LATEST"]
    return sorted(versions, key=int)


def alias_names(lam, name: str) -> list[str]:
    names = []
    for page in lam.get_paginator("list_aliases").paginate(FunctionName=name):
        names += [a["Name"] for a in page["Aliases"]]
    return sorted(names)


def problem(error: Exception) -> str:
    """An AWS error as one line a learner can act on: its code and AWS's message."""
    if isinstance(error, ClientError):  # its str() wraps the message in "An error occurred (...) when calling"
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'Error')}: {info.get('Message', '')}".strip()
    from .._backends import LabStoppedError

    if isinstance(error, LabStoppedError):  # nothing was sent; say what to do, not where it would have gone
        return ("The lab behind this widget has stopped (lab.stop()). Run the notebook's setup cell again to "
                "start a new one, then this widget's cell.")
    return f"{type(error).__name__}: {error}"


def tag(widget: w.Widget, *classes: str) -> w.Widget:
    """Add stable CSS classes (a browser test waits for them) and return the widget."""
    for name in classes:
        widget.add_class(name)
    return widget


def pre(text: str, css: str = "") -> str:
    style = "max-height:22em;overflow:auto;white-space:pre-wrap;margin:0.3em 0"
    return f"<pre class='{css}' style='{style}'>{html.escape(text, quote=False)}</pre>"


def note(text: str, kind: str = "info") -> str:
    """A one-line message: info, ok or error; errors are red and marked so as not to rely on colour."""
    colour = {"info": "inherit", "ok": "#1b7837", "error": "#b2182b"}[kind]
    mark = {"info": "", "ok": "✔ ", "error": "✖ "}[kind]
    text = html.escape(text, quote=False)
    return f"<div class='lab-note lab-note-{kind}' style='color:{colour}'>{mark}{text}</div>"


def table(rows: list[tuple], head: tuple | None = None, css: str = "") -> str:
    def cell(kind: str, value) -> str:
        return f"<{kind} style='padding:0 1em 0 0;text-align:left'>{html.escape(str(value), quote=False)}</{kind}>"

    cells = "".join("<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows)
    top = "<tr>" + "".join(cell("th", h) for h in head) + "</tr>" if head else ""
    return f"<table class='{css}'>{top}{cells}</table>"


def pretty(payload: bytes) -> str:
    """A payload as indented JSON when it is JSON, else as text."""
    text = payload.decode(errors="replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def png(figure) -> bytes:
    """A matplotlib Figure as PNG bytes for an ipywidgets Image: works without a kernel, unlike Output."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def parse_json(text: str) -> tuple[object, str | None]:
    """(value, None) for valid JSON, else (None, where and what is wrong), so a typo never raises."""
    try:
        return json.loads(text or "{}"), None
    except json.JSONDecodeError as error:
        return None, f"The event is not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}."


class Controller:
    """A widget's plain state and logic; `.widget` is what a notebook displays, and it points back here.

    Callbacks change state and call render(); render() copies state into the child widgets with
    `quiet` set, so values it writes do not fire the callbacks again.
    """

    widget: w.Box
    quiet = False

    def _root(self, children: list, css: str) -> w.VBox:
        box = tag(w.VBox(children), "lab-widget", css)
        box.controller = self  # tests and curious learners reach the state from what was displayed
        return box

    def _set(self, widget: w.Widget, **values) -> None:
        """Set trait values without running our observers (render must not start another API call)."""
        saved, self.quiet = self.quiet, True
        try:
            for key, value in values.items():
                if getattr(widget, key) != value:
                    setattr(widget, key, value)
        finally:
            self.quiet = saved

    def _ignore(self) -> bool:
        return self.quiet
