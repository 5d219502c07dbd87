"""How long an invocation would have taken on Lambda, and what it is billed.

Lambda gives a function CPU in proportion to its memory: 1,769 MB buys one vCPU, 128 MB about 7% of one,
10,240 MB six. The lab runs handlers on this machine's cores and then models the Lambda figure from two
measurements of the same invocation, wall time and CPU time (all threads):

    parallelism p = max(1, cpu / wall)          threads this handler kept busy here
    off_cpu       = max(0, wall - cpu / p)      waiting on I/O, sleeping, blocked
    duration      = off_cpu + cpu / min(share, p)   where share = min(memory / 1769, 6)

so a single-threaded CPU-bound handler is 1769/128 = 13.8 times slower at 128 MB than at 1,769 MB and no
faster above it, a sleeping or I/O-bound one is the same at every size, and only a multi-threaded one gains
above 1,769 MB. One core here is taken to be one Lambda vCPU, and on Linux the time the worker spent
waiting for a core of this machine (a busy laptop, a parallel test run) is left out of the wall time.
"""

import math

from ..limits import value

MB_PER_VCPU = value("memory_per_vcpu_mb")
MAX_VCPUS = 6.0


def cpu_share(memory_mb: int) -> float:
    """vCPUs a function of `memory_mb` gets, e.g. cpu_share(1769) == 1.0."""
    return min(memory_mb / MB_PER_VCPU, MAX_VCPUS)


def modelled_duration_ms(wall_ms: float, cpu_ms: float, memory_mb: int) -> float:
    """Lambda duration for a run measured here as `wall_ms` of wall time and `cpu_ms` of CPU time."""
    if wall_ms <= 0:
        return 0.0
    parallelism = max(1.0, cpu_ms / wall_ms)
    off_cpu = max(0.0, wall_ms - cpu_ms / parallelism)
    return off_cpu + cpu_ms / min(cpu_share(memory_mb), parallelism)


def billed_duration_ms(duration_ms: float, init_ms: float | None = None) -> int:
    """1 ms granularity; since 2025-08-01 a cold start's init phase is billed too.

    From the exact figures, as AWS bills them: REPORT prints two decimals, so once in a while a line reads
    "Duration: 2.00 ms ... Init Duration: 96.00 ms" beside "Billed Duration: 99 ms" (2.004 + 96.0 ms).
    """
    return max(1, math.ceil(duration_ms + (init_ms or 0.0)))
