"""The CPU-share model, billed duration and the REPORT line, checked against figures worked out by hand."""

import math
import re
import signal

import pytest

from lambda_lab.runtime import _report
from lambda_lab.runtime._model import billed_duration_ms, cpu_share, modelled_duration_ms

# 1,769 MB is one vCPU (AWS: "one vCPU-second of credit per second"); shares are memory / 1769, at most 6
SHARES = [(128, 128 / 1769), (1769, 1.0), (3008, 3008 / 1769), (10_240, 10_240 / 1769)]


@pytest.mark.parametrize("memory, share", SHARES)
def test_cpu_share_is_memory_over_1769_mb(memory, share):
    assert cpu_share(memory) == share


def test_cpu_share_figures_a_learner_reads():
    assert round(cpu_share(128), 4) == 0.0724  # "about 7% of one vCPU"
    assert round(cpu_share(3008), 2) == 1.70
    assert round(cpu_share(10_240), 2) == 5.79  # linear credits; AWS quotes "up to 6 vCPUs" at 10,240 MB
    assert cpu_share(10_614) == 6.0 and cpu_share(12_000) == 6.0  # never more than six


@pytest.mark.parametrize("memory, expected", [
    (128, 20 * 1769 / 128),  # 276.40625 ms: 13.8 times slower on 7% of a vCPU
    (1769, 20.0),  # one vCPU: as measured here
    (3008, 20.0),  # one thread cannot use a second vCPU
    (10_240, 20.0),
])
def test_single_threaded_cpu_bound_run(memory, expected):
    # 20 ms of wall time, all of it on one core
    assert modelled_duration_ms(20.0, 20.0, memory) == pytest.approx(expected, abs=1e-9)
    assert modelled_duration_ms(20.0, 20.0, 128) == 276.40625


@pytest.mark.parametrize("memory", [128, 1769, 10_240])
def test_waiting_costs_the_same_at_every_size(memory):
    # 100 ms asleep or waiting on I/O, no CPU at all
    assert modelled_duration_ms(100.0, 0.0, memory) == 100.0


@pytest.mark.parametrize("memory, expected", [
    (128, 80 + 20 * 1769 / 128),  # 80 ms off-CPU + 276.40625 ms of stretched CPU = 356.40625 ms
    (1769, 100.0),  # 80 + 20
    (3008, 100.0),  # above one vCPU a single thread gains nothing
])
def test_off_cpu_time_plus_cpu_time_on_the_share(memory, expected):
    assert modelled_duration_ms(100.0, 20.0, memory) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("memory, expected", [
    (128, 200 * 1769 / 128),  # 2,764.0625 ms: four threads share 7% of one vCPU
    (1769, 200.0),  # one vCPU runs the 200 ms of CPU one after the other
    (3008, 200 * 1769 / 3008),  # 117.62 ms: 1.7 vCPUs
    (10_240, 50.0),  # 5.79 vCPUs, but four threads can use only four: as fast as here
])
def test_parallel_threads_are_capped_by_the_share_and_by_their_own_number(memory, expected):
    # four threads kept four cores busy: 200 ms of CPU in 50 ms of wall time
    assert modelled_duration_ms(50.0, 200.0, memory) == pytest.approx(expected, abs=1e-9)


def test_degenerate_measurements():
    assert modelled_duration_ms(0.0, 0.0, 128) == 0.0  # nothing measured: no division by zero
    assert modelled_duration_ms(0.0, 5.0, 128) == 0.0
    assert modelled_duration_ms(-1.0, 0.0, 128) == 0.0
    # 17 ms of CPU in 7 ms on 2.43 cores: off-CPU time is never negative, not even by a rounding error
    assert modelled_duration_ms(7.0, 17.0, 10_240) == 17 / (17 / 7)


@pytest.mark.parametrize("duration, init, billed", [
    (2.01, None, 3),  # rounded up to the next millisecond
    (2.0, None, 2),  # a whole millisecond stays as it is
    (0.4, None, 1),
    (1.4, None, 2),  # up, never to the nearest
    (2.5, None, 3),
    (0.0, None, 1),  # at least 1 ms
    (3000.0, None, 3000),  # a 3 s timeout
    (2.97, 95.56, 99),  # a cold start bills its init phase too (since August 2025): 98.53 -> 99
    (12.34, 67.49, 80),  # 79.83 -> 80, the reference sheet's example
    (0.0, 250.0, 250),  # init failed: the init phase alone
])
def test_billed_duration_by_hand(duration, init, billed):
    assert billed_duration_ms(duration, init) == billed


@pytest.mark.parametrize("duration, init, billed", [(2.004, 96.0, 99), (2.0015, 96.0015, 99), (0.29, 2.71, 3),
                                                    (12.344, 67.655, 80), (99.995, 0.0, 100), (2.0, 96.0, 98)])
def test_billed_duration_is_from_the_exact_figures(duration, init, billed):
    """As AWS bills: the exact sum rounded up, even where the REPORT line's two decimals add up to less."""
    assert billed_duration_ms(duration, init) == billed
    line = _report.report_line("r", duration, billed, 128, 40, init)
    assert f"\tBilled Duration: {billed} ms\t" in line and f"\tDuration: {duration:.2f} ms\t" in line


def test_report_line_of_a_warm_start():
    assert _report.report_line("abc", 12.3, 13, 128, 35) == (
        "REPORT RequestId: abc\tDuration: 12.30 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB")


def test_report_line_of_a_cold_start_puts_init_last():
    assert _report.report_line("abc", 2.97, 99, 1024, 52, 95.556) == (
        "REPORT RequestId: abc\tDuration: 2.97 ms\tBilled Duration: 99 ms\tMemory Size: 1024 MB\t"
        "Max Memory Used: 52 MB\tInit Duration: 95.56 ms")
    # an init of 0.00 ms is still a cold start: only None means warm
    assert _report.report_line("abc", 1.0, 1, 128, 30, 0.0).endswith("\tInit Duration: 0.00 ms")


def test_report_line_of_failures():
    assert _report.report_line("abc", 3000.0, 3000, 128, 40, None, "timeout") == (
        "REPORT RequestId: abc\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\tStatus: timeout")
    assert _report.report_line("abc", 812.5, 885, 128, 128, 72.0, "error", "Runtime.OutOfMemory") == (
        "REPORT RequestId: abc\tDuration: 812.50 ms\tBilled Duration: 885 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 128 MB\tInit Duration: 72.00 ms\tStatus: error\tError Type: Runtime.OutOfMemory")


def test_start_and_end_lines():
    assert _report.start_line("abc", "$LATEST") == "START RequestId: abc Version: $LATEST"
    assert _report.start_line("abc", "3") == "START RequestId: abc Version: 3"
    assert _report.end_line("abc") == "END RequestId: abc"


@pytest.mark.parametrize("returncode, reason", [
    (0, "Runtime exited without providing a reason"),
    (1, "Runtime exited with error: exit status 1"),
    (2, "Runtime exited with error: exit status 2"),
    (-signal.SIGKILL, "Runtime exited with error: signal: killed"),
    (-signal.SIGSEGV, "Runtime exited with error: signal: segmentation fault"),
    (-signal.SIGABRT, "Runtime exited with error: signal: aborted"),
    (-signal.SIGTERM, "Runtime exited with error: signal: terminated"),
])
def test_exit_reasons_in_lambdas_words(returncode, reason):
    assert _report.exit_reason(returncode) == reason
