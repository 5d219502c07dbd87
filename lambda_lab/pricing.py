"""What Lambda costs: the us-east-1 price sheet as data, and the arithmetic learners check by hand.

>>> from lambda_lab import pricing
>>> pricing.monthly_estimate(3_000_000, 120, 512).total  # 2M paid requests; 180,000 GB-s, all free
0.4
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple

ARCHITECTURES = ("x86_64", "arm64")
GB_IN_MB = 1024  # Lambda bills memory in binary units: 128 MB is 0.125 GB
FREE_EPHEMERAL_MB = 512


@dataclass(frozen=True)
class Tier:
    """A duration price that applies to the account's monthly GB-seconds up to `up_to_gb_s`."""

    up_to_gb_s: float  # cumulative; math.inf for the last tier
    usd_per_gb_s: float


@dataclass(frozen=True)
class PriceSheet:
    """One region's Lambda prices, with where and when they were read."""

    region: str
    as_of: str
    source: str
    requests_usd_per_million: float
    duration_tiers: dict[str, tuple[Tier, ...]]
    ephemeral_usd_per_gb_s: float  # /tmp above 512 MB, both architectures
    provisioned_usd_per_gb_s: dict[str, float]  # concurrency kept warm, per GB-s configured
    provisioned_duration_usd_per_gb_s: dict[str, float]  # duration of requests served by it
    free_requests: int  # per month, per account, both architectures together
    free_gb_s: float
    notes: dict[str, str] = field(default_factory=dict)

    def tiers(self, architecture: str) -> tuple[Tier, ...]:
        _check_architecture(architecture)
        return self.duration_tiers[architecture]


US_EAST_1 = PriceSheet(
    region="us-east-1",
    as_of="mid-2026",
    source="https://aws.amazon.com/lambda/pricing/ (as copied into the course's reference sheet, lambda-behaviour.md)",
    requests_usd_per_million=0.20,
    duration_tiers={
        "x86_64": (Tier(6e9, 0.0000166667), Tier(15e9, 0.000015), Tier(math.inf, 0.0000133334)),
        "arm64": (Tier(7.5e9, 0.0000133334), Tier(18.75e9, 0.0000120001), Tier(math.inf, 0.0000106667)),
    },
    ephemeral_usd_per_gb_s=0.0000000309,
    provisioned_usd_per_gb_s={"x86_64": 0.0000041667, "arm64": 0.0000033334},
    provisioned_duration_usd_per_gb_s={"x86_64": 0.0000097222, "arm64": 0.0000077778},
    free_requests=1_000_000,
    free_gb_s=400_000,
    notes={
        "arm64 third tier": "unsure in the reference sheet; check the pricing page before quoting it",
        "provisioned concurrency": "from the AWS pricing page; the free tier does not cover it",
        "free tier": "per account and month, shared by every function and both architectures",
    },
)
PRICES = US_EAST_1

# AWS Lambda Power Tuning's own constants: USD per ms at 128 MB (lambda/utils.js, `baseCosts`)
POWER_TUNING_USD_PER_MS_128 = {"x86_64": 2.1e-9, "arm64": 1.7e-9}

# Power Tuning's regexes and the same style for the other fields: the tabs and decimals are the format
_FIELDS = {"duration_ms": re.compile(r"\tDuration: (\d+\.\d+) ms"),
           "billed_ms": re.compile(r"\tBilled Duration: (\d+) ms"),
           "memory_mb": re.compile(r"\tMemory Size: (\d+) MB"),
           "max_memory_mb": re.compile(r"\tMax Memory Used: (\d+) MB"),
           "init_ms": re.compile(r"\tInit Duration: (\d+\.\d+) ms")}


class Report(NamedTuple):
    """The figures of one REPORT line; `init_ms` is None on a warm start."""

    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int | None
    init_ms: float | None

    @property
    def cold(self) -> bool:
        return self.init_ms is not None


def _check_architecture(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be 'x86_64' or 'arm64', not {architecture!r}")


def gb_seconds(billed_ms: float, memory_mb: int) -> float:
    """Compute Lambda bills: seconds times GB configured, e.g. gb_seconds(1000, 512) == 0.5.

    Introduced in notebook 06_memory_and_cost.
    """
    return billed_ms / 1000 * memory_mb / GB_IN_MB


def parse_report(text: str) -> Report:
    """The last REPORT line in `text` (one line or a whole log tail, text or JSON log format), field by field.

    >>> parse_report("REPORT RequestId: x\\tDuration: 12.34 ms\\tBilled Duration: 13 ms\\tMemory Size: 128 MB")
    Report(duration_ms=12.34, billed_ms=13, memory_mb=128, max_memory_mb=None, init_ms=None)

    Introduced in notebook 06_memory_and_cost.
    """
    if text.lstrip().startswith("{"):
        return _parse_json_report(text)
    reports = [line for line in text.splitlines() if line.startswith("REPORT ")]
    line = reports[-1] if reports else text
    found = {key: regex.search(line) for key, regex in _FIELDS.items()}
    missing = [key for key in ("duration_ms", "billed_ms", "memory_mb") if not found[key]]
    if missing:
        raise ValueError(f"no tab-separated {', '.join(missing)} in this REPORT line: {line[:160]!r}")
    value = {key: (m.group(1) if m else None) for key, m in found.items()}
    return Report(float(value["duration_ms"]), int(value["billed_ms"]), int(value["memory_mb"]),
                  None if value["max_memory_mb"] is None else int(value["max_memory_mb"]),
                  None if value["init_ms"] is None else float(value["init_ms"]))


def _parse_json_report(text: str) -> Report:
    """A function logging in JSON format (LoggingConfig.LogFormat=JSON) reports in a platform.report record."""
    import json

    for line in reversed(text.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("type") == "platform.report":
            m = record["record"]["metrics"]
            return Report(float(m["durationMs"]), int(m["billedDurationMs"]), int(m["memorySizeMB"]),
                          m.get("maxMemoryUsedMB"), m.get("initDurationMs"))
    raise ValueError("no platform.report record in this JSON log")


def invocation_cost(report_line: str, architecture: str = "x86_64", ephemeral_mb: int = FREE_EPHEMERAL_MB,
                    prices: PriceSheet = PRICES) -> float:
    """USD for one invocation: its request plus its billed GB-seconds at the first-tier price.

    >>> invocation_cost("REPORT RequestId: x\\tDuration: 99.10 ms\\tBilled Duration: 100 ms\\tMemory Size: 1024 MB")
    1.86667e-06

    Introduced in notebook 06_memory_and_cost.
    """
    report = parse_report(report_line)
    cost = cost_per_invocation(report.billed_ms, report.memory_mb, architecture, ephemeral_mb, prices)
    return round(cost, 12)  # well below a millionth of a cent: hides float noise such as ...0000001


def cost_per_invocation(billed_ms: float, memory_mb: int, architecture: str = "x86_64",
                        ephemeral_mb: int = FREE_EPHEMERAL_MB, prices: PriceSheet = PRICES) -> float:
    """USD for one request billed `billed_ms` at `memory_mb`: request + duration (tier 1) + extra /tmp.

    Introduced in notebook 06_memory_and_cost.
    """
    tier1 = prices.tiers(architecture)[0].usd_per_gb_s
    seconds = billed_ms / 1000
    storage = seconds * max(0, ephemeral_mb - FREE_EPHEMERAL_MB) / GB_IN_MB * prices.ephemeral_usd_per_gb_s
    return prices.requests_usd_per_million / 1e6 + gb_seconds(billed_ms, memory_mb) * tier1 + storage


@dataclass(frozen=True)
class MonthlyEstimate:
    """A month's bill for one traffic profile, line by line; `total` is what AWS would charge."""

    requests: int
    avg_billed_ms: float
    memory_mb: int
    architecture: str
    ephemeral_mb: int
    gb_s: float
    requests_cost: float
    compute_by_tier: tuple[float, ...]  # USD in each duration tier, first tier first
    storage_cost: float
    free_tier_credit: float  # negative or zero
    free_tier: bool

    @property
    def compute_cost(self) -> float:
        return sum(self.compute_by_tier)

    @property
    def total_without_free_tier(self) -> float:
        return round(self.requests_cost + self.compute_cost + self.storage_cost, 10)

    @property
    def total(self) -> float:
        return round(self.total_without_free_tier + self.free_tier_credit, 10)

    def lines(self) -> list[tuple[str, float]]:
        """(label, USD) rows as a bill lists them, tiers that cost nothing left out."""
        rows = [("requests", self.requests_cost)]
        names = ("compute, tier 1", "compute, tier 2", "compute, tier 3")
        rows += [(n, c) for n, c in zip(names, self.compute_by_tier) if c or n.endswith("1")]
        if self.storage_cost:
            rows.append(("ephemeral storage", self.storage_cost))
        if self.free_tier:
            rows.append(("free tier", self.free_tier_credit))
        return rows + [("total", self.total)]

    def __str__(self) -> str:
        head = (f"{self.requests:,} requests x {self.avg_billed_ms:g} ms at {self.memory_mb} MB "
                f"({self.architecture}) = {self.gb_s:,.0f} GB-s a month")
        return "\n".join([head] + [f"  {label:<18} {usd(value):>14}" for label, value in self.lines()])

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{label}</td><td style='text-align:right'>{usd(v)}</td></tr>"
                       for label, v in self.lines())
        return f"<p>{str(self).splitlines()[0]}</p><table class='lab-cost'>{rows}</table>"


def monthly_estimate(requests: int, avg_billed_ms: float, memory_mb: int, architecture: str = "x86_64",
                     ephemeral_mb: int = FREE_EPHEMERAL_MB, free_tier: bool = True,
                     prices: PriceSheet = PRICES) -> MonthlyEstimate:
    """A month's bill for `requests` invocations of `avg_billed_ms` each, with the free tier if asked.

    The free tier belongs to the account: apply it only if this function is all the account runs.

    >>> print(monthly_estimate(30_000_000, 120, 512))
    30,000,000 requests x 120 ms at 512 MB (x86_64) = 1,800,000 GB-s a month
      requests                    $6.00
      compute, tier 1            $30.00
      free tier                  -$6.87
      total                      $29.13

    Introduced in notebook 06_memory_and_cost.
    """
    tiers = prices.tiers(architecture)
    gb_s = requests * gb_seconds(avg_billed_ms, memory_mb)
    by_tier, floor = [], 0.0
    for tier in tiers:  # each tier prices only the GB-seconds between the previous limit and its own
        by_tier.append(max(0.0, min(gb_s, tier.up_to_gb_s) - floor) * tier.usd_per_gb_s)
        floor = tier.up_to_gb_s
    request_price = prices.requests_usd_per_million / 1e6
    extra_gb = max(0, ephemeral_mb - FREE_EPHEMERAL_MB) / GB_IN_MB
    storage = requests * avg_billed_ms / 1000 * extra_gb * prices.ephemeral_usd_per_gb_s
    credit = 0.0
    if free_tier:  # the free GB-seconds are the month's first ones, so they come off the first tier
        credit = -(min(requests, prices.free_requests) * request_price
                   + min(gb_s, prices.free_gb_s) * tiers[0].usd_per_gb_s)
    return MonthlyEstimate(requests, avg_billed_ms, memory_mb, architecture, ephemeral_mb, gb_s,
                           requests * request_price, tuple(by_tier), storage, credit, free_tier)


def power_tuning_cost(billed_ms: float, memory_mb: int, architecture: str = "x86_64") -> float:
    """AWS Lambda Power Tuning's price of one invocation: ceil(ms) x its price per ms at 128 MB x memory/128.

    Introduced in notebook 06_memory_and_cost.
    """
    _check_architecture(architecture)
    return math.ceil(billed_ms) * POWER_TUNING_USD_PER_MS_128[architecture] * memory_mb / 128


POWER_TUNING_DIFFERENCE = ("Power Tuning counts duration only, at a rounded price per ms (2.1e-9 x86, 1.7e-9 arm "
                           "at 128 MB); ours adds the $0.20-per-million request charge and uses AWS's exact GB-s "
                           "price; neither applies the free tier per invocation.")


@dataclass(frozen=True)
class CostComparison:
    """One invocation priced our way and Power Tuning's way, side by side."""

    billed_ms: float
    memory_mb: int
    architecture: str
    ours: float
    power_tuning: float
    why: str = POWER_TUNING_DIFFERENCE

    def __str__(self) -> str:
        return (f"{self.billed_ms:g} ms at {self.memory_mb} MB ({self.architecture}): ours {usd(self.ours)}, "
                f"Power Tuning {usd(self.power_tuning)}\n{self.why}")


def compare_with_power_tuning(billed_ms: float, memory_mb: int, architecture: str = "x86_64",
                              prices: PriceSheet = PRICES) -> CostComparison:
    """Our price of one invocation beside Power Tuning's, with why they differ.

    Introduced in notebook 06_memory_and_cost.
    """
    ours = cost_per_invocation(billed_ms, memory_mb, architecture, prices=prices)
    theirs = power_tuning_cost(billed_ms, memory_mb, architecture)
    return CostComparison(billed_ms, memory_mb, architecture, ours, theirs)


def usd(value: float) -> str:
    """Dollars readably: cents for bills, four significant digits below a cent, e.g. usd(2.1e-7) == '$0.0000002100'.

    Introduced in notebook 06_memory_and_cost.
    """
    sign = "-" if value < 0 else ""
    if value == 0 or abs(value) >= 0.01:
        return f"{sign}${abs(value):,.2f}"
    return f"{sign}${abs(value):.{3 - math.floor(math.log10(abs(value)))}f}"


PROVISIONED_BILLING_S = 300  # provisioned concurrency is billed from enable to disable, rounded up to 5 minutes


def provisioned_break_even(architecture: str = "x86_64", prices: PriceSheet = PRICES) -> float:
    """The utilisation above which provisioned concurrency costs less than on demand (first-tier prices).

    Per provisioned GB-second you pay `p` always and `d_pc` for the share `u` in use; on demand you pay
    `d_od` for that share alone, so provisioned pays off when p + u*d_pc < u*d_od, i.e. u > p / (d_od - d_pc).

    >>> round(provisioned_break_even(), 4)
    0.6
    """
    tier1 = prices.tiers(architecture)[0].usd_per_gb_s
    return prices.provisioned_usd_per_gb_s[architecture] / (tier1 - prices.provisioned_duration_usd_per_gb_s[architecture])


@dataclass(frozen=True)
class ProvisionedEstimate:
    """A period of provisioned concurrency under a steady load, beside the same load on demand (no free tier)."""

    concurrency: int
    memory_mb: int
    hours: float
    requests: int
    avg_billed_ms: float
    architecture: str
    utilisation: float  # the load's average concurrency over the provisioned amount (above 1: some spills over)
    provisioned_cost: float  # keeping the environments warm, whether used or not
    duration_cost: float  # requests served by provisioned environments, at its lower rate
    spillover_cost: float  # duration of requests beyond the provisioned amount, at the on-demand rate
    requests_cost: float
    on_demand_cost: float  # the same requests and duration without provisioned concurrency

    @property
    def total(self) -> float:
        return round(self.provisioned_cost + self.duration_cost + self.spillover_cost + self.requests_cost, 10)

    @property
    def pays_off(self) -> bool:
        """Whether provisioned concurrency costs less than the same load on demand."""
        return self.total < self.on_demand_cost

    def __str__(self) -> str:
        rows = [("provisioned", self.provisioned_cost), ("duration (provisioned)", self.duration_cost),
                ("duration (spillover)", self.spillover_cost), ("requests", self.requests_cost),
                ("total", self.total), ("on demand instead", self.on_demand_cost)]
        head = (f"{self.concurrency} x {self.memory_mb} MB provisioned for {self.hours:g} h ({self.architecture}), "
                f"{self.requests:,} requests x {self.avg_billed_ms:g} ms: {self.utilisation:.0%} utilised, "
                f"{'pays off' if self.pays_off else 'costs more than on demand'}")
        return "\n".join([head] + [f"  {label:<24} {usd(value):>14}" for label, value in rows])


def provisioned_estimate(concurrency: int, memory_mb: int, hours: float, requests: int, avg_billed_ms: float,
                         architecture: str = "x86_64", prices: PriceSheet = PRICES) -> ProvisionedEstimate:
    """What `concurrency` environments kept warm for `hours` cost under a steady load, and whether they pay off.

    The load is spread evenly: its average concurrency is its GB-seconds over the period's; up to
    `concurrency` of it runs at the provisioned duration rate, the rest spills over at the on-demand rate.
    Duration is priced at the first tier; the free tier does not cover functions with provisioned concurrency.

    >>> provisioned_estimate(10, 1024, 100, 24_000_000, 100).pays_off  # 67 % utilised: above the 60 % break-even
    True
    """
    _check_architecture(architecture)
    if concurrency < 1 or hours <= 0:
        raise ValueError(f"concurrency must be at least 1 and hours above 0, not {concurrency!r} and {hours!r}")
    seconds = math.ceil(hours * 3600 / PROVISIONED_BILLING_S) * PROVISIONED_BILLING_S
    gb = memory_mb / GB_IN_MB
    used_gb_s = requests * gb_seconds(avg_billed_ms, memory_mb)
    utilisation = used_gb_s / (concurrency * gb * seconds)
    served_gb_s = used_gb_s * min(1.0, 1 / utilisation) if utilisation else 0.0
    tier1 = prices.tiers(architecture)[0].usd_per_gb_s
    request_cost = requests * prices.requests_usd_per_million / 1e6
    return ProvisionedEstimate(
        concurrency, memory_mb, hours, requests, avg_billed_ms, architecture, utilisation,
        provisioned_cost=concurrency * gb * seconds * prices.provisioned_usd_per_gb_s[architecture],
        duration_cost=served_gb_s * prices.provisioned_duration_usd_per_gb_s[architecture],
        spillover_cost=(used_gb_s - served_gb_s) * tier1, requests_cost=request_cost,
        on_demand_cost=round(used_gb_s * tier1 + request_cost, 10))
