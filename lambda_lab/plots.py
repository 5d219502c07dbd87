"""The course's charts: one style, each chart a function that returns its matplotlib Figure.

>>> from lambda_lab import plots
>>> plots.style()                          # once, in a notebook's setup cell
>>> plots.latency_chart(lab.invocations)   # shows inline as PNG
"""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

from .pricing import usd

# colour is never the only cue: every series also differs in marker and line style
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">"]
LINESTYLES = ["-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 1)), (0, (5, 5)), (0, (3, 5, 1, 5)),
              (0, (3, 1, 1, 1, 1, 1))]


def palette() -> list[str]:
    """Colours of the colour-blind-safe cycle: petroff10 (matplotlib 3.10+), else tableau-colorblind10.

    Introduced in notebook 06_memory_and_cost.
    """
    import matplotlib.style

    name = "petroff10" if "petroff10" in matplotlib.style.library else "tableau-colorblind10"
    return list(matplotlib.style.library[name]["axes.prop_cycle"].by_key()["color"])


def _rc() -> dict:
    colors = palette()
    n = len(colors)
    return {
        "axes.prop_cycle": cycler(color=colors) + cycler(marker=(MARKERS * 2)[:n])
        + cycler(linestyle=(LINESTYLES * 2)[:n]),
        "figure.figsize": (7.0, 4.0), "figure.dpi": 100, "savefig.format": "png",
        "axes.grid": True, "grid.alpha": 0.3, "lines.markersize": 5, "legend.frameon": False,
        "axes.titlesize": "medium", "axes.titleweight": "bold",
    }


def _series(i: int) -> dict:
    """Colour, marker and line style of the i-th series, for charts that draw on two axes."""
    colors = palette()
    return {"color": colors[i % len(colors)], "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)]}


class _Applied:
    def __init__(self, saved: dict) -> None:
        self._saved = saved

    def __enter__(self) -> _Applied:
        return self

    def __exit__(self, *exc) -> None:
        mpl.rcParams.update(self._saved)

    def __repr__(self) -> str:
        return "<lambda-lab chart style>"


def style() -> _Applied:
    """Use the course's chart style from now on (or only inside `with style():`), figures inline as PNG.

    Introduced in notebook 06_memory_and_cost.
    """
    rc = _rc()
    saved = {key: mpl.rcParams[key] for key in rc}
    mpl.rcParams.update(rc)
    _png_inline()
    return _Applied(saved)


def _png_inline() -> None:
    """PNG, not SVG: SVG embeds a date and would differ on every notebook run."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("png")


def _figure(**subplots) -> tuple[Figure, object]:
    # a bare Figure, not pyplot: a returned figure is then shown once, not once more by the inline backend
    _png_inline()
    fig = Figure(layout="constrained")
    return fig, fig.subplots(**subplots)


def _memory_axes(ax, cost_ax, sizes: list[int], title: str) -> None:
    """The shared frame of duration-and-cost-by-memory charts: log2 memory ticks, two axes from zero."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    if len(sizes) == 1:
        ax.set_xlim(sizes[0] / 1.5, sizes[0] * 1.5)  # one point: keep it off the frame
    ax.set_xlabel("memory (MB)")
    ax.set_ylabel("average duration (ms)")
    cost_ax.set_ylabel("cost per 1M invocations (USD)")
    ax.set_ylim(bottom=0)
    cost_ax.set_ylim(bottom=0)
    ax.set_title(title)


def tuning_chart(result) -> Figure:
    """Average duration (left axis) and cost (right axis) against memory, as Power Tuning draws a sweep.

    Introduced in notebook 06_memory_and_cost.
    """
    sizes = [r["memory_mb"] for r in result.table]
    with mpl.rc_context(_rc()):
        fig, ax = _figure()
        time_line, = ax.plot(sizes, [r["avg_ms"] for r in result.table], label="average duration (ms)", **_series(0))
        cost_ax = ax.twinx()
        cost_ax.grid(False)
        cost_line, = cost_ax.plot(sizes, [r["cost_per_million"] for r in result.table],
                                  label="cost per 1M invocations (USD)", **_series(1))
        pick = ax.axvline(result.power, color="0.4", linestyle=(0, (1, 2)), marker="",
                          label=f"recommended ({result.strategy}): {result.power} MB")
        _memory_axes(ax, cost_ax, sizes, f"{result.function}: duration and cost by memory")
        ax.legend(handles=[time_line, cost_line, pick], loc="upper center")
    return fig


def latency_chart(invocations, function_name: str | None = None) -> Figure:
    """Share of invocations that finished within each duration, warm and cold starts apart (cold: init + run).

    Introduced in notebook 06_memory_and_cost.
    """
    from .tuning import percentile

    results = [i.result for i in invocations
               if i.result is not None and (function_name is None or i.function_name == function_name)]
    if not results:
        raise ValueError("no finished invocations to chart" + (f" for {function_name!r}" if function_name else ""))
    groups = {"warm starts": sorted(r.duration_ms for r in results if not r.cold),
              "cold starts (init + duration)": sorted(r.duration_ms + (r.init_ms or 0.0) for r in results if r.cold)}
    with mpl.rc_context(_rc()):
        fig, ax = _figure()
        for i, (name, values) in enumerate(groups.items()):
            if not values:
                continue
            share = [100 * (k + 1) / len(values) for k in range(len(values))]
            label = (f"{name}: n={len(values)}, p50 {percentile(values, 50):.1f} ms, "
                     f"p99 {percentile(values, 99):.1f} ms")
            ax.step(values, share, where="post", label=label, markevery=max(1, len(values) // 10), **_series(i))
        everything = [v for values in groups.values() for v in values]
        if min(everything) > 0 and max(everything) / min(everything) > 20:
            ax.set_xscale("log")  # cold starts are often ten times a warm run or more
        ax.set_ylim(0, 102)
        ax.set_xlabel("duration (ms)")
        ax.set_ylabel("invocations finished within (%)")
        ax.set_title(f"{function_name or 'all functions'}: latency of warm and cold starts")
        ax.legend(loc="lower right")
    return fig


def versions_chart(invocations, function_name: str, alias: str | None = None) -> Figure:
    """Which version served each request (top) and each version's running share (bottom), behind an alias.

    Introduced in notebook 08_versions_and_aliases.
    """
    served = [i for i in invocations if i.function_name == function_name and i.result is not None
              and (alias is None or i.qualifier == alias)]
    if not served:
        raise ValueError(f"no served invocations of {function_name!r}" + (f" through {alias!r}" if alias else ""))
    versions = sorted({i.executed_version for i in served},
                      key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0))  # 2 before 10, $LATEST last
    numbers = list(range(1, len(served) + 1))
    with mpl.rc_context(_rc()):
        fig, (top, bottom) = _figure(nrows=2, sharex=True, height_ratios=[1, 2])
        for i, version in enumerate(versions):
            hits = [n for n, inv in zip(numbers, served) if inv.executed_version == version]
            top.plot(hits, [i] * len(hits), **{**_series(i), "linestyle": "none"}, label=f"version {version}")
            running, share = 0, []
            for inv in served:
                running += inv.executed_version == version
                share.append(100 * running / (len(share) + 1))
            bottom.plot(numbers, share, markevery=max(1, len(numbers) // 12), **_series(i),
                        label=f"version {version}: {len(hits)} of {len(served)} ({100 * len(hits) / len(served):.0f}%)")
        top.set_yticks(range(len(versions)), [f"v{v}" for v in versions])
        top.set_ylim(-0.5, len(versions) - 0.5)
        top.set_ylabel("version")
        top.set_title(f"{function_name}{':' + alias if alias else ''}: which version served each request")
        bottom.set_ylim(0, 100)
        bottom.set_xlabel("request number")
        bottom.set_ylabel("share so far (%)")
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.legend(loc="center right")
    return fig


def concurrency_chart(invocations, function_name: str | None = None, limit: int | None = None) -> Figure:
    """Executions running at each moment (a cold start's init counts) and the requests throttled with 429.

    Introduced in notebook 04_invocation_types.
    """
    chosen = [i for i in invocations if function_name is None or i.function_name == function_name]
    if not chosen:
        raise ValueError("no invocations to chart" + (f" for {function_name!r}" if function_name else ""))
    start = min(i.started_at for i in chosen)
    events = []
    for i in chosen:
        if i.result is not None:
            busy_s = (i.result.wall_ms + (i.result.init_ms or 0.0)) / 1000
            events += [(i.started_at - start, 1), (i.started_at - start + busy_s, -1)]
    events.sort(key=lambda e: (e[0], e[1]))  # at the same instant a finish frees its slot before a start takes it
    times, running, level = [0.0], [0], 0
    for at, change in events:
        level += change
        times.append(at)
        running.append(level)
    throttled = sorted(i.started_at - start for i in chosen if i.result is None and i.throttle_reason)

    def level_at(t: float) -> int:
        return next((r for at, r in zip(reversed(times), reversed(running)) if at <= t), 0)

    with mpl.rc_context(_rc()):
        fig, ax = _figure()
        ax.step(times, running, where="post", label=f"concurrent executions (peak {max(running)})",
                **{**_series(0), "marker": ""})
        if throttled:
            ax.plot(throttled, [level_at(t) for t in throttled], **{**_series(1), "linestyle": "none", "marker": "x"},
                    markersize=8, label=f"throttled, 429 TooManyRequests ({len(throttled)})")
        if limit is not None:
            ax.axhline(limit, color="0.4", linestyle="--", marker="", label=f"concurrency limit ({limit})")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.set_xlabel("time since the first request (s)")
        ax.set_ylabel("concurrent executions")
        ax.set_title(f"{function_name or 'all functions'}: concurrency over time")
        ax.legend(loc="best")
    return fig


def cost_breakdown_chart(estimate) -> Figure:
    """A month's bill as a waterfall: each charge, the free-tier credit going down, and the total.

    Introduced in notebook 06_memory_and_cost.
    """
    lines = estimate.lines()
    colors = palette()
    with mpl.rc_context(_rc()):
        fig, ax = _figure()
        running = 0.0
        for x, (label, value) in enumerate(lines):
            if label == "total":
                bottom, height, color, hatch = 0.0, value, colors[1], ""
            else:
                bottom, height = min(running, running + value), abs(value)
                color, hatch = (colors[3], "//") if value < 0 else (colors[0], "")
                running += value
            bars = ax.bar([x], [height], bottom=[bottom], color=color, hatch=hatch, edgecolor="0.2", label=label)
            ax.bar_label(bars, labels=[usd(value)], padding=2, fontsize="small")
        ax.set_xticks(range(len(lines)), [label.replace(" ", "\n", 1) for label, _ in lines])
        ax.grid(False, axis="x")
        ax.set_ylabel("USD per month")
        ax.set_title(f"{estimate.requests:,} requests x {estimate.avg_billed_ms:g} ms at {estimate.memory_mb} MB "
                     f"({estimate.architecture}): monthly bill")
    return fig


def memory_points_chart(points, function_name: str | None = None) -> Figure:
    """The memory tuner's measurements: average duration (left) and cost per 1M (right) by memory, per architecture.

    `points` are dicts with memory_mb, architecture, avg_ms and cost_per_million; a size measured again
    replaces its earlier point.

    Introduced in notebook 06_memory_and_cost.
    """
    if not points:
        raise ValueError("no measurements to chart yet")
    latest = {(p["architecture"], p["memory_mb"]): p for p in points}
    architectures = [a for a in ("x86_64", "arm64") if any(k[0] == a for k in latest)]
    with mpl.rc_context(_rc()):
        fig, ax = _figure()
        cost_ax = ax.twinx()
        cost_ax.grid(False)
        handles = []
        for i, arch in enumerate(architectures):
            row = sorted((p for (a, _), p in latest.items() if a == arch), key=lambda p: p["memory_mb"])
            sizes = [p["memory_mb"] for p in row]
            handles += ax.plot(sizes, [p["avg_ms"] for p in row], label=f"{arch}: average duration (ms)",
                               **_series(2 * i))
            handles += cost_ax.plot(sizes, [p["cost_per_million"] for p in row],
                                    label=f"{arch}: cost per 1M invocations (USD)", **_series(2 * i + 1))
        sizes = sorted({m for _, m in latest})
        _memory_axes(ax, cost_ax, sizes, f"{function_name or 'function'}: duration and cost by memory, as measured")
        fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize="small")  # off the points
    return fig


ATTEMPT_MARKERS = {"success": "o", "error": "X", "throttled": "s"}
END_MARKERS = {"Success": "P", "RetriesExhausted": "v", "EventAgeExceeded": "D", None: "4"}


def async_timeline_chart(async_events, limit: int = 30) -> Figure:
    """Each asynchronous event on its own row: its attempts (retries), on the lab's clock, and how it ended.

    Time is seconds since the first event was received, on the simulated clock that fast-forwards
    Lambda's one- and two-minute retry delays. Only the last `limit` events are drawn.

    >>> plots.async_timeline_chart(lab.async_events)

    Introduced in notebook 04_invocation_types.
    """
    chosen = list(async_events)[-limit:]
    if not chosen:
        raise ValueError("no asynchronous events to chart: invoke with InvocationType='Event' first")
    start = min(e.received_at for e in chosen)
    colors = palette()
    with mpl.rc_context(_rc()):
        fig, ax = _figure()
        fig.set_size_inches(7.0, max(2.5, 1.6 + 0.45 * len(chosen)))
        for row, event in enumerate(chosen):  # the wait for each attempt, as a thin line
            times = [event.received_at - start] + [a.at - start for a in event.attempts]
            ax.plot([min(times), max(times)], [row, row], color="0.6", linestyle="-", marker="", linewidth=1)
        for i, (outcome, marker) in enumerate(ATTEMPT_MARKERS.items()):
            xs = [a.at - start for e in chosen for a in e.attempts if a.outcome == outcome]
            ys = [row for row, e in enumerate(chosen) for a in e.attempts if a.outcome == outcome]
            if xs:
                ax.plot(xs, ys, linestyle="none", marker=marker, color=colors[i], markersize=8,
                        label=f"attempt: {outcome} ({len(xs)})")
        ends = {}
        for row, event in enumerate(chosen):
            last = max([event.received_at] + [a.at for a in event.attempts]) - start
            ends.setdefault(event.outcome, []).append((last, row))
            ax.annotate(_ending(event), (last, row), xytext=(12, 0), textcoords="offset points", va="center",
                        fontsize="small")
        for j, (outcome, spots) in enumerate(ends.items()):
            ax.plot([x for x, _ in spots], [y for _, y in spots], linestyle="none",
                    marker=END_MARKERS.get(outcome, "4"), color=colors[(3 + j) % len(colors)], markersize=11,
                    markerfacecolor="none", label=f"ended: {outcome or 'still queued'} ({len(spots)})")
        ax.set_yticks(range(len(chosen)), [f"{e.function_name}\n{e.request_id[:8]}" for e in chosen],
                      fontsize="small")
        ax.set_ylim(len(chosen) - 0.5, -0.5)  # first event at the top, as a log reads
        ax.set_xlim(left=min(-5.0, ax.get_xlim()[0]), right=ax.get_xlim()[1] * 1.35 + 20)  # room for the labels
        ax.set_xlabel("time since the first event was received (s, lab clock)")
        ax.set_title("asynchronous events: attempts, retries and how each ended")
        fig.legend(loc="outside lower center", ncols=3, fontsize="small")  # below: rows fill the axes
    return fig


def _ending(event) -> str:
    """How an event ended and where its record went, e.g. 'RetriesExhausted -> DeadLetter ok'."""
    text = event.outcome or "still queued"
    for kind, _arn, status in event.deliveries:
        text += f" -> {kind} {'ok' if status == 'ok' else 'failed'}"
    return text
