"""The model's edges: sub-millisecond runs and durations whose third decimal decides the printed figure."""

import pytest

from lambda_lab.runtime import _report
from lambda_lab.runtime._model import billed_duration_ms, modelled_duration_ms


@pytest.mark.parametrize("wall, cpu, memory, expected", [
    (0.5, 0.5, 1769, 0.5),  # half a millisecond of CPU on one vCPU: as measured, not nothing
    (1.0, 0.0, 128, 1.0),  # a millisecond of waiting costs a millisecond at any size
    (0.25, 0.0, 10_240, 0.25),
])
def test_runs_shorter_than_a_millisecond_still_take_time(wall, cpu, memory, expected):
    assert modelled_duration_ms(wall, cpu, memory) == expected


def test_billed_duration_rounds_the_exact_figures_up():
    # 1.0051 ms prints as "1.01" and bills ceil(1.0051) = 2 ms
    line = _report.report_line("r", 1.0051, billed_duration_ms(1.0051), 128, 40, None)
    assert "\tDuration: 1.01 ms\tBilled Duration: 2 ms\t" in line
    assert billed_duration_ms(1.0051) == 2
    # 0.9951 ms bills 1 ms; 2.0049 + 0.9951 = 3 ms exactly bills 3, and 3.0001 bills 4
    assert billed_duration_ms(0.9951) == 1
    assert billed_duration_ms(2.0049, 0.9951) == 3
    assert billed_duration_ms(2.0050, 0.9951) == 4
