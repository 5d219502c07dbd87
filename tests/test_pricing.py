"""Prices and cost arithmetic, checked against figures worked out by hand from the reference price table."""

import base64
import math

import boto3
import pytest

import lambda_lab
from lambda_lab import pricing

REPORT_100MS_1GB = ("REPORT RequestId: 3f1c2a54-0000-4000-8000-000000000000\tDuration: 99.12 ms\t"
                    "Billed Duration: 100 ms\tMemory Size: 1024 MB\tMax Memory Used: 35 MB")


@pytest.fixture
def lab():
    lab = lambda_lab.Lab()
    yield lab
    lab.stop()


def test_price_sheet_is_dated_sourced_data():
    sheet = pricing.PRICES
    assert sheet.region == "us-east-1" and sheet.as_of and "aws.amazon.com/lambda/pricing" in sheet.source
    assert [t.usd_per_gb_s for t in sheet.tiers("x86_64")] == [0.0000166667, 0.000015, 0.0000133334]
    assert [t.up_to_gb_s for t in sheet.tiers("x86_64")][:2] == [6e9, 15e9]
    assert [t.usd_per_gb_s for t in sheet.tiers("arm64")] == [0.0000133334, 0.0000120001, 0.0000106667]
    assert [t.up_to_gb_s for t in sheet.tiers("arm64")][:2] == [7.5e9, 18.75e9]
    assert sheet.requests_usd_per_million == 0.20 and sheet.ephemeral_usd_per_gb_s == 0.0000000309
    assert sheet.provisioned_usd_per_gb_s == {"x86_64": 0.0000041667, "arm64": 0.0000033334}
    assert sheet.provisioned_duration_usd_per_gb_s == {"x86_64": 0.0000097222, "arm64": 0.0000077778}
    assert (sheet.free_requests, sheet.free_gb_s) == (1_000_000, 400_000)
    assert "pricing page" in sheet.notes["provisioned concurrency"]
    with pytest.raises(ValueError, match="x86_64"):
        sheet.tiers("arm")


def test_parse_report_reads_every_field_of_warm_cold_and_failed_lines():
    warm = pricing.parse_report(REPORT_100MS_1GB)
    assert warm == (99.12, 100, 1024, 35, None) and not warm.cold
    cold = pricing.parse_report("START RequestId: x Version: $LATEST\nEND RequestId: x\nREPORT RequestId: x\t"
                                "Duration: 12.34 ms\tBilled Duration: 80 ms\tMemory Size: 128 MB\t"
                                "Max Memory Used: 35 MB\tInit Duration: 67.49 ms\n")
    assert cold.init_ms == 67.49 and cold.billed_ms == 80 and cold.cold
    failed = pricing.parse_report("REPORT RequestId: x\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t"
                                  "Memory Size: 256 MB\tMax Memory Used: 40 MB\tStatus: timeout")
    assert (failed.duration_ms, failed.memory_mb) == (3000.0, 256)
    with pytest.raises(ValueError, match="billed_ms"):
        pricing.parse_report("REPORT RequestId: x Duration: 1.00 ms Billed Duration: 1 ms Memory Size: 128 MB")


def test_parse_report_reads_the_json_log_format_too():
    # a function with LoggingConfig.LogFormat=JSON reports in a platform.report record, as Power Tuning reads it
    tail = ('{"time": "2026-06-01T10:00:00.000Z", "type": "platform.runtimeDone", "record": {"status": "success"}}\n'
            '{"time": "2026-06-01T10:00:00.001Z", "type": "platform.report", "record": {"requestId": "x", '
            '"metrics": {"durationMs": 12.34, "billedDurationMs": 80, "memorySizeMB": 128, "maxMemoryUsedMB": 35, '
            '"initDurationMs": 67.49}, "status": "success"}}')
    assert pricing.parse_report(tail) == (12.34, 80, 128, 35, 67.49)


def test_cost_of_one_invocation_from_its_report_line():
    # 100 ms at 1,024 MB = 0.1 s x 1 GB = 0.1 GB-s; x86: 0.1 x $0.0000166667 = $0.00000166667,
    # plus one request at $0.20 per million = $0.0000002, so $0.00000186667
    assert pricing.invocation_cost(REPORT_100MS_1GB) == pytest.approx(0.00000186667, abs=1e-15)
    # arm64: 0.1 x $0.0000133334 = $0.00000133334, plus $0.0000002 = $0.00000153334
    assert pricing.invocation_cost(REPORT_100MS_1GB, "arm64") == pytest.approx(0.00000153334, abs=1e-15)
    # /tmp of 1,536 MB: 1 GB above the free 512 MB for 0.1 s = 0.1 GB-s x $0.0000000309 = $0.00000000309 more
    assert pricing.invocation_cost(REPORT_100MS_1GB, ephemeral_mb=1536) == pytest.approx(0.00000186976, abs=1e-15)


def test_cost_of_a_real_invocation_matches_the_lab_history(lab):
    lam = boto3.client("lambda")
    lam.create_function(FunctionName="priced", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                        MemorySize=512, Code={"ZipFile": lambda_lab.zip_source("def handler(e, c):\n    return 1\n")})
    for _ in range(2):  # the first is a cold start, whose billed time includes Init Duration
        reply = lam.invoke(FunctionName="priced", Payload=b"{}", LogType="Tail")
        tail = base64.b64decode(reply["LogResult"]).decode()
        result = lab.invocations[-1].result
        report = pricing.parse_report(tail)
        assert (report.memory_mb, report.cold) == (512, result.cold)
        # Billed = ceil(Duration + Init Duration) of the exact figures, as AWS bills them
        assert report.billed_ms == result.billed_ms == max(1, math.ceil(result.duration_ms + (result.init_ms or 0)))
        # billed ms / 1000 s x 0.5 GB at the x86 first-tier price, plus one request
        expected = report.billed_ms / 1000 * 0.5 * 0.0000166667 + 0.0000002
        assert pricing.invocation_cost(tail) == pytest.approx(expected, abs=1e-12)


def test_monthly_estimate_inside_the_free_tier_costs_nothing():
    # 1M requests x 100 ms x 128 MB = 1e6 x 0.1 s x 0.125 GB = 12,500 GB-s: both under the free tier
    free = pricing.monthly_estimate(1_000_000, 100, 128)
    assert free.gb_s == pytest.approx(12_500)
    assert free.total == 0
    # without it: requests 1e6 x $0.0000002 = $0.20; compute 12,500 x $0.0000166667 = $0.20833375
    paid = pricing.monthly_estimate(1_000_000, 100, 128, free_tier=False)
    assert paid.requests_cost == pytest.approx(0.20)
    assert paid.compute_by_tier == pytest.approx((0.20833375, 0, 0))
    assert paid.free_tier_credit == 0 and paid.total == pytest.approx(0.40833375)
    assert free.total_without_free_tier == pytest.approx(0.40833375)
    assert free.free_tier_credit == pytest.approx(-0.40833375)  # all of it: both allowances are large enough


def test_free_tier_below_one_million_requests():
    # 500,000 requests x 200 ms x 1,024 MB = 100,000 GB-s: both under the free tier, so nothing to pay
    small = pricing.monthly_estimate(500_000, 200, 1024)
    assert small.gb_s == pytest.approx(100_000)
    assert small.requests_cost == pytest.approx(0.10)  # 500,000 x $0.0000002
    assert small.compute_cost == pytest.approx(1.66667)  # 100,000 x $0.0000166667
    assert small.free_tier_credit == pytest.approx(-1.76667) and small.total == 0
    # 800,000 requests x 1 s x 1,024 MB = 800,000 GB-s: the requests stay free ($0.16, not the full $0.20 of
    # credit), the compute only for its first 400,000 GB-s: 400,000 x $0.0000166667 = $6.66668 to pay
    busy = pricing.monthly_estimate(800_000, 1000, 1024)
    assert busy.requests_cost == pytest.approx(0.16)
    assert busy.free_tier_credit == pytest.approx(-(0.16 + 6.66668))
    assert busy.total == pytest.approx(6.66668)
    assert [label for label, _ in busy.lines()] == ["requests", "compute, tier 1", "free tier", "total"]


def test_arm64_free_tier_credit_is_priced_at_the_arm64_rate():
    # 30M x 120 ms x 512 MB = 1,800,000 GB-s on arm64: 1.8e6 x $0.0000133334 = $24.00012 of compute;
    # the 400,000 free GB-s save 400,000 x $0.0000133334 = $5.33336, the free requests $0.20
    est = pricing.monthly_estimate(30_000_000, 120, 512, "arm64")
    assert est.compute_by_tier == pytest.approx((24.00012, 0.0, 0.0))
    assert est.free_tier_credit == pytest.approx(-5.53336)
    assert est.total == pytest.approx(6.00 + 24.00012 - 5.53336)  # $24.46676
    # below the free tier an arm64 function costs nothing either: 1M x 100 ms x 2,048 MB = 200,000 GB-s
    assert pricing.monthly_estimate(1_000_000, 100, 2048, "arm64").total == 0
    assert pricing.monthly_estimate(1_000_000, 100, 2048, "arm64", free_tier=False).total == pytest.approx(
        0.20 + 200_000 * 0.0000133334)


def test_pricing_doctests_pass():
    import doctest

    failures, attempted = doctest.testmod(pricing)
    assert attempted >= 4 and failures == 0


def test_monthly_estimate_beyond_the_free_tier():
    # 30M x 120 ms x 512 MB = 30e6 x 0.12 x 0.5 = 1,800,000 GB-s
    est = pricing.monthly_estimate(30_000_000, 120, 512)
    assert est.gb_s == pytest.approx(1_800_000)
    assert est.requests_cost == pytest.approx(6.00)  # 30e6 x $0.0000002
    assert est.compute_cost == pytest.approx(30.00006)  # 1.8e6 x $0.0000166667
    # free tier: 1M requests ($0.20) + 400,000 GB-s at the first tier ($6.66668)
    assert est.free_tier_credit == pytest.approx(-6.86668)
    assert est.total == pytest.approx(29.13338)
    assert [label for label, _ in est.lines()] == ["requests", "compute, tier 1", "free tier", "total"]
    assert "$29.13" in str(est) and "lab-cost" in est._repr_html_()


def test_monthly_estimate_walks_through_every_x86_tier():
    # 16e9 requests of 1 s at 1,024 MB = 16e9 GB-s: 6e9 in tier 1, 9e9 in tier 2, 1e9 in tier 3
    est = pricing.monthly_estimate(16_000_000_000, 1000, 1024, free_tier=False)
    assert est.compute_by_tier == pytest.approx((6e9 * 0.0000166667, 9e9 * 0.000015, 1e9 * 0.0000133334))
    assert est.compute_by_tier == pytest.approx((100_000.2, 135_000.0, 13_333.4))
    assert est.requests_cost == pytest.approx(3_200.0)  # 16e9 x $0.0000002
    assert est.total == pytest.approx(251_533.6)
    assert pricing.monthly_estimate(16_000_000_000, 1000, 1024).total == pytest.approx(251_533.6 - 6.86668)


def test_arm64_tiers_start_later_and_cost_less():
    # 8e9 GB-s on arm64: 7.5e9 x $0.0000133334 = $100,000.5 and 0.5e9 x $0.0000120001 = $6,000.05
    est = pricing.monthly_estimate(8_000_000_000, 1000, 1024, "arm64", free_tier=False)
    assert est.compute_by_tier == pytest.approx((100_000.5, 6_000.05, 0.0))
    with pytest.raises(ValueError, match="architecture must be 'x86_64' or 'arm64', not 'x86'"):
        pricing.monthly_estimate(1, 1, 128, "x86")


def test_ephemeral_storage_is_charged_above_512_mb_only():
    # 1M requests x 1 s with 10,240 MB of /tmp: 9,728 MB = 9.5 GB extra for 1e6 s = 9.5e6 GB-s x $0.0000000309
    est = pricing.monthly_estimate(1_000_000, 1000, 128, ephemeral_mb=10_240)
    assert est.storage_cost == pytest.approx(0.29355)
    assert pricing.monthly_estimate(1_000_000, 1000, 128, ephemeral_mb=512).storage_cost == 0


def test_power_tuning_formula_beside_ours():
    # Power Tuning: ceil(99.2 ms) = 100 ms x $2.1e-9 per ms at 128 MB x 1024/128 = $0.00000168
    assert pricing.power_tuning_cost(99.2, 1024) == pytest.approx(0.00000168, abs=1e-15)
    # arm64: 100 x $1.7e-9 x 8 = $0.00000136
    assert pricing.power_tuning_cost(100, 1024, "arm64") == pytest.approx(0.00000136, abs=1e-15)
    side_by_side = pricing.compare_with_power_tuning(100, 1024)
    assert side_by_side.ours == pytest.approx(0.00000186667, abs=1e-15)  # as in the REPORT test above
    assert side_by_side.power_tuning == pytest.approx(0.00000168, abs=1e-15)
    why = side_by_side.why.lower()
    assert "request" in why and "free tier" in why and "rounded" in why and "\n" not in side_by_side.why
    assert "Power Tuning $0.000001680" in str(side_by_side)


def test_usd_formats_bills_and_single_invocations():
    assert pricing.usd(29.13338) == "$29.13"
    assert pricing.usd(-6.86668) == "-$6.87"
    assert pricing.usd(0.00000186667) == "$0.000001867"
    assert pricing.usd(0) == "$0.00"


def test_provisioned_concurrency_break_even_is_sixty_percent_utilisation():
    # x86: 0.0000041667 / (0.0000166667 - 0.0000097222) = 0.0000041667 / 0.0000069445
    assert pricing.provisioned_break_even() == pytest.approx(0.0000041667 / 0.0000069445)
    assert round(pricing.provisioned_break_even(), 3) == 0.6
    # arm64: 0.0000033334 / (0.0000133334 - 0.0000077778) = 0.0000033334 / 0.0000055556
    assert pricing.provisioned_break_even("arm64") == pytest.approx(0.6000072, abs=1e-7)


def test_provisioned_estimate_against_on_demand_by_hand():
    # 10 x 1 GB kept warm 100 h = 3,600,000 GB-s x $0.0000041667 = $15.00012
    # 24M requests x 0.1 s x 1 GB = 2,400,000 GB-s: 2/3 of the provisioned GB-s, all served warm
    est = pricing.provisioned_estimate(10, 1024, 100, 24_000_000, 100)
    assert est.provisioned_cost == pytest.approx(15.00012)
    assert est.duration_cost == pytest.approx(2_400_000 * 0.0000097222)  # $23.33328
    assert (est.spillover_cost, est.requests_cost) == (0, pytest.approx(4.80))
    assert est.total == pytest.approx(43.1334) and est.on_demand_cost == pytest.approx(44.80008)
    assert est.utilisation == pytest.approx(2 / 3) and est.pays_off
    # a third of that load: 22 % utilised, below the break-even: on demand is cheaper
    light = pricing.provisioned_estimate(10, 1024, 100, 8_000_000, 100)
    assert light.total == pytest.approx(15.00012 + 800_000 * 0.0000097222 + 1.60)  # $24.37788
    assert light.on_demand_cost == pytest.approx(800_000 * 0.0000166667 + 1.60)  # $14.93336
    assert not light.pays_off and str(light).split("\n")[0] == (
        "10 x 1024 MB provisioned for 100 h (x86_64), 8,000,000 requests x 100 ms: 22% utilised, "
        "costs more than on demand")


def test_a_provisioned_estimate_prints_its_figures_as_worked_out_by_hand():
    # arm64: 3 x 0.5 GB kept warm 7,200 s = 10,800 GB-s x $0.0000033334 = $0.03600072
    # 90,000 requests x 0.25 s x 0.5 GB = 11,250 GB-s, 104 % of that: 10,800 served at $0.0000077778 = $0.08400024
    # and 450 spilled over at $0.0000133334 = $0.00600003; requests 90,000 x $0.20 / million = $0.018
    # total $0.14400099; on demand 11,250 x $0.0000133334 + $0.018 = $0.16800075
    est = pricing.provisioned_estimate(3, 512, 2, 90_000, 250, "arm64")
    assert est.utilisation == pytest.approx(11_250 / 10_800)
    assert est.requests_cost == pytest.approx(0.018, abs=1e-12)
    assert est.total == pytest.approx(0.14400099, abs=1e-10)
    assert est.on_demand_cost == pytest.approx(0.16800075, abs=1e-10)
    assert str(est) == (
        "3 x 512 MB provisioned for 2 h (arm64), 90,000 requests x 250 ms: 104% utilised, pays off\n"
        "  provisioned                       $0.04\n"
        "  duration (provisioned)            $0.08\n"
        "  duration (spillover)          $0.006000\n"
        "  requests                          $0.02\n"
        "  total                             $0.14\n"
        "  on demand instead                 $0.17")


def test_one_environment_is_enough_and_no_time_at_all_is_refused():
    one = pricing.provisioned_estimate(1, 128, 0.01, 0, 1)  # 36 s, billed as 300: 0.125 GB x 300 s x $0.0000041667
    assert one.provisioned_cost == pytest.approx(0.125 * 300 * 0.0000041667)
    for concurrency, hours in ((0, 1), (1, 0), (1, -1)):
        with pytest.raises(ValueError, match=f"^concurrency must be at least 1 and hours above 0, not {concurrency} "
                                             f"and {hours}$"):
            pricing.provisioned_estimate(concurrency, 512, hours, 1, 1)


def test_provisioned_estimate_spills_over_and_rounds_up_to_five_minutes():
    # 5,400,000 GB-s against 3,600,000 provisioned: 3.6M served warm, 1.8M spill over at the on-demand rate
    est = pricing.provisioned_estimate(10, 1024, 100, 54_000_000, 100)
    assert est.duration_cost == pytest.approx(34.99992) and est.spillover_cost == pytest.approx(30.00006)
    assert est.total == pytest.approx(15.00012 + 34.99992 + 30.00006 + 10.80)
    assert est.utilisation == pytest.approx(1.5) and est.pays_off
    # arm64, 512 MB, 6 minutes billed as 10: 2 x 0.5 GB x 600 s x $0.0000033334
    short = pricing.provisioned_estimate(2, 512, 0.1, 0, 100, "arm64")
    assert short.provisioned_cost == pytest.approx(600 * 0.0000033334) and short.total == pytest.approx(0.00200004)
    with pytest.raises(ValueError, match="concurrency"):
        pricing.provisioned_estimate(0, 512, 1, 1, 1)
