"""Charts, checked on the data they draw (lines, bars, labels), never on pixels."""

import threading

import matplotlib
import matplotlib.style

matplotlib.use("Agg")  # no display in tests; the figures' data is what we check

import boto3  # noqa: E402 - after choosing the backend
import pytest  # noqa: E402
from botocore.config import Config  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import lambda_lab  # noqa: E402
from lambda_lab import plots, pricing  # noqa: E402
from lambda_lab.tuning import power_tune  # noqa: E402

SLEEPER = "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 0.01))\n    return 1\n"


def create(lab, name, **extra):
    lam = boto3.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(SLEEPER)}, **extra)
    return lam


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_style_uses_a_colour_blind_palette_with_markers_and_line_styles():
    expected = "petroff10" if "petroff10" in matplotlib.style.library else "tableau-colorblind10"
    assert plots.palette() == matplotlib.style.library[expected]["axes.prop_cycle"].by_key()["color"]
    before = matplotlib.rcParams["axes.prop_cycle"]
    with plots.style():
        cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()
        assert cycle["color"] == plots.palette()
        assert len(set(cycle["marker"])) == len(cycle["marker"])  # no two series share a marker...
        assert len({str(ls) for ls in cycle["linestyle"]}) == len(cycle["linestyle"])  # ...or a line style
    assert matplotlib.rcParams["axes.prop_cycle"] == before  # `with` puts the old style back


def test_tuning_chart_draws_duration_and_cost_against_memory(lab):
    create(lab, "tuned")
    result = power_tune("tuned", memory_sizes=(128, 512, 1024), invocations=3, progress=False)
    fig = plots.tuning_chart(result)
    assert isinstance(fig, Figure)
    time_ax, cost_ax = fig.axes
    duration = lines_by_label(time_ax)["average duration (ms)"]
    assert list(duration.get_xdata()) == [128, 512, 1024]
    assert list(duration.get_ydata()) == [row["avg_ms"] for row in result.table]
    cost = lines_by_label(cost_ax)["cost per 1M invocations (USD)"]
    assert list(cost.get_ydata()) == [row["cost_per_million"] for row in result.table]
    pick = lines_by_label(time_ax)[f"recommended (cost): {result.power} MB"]
    assert list(pick.get_xdata()) == [result.power, result.power]
    assert (time_ax.get_xlabel(), time_ax.get_ylabel(), cost_ax.get_ylabel()) == (
        "memory (MB)", "average duration (ms)", "cost per 1M invocations (USD)")
    assert duration.get_color() != cost.get_color() and duration.get_marker() != cost.get_marker()
    assert duration.get_linestyle() != cost.get_linestyle()


def test_latency_chart_keeps_cold_and_warm_starts_apart(lab):
    lam = create(lab, "latency")
    for _ in range(6):
        lam.invoke(FunctionName="latency", Payload=b'{"s": 0.005}')
    lam.update_function_configuration(FunctionName="latency", MemorySize=256)  # next call starts cold again
    lam.invoke(FunctionName="latency", Payload=b'{"s": 0.005}')
    runs = [i.result for i in lab.invocations if i.function_name == "latency"]
    fig = plots.latency_chart(lab.invocations, "latency")
    ax = fig.axes[0]
    found = {label.split(":")[0]: line for label, line in lines_by_label(ax).items()}
    warm, cold = found["warm starts"], found["cold starts (init + duration)"]
    assert list(warm.get_xdata()) == sorted(r.duration_ms for r in runs if not r.cold)
    assert list(cold.get_xdata()) == sorted(r.duration_ms + r.init_ms for r in runs if r.cold)
    assert len(cold.get_xdata()) == 2 and cold.get_ydata()[-1] == warm.get_ydata()[-1] == 100
    assert "n=5" in warm.get_label() and "p99" in warm.get_label()
    assert ax.get_xlabel() == "duration (ms)" and "(%)" in ax.get_ylabel()
    with pytest.raises(ValueError, match="nothing-here"):
        plots.latency_chart(lab.invocations, "nothing-here")


def test_versions_chart_shows_which_version_served_each_request(lab):
    lam = create(lab, "canary")
    lam.publish_version(FunctionName="canary")
    lam.update_function_configuration(FunctionName="canary", Description="v2")
    lam.publish_version(FunctionName="canary")
    lam.create_alias(FunctionName="canary", Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    for _ in range(30):
        lam.invoke(FunctionName="canary", Qualifier="live", Payload=b'{"s": 0}')
    served = [i.executed_version for i in lab.invocations if i.function_name == "canary"]
    assert set(served) == {"1", "2"}  # seed 7: both versions get traffic
    fig = plots.versions_chart(lab.invocations, "canary", "live")
    top, bottom = fig.axes
    for version in ("1", "2"):
        dots = lines_by_label(top)[f"version {version}"]
        assert list(dots.get_xdata()) == [n for n, v in enumerate(served, 1) if v == version]
        count = served.count(version)
        share = lines_by_label(bottom)[f"version {version}: {count} of 30 ({100 * count / 30:.0f}%)"]
        assert share.get_ydata()[-1] == pytest.approx(100 * count / 30)
    assert [t.get_text() for t in top.get_yticklabels()] == ["v1", "v2"]
    assert bottom.get_xlabel() == "request number" and bottom.get_ylabel() == "share so far (%)"


def test_concurrency_chart_counts_executions_and_marks_throttles(lab):
    lam = create(lab, "busy")
    lam.put_function_concurrency(FunctionName="busy", ReservedConcurrentExecutions=2)
    once = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))  # show each 429, no retry

    def call():
        try:
            once.invoke(FunctionName="busy", Payload=b'{"s": 0.3}')
        except once.exceptions.TooManyRequestsException:
            pass

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mine = [i for i in lab.invocations if i.function_name == "busy"]
    throttled = [i for i in mine if i.throttle_reason]
    assert throttled and len(mine) == 6  # 6 arrived at once, at most 2 could run
    fig = plots.concurrency_chart(lab.invocations, "busy", limit=2)
    ax = fig.axes[0]
    found = {label.split(" (")[0].split(",")[0]: line for label, line in lines_by_label(ax).items()}
    running = found["concurrent executions"]
    assert max(running.get_ydata()) == 2 and running.get_ydata()[-1] == 0
    start = min(i.started_at for i in mine)
    assert sorted(found["throttled"].get_xdata()) == pytest.approx(sorted(i.started_at - start for i in throttled))
    assert list(found["concurrency limit"].get_ydata()) == [2, 2]
    assert ax.get_xlabel() == "time since the first request (s)" and ax.get_ylabel() == "concurrent executions"


def test_cost_breakdown_chart_is_the_bill_as_a_waterfall():
    estimate = pricing.monthly_estimate(30_000_000, 120, 512)  # $6.00 + $30.00006 - $6.86668 = $29.13338
    fig = plots.cost_breakdown_chart(estimate)
    ax = fig.axes[0]
    bars = {container.get_label(): container.patches[0] for container in ax.containers}
    assert list(bars) == ["requests", "compute, tier 1", "free tier", "total"]
    assert bars["requests"].get_height() == pytest.approx(6.00)
    assert bars["compute, tier 1"].get_y() == pytest.approx(6.00)  # stacked on what came before
    assert bars["compute, tier 1"].get_height() == pytest.approx(30.00006)
    assert bars["free tier"].get_height() == pytest.approx(6.86668)  # drawn downwards from the running total
    assert bars["free tier"].get_y() == pytest.approx(36.00006 - 6.86668)
    assert bars["total"].get_height() == pytest.approx(29.13338) and bars["total"].get_y() == 0
    assert bars["free tier"].get_hatch() and not bars["requests"].get_hatch()  # not told apart by colour alone
    assert [t.get_text() for t in ax.get_xticklabels()] == ["requests", "compute,\ntier 1", "free\ntier", "total"]
    assert ax.get_ylabel() == "USD per month"
    assert [t.get_text() for t in ax.texts] == ["$6.00", "$30.00", "-$6.87", "$29.13"]
    without = plots.cost_breakdown_chart(pricing.monthly_estimate(30_000_000, 120, 512, free_tier=False))
    assert "free tier" not in [c.get_label() for c in without.axes[0].containers]


def test_charts_stay_out_of_pyplot():
    import matplotlib.pyplot as plt

    plots.cost_breakdown_chart(pricing.monthly_estimate(1000, 10, 128))
    assert plt.get_fignums() == []  # returned, not registered: a notebook shows each chart once
