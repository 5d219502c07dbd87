"""Checks for the exercises of notebook 06_memory_and_cost."""

import base64
import json
import math

import boto3

from ..pricing import cost_per_invocation, usd
from ..runtime import cpu_share, modelled_duration_ms
from . import function_config, passed, require

__all__ = ["ex_06_cheapest_memory"]

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
        return (f" The lab's model puts a call at about {usd(costs[memory])} at {memory} MB and "
                f"{usd(costs[cheapest])} at {cheapest} MB.")

    if memory == cheapest:
        passed(f"'{function_name}' runs at {memory} MB, the cheapest size for a handler that spends its time "
               "waiting: more memory would make it no faster, only dearer.")
        return
    require(memory != CREATED_MB,
            f"'{function_name}' still has the {CREATED_MB:,} MB it was created with. Find its cheapest memory size "
            "(lambda_lab.power_tune(..., strategy='cost'), or reason: does this handler compute or wait?) and set it "
            "with update_function_configuration(FunctionName=..., MemorySize=...).")
    if memory >= 1769:
        require(False, f"MemorySize {memory:,} MB gives '{function_name}' {cpu_share(memory):.1f} vCPUs: the choice "
                       "for speed (strategy='speed', or 'more memory is faster'). But this handler spends its time "
                       "waiting for another service, so it runs no faster there, and Lambda bills memory x time."
                       f"{compare()} The cheapest size is not the fastest: run power_tune with strategy='cost' "
                       "(it minimises cost), not 'speed'.")
    require(False, f"At {memory:,} MB '{function_name}' is not at its cheapest.{compare()} This handler waits rather "
                   "than computes, so its duration hardly changes with memory, and every extra MB is billed without "
                   "making it faster. Choose the size with the lowest cost (power_tune's strategy='cost', not "
                   "'balanced'), and set it with update_function_configuration.")
