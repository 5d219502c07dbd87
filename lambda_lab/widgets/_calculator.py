"""The cost calculator: a month's traffic in, the bill out, with and without the free tier.

CSS classes: lab-cost-calculator (root), lab-cost-requests, lab-cost-duration, lab-cost-memory,
lab-cost-architecture, lab-cost-storage, lab-cost-summary, lab-cost-chart.
"""

from __future__ import annotations

import html

import ipywidgets as w

from .. import plots, pricing
from ._common import Controller, note, png, tag

LABELS = {"description_width": "12em"}  # one width, so the input boxes line up


class CostCalculator(Controller):
    """State: the two estimates (`with_free_tier`, `without_free_tier`) for the inputs as they are now."""

    def __init__(self, requests: int = 3_000_000, duration_ms: float = 120.0, memory_mb: int = 512,
                 architecture: str = "x86_64", ephemeral_mb: int = pricing.FREE_EPHEMERAL_MB) -> None:
        self.requests = tag(w.BoundedIntText(value=requests, min=0, max=10**12, step=100_000,
                                             description="Requests/month", style=LABELS),
                            "lab-cost-requests")
        self.duration = tag(w.BoundedFloatText(value=duration_ms, min=0, max=900_000, step=1,
                                               description="Avg billed ms", style=LABELS),
                            "lab-cost-duration")
        self.memory = tag(w.BoundedIntText(value=memory_mb, min=128, max=10_240, step=64, description="Memory (MB)",
                                           style=LABELS), "lab-cost-memory")
        self.architecture = tag(w.ToggleButtons(options=list(pricing.ARCHITECTURES), value=architecture,
                                                description="Architecture"), "lab-cost-architecture")
        self.storage = tag(w.BoundedIntText(value=ephemeral_mb, min=512, max=10_240, step=512,
                                            description="Ephemeral /tmp (MB)", style=LABELS),
                           "lab-cost-storage")
        self.summary = tag(w.HTML(), "lab-cost-summary")
        self.chart = tag(w.Image(format="png", layout=w.Layout(max_width="700px")), "lab-cost-chart")
        for field in (self.requests, self.duration, self.memory, self.architecture, self.storage):
            field.observe(lambda _: self.update(), "value")
        self.widget = self._root([w.HBox([w.VBox([self.requests, self.duration, self.memory, self.storage]),
                                          self.architecture]), self.summary, self.chart], "lab-cost-calculator")
        self.update()

    def update(self) -> None:
        """Price the inputs as they are now, both ways."""
        profile = (self.requests.value, self.duration.value, self.memory.value, self.architecture.value,
                   self.storage.value)
        self.with_free_tier = pricing.monthly_estimate(*profile, free_tier=True)
        self.without_free_tier = pricing.monthly_estimate(*profile, free_tier=False)
        self.figure = plots.cost_breakdown_chart(self.with_free_tier)
        self.render()

    def render(self) -> None:
        free, paid = self.with_free_tier, self.without_free_tier
        rows = "".join(f"<tr><td>{html.escape(label)}</td><td style='text-align:right'>{pricing.usd(value)}"
                       "</td></tr>" for label, value in paid.lines()[:-1])
        self.summary.value = (
            note(str(free).splitlines()[0])
            + f"<table class='lab-cost-lines'>{rows}"
            + f"<tr><td><b>total without the free tier</b></td><td class='lab-cost-total-paid' "
              f"style='text-align:right'><b>{pricing.usd(paid.total)}</b></td></tr>"
            + f"<tr><td>free tier credit</td><td style='text-align:right'>{pricing.usd(free.free_tier_credit)}"
            + "</td></tr>"
            + f"<tr><td><b>total with the free tier</b></td><td class='lab-cost-total-free' "
              f"style='text-align:right'><b>{pricing.usd(free.total)}</b></td></tr></table>"
            + note("The free tier (1M requests and 400,000 GB-s a month) belongs to the account, shared by all "
                   "its functions: count it only if this function is all the account runs."))
        self.chart.value = png(self.figure)


def cost_calculator(requests: int = 3_000_000, duration_ms: float = 120.0, memory_mb: int = 512,
                    architecture: str = "x86_64", ephemeral_mb: int = pricing.FREE_EPHEMERAL_MB) -> w.VBox:
    """A traffic profile in, the monthly bill out (pricing.monthly_estimate), with and without the free tier.

    >>> calc = cost_calculator(30_000_000, 120, 512)
    >>> pricing.usd(calc.controller.with_free_tier.total)
    '$29.13'

    Introduced in notebook 06_memory_and_cost.
    """
    return CostCalculator(requests, duration_ms, memory_mb, architecture, ephemeral_mb).widget
