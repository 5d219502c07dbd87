"""Checks for the exercises of notebook 06_memory_and_cost."""

import base64
import json
import math

import boto3

from ..pricing import cost_per_invocation, usd
from ..runtime import cpu_share, modelled_duration_ms
from . import function_config, passed, require

__all__ = ["ex_06_cheapest_memory", "ex_06_latency_target"]

CREATED_MB = 2048  # what the exercise's setup gives `enrich`
CANDIDATES = (128, 256, 512, 1024, 1536, 1769, 2048, 3008, 10240)
EXPECTED = {"status": "enriched"}


def _measured_run(lam, name: str):
    """Invoke twice (the second is normally warm) and return the lab's record of the last run, if local."""
    from .. import Lab

    response = None
    for _ in range(2):
        response = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
        payload = json.loads(response["Payload"].read() or b"null")
        require(not response.get("FunctionError"),
                f"'{name}' fails ({payload.get('errorType') if isinstance(payload, dict) else payload}): keep its "
                "code as it was, and give it a memory size it can run at.")
        require(payload == EXPECTED, f"'{name}' answered {payload!r}, not {EXPECTED!r}: keep its code as it was and "
                                     "change only its MemorySize.")
    lab = Lab.current()
    if lab is None or lab.backend != "local":
        return None
    tail = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    runs = [i for i in lab.invocations if i.function_name == name and i.result is not None
            and i.request_id in tail]
    return runs[-1].result if runs else None


def _costs(run, sizes, architecture: str) -> dict[int, float]:
    """USD per warm invocation at each size, as the lab's CPU-share model predicts from one measured run."""
    return {m: cost_per_invocation(math.ceil(modelled_duration_ms(run.wall_ms, run.cpu_ms, m)), m, architecture)
            for m in sizes}


def ex_06_cheapest_memory(function_name: str = "enrich") -> None:
    """`function_name` runs at the memory size where an invocation costs least."""
    lam = boto3.client("lambda")
    config = function_config(function_name, "Run the exercise's setup cell first: it creates the function.")
    memory = config["MemorySize"]
    architecture = (config.get("Architectures") or ["x86_64"])[0]
    run = _measured_run(lam, function_name)
    if run is not None:
        costs = _costs(run, sorted({*CANDIDATES, memory}), architecture)
        cheapest = min(costs, key=lambda m: (costs[m], m))
    else:  # on AWS the check cannot model other sizes; this handler only waits, so the smallest size wins
        costs, cheapest = {}, 128

    def compare() -> str:
        if not costs:
            return ""
        return (f" The lab's model puts a call at about {usd(costs[memory])} at {memory} MB, and some other "
                "sizes lower.")

    if memory == cheapest:
        passed(f"'{function_name}' runs at {memory} MB, the cheapest size for a handler that spends its time "
               "waiting: more memory would make it no faster, only dearer.")
        return
    require(memory != CREATED_MB,
            f"'{function_name}' still has the {CREATED_MB:,} MB it was created with. Find its cheapest memory size "
            "(notebook 06, 'Power tuning: a sweep over memory sizes'; or reason: does this handler compute or wait?) "
            "and configure it.")
    if memory >= 1769:
        require(False, f"MemorySize {memory:,} MB gives '{function_name}' {cpu_share(memory):.1f} vCPUs: the choice "
                       "for speed (strategy='speed', or 'more memory is faster'). But this handler spends its time "
                       "waiting for another service, so it runs no faster there, and Lambda bills memory x time."
                       f"{compare()} The cheapest size is not the fastest: which of power_tune's strategies answers "
                       "'cheapest'? Notebook 06, 'Power tuning: a sweep over memory sizes'.")
    require(False, f"At {memory:,} MB '{function_name}' is not at its cheapest.{compare()} This handler waits rather "
                   "than computes, so its duration hardly changes with memory, and every extra MB is billed without "
                   "making it faster. 'Balanced' is not 'cheapest': notebook 06, 'Power tuning: a sweep over memory "
                   "sizes', says what each strategy minimises.")


TARGET_MS = 300     # exercise 06.2: a warm call of `thumbnail` must take at most this long
GRACE = 1.05        # measuring on a shared machine is noisy: 5% above the target still counts as on target
COST_SLACK = 1.15   # and a size within 15% of the cheapest size on target counts as cheapest
THUMBNAIL = {"thumbnail": "ready"}


def _warm_runs(lam, name: str, runs: int = 3) -> list:
    """The lab's records of a few warm invocations of `name` (after one that may be cold)."""
    from .. import Lab

    lab = Lab.current()
    require(lab is not None and lab.backend == "local", "This check models durations with the local lab; run the "
                                                        "exercise on a local lambda_lab.Lab().")
    results = []
    for n in range(runs + 1):
        response = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
        payload = json.loads(response["Payload"].read() or b"null")
        require(not response.get("FunctionError") and payload == THUMBNAIL,
                f"'{name}' answered {payload!r}: keep its code as it was and change only its MemorySize.")
        tail = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
        run = next((i.result for i in reversed(lab.invocations) if i.function_name == name and i.result is not None
                    and i.request_id in tail), None)
        if n and run is not None:
            results.append(run)
    return results


def ex_06_latency_target(function_name: str = "thumbnail") -> None:
    """Exercise 06.2: a warm call takes at most 300 ms, at (about) the lowest cost that achieves it."""
    lam = boto3.client("lambda")
    config = function_config(function_name, "Run the exercise's setup cell first: it creates the function.")
    memory = config["MemorySize"]
    architecture = (config.get("Architectures") or ["x86_64"])[0]
    runs = _warm_runs(lam, function_name)
    require(bool(runs), f"The lab kept no record of the check's calls to '{function_name}'.")
    best = min(runs, key=lambda r: r.wall_ms)  # the run least disturbed by other programs on this machine

    def duration(m: int) -> float:
        return modelled_duration_ms(best.wall_ms, best.cpu_ms, m)

    def cost(m: int) -> float:
        return cost_per_invocation(math.ceil(duration(m)), m, architecture)

    section = "Notebook 06, 'Try it: the memory tuner' and 'Power tuning: a sweep over memory sizes'"
    require(duration(memory) <= TARGET_MS * GRACE,
            f"At {memory:,} MB a warm call of '{function_name}' takes about {duration(memory):.0f} ms: over the "
            f"{TARGET_MS} ms target. This handler computes as well as waits; how much CPU does it need to finish in "
            f"time, and which setting buys CPU? {section}.")
    on_target = [m for m in range(128, 10241, 32) if duration(m) <= TARGET_MS]
    cheapest = min(on_target, key=cost) if on_target else memory
    require(cost(memory) <= cost(cheapest) * COST_SLACK,
            f"{memory:,} MB meets the target (about {duration(memory):.0f} ms), but a call costs about "
            f"{usd(cost(memory))} there, {cost(memory) / cost(cheapest) - 1:.0%} more than at the cheapest size that "
            f"also meets it. Faster than the target buys nothing here. {section}: which sizes meet {TARGET_MS} ms, "
            "and which of those is cheapest?")
    passed(f"'{function_name}' at {memory:,} MB answers in about {duration(memory):.0f} ms (target {TARGET_MS} ms), "
           f"for about {usd(cost(memory))} a call: within {COST_SLACK - 1:.0%} of the cheapest size on target.")
