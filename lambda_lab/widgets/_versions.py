"""The versions manager: publish versions, point an alias, split its traffic, watch the split, roll back.

CSS classes: lab-versions-manager (root), lab-versions-publish, lab-versions-alias, lab-versions-primary,
lab-versions-move, lab-versions-canary, lab-versions-weight, lab-versions-count, lab-versions-send,
lab-versions-rollback, lab-versions-progress, lab-versions-state, lab-versions-message, lab-versions-split,
lab-versions-chart.
"""

from __future__ import annotations

from collections import Counter

import ipywidgets as w

from .. import plots
from ._common import WHOLE_LABEL, Controller, client, lab_or_none, note, png, problem, published_versions, tag, table

NO_ROUTING = {"AdditionalVersionWeights": {}}


class VersionsManager(Controller):
    """State: published versions, the alias as Lambda last described it, earlier primaries, the last split."""

    def __init__(self, function_name: str, alias: str = "live", lambda_client=None, lab=None) -> None:
        self.lam = client("lambda", lambda_client)
        self.lab = lab
        self.name = function_name
        self.versions: list[str] = []
        self.alias: dict | None = None
        self.earlier: list[str] = []  # primaries this widget moved away from, newest last, for roll back
        self.split: Counter = Counter()
        self.figure, self.image = None, b""  # the chart of the last batch, and its PNG
        self.message, self.message_kind = "", "info"
        self.publish_button = tag(w.Button(description="Publish version", icon="tag"), "lab-versions-publish")
        self.alias_name = tag(w.Text(value=alias, description="Alias", layout=w.Layout(width="16em")),
                              "lab-versions-alias")
        self.primary = tag(w.Dropdown(description="Version", layout=w.Layout(width="14em")), "lab-versions-primary")
        self.move_button = tag(w.Button(description="Point alias here", icon="arrow-right",
                                        tooltip="create the alias, or move it, with no traffic split"),
                               "lab-versions-move")
        self.canary = tag(w.Dropdown(description="Also route to", style=WHOLE_LABEL), "lab-versions-canary")
        self.weight = tag(w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01, description="Weight",
                                        continuous_update=False, readout_format=".0%"), "lab-versions-weight")
        self.count = tag(w.BoundedIntText(value=100, min=1, max=10_000, description="Requests",
                                          layout=w.Layout(width="12em")), "lab-versions-count")
        self.send_button = tag(w.Button(description="Send requests", icon="paper-plane"), "lab-versions-send")
        self.rollback_button = tag(w.Button(description="Roll back", icon="undo", button_style="warning",
                                            tooltip="point the alias at the previous version, with no split"),
                                   "lab-versions-rollback")
        self.progress = tag(w.IntProgress(min=0, max=1, layout=w.Layout(width="50%")), "lab-versions-progress")
        self.state_html = tag(w.HTML(), "lab-versions-state")
        self.message_html = tag(w.HTML(), "lab-versions-message")
        self.split_html = tag(w.HTML(), "lab-versions-split")
        self.chart = tag(w.Image(format="png", layout=w.Layout(max_width="700px")), "lab-versions-chart")
        self.publish_button.on_click(lambda _: self.publish())
        self.move_button.on_click(lambda _: self.point_alias(self.primary.value))
        self.weight.observe(self._on_split, "value")
        self.canary.observe(self._on_split, "value")
        self.alias_name.observe(self._on_alias_name, "value")
        self.send_button.on_click(lambda _: self.send(self.count.value))
        self.rollback_button.on_click(lambda _: self.roll_back())
        self.widget = self._root([
            w.HBox([self.publish_button, self.alias_name]), w.HBox([self.primary, self.move_button]),
            w.HBox([self.canary, self.weight]), w.HBox([self.count, self.send_button, self.rollback_button]),
            self.progress, self.state_html, self.message_html, self.split_html, self.chart], "lab-versions-manager")
        self.refresh()

    # -- callbacks -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read versions and the alias from Lambda again."""
        try:
            self.versions = published_versions(self.lam, self.name)
            self.alias = self._get_alias()
        except Exception as error:
            self._say(problem(error), "error")
        self.render()

    def publish(self) -> str | None:
        """Publish $LATEST as a new version (Lambda answers with the existing one if nothing changed)."""
        try:
            before = set(self.versions)
            version = self.lam.publish_version(FunctionName=self.name)["Version"]
        except Exception as error:
            self._say(problem(error), "error")
            version = None
        else:
            if version in before:
                self._say(f"Nothing changed since version {version}, so Lambda returned it again.", "info")
            else:
                self._say(f"Published version {version}: its code and configuration are now frozen.", "ok")
        self.refresh()
        return version

    def point_alias(self, version: str | None) -> None:
        """Create the alias at `version`, or move it there; any traffic split is cleared."""
        if not version:
            return self._fail("Publish a version first: an alias points at a published version (or $LATEST).")
        try:
            if self.alias is None:
                self.lam.create_alias(FunctionName=self.name, Name=self.alias_name.value, FunctionVersion=version)
                self._say(f"Created alias {self.alias_name.value} -> version {version}.", "ok")
            else:
                self.lam.update_alias(FunctionName=self.name, Name=self.alias_name.value, FunctionVersion=version,
                                      RoutingConfig=NO_ROUTING)
                if self.alias["FunctionVersion"] != version:
                    self.earlier.append(self.alias["FunctionVersion"])
                self._say(f"Moved alias {self.alias_name.value} to version {version}, with no split.", "ok")
        except Exception as error:
            self._say(problem(error), "error")
        self._set(self.weight, value=0.0)
        return self.refresh()

    def set_split(self, version: str | None, weight: float) -> None:
        """Send `weight` (0-1) of the alias's traffic to `version`, the rest to its primary version."""
        if self.alias is None:
            return self._fail("Create the alias first (Point alias here), then split its traffic.")
        if weight > 0 and not version:
            return self._fail("Publish a second version first: the split sends traffic to another version.")
        routing = {"AdditionalVersionWeights": {version: round(weight, 4)}} if version and weight > 0 else NO_ROUTING
        try:
            self.lam.update_alias(FunctionName=self.name, Name=self.alias_name.value, RoutingConfig=routing)
        except Exception as error:  # e.g. the same version twice: Lambda's message says which rule
            self._say(problem(error), "error")
        else:
            alias, primary = self.alias_name.value, self.alias["FunctionVersion"]
            self._say(f"No split: every request goes to version {primary}." if routing is NO_ROUTING
                      else f"{weight:.0%} of requests to {alias} now go to version {version}.", "ok")
        return self.refresh()

    def send(self, n: int) -> Counter:
        """Invoke the alias `n` times and count which version served each request (ExecutedVersion)."""
        lab = lab_or_none(self.lab)
        seen = {i.request_id for i in lab.invocations} if lab is not None else set()
        self.split, self.figure, self.image = Counter(), None, b""
        self._set(self.progress, max=n, value=0)
        try:
            for i in range(n):
                response = self.lam.invoke(FunctionName=self.name, Qualifier=self.alias_name.value, Payload=b"{}")
                response["Payload"].read()
                self.split[response["ExecutedVersion"]] += 1
                self._set(self.progress, value=i + 1)
        except Exception as error:
            self._say(problem(error), "error")
        else:
            self._say(f"Sent {n} requests to {self.name}:{self.alias_name.value}.", "ok")
        if lab is not None and self.split:  # the lab also knows the order they were served in: chart it
            batch = [i for i in lab.invocations if i.request_id not in seen]
            try:
                self.figure = plots.versions_chart(batch, self.name, self.alias_name.value)
                self.image = png(self.figure)
            except ValueError:  # every request failed before a version ran: nothing to chart
                self.figure = None
        self.render()
        return self.split

    def roll_back(self) -> str | None:
        """Undo the last change: drop a split (the primary is the stable version), else point back."""
        if self.alias is None:
            return self._fail("There is no alias to roll back yet.")
        weights = (self.alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        current = self.alias["FunctionVersion"]
        if weights:
            target = current
        elif self.earlier:
            target = self.earlier.pop()
        else:
            lower = [v for v in self.versions if v.isdigit() and current.isdigit() and int(v) < int(current)]
            if not lower:
                return self._fail(f"Version {current} is the first one: there is nothing earlier to roll back to.")
            target = lower[-1]
        try:
            self.lam.update_alias(FunctionName=self.name, Name=self.alias_name.value, FunctionVersion=target,
                                  RoutingConfig=NO_ROUTING)
        except Exception as error:
            self._say(problem(error), "error")
            target = None
        else:
            self._say(f"Rolled back: {self.alias_name.value} -> version {target}, with no split.", "ok")
        self._set(self.weight, value=0.0)
        self.refresh()
        return target

    def _on_split(self, change) -> None:
        if not self._ignore():
            self.set_split(self.canary.value, self.weight.value)

    def _on_alias_name(self, change) -> None:
        if not self._ignore():
            self.earlier = []
            self.refresh()

    def _get_alias(self) -> dict | None:
        try:
            alias = self.lam.get_alias(FunctionName=self.name, Name=self.alias_name.value)
        except self.lam.exceptions.ResourceNotFoundException:
            return None
        alias.pop("ResponseMetadata", None)
        return alias

    def _say(self, text: str, kind: str) -> None:
        self.message, self.message_kind = text, kind

    def _fail(self, text: str) -> None:
        self._say(text, "error")
        self.render()

    # -- render ----------------------------------------------------------------------------------------
    def render(self) -> None:
        choices = self.versions or []
        primary = self.alias["FunctionVersion"] if self.alias else (choices[-1] if choices else None)
        self._set(self.primary, options=["$LATEST", *choices], value=primary or "$LATEST")
        others = [v for v in choices if v != primary]
        weights = ((self.alias or {}).get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        canary = next(iter(weights), None) or (self.canary.value if self.canary.value in others
                                               else (others[-1] if others else None))
        self._set(self.canary, options=others, value=canary)
        self._set(self.weight, value=float(next(iter(weights.values()), 0.0)))
        name = self.alias_name.value
        if self.alias is None:
            state = f"Alias {name} does not exist yet."
        else:
            share = 1.0 - sum(weights.values())
            state = f"{name} -> version {primary} ({share:.0%})" + "".join(
                f" + version {v} ({wt:.0%})" for v, wt in weights.items())
        self.state_html.value = (f"<b>{self.name}</b>: published versions "
                                 f"{', '.join(choices) if choices else 'none yet'}. " + note(state))
        self.message_html.value = note(self.message, self.message_kind) if self.message else ""
        total = sum(self.split.values())
        rows = [(v, c, f"{c / total:.1%}") for v, c in sorted(self.split.items(), key=lambda kv: _number(kv[0]))]
        self.split_html.value = table(rows, ("ExecutedVersion", "requests", "share"), "lab-versions-counts") \
            if rows else ""
        self.chart.value = self.image
        self.chart.layout.display = None if self.image else "none"  # an empty Image shows a broken icon


def _number(version: str) -> tuple:
    """Sort key: 2 before 10, $LATEST last."""
    return (0, int(version)) if version.isdigit() else (1, 0)


def versions_manager(function_name: str, alias: str = "live", lambda_client=None, lab=None) -> w.VBox:
    """Publish versions, point an alias, split its traffic with a slider, send requests, roll back.

    >>> m = versions_manager("checkout").controller   # display versions_manager(...) itself in a notebook
    >>> m.publish(), m.point_alias("1")                  # version 1, and alias "live" pointing at it
    >>> # ... change the code, then publish version 2
    >>> m.weight.value = 0.1                             # the slider: 10% of "live" to version 2
    >>> m.send(200)                                      # Counter({'1': 181, '2': 19}), from ExecutedVersion
    >>> m.roll_back()                                    # everything back on version 1, no split

    Introduced in notebook 08_versions_and_aliases.
    """
    return VersionsManager(function_name, alias, lambda_client, lab).widget
