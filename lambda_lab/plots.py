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
            ran_ms = i.result.wall_ms if i.result.wall_ms is not None else i.result.duration_ms  # None: from logs
            busy_s = (ran_ms + (i.result.init_ms or 0.0)) / 1000
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


# -- the console's Monitor tab, from CloudWatch ---------------------------------------------------------
# (series key, AWS/Lambda metric, statistic): what the Lambda console's Monitor tab draws for a function
MONITOR_METRICS = (("invocations", "Invocations", "Sum"), ("errors", "Errors", "Sum"),
                   ("duration_p50", "Duration", "p50"), ("duration_p99", "Duration", "p99"),
                   ("duration_avg", "Duration", "Average"), ("throttles", "Throttles", "Sum"),
                   ("concurrency", "ConcurrentExecutions", "Maximum"))


def monitor_metrics(function_name: str, hours: float = 1.0, period: int = 60, end=None, cloudwatch=None) -> dict:
    """One function's Monitor-tab series, {key: [(time, value), ...]} oldest first, from plain boto3 calls.

    Only `cloudwatch.get_metric_data` is used, so it reads the lab and a real account alike. `end`
    (a datetime) defaults to now: the lab clock's now while a local lab runs, the real time otherwise.
    """
    import datetime as dt

    import boto3

    end = end or dt.datetime.fromtimestamp(_monitor_now(), dt.timezone.utc)
    cloudwatch = cloudwatch or boto3.client("cloudwatch")
    dims = [{"Name": "FunctionName", "Value": function_name}]
    queries = [{"Id": key, "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                                                     "Dimensions": dims}, "Period": period, "Stat": stat}}
               for key, metric, stat in MONITOR_METRICS]
    series: dict = {key: [] for key, _, _ in MONITOR_METRICS}
    kwargs = {"MetricDataQueries": queries, "StartTime": end - dt.timedelta(hours=hours), "EndTime": end,
              "ScanBy": "TimestampAscending"}
    while True:
        page = cloudwatch.get_metric_data(**kwargs)
        for result in page["MetricDataResults"]:
            series[result["Id"]] += list(zip(result["Timestamps"], result["Values"]))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return {key: sorted(points) for key, points in series.items()}


def _monitor_now() -> float:
    import time

    from ._lab import Lab

    lab = Lab.current()
    return lab.clock.now() if lab is not None and lab.backend == "local" else time.time()


def monitor(function_name: str, hours: float = 1.0, period: int = 60, end=None, cloudwatch=None,
            series: dict | None = None) -> Figure:
    """The Lambda console's Monitor tab for one function: invocations, duration, errors, throttles, concurrency.

    Read from CloudWatch's AWS/Lambda metrics with `cloudwatch.get_metric_data` only (`monitor_metrics`;
    pass its `series` to draw what was already read).
    """
    series = series if series is not None else monitor_metrics(function_name, hours, period, end, cloudwatch)
    panels = [("Invocations (Sum)", [("invocations", "invocations")]),
              ("Duration (ms)", [("duration_p50", "p50"), ("duration_p99", "p99"), ("duration_avg", "average")]),
              ("Errors (Sum) and success rate", [("errors", "errors")]),
              ("Throttles (Sum)", [("throttles", "throttles")]),
              ("Concurrent executions (Maximum)", [("concurrency", "concurrent executions")])]
    with mpl.rc_context(_rc()):
        fig, axes = _figure(nrows=2, ncols=3)
        fig.set_size_inches(12, 6)
        flat = list(axes.flat)
        for n, (ax, (title, keys)) in enumerate(zip(flat, panels)):
            drawn = False
            for i, (key, label) in enumerate(keys):
                points = series[key]
                if points:
                    ax.plot([t for t, _ in points], [v for _, v in points], label=label, **_series(n + i))
                    drawn = True
            if keys[0][0] == "errors" and series["invocations"]:
                _success_rate(ax, series, len(panels))
            if not drawn:
                ax.text(0.5, 0.5, "no data in this window", transform=ax.transAxes, ha="center", va="center",
                        color="0.4")
            ax.set_title(title)
            ax.set_ylim(bottom=0)
            ax.tick_params(axis="x", labelrotation=30, labelsize="small")
            if len(keys) > 1 and drawn:
                ax.legend(loc="upper left", fontsize="small")
        flat[-1].set_axis_off()
        fig.suptitle(f"{function_name}: Monitor (last {hours:g} h, period {period} s, AWS/Lambda in CloudWatch)")
    return fig


def _success_rate(ax, series: dict, colour: int) -> None:
    """Success rate (%) on a second axis of the errors panel, as the console draws it."""
    errors = dict(series["errors"])
    points = [(t, 100.0 * (n - errors.get(t, 0.0)) / n) for t, n in series["invocations"] if n]
    rate_ax = ax.twinx()
    rate_ax.grid(False)
    rate_ax.plot([t for t, _ in points], [v for _, v in points], label="success rate (%)", **_series(colour))
    rate_ax.set_ylim(0, 105)
    rate_ax.set_ylabel("success rate (%)")


# kinds of X-Ray entities in a Lambda trace: (legend label, hatch); colour is never the only cue
TRACE_KINDS = {"AWS::Lambda": ("Lambda service", ""), "AWS::Lambda::Function": ("function", ""),
               "Initialization": ("init (cold start)", "//"), "Invocation": ("handler", ""),
               "Overhead": ("overhead", ".."), "downstream": ("downstream call", "xx"), "other": ("subsegment", "\\\\")}


def _trace_rows(trace) -> list[tuple[str, str, float, float]]:
    """(label, kind, start, end) for each segment and subsegment, depth-first, from a BatchGetTraces trace."""
    import json

    docs = sorted((json.loads(s["Document"]) for s in trace["Segments"]), key=lambda d: d["start_time"])
    rows = []

    def walk(entity: dict, depth: int, kind: str) -> None:
        end = entity.get("end_time") or entity["start_time"]
        label = "  " * depth + entity["name"] + (f" ({kind})" if kind.startswith("AWS::") else "")
        rows.append((label, kind, entity["start_time"], end))
        for sub in sorted(entity.get("subsegments") or [], key=lambda s: s["start_time"]):
            sub_kind = sub["name"] if sub["name"] in ("Initialization", "Invocation", "Overhead") and \
                kind == "AWS::Lambda::Function" else "downstream" if sub.get("namespace") in ("aws", "remote") \
                else "other"
            walk(sub, depth + 1, sub_kind)

    for doc in docs:
        walk(doc, 0, doc.get("origin") or "other")
    return rows


def trace_timeline_chart(trace) -> Figure:
    """One X-Ray trace as a timeline: Lambda's segments, init, handler, overhead and downstream calls.

    `trace` is one of `xray.batch_get_traces(TraceIds=[...])["Traces"]` (or that whole answer: its first
    trace), so the chart works on the local lab and on a real account alike.

    >>> trace = xray.batch_get_traces(TraceIds=[trace_id])["Traces"][0]
    >>> plots.trace_timeline_chart(trace)
    """
    if isinstance(trace, dict) and "Traces" in trace:
        if not trace["Traces"]:
            raise ValueError("no trace in this answer: is the trace id right, and did the invocation finish?")
        trace = trace["Traces"][0]
    rows = _trace_rows(trace)
    if not rows:
        raise ValueError("this trace has no segments yet")
    t0 = min(r[2] for r in rows)
    colors = palette()
    kinds = list(TRACE_KINDS)
    with mpl.rc_context(_rc()):
        fig, ax = _figure()
        fig.set_size_inches(7.0, max(2.5, 1.4 + 0.32 * len(rows)))
        seen = set()
        for y, (label, kind, start, end) in enumerate(rows):
            width = max((end - start) * 1000, 0.0)
            name, hatch = TRACE_KINDS.get(kind, TRACE_KINDS["other"])
            bars = ax.barh([y], [width], left=[(start - t0) * 1000], height=0.6, hatch=hatch, edgecolor="0.2",
                           color=colors[kinds.index(kind if kind in TRACE_KINDS else "other") % len(colors)],
                           label=None if name in seen else name)
            seen.add(name)
            ax.bar_label(bars, labels=[f"{width:.1f} ms"], padding=3, fontsize="small")
        ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize="small")
        ax.set_ylim(len(rows) - 0.5, -0.5)  # the first segment at the top, as the X-Ray console draws it
        ax.set_xlim(left=0, right=ax.get_xlim()[1] * 1.15)  # room for the duration labels
        ax.grid(False, axis="y")
        ax.set_xlabel("time since the trace started (ms)")
        ax.set_title(f"where the time went: trace {trace.get('Id', '')}", fontsize="small")
        fig.legend(loc="outside lower center", ncols=4, fontsize="small")
    return fig


def service_map_chart(services) -> Figure:
    """A service map: X-Ray's services (client, Lambda, functions, downstream calls) and the calls between them.

    `services` is `xray.get_service_graph(StartTime=..., EndTime=...)["Services"]` (or that whole answer).
    Each arrow says how many calls went that way and their average response time.
    """
    if isinstance(services, dict):
        services = services.get("Services", [])
    if not services:
        raise ValueError("no services in this graph: run a traced invocation (TracingConfig Mode Active) first")
    by_ref = {s["ReferenceId"]: s for s in services}
    incoming = {e["ReferenceId"] for s in services for e in s.get("Edges", [])}
    depth = {ref: 0 for ref in by_ref if ref not in incoming} or {services[0]["ReferenceId"]: 0}
    frontier = list(depth)
    while frontier:  # breadth-first from the callers: each service one column right of its first caller
        nxt = []
        for ref in frontier:
            for edge in by_ref[ref].get("Edges", []):
                if edge["ReferenceId"] not in depth:
                    depth[edge["ReferenceId"]] = depth[ref] + 1
                    nxt.append(edge["ReferenceId"])
        frontier = nxt
    for ref in by_ref:
        depth.setdefault(ref, 0)
    columns: dict = {}
    place = {}
    for ref in sorted(by_ref, key=lambda r: (depth[r], r)):
        row = columns.setdefault(depth[ref], [])
        place[ref] = (depth[ref], -len(row))
        row.append(ref)
    colors = palette()
    with mpl.rc_context(_rc()):
        fig, ax = _figure()
        fig.set_size_inches(7.0, 1.4 + 1.1 * max(len(c) for c in columns.values()))
        for ref, service in by_ref.items():
            x, y = place[ref]
            for edge in service.get("Edges", []):
                stats = edge.get("SummaryStatistics") or {}
                count = stats.get("TotalCount", 0)
                avg = 1000 * stats.get("TotalResponseTime", 0.0) / count if count else 0.0
                x2, y2 = place[edge["ReferenceId"]]
                ax.annotate("", (x2, y2), (x, y), arrowprops={"arrowstyle": "->", "color": "0.35",
                                                             "shrinkA": 14, "shrinkB": 14})
                ax.annotate(f"{count} x {avg:.1f} ms", ((x + x2) / 2, (y + y2) / 2), xytext=(0, 6),
                            textcoords="offset points", ha="center", fontsize="x-small", color="0.25")
        for i, (ref, service) in enumerate(sorted(by_ref.items(), key=lambda kv: place[kv[0]])):
            x, y = place[ref]
            faults = ((service.get("SummaryStatistics") or {}).get("FaultStatistics") or {}).get("TotalCount", 0)
            ax.plot([x], [y], linestyle="none", marker=MARKERS[i % len(MARKERS)], markersize=16,
                    color=colors[i % len(colors)], markeredgecolor="0.2")
            text = "client" if service.get("Type") == "client" else f"{service.get('Name')}\n{service.get('Type')}"
            ax.annotate(text + (f"\n{faults} faults" if faults else ""), (x, y), xytext=(0, -14),
                        textcoords="offset points", ha="center", va="top", fontsize="x-small")
        ax.set_xlim(-0.6, max(depth.values()) + 0.6)  # room for the labels under the outer nodes
        low = min(y for _, y in place.values())
        ax.set_ylim(low - 0.8, 0.5)
        ax.set_axis_off()
        ax.set_title("service map: who called whom, how often, how fast")
    return fig


# -- CodeDeploy: a deployment's traffic shift, hooks and alarms ------------------------------------------
HOOK_MARKERS = {"Succeeded": "P", "Failed": "X"}


def deployment(deployment_id: str) -> Figure:
    """Each version's share of the alias's traffic over a CodeDeploy deployment, in lab minutes.

    Hook results are marked on the time axis (a plus for Succeeded, a cross for Failed), spans where a
    watched alarm was in ALARM are hatched, and a rollback shows as all traffic returning to the old version.

    >>> deployment_id = codedeploy.create_deployment(...)["deploymentId"]
    >>> lab.wait_for_async(); plots.deployment(deployment_id)

    Introduced in notebook 13_deployment.
    """
    from .service._deployments import active

    d = active().get(deployment_id)
    end = d.completed_at if d.completed_at is not None else active().clock.now()
    times = [(t - d.created_at) / 60 for t, _ in d.traffic] + [(end - d.created_at) / 60]
    shares = [s for _, s in d.traffic] + [d.traffic[-1][1]]
    colors = palette()
    with mpl.rc_context(_rc()):
        fig, ax = _figure()
        for i, (version, series) in enumerate(((d.current, [100 * (1 - s) for s in shares]),
                                               (d.target, [100 * s for s in shares]))):
            ax.plot(times, series, drawstyle="steps-post", label=f"version {version}", **_series(i))
        for j, (status, marker) in enumerate(HOOK_MARKERS.items()):
            spots = [((t - d.created_at) / 60, name) for t, name, s in d.marks if s == status]
            if spots:
                ax.plot([x for x, _ in spots], [50] * len(spots), linestyle="none", marker=marker, markersize=12,
                        color=colors[(2 + j) % len(colors)], label=f"hook {status.lower()}")
                for x, name in spots:
                    ax.annotate(name, (x, 50), xytext=(6, 8), textcoords="offset points", fontsize="x-small")
        for start, stop, name in _alarm_spans(d, end):
            ax.axvspan((start - d.created_at) / 60, (stop - d.created_at) / 60, facecolor="none", hatch="//",
                       edgecolor="0.5", linewidth=0, label=f"alarm {name} in ALARM")
        ax.set_ylim(-5, 105)
        ax.set_xlabel("time since the deployment was created (minutes, lab clock)")
        ax.set_ylabel("share of the alias's traffic (%)")
        ax.set_title(f"{d.deployment_id} ({d.config_name.split('.')[-1]}): {d.status}")
        ax.legend(loc="center right", fontsize="small")
    return fig


def _alarm_spans(d, end: float) -> list[tuple[float, float, str]]:
    """(start, stop, alarm) of each stretch a watched alarm spent in ALARM during the deployment."""
    spans, opened = [], {}
    for at, name, state in d.alarm_log:
        if state == "ALARM":
            opened.setdefault(name, at)
        elif name in opened:
            spans.append((opened.pop(name), at, name))
    return spans + [(at, end, name) for name, at in opened.items()]
