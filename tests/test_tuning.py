"""power_tune against the lab, through boto3 only: the shapes the CPU-share model must give, and clean-up."""

import base64
import json
import math
import random
import struct

import boto3
import pytest

import lambda_lab
from lambda_lab import pricing
from lambda_lab.tuning import percentile, power_tune, recommend, trimmed_mean

# about 20 ms of CPU at 1,769 MB (one vCPU); the CPU-share model stretches it to 20 x 1769/128 = 276 ms at 128 MB
CPU_BOUND = """import time
def handler(event, context):
    start = time.process_time()
    while time.process_time() - start < 0.02:
        pass
    return {"ok": True}
"""
# 20 ms waiting on "I/O": the same at every memory size
IO_BOUND = """import time
def handler(event, context):
    time.sleep(0.05)  # long enough that the runtime's own CPU (x13.8 at 128 MB) stays small beside it
    return {"ok": True}
"""
FAILING = "def handler(event, context):\n    raise ValueError('bad input')\n"


def create(lab, name, source, **extra):
    lam = boto3.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        Code={"ZipFile": lambda_lab.zip_source(source)}, **extra)
    return lam


def lambda_duration(wall_ms, cpu_ms, memory_mb):
    """The README's CPU-share formula, written out here: 1,769 MB is one vCPU, at most six."""
    share = min(memory_mb / 1769, 6)
    threads = max(1.0, cpu_ms / wall_ms)
    return max(0.0, wall_ms - cpu_ms / threads) + cpu_ms / min(share, threads)


def runs_of(lab, name):
    return [i.result for i in lab.invocations if i.function_name == name]


def test_cpu_bound_is_slow_at_128_mb_and_no_faster_above_one_vcpu(lab):
    create(lab, "crunch", CPU_BOUND)
    result = power_tune("crunch", memory_sizes=(128, 1769, 3008), invocations=5, strategy="speed", progress=False)
    runs = runs_of(lab, "crunch")
    # every reported duration is the model of what was measured, whatever else this machine was doing
    for run in runs:
        assert run.duration_ms == pytest.approx(lambda_duration(run.wall_ms, run.cpu_ms, run.memory_mb), rel=1e-9)
    warm = [r for r in runs if not r.cold]
    assert sorted(r.memory_mb for r in warm) == [128] * 5 + [1769] * 5 + [3008] * 5
    assert all(r.cpu_ms >= 20 for r in warm)  # the handler's own 20 ms of CPU
    # 128 MB is 7% of a vCPU: each run's CPU time counts 1769/128 = 13.8 times, so at least 276 ms
    assert min(r.duration_ms for r in warm if r.memory_mb == 128) >= 20 * 1769 / 128
    for run in (r for r in warm if r.cpu_ms <= r.wall_ms):  # one thread: its CPU time fits in its wall time
        if run.memory_mb == 128:
            assert run.duration_ms == pytest.approx(run.wall_ms + run.cpu_ms * (1769 / 128 - 1), rel=1e-9)
        else:  # one thread cannot use a second vCPU: 3,008 MB is no faster than 1,769 MB, both as measured here
            assert run.duration_ms == pytest.approx(run.wall_ms, rel=1e-9)
    assert result.power in (1769, 3008) and result.strategy == "speed"
    assert [row["invocations"] for row in result.table] == [5, 5, 5]
    assert [row["cold_starts"] for row in result.table] == [1, 1, 1]  # each new version starts cold, and is left out


def test_io_bound_is_flat_and_cheapest_at_the_bottom(lab):
    create(lab, "waiter", IO_BOUND)
    result = power_tune("waiter", memory_sizes=(128, 512, 1024, 3008), invocations=5, progress=False)
    for run in runs_of(lab, "waiter"):
        assert run.duration_ms == pytest.approx(lambda_duration(run.wall_ms, run.cpu_ms, run.memory_mb), rel=1e-9)
        if not run.cold:  # 50 ms asleep: waiting is not stretched, only the little CPU is
            assert run.cpu_ms < run.wall_ms and run.wall_ms >= 50
            stretch = max(1769 / run.memory_mb, 1) - 1
            assert run.duration_ms - run.wall_ms == pytest.approx(run.cpu_ms * stretch, rel=1e-9, abs=1e-9)
    costs = [row["cost"] for row in result.table]
    assert costs == sorted(costs) and result.power == 128
    for row in result.table:  # our price of the trimmed-mean billed duration, request included
        assert row["cost"] == pytest.approx(pricing.cost_per_invocation(row["avg_billed_ms"], row["memory_mb"]))
        assert row["cost_per_million"] == pytest.approx(row["cost"] * 1e6)
        assert row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]


def test_figures_come_from_the_report_lines_the_lab_wrote(lab):
    create(lab, "measured", IO_BOUND)
    result = power_tune("measured", memory_sizes=(256,), invocations=5, include_cold_starts=True, progress=False)
    history = [i.result for i in lab.invocations if i.function_name == "measured"]
    assert len(history) == 5 and history[0].cold  # cold start kept when asked
    durations = [round(r.duration_ms, 2) for r in history]  # REPORT prints Duration with 2 decimals
    # Power Tuning trims int(5 x 0.2) = 1 value at each end before averaging
    assert result.row(256)["avg_ms"] == pytest.approx(sum(sorted(durations)[1:4]) / 3)
    assert result.row(256)["avg_billed_ms"] == pytest.approx(trimmed_mean([r.billed_ms for r in history]))
    assert result.row(256)["cold_starts"] == 0


def test_configuration_is_restored_and_nothing_is_left_behind(lab):
    lam = create(lab, "tidy", IO_BOUND, MemorySize=640, Timeout=7, Environment={"Variables": {"STAGE": "test"}})
    lam.publish_version(FunctionName="tidy")  # version 1 at 640 MB, the learner's own
    lam.create_alias(FunctionName="tidy", Name="live", FunctionVersion="1")
    lam.create_alias(FunctionName="tidy", Name="RAM256", FunctionVersion="1")  # a name Power Tuning also uses
    before = lam.get_function_configuration(FunctionName="tidy")
    power_tune("tidy", memory_sizes=(256, 640, 1024), invocations=2, progress=False)
    after = lam.get_function_configuration(FunctionName="tidy")
    assert after["MemorySize"] == 640 and after["LastUpdateStatus"] == "Successful"
    assert {k: after[k] for k in ("Timeout", "Environment", "Handler", "CodeSha256")} == \
        {k: before[k] for k in ("Timeout", "Environment", "Handler", "CodeSha256")}
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="tidy")["Versions"]]
    assert versions == ["$LATEST", "1"]  # 640 MB may have re-used version 1: it must survive
    aliases = {a["Name"]: a["FunctionVersion"] for a in lam.list_aliases(FunctionName="tidy")["Aliases"]}
    assert aliases == {"live": "1", "RAM256": "1"}  # the learner's RAM256 points back where it did


def test_a_failing_function_is_reported_and_still_cleaned_up(lab):
    lam = create(lab, "broken", FAILING, MemorySize=192)
    with pytest.raises(RuntimeError, match="bad input"):
        power_tune("broken", memory_sizes=(128, 512), invocations=3, progress=False)
    assert lam.get_function_configuration(FunctionName="broken")["MemorySize"] == 192
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="broken")["Versions"]] == ["$LATEST"]
    assert lam.list_aliases(FunctionName="broken")["Aliases"] == []


def test_arm64_functions_are_priced_at_arm64_rates(lab):
    create(lab, "graviton", IO_BOUND, Architectures=["arm64"])
    result = power_tune("graviton", memory_sizes=(128, 256), invocations=2, progress=False,
                        client=boto3.client("lambda"))
    assert result.architecture == "arm64"
    row = result.row(256)
    assert row["cost"] == pytest.approx(pricing.cost_per_invocation(row["avg_billed_ms"], 256, "arm64"))


def test_to_json_has_power_tunings_shape_and_arithmetic(lab):
    create(lab, "shaped", IO_BOUND)
    result = power_tune("shaped", memory_sizes=(128, 1024), invocations=5, progress=False)
    out = json.loads(result.to_json())
    assert set(out) == {"power", "cost", "duration", "stateMachine", "stats"}
    assert set(out["stateMachine"]) == {"executionCost", "lambdaCost", "visualization"}
    assert [s["value"] for s in out["stats"]] == [128, 1024]
    for stat in out["stats"]:
        assert set(stat) == {"value", "averagePrice", "averageDuration", "totalCost"}
        billed = [s.billed_ms for s in result.samples[stat["value"]]]
        # Power Tuning averages Billed Duration (trimmed) and prices ceil(ms) x $2.1e-9 x memory/128
        assert stat["averageDuration"] == pytest.approx(trimmed_mean(billed))
        assert stat["averagePrice"] == pytest.approx(
            math.ceil(stat["averageDuration"]) * 2.1e-9 * stat["value"] / 128)
        assert stat["totalCost"] == pytest.approx(sum(math.ceil(b) * 2.1e-9 * stat["value"] / 128 for b in billed))
    assert out["power"] == 128 == result.power  # a sleeping function is cheapest at the bottom either way
    assert out["cost"] == out["stats"][0]["averagePrice"]
    assert out["stateMachine"]["lambdaCost"] == pytest.approx(sum(s["totalCost"] for s in out["stats"]))
    sizes = out["stateMachine"]["visualization"].split("#")[1].split(";")[0]
    assert struct.unpack("<2h", base64.b64decode(sizes)) == (128, 1024)


def test_result_prints_as_a_table(lab, capsys):
    create(lab, "shown", IO_BOUND)
    result = power_tune("shown", memory_sizes=(128, 256), invocations=2)  # progress on: no tqdm, no kernel here
    assert capsys.readouterr().out == ""
    text = str(result)
    assert "cost strategy recommends 128 MB" in text and "256 MB" in text
    assert "<table class='lab-tuning'>" in result._repr_html_()


def test_progress_widget_counts_calls():
    import ipywidgets

    from lambda_lab.tuning import _WidgetBar

    widget = ipywidgets.IntProgress(max=3)
    bar = _WidgetBar(widget)
    for _ in range(4):  # a replaced cold start never pushes it past the end
        bar.update(1)
    bar.close()
    assert (widget.value, widget.bar_style) == (3, "success")


def test_recommend_follows_power_tunings_analyzer():
    rows = [{"memory_mb": 128, "duration_cost": 4.0, "avg_ms": 100.0},
            {"memory_mb": 256, "duration_cost": 5.0, "avg_ms": 60.0},
            {"memory_mb": 512, "duration_cost": 8.0, "avg_ms": 50.0}]
    assert recommend(rows, "cost") == 128
    assert recommend(rows, "speed") == 512
    # balanced, w=0.5: 0.5*c/8 + 0.5*t/100 -> 128: 0.25+0.5=0.75, 256: 0.3125+0.3=0.6125, 512: 0.5+0.25=0.75
    assert recommend(rows, "balanced", 0.5) == 256
    assert recommend(rows, "balanced", 1.0) == 128 and recommend(rows, "balanced", 0.0) == 512
    tie = [{"memory_mb": 128, "duration_cost": 1.0, "avg_ms": 9.0},
           {"memory_mb": 256, "duration_cost": 1.0, "avg_ms": 5.0}]
    assert recommend(tie, "cost") == 256  # equal cost: the faster wins
    with pytest.raises(ValueError):
        recommend(rows, "cheapest")


def test_trimming_and_percentiles_by_hand():
    # 10 values, int(10 x 0.2) = 2 dropped at each end: mean of 3..8 = 5.5
    assert trimmed_mean([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]) == 5.5
    assert trimmed_mean([7, 9]) == 8  # int(2 x 0.2) = 0: nothing to drop
    # linear interpolation: rank (n-1) x q = 9 x 0.9 = 8.1 -> 9 + 0.1 x (100 - 9) = 18.1
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], 90) == pytest.approx(18.1)
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([42], 99) == 42
    assert percentile([1, 2, 3, 4], 100) == 4 and percentile([3, 1, 2], 0) == 1


def test_percentiles_never_fall_below_the_values_they_sit_between():
    # statistics.quantiles weighs the two neighbours, (a x (n - d) + b x d) / n, which is not exact even when a == b:
    # four runs of 50.3 ms gave a p99 of 50.29999999999999, under their p50 (a CI run failed on it)
    for n in range(1, 40):
        same = [50.3] * n
        assert [percentile(same, q) for q in (1, 50, 90, 99, 100)] == [50.3] * 5
    rng = random.Random(7)
    for _ in range(200):
        values = [round(rng.uniform(1, 200), rng.choice((1, 2))) for _ in range(rng.randrange(1, 30))]
        ranks = [percentile(values, q) for q in range(0, 101)]
        assert ranks == sorted(ranks) and ranks[0] == min(values) and ranks[-1] == max(values)


def test_a_function_arn_is_accepted(lab):
    lam = create(lab, "by-arn", IO_BOUND)
    arn = lam.get_function(FunctionName="by-arn")["Configuration"]["FunctionArn"]
    result = power_tune(arn, memory_sizes=(128,), invocations=1, progress=False)
    assert result.function == "by-arn" and result.table[0]["invocations"] == 1
    assert lam.list_aliases(FunctionName="by-arn")["Aliases"] == []


def test_bad_arguments_are_refused_before_touching_the_function(lab):
    lam = create(lab, "guarded", IO_BOUND)
    with pytest.raises(ValueError, match="strategy"):
        power_tune("guarded", strategy="fastest", progress=False)
    lam.publish_version(FunctionName="guarded")
    with pytest.raises(ValueError, match="not a version or alias"):
        power_tune("guarded:1", memory_sizes=(128,), progress=False)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="guarded")["Versions"]] == ["$LATEST", "1"]
