"""Power tuning as AWS Lambda Power Tuning does it, through the public Lambda API only.

Nothing here knows about the lab: point `client` at real AWS and the same sweep runs there.

>>> result = power_tune("resize", {"width": 200}, strategy="balanced", progress=False)
>>> result.power in (128, 256, 512, 1024, 1536, 3008)   # the size to pick; result.table has the figures
True
"""

from __future__ import annotations

import base64
import html
import json
import math
import operator
import struct
import warnings
from dataclasses import dataclass, field

from .pricing import PRICES, Report, cost_per_invocation, gb_seconds, parse_report, power_tuning_cost, usd

STRATEGIES = ("cost", "speed", "balanced")
DISCARD_TOP_BOTTOM = 0.2  # Power Tuning's default trimming: the fastest and slowest 20% are left out
VISUALIZATION_URL = "https://lambda-power-tuning.show/"
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10240  # what Lambda's MemorySize accepts


@dataclass
class TuningResult:
    """The sweep's figures per memory size and the size the strategy recommends.

    Introduced in notebook 06_memory_and_cost.
    """

    function: str
    strategy: str
    power: int
    table: list[dict]
    architecture: str = "x86_64"
    balanced_weight: float = 0.5
    samples: dict[int, list[Report]] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:  # one stable line; the measured figures are in str() and the HTML table
        return f"<TuningResult {self.function}: {self.strategy} strategy recommends {self.power} MB>"

    def row(self, memory_mb: int) -> dict:
        return next(r for r in self.table if r["memory_mb"] == memory_mb)

    def to_json(self) -> str:
        """What AWS Lambda Power Tuning would output for these same invocations, in its shape and arithmetic.

        Power Tuning averages *billed* durations and prices them with its rounded per-ms price (see
        pricing.power_tuning_cost), so `cost` here is lower than `.table`'s, which includes the request.
        """
        stats = []
        for row in self.table:
            billed = [s.billed_ms for s in self.samples.get(row["memory_mb"], [])]
            average = trimmed_mean(billed)
            stats.append({"value": row["memory_mb"], "averageDuration": average,
                          "averagePrice": power_tuning_cost(average, row["memory_mb"], self.architecture),
                          "totalCost": sum(power_tuning_cost(b, row["memory_mb"], self.architecture) for b in billed)})
        ranked = [{"memory_mb": s["value"], "duration_cost": s["averagePrice"], "avg_ms": s["averageDuration"]}
                  for s in stats]
        best = next(s for s in stats if s["value"] == recommend(ranked, self.strategy, self.balanced_weight))
        return json.dumps({
            "power": best["value"], "cost": best["averagePrice"], "duration": best["averageDuration"],
            "stateMachine": {"executionCost": 0.0,  # no Step Functions state machine ran
                             "lambdaCost": sum(s["totalCost"] for s in stats),
                             "visualization": visualization_url(stats)},
            "stats": stats}, indent=2)

    def __str__(self) -> str:
        head = (f"{'memory':>8} {'avg ms':>9} {'p50':>8} {'p90':>8} {'p99':>8} {'billed':>8} {'per call':>13} "
                f"{'per 1M':>9}")
        lines = [f"{self.function}: {self.strategy} strategy recommends {self.power} MB", head]
        for r in self.table:
            mark = " <" if r["memory_mb"] == self.power else ""
            lines.append(f"{r['memory_mb']:>5} MB {r['avg_ms']:>9.2f} {r['p50_ms']:>8.2f} {r['p90_ms']:>8.2f} "
                         f"{r['p99_ms']:>8.2f} {r['avg_billed_ms']:>8.1f} {usd(r['cost']):>13} "
                         f"{usd(r['cost_per_million']):>9}{mark}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cols = ["memory (MB)", "avg (ms)", "p50 (ms)", "p90 (ms)", "p99 (ms)", "billed (ms)", "per invocation",
                "per million", "warm runs", "cold discarded"]
        body = []
        for r in self.table:
            style = " style='font-weight:bold'" if r["memory_mb"] == self.power else ""
            cells = [r["memory_mb"], f"{r['avg_ms']:.2f}", f"{r['p50_ms']:.2f}", f"{r['p90_ms']:.2f}",
                     f"{r['p99_ms']:.2f}", f"{r['avg_billed_ms']:.1f}", usd(r["cost"]), usd(r["cost_per_million"]),
                     r["invocations"], r["cold_starts"]]
            body.append(f"<tr{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return (f"<p>{html.escape(self.function)}: the <b>{self.strategy}</b> strategy recommends "
                f"<b>{self.power} MB</b></p><table class='lab-tuning'><tr>"
                + "".join(f"<th>{c}</th>" for c in cols) + "</tr>" + "".join(body) + "</table>")


def _guard_cost(sizes, invocations: int, config: dict, architecture: str, allow: bool) -> None:
    """On a paid backend, refuse a sweep whose worst case (every call running to its timeout) is over budget."""
    from ._lab import Lab

    lab = Lab._current
    if lab is None or lab.budget_usd is None:
        return
    worst_ms = config.get("Timeout", 3) * 1000
    # each size: the invocations, plus about as many again for cold starts replaced by warm ones
    estimate = sum(2 * invocations * cost_per_invocation(worst_ms, size, architecture) for size in sizes)
    lab.guard_cost(estimate, f"power tuning {config['FunctionName']} ({len(sizes)} sizes x {invocations} calls)",
                   allow)


def power_tune(function: str, payload=None, memory_sizes=(128, 256, 512, 1024, 1536, 3008), invocations: int = 10,
               strategy: str = "cost", balanced_weight: float = 0.5, include_cold_starts: bool = False,
               progress: bool = True, client=None, allow_cost: bool = False) -> TuningResult:
    """Run `function` `invocations` times at each memory size and recommend one, as Power Tuning does.

    For each size: set the memory, wait for the update, publish a version, point alias RAM<size> at it, invoke
    with LogType=Tail and read the REPORT line. Afterwards the memory is restored and every version and alias
    made here is deleted (an alias that existed before is pointed back where it was).

    >>> result = power_tune("hello", memory_sizes=(128, 1024), strategy="speed", progress=False)
    >>> result.power, [row["memory_mb"] for row in result.table]   # print(result) shows the whole table
    (1024, [128, 1024])

    Introduced in notebook 06_memory_and_cost.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    sizes = _check_arguments(function, memory_sizes, invocations, balanced_weight)
    if client is None:
        import boto3

        client = boto3.client("lambda")
    body = _payload_bytes(payload)
    _wait_updated(client, function)
    original = client.get_function_configuration(FunctionName=function)
    if original.get("Version", "$LATEST") != "$LATEST":
        raise ValueError(f"tune the function itself, not a version or alias: {function!r}")
    name = original["FunctionName"]  # bare, as ListAliases on moto 5.2 refuses an ARN; same region as the client
    architecture = (original.get("Architectures") or ["x86_64"])[0]
    ephemeral_mb = (original.get("EphemeralStorage") or {}).get("Size", 512)
    _guard_cost(sizes, invocations, original, architecture, allow_cost)
    versions_before = {v["Version"] for page in client.get_paginator("list_versions_by_function").paginate(
        FunctionName=name) for v in page["Versions"]}
    aliases_before = {a["Name"]: a for page in client.get_paginator("list_aliases").paginate(FunctionName=name)
                      for a in page["Aliases"]}
    made_versions: list[str] = []
    used_aliases: list[str] = []
    samples: dict[int, list[Report]] = {}
    discarded: dict[int, int] = {}
    bar = _progress_bar(len(sizes) * invocations, f"tuning {original['FunctionName']}", progress)
    try:
        for memory in sizes:
            alias = f"RAM{memory}"
            _set_power(client, name, memory, alias, aliases_before, versions_before, made_versions, used_aliases)
            samples[memory], discarded[memory] = _sample(client, name, alias, body, invocations,
                                                         include_cold_starts, bar)
    finally:
        bar.close()
        _clean_up(client, name, original, used_aliases, aliases_before, made_versions)
    table = [_row(m, samples[m], discarded[m], architecture, ephemeral_mb) for m in sizes]
    return TuningResult(original["FunctionName"], strategy, recommend(table, strategy, balanced_weight), table,
                        architecture, balanced_weight, samples)


def recommend(table: list[dict], strategy: str = "cost", balanced_weight: float = 0.5) -> int:
    """The memory size Power Tuning's analyzer would pick from rows with memory_mb, duration_cost and avg_ms.

    cost: cheapest, ties to the faster; speed: fastest, ties to the cheaper; balanced: smallest
    w * cost / max cost + (1 - w) * time / max time. Cost here is the duration charge only, as in Power
    Tuning: the request charge is the same at every size, so it cannot be traded against speed.

    >>> recommend([{"memory_mb": 128, "duration_cost": 2.0, "avg_ms": 100},
    ...            {"memory_mb": 256, "duration_cost": 3.0, "avg_ms": 40}], "balanced", 0.5)
    256

    Introduced in notebook 06_memory_and_cost.
    """
    if strategy == "cost":
        return min(table, key=lambda r: (r["duration_cost"], r["avg_ms"]))["memory_mb"]
    if strategy == "speed":
        return min(table, key=lambda r: (r["avg_ms"], r["duration_cost"]))["memory_mb"]
    if strategy != "balanced":
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    weight = min(max(balanced_weight, 0.0), 1.0)
    max_cost = max(r["duration_cost"] for r in table) or 1.0
    max_ms = max(r["avg_ms"] for r in table) or 1.0
    return min(table, key=lambda r: weight * r["duration_cost"] / max_cost + (1 - weight) * r["avg_ms"] / max_ms)[
        "memory_mb"]


def trimmed_mean(values, discard: float = DISCARD_TOP_BOTTOM) -> float:
    """Mean without the lowest and highest `discard` share of values (how many: rounded down, as Power Tuning).

    Introduced in notebook 06_memory_and_cost.
    """
    if not values:
        return 0.0
    cut = int(len(values) * discard)
    kept = sorted(values)[cut:len(values) - cut]
    return sum(kept) / len(kept)


def percentile(values, q: float) -> float:
    """Linear-interpolation percentile (numpy's default), e.g. percentile([1, 2, 3, 4], 50) == 2.5.

    Introduced in notebook 06_memory_and_cost.
    """
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(max(q, 0), 100) / 100
    low = math.floor(rank)
    a, b = ordered[low], ordered[min(low + 1, len(ordered) - 1)]
    # a + (b - a) x t, kept between its neighbours: statistics.quantiles' weighted sum made four runs of 50.3 ms
    # a p99 of 50.29999999999999, under their p50
    return float(min(max(a + (b - a) * (rank - low), a), b))


def visualization_url(stats: list[dict]) -> str:
    """Power Tuning's chart link: sizes, durations and costs packed into the URL hash (never sent to a server).

    Introduced in notebook 06_memory_and_cost.
    """
    stats = sorted(stats, key=lambda s: s["value"])

    def pack(fmt: str, values) -> str:
        return base64.b64encode(struct.pack(f"<{len(values)}{fmt}", *values)).decode()

    return VISUALIZATION_URL + "#" + ";".join([pack("h", [s["value"] for s in stats]),
                                               pack("f", [s["averageDuration"] for s in stats]),
                                               pack("f", [s["averagePrice"] for s in stats])])


def _check_arguments(function, memory_sizes, invocations, balanced_weight) -> list[int]:
    """The memory sizes to sweep, sorted; a ValueError naming the argument and the fix for what cannot work."""
    if not isinstance(function, str) or not function:
        raise ValueError(f"function must be a function's name or ARN, e.g. power_tune('resize'), not {function!r}")
    if isinstance(memory_sizes, (int, str)):
        raise ValueError(f"memory_sizes must be a list of sizes in MB, e.g. memory_sizes=[128, 512, 1024], "
                         f"not {memory_sizes!r}")
    sizes = list(memory_sizes)
    if not sizes:
        raise ValueError("memory_sizes is empty: give at least one size in MB, e.g. memory_sizes=[128, 512, 1024]")
    for i, size in enumerate(sizes):
        try:
            sizes[i] = operator.index(size)  # ints, numpy's included; 512.0 or "512" are not memory sizes
        except TypeError:
            sizes[i] = None
        if isinstance(size, bool) or sizes[i] is None or not MIN_MEMORY_MB <= sizes[i] <= MAX_MEMORY_MB:
            raise ValueError(f"memory_sizes: {size!r} is not a Lambda memory size; each must be a whole number "
                             f"of MB from {MIN_MEMORY_MB} to {MAX_MEMORY_MB}, e.g. memory_sizes=[128, 512, 1024]")
    if isinstance(invocations, bool) or not isinstance(invocations, int) or invocations < 1:
        raise ValueError(f"invocations must be a whole number of calls per size, at least 1 (e.g. invocations=10), "
                         f"not {invocations!r}")
    if isinstance(balanced_weight, bool) or not isinstance(balanced_weight, (int, float)) \
            or not 0 <= balanced_weight <= 1:
        raise ValueError(f"balanced_weight must be from 0 (all speed) to 1 (all cost), e.g. balanced_weight=0.5, "
                         f"not {balanced_weight!r}")
    return sorted(set(sizes))


# -- steps of the sweep ------------------------------------------------------------------------------
def _payload_bytes(payload) -> bytes:
    if payload is None:
        return b"{}"
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        try:
            json.loads(payload)
            return payload.encode()
        except ValueError:
            pass  # a plain string becomes a JSON string, as Power Tuning converts it
    return json.dumps(payload).encode()


def _wait_updated(client, function: str) -> None:
    waiter = "function_updated_v2" if "function_updated_v2" in client.waiter_names else "function_updated"
    client.get_waiter(waiter).wait(FunctionName=function, WaiterConfig={"Delay": 1, "MaxAttempts": 300})


def _set_power(client, name, memory, alias, aliases_before, versions_before, made_versions, used_aliases) -> None:
    """Memory on $LATEST, a version frozen from it, alias RAM<memory> on that version; records what it made."""
    client.update_function_configuration(FunctionName=name, MemorySize=memory)
    _wait_updated(client, name)
    version = client.publish_version(FunctionName=name, Description=f"power tuning {memory} MB")["Version"]
    # PublishVersion hands back an existing version when nothing changed since it: that one is not ours to delete
    if version not in versions_before and version not in made_versions:
        made_versions.append(version)
    used_aliases.append(alias)
    if alias in aliases_before:
        client.update_alias(FunctionName=name, Name=alias, FunctionVersion=version,
                            RoutingConfig={"AdditionalVersionWeights": {}})
    else:
        client.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    # a new version can be Pending for a moment on AWS; Power Tuning waits for it too
    client.get_waiter("published_version_active").wait(FunctionName=name, Qualifier=version,
                                                        WaiterConfig={"Delay": 1, "MaxAttempts": 300})


def _sample(client, name, alias, body, wanted, include_cold, bar) -> tuple[list[Report], int]:
    kept: list[Report] = []
    cold_discarded = 0
    for _ in range(wanted * 2 + 1):  # room to replace cold starts; an environment rarely restarts twice
        reply = client.invoke(FunctionName=name, Qualifier=alias, Payload=body, LogType="Tail")
        if reply.get("FunctionError"):
            error = reply["Payload"].read().decode(errors="replace")
            raise RuntimeError(f"{name}:{alias} failed, so it cannot be tuned: {error[:500]}")
        report = parse_report(base64.b64decode(reply.get("LogResult", "")).decode(errors="replace"))
        if report.cold and not include_cold:
            cold_discarded += 1
            continue
        kept.append(report)
        bar.update(1)
        if len(kept) == wanted:
            break
    if not kept:
        raise RuntimeError(f"every invocation of {name}:{alias} was a cold start; pass include_cold_starts=True")
    return kept, cold_discarded


def _row(memory: int, samples: list[Report], cold_discarded: int, architecture: str, ephemeral_mb: int) -> dict:
    durations = [s.duration_ms for s in samples]
    billed = trimmed_mean([s.billed_ms for s in samples])
    cost = cost_per_invocation(billed, memory, architecture, ephemeral_mb)
    return {"memory_mb": memory, "invocations": len(samples), "cold_starts": cold_discarded,
            "avg_ms": trimmed_mean(durations), "p50_ms": percentile(durations, 50),
            "p90_ms": percentile(durations, 90), "p99_ms": percentile(durations, 99), "avg_billed_ms": billed,
            "duration_cost": gb_seconds(billed, memory) * PRICES.tiers(architecture)[0].usd_per_gb_s,
            "cost": cost, "cost_per_million": cost * 1e6}


def _clean_up(client, name, original, used_aliases, aliases_before, made_versions) -> None:
    """Put the function back as it was; keep going past a failure so one error leaves the least behind."""
    def restore_memory():
        client.update_function_configuration(FunctionName=name, MemorySize=original["MemorySize"])
        _wait_updated(client, name)

    steps = [restore_memory]
    for alias in used_aliases:  # aliases first: a version an alias points at cannot be deleted
        before = aliases_before.get(alias)
        if before is None:
            steps.append(lambda a=alias: client.delete_alias(FunctionName=name, Name=a))
        else:
            steps.append(lambda a=alias, b=before: client.update_alias(
                FunctionName=name, Name=a, FunctionVersion=b["FunctionVersion"], Description=b.get("Description", ""),
                RoutingConfig=b.get("RoutingConfig") or {"AdditionalVersionWeights": {}}))
    for version in made_versions:
        steps.append(lambda v=version: client.delete_function(FunctionName=name, Qualifier=v))
    for step in steps:
        try:
            step()
        except Exception as error:  # noqa: BLE001 - report every leftover, then carry on cleaning
            warnings.warn(f"power_tune could not clean up {name}: {error}", RuntimeWarning, stacklevel=3)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class _WidgetBar(_NoBar):
    def __init__(self, widget) -> None:
        self.widget = widget

    def update(self, n: int = 1) -> None:
        self.widget.value = min(self.widget.max, self.widget.value + n)

    def close(self) -> None:
        self.widget.bar_style = "success"


def _progress_bar(total: int, description: str, enabled: bool):
    """tqdm if installed, else an IntProgress when a notebook kernel can show it, else nothing."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=description, unit="call")
    except ImportError:
        pass
    try:
        from IPython import get_ipython
        from IPython.display import display
        import ipywidgets
    except ImportError:
        return _NoBar()
    if getattr(get_ipython(), "kernel", None) is None:  # outside a kernel a widget prints as text
        return _NoBar()
    widget = ipywidgets.IntProgress(value=0, min=0, max=total, description=description[:20])
    widget.add_class("lab-tuning-progress")
    display(widget)
    return _WidgetBar(widget)
