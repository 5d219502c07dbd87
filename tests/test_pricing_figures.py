"""Every figure and label pricing.py puts on a learner's screen, against values worked out by hand.

The prices come from the course's reference sheet (lambda-behaviour.md): x86 $0.0000166667 / $0.000015 /
$0.0000133334 per GB-s (tiers at 6 and 15 billion), arm64 $0.0000133334 / $0.0000120001, requests $0.20 per
million, /tmp above 512 MB $0.0000000309 per GB-s.
"""

import dataclasses
import json
import re

import pytest

from lambda_lab import pricing

REPORT = "REPORT RequestId: {rid}\tDuration: {d} ms\tBilled Duration: {b} ms\tMemory Size: {m} MB"


def _json_report(duration, billed, memory):
    return json.dumps({"time": "2026-06-01T10:00:00.001Z", "type": "platform.report",
                       "record": {"requestId": "x", "metrics": {"durationMs": duration, "billedDurationMs": billed,
                                                                "memorySizeMB": memory}}})


def test_parse_report_takes_the_last_report_line_of_a_tail():
    tail = "\n".join([REPORT.format(rid="a", d="1.50", b=2, m=128), "START RequestId: b Version: $LATEST",
                      REPORT.format(rid="b", d="7.25", b=8, m=256) + "\tMax Memory Used: 40 MB"])
    assert pricing.parse_report(tail) == (7.25, 8, 256, 40, None)


def test_parse_report_reads_a_line_without_the_report_prefix_and_without_max_memory():
    # a learner may paste only the figures; no Max Memory Used field means None, not an error
    fragment = "\tDuration: 0.95 ms\tBilled Duration: 1 ms\tMemory Size: 1769 MB"
    assert pricing.parse_report(fragment) == (0.95, 1, 1769, None, None)


def test_parse_report_names_every_missing_field_and_quotes_160_characters():
    line = "REPORT RequestId: " + "r" * 150 + "\tDuration: 1.00 ms"  # 177 characters, no billed or memory
    expected = f"no tab-separated billed_ms, memory_mb in this REPORT line: {line[:160]!r}"
    with pytest.raises(ValueError) as raised:
        pricing.parse_report(line)
    assert str(raised.value) == expected
    assert line[:160] != line[:161]  # the cut is visible in the message


def test_json_report_found_before_later_lines_and_after_leading_blank_lines():
    # the platform.report record is not the last line: a JSON function log, a non-dict JSON value and text follow
    tail = "\n".join(["", _json_report(12.5, 13, 512), json.dumps({"level": "INFO", "message": "after"}),
                      "[1, 2]", "not json at all"])
    assert pricing.parse_report("\n  " + tail) == (12.5, 13, 512, None, None)


def test_json_log_without_a_report_says_so():
    with pytest.raises(ValueError) as raised:
        pricing.parse_report(json.dumps({"type": "platform.start", "record": {}}))
    assert str(raised.value) == "no platform.report record in this JSON log"


def test_invocation_cost_rounds_to_twelve_decimals_and_uses_the_given_sheet():
    # 1 ms at 128 MB: 0.001 s x 0.125 GB = 0.000125 GB-s x $0.0000166667 = $0.0000000020833375, plus $0.0000002
    # = $0.0000002020833375, shown to 12 decimals: $0.000000202083
    line = REPORT.format(rid="x", d="0.40", b=1, m=128)
    assert pricing.invocation_cost(line) == 0.000000202083
    # a sheet with requests at $0.40 per million: $0.0000004 + $0.0000000020833375 -> $0.000000402083
    dear = dataclasses.replace(pricing.PRICES, requests_usd_per_million=0.40)
    assert pricing.invocation_cost(line, prices=dear) == 0.000000402083
    assert pricing.invocation_cost(_json_report(0.4, 1, 128), prices=dear) == 0.000000402083


def test_cost_per_invocation_on_arm64_with_extra_tmp():
    # 250 ms at 2,048 MB on arm64: 0.25 s x 2 GB = 0.5 GB-s x $0.0000133334 = $0.0000066667;
    # /tmp 1,024 MB: 0.5 GB extra x 0.25 s = 0.125 GB-s x $0.0000000309 = $0.0000000038625; request $0.0000002
    cost = pricing.cost_per_invocation(250, 2048, "arm64", 1024)
    assert cost == pytest.approx(0.0000066667 + 0.0000000038625 + 0.0000002, rel=1e-12)


def test_monthly_estimate_prints_every_tier_storage_and_no_free_tier_line_exactly():
    # 16e9 requests x 1 s x 1,024 MB = 16e9 GB-s: 6e9 x $0.0000166667 = $100,000.20, 9e9 x $0.000015 =
    # $135,000.00, 1e9 x $0.0000133334 = $13,333.40; requests 16e9 x $0.0000002 = $3,200.00;
    # /tmp 1,536 MB: 1 GB extra x 16e9 s = 16e9 GB-s x $0.0000000309 = $494.40; total $252,028.00
    est = pricing.monthly_estimate(16_000_000_000, 1000, 1024, ephemeral_mb=1536, free_tier=False)
    assert est.requests_cost == pytest.approx(3200.0, rel=1e-12)
    assert est.storage_cost == pytest.approx(494.4, rel=1e-12)
    assert est.lines() == [("requests", est.requests_cost), ("compute, tier 1", est.compute_by_tier[0]),
                           ("compute, tier 2", est.compute_by_tier[1]), ("compute, tier 3", est.compute_by_tier[2]),
                           ("ephemeral storage", est.storage_cost), ("total", 252_028.0)]
    assert (est.memory_mb, est.architecture, est.ephemeral_mb, est.free_tier) == (1024, "x86_64", 1536, False)
    assert str(est) == (
        "16,000,000,000 requests x 1000 ms at 1024 MB (x86_64) = 16,000,000,000 GB-s a month\n"
        "  requests                $3,200.00\n"
        "  compute, tier 1       $100,000.20\n"
        "  compute, tier 2       $135,000.00\n"
        "  compute, tier 3        $13,333.40\n"
        "  ephemeral storage         $494.40\n"
        "  total                 $252,028.00")
    html = est._repr_html_()
    assert html.startswith("<p>16,000,000,000 requests x 1000 ms at 1024 MB (x86_64) = 16,000,000,000 GB-s a "
                           "month</p><table class='lab-cost'><tr><td>requests</td><td style='text-align:right'>"
                           "$3,200.00</td></tr><tr><td>compute, tier 1</td>")
    assert html.endswith("<tr><td>total</td><td style='text-align:right'>$252,028.00</td></tr></table>")
    assert len(re.findall("<tr>", html)) == 6


def test_a_month_with_no_traffic_still_lists_the_first_tier():
    est = pricing.monthly_estimate(0, 0, 128)
    assert est.lines() == [("requests", 0.0), ("compute, tier 1", 0.0), ("free tier", 0.0), ("total", 0.0)]


def test_request_charge_is_exactly_twenty_cents_a_million():
    # 30M requests x $0.20 / 1e6 = $6.00 exactly (a price off by one part in a million would show in the cents
    # of a large bill: 16e9 requests -> $3,200.00, not $3,199.9968)
    assert pricing.monthly_estimate(30_000_000, 120, 512).requests_cost == pytest.approx(6.0, rel=1e-12)
    credit = pricing.monthly_estimate(2_000_000, 1, 128).free_tier_credit
    # 1M free requests ($0.20) + 2e6 x 0.001 x 0.125 = 250 GB-s x $0.0000166667 = $0.00416667500
    assert credit == pytest.approx(-(0.20 + 0.004166675), rel=1e-12)


def test_power_tuning_comparison_on_arm64_and_with_another_sheet():
    # ours: 100 ms x 1 GB = 0.1 GB-s x $0.0000133334 + $0.0000002 = $0.00000153334;
    # Power Tuning: 100 ms x $1.7e-9 x 1024/128 = $0.00000136
    arm = pricing.compare_with_power_tuning(100, 1024, "arm64")
    assert (arm.billed_ms, arm.memory_mb, arm.architecture) == (100, 1024, "arm64")
    assert arm.ours == pytest.approx(0.00000153334, rel=1e-12)
    assert arm.power_tuning == pytest.approx(0.00000136, rel=1e-12)
    assert str(arm) == ("100 ms at 1024 MB (arm64): ours $0.000001533, Power Tuning $0.000001360\n"
                        + pricing.POWER_TUNING_DIFFERENCE)
    free_requests = dataclasses.replace(pricing.PRICES, requests_usd_per_million=0.0)
    assert pricing.compare_with_power_tuning(100, 1024, prices=free_requests).ours == pytest.approx(
        0.00000166667, rel=1e-12)


@pytest.mark.parametrize("value, shown", [
    (0.01, "$0.01"), (-0.01, "-$0.01"), (0.0099996, "$0.010000"), (0.009999, "$0.009999"),
    (0.5, "$0.50"), (1234567.891, "$1,234,567.89"), (-2.1e-7, "-$0.0000002100"),
    (0.000123456, "$0.0001235"), (0.0, "$0.00"),
])
def test_usd_boundaries(value, shown):
    # cents from one cent up; below it four significant digits (3 - floor(log10 |v|) decimals)
    assert pricing.usd(value) == shown


def test_unknown_architecture_is_refused_with_the_fix():
    for call in (lambda: pricing.PRICES.tiers("aarch64"), lambda: pricing.power_tuning_cost(1, 128, "aarch64"),
                 lambda: pricing.cost_per_invocation(1, 128, "aarch64")):
        with pytest.raises(ValueError) as raised:
            call()
        assert str(raised.value) == "architecture must be 'x86_64' or 'arm64', not 'aarch64'"
    assert pricing.PRICES.tiers("arm64")[0].usd_per_gb_s == 0.0000133334
