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


def test_billed_duration_follows_the_printed_hundredths():
    # 1.0051 ms prints as "1.01", so it bills ceil(1.01) = 2 ms (as ceil(1.0051) does on AWS)
    line = _report.report_line("r", 1.0051, billed_duration_ms(1.0051), 128, 40, None)
    assert "\tDuration: 1.01 ms\tBilled Duration: 2 ms\t" in line
    assert billed_duration_ms(1.0051) == 2
    # 0.9951 ms prints as "1.00": 1 ms; 2.0049 + 0.9951 prints 2.00 + 1.00: 3 ms
    assert billed_duration_ms(0.9951) == 1
    assert billed_duration_ms(2.0049, 0.9951) == 3
