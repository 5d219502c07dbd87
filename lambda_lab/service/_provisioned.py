"""Provisioned concurrency: environments Lambda initialises ahead for a published version or an alias.

A config names a version or an alias; its allocation starts environments of that version in the background
(module code runs before any request), and its `Status` reads IN_PROGRESS until they are initialised and the
allocation time has passed on the lab clock, then READY (FAILED when the module's init fails). Invokes use
the ready environments first (`runtime._acquire`); calls beyond them spill over to on-demand ones.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runtime import FunctionConfig, Runtime
    from ._clock import LabClock
    from ._metrics import LambdaMetrics
    from ._target import Target

__all__ = ["ALLOCATION_S", "LAB_ENVIRONMENT_LIMIT", "Allocation", "ProvisionedConcurrency"]

ALLOCATION_S = 60.0  # lab seconds before a new allocation can be READY (AWS takes a minute or two)
# Real worker processes the lab starts per version; a config above it reports AWS's figures, and calls beyond
# these environments start on demand (a laptop cannot keep hundreds of processes warm)
LAB_ENVIRONMENT_LIMIT = 10
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"


@dataclass
class Allocation:
    """One provisioned concurrency config: what was asked for, for which version, and since when."""

    function_name: str
    qualifier: str  # a version number or an alias name
    function_arn: str  # qualified with `qualifier`
    version: str  # the version whose environments are kept warm
    config: FunctionConfig = field(repr=False)
    requested: int
    last_modified: float  # lab-clock epoch seconds
    ready_at: float  # lab-clock epoch seconds
    token: object = field(repr=False, compare=False)  # the record it was made for: a re-created one is new
    failure: str | None = None
    running: int = 0  # provisioning threads still starting environments


class ProvisionedConcurrency:
    """The account's provisioned concurrency configs; `put`, `get`, `delete`, `list` answer the API."""

    def __init__(self, runtime: Runtime, clock: LabClock) -> None:
        self.runtime = runtime
        self.clock = clock
        self._lock = threading.Lock()
        self._allocations: dict[tuple[str, str], Allocation] = {}

    # -- the API -------------------------------------------------------------------------------
    def put(self, allocation: Allocation) -> dict:
        """Store (or replace) a config and start allocating its environments; answers IN_PROGRESS."""
        key = (allocation.function_name, allocation.qualifier)
        with self._lock:
            previous = self._allocations.get(key)
            self._allocations[key] = allocation
            allocation.running = 1
        moved = previous.config if previous is not None and previous.config != allocation.config else None
        threading.Thread(target=self._allocate, args=(allocation, moved), name="lambda-lab-provisioned",
                         daemon=True).start()
        return self.shown(allocation)

    def get(self, function_name: str, qualifier: str) -> Allocation | None:
        with self._lock:
            return self._allocations.get((function_name, qualifier))

    def delete(self, function_name: str, qualifier: str) -> None:
        """Forget a config and retire its environments (busy ones after their request)."""
        with self._lock:
            gone = self._allocations.pop((function_name, qualifier), None)
        if gone is not None:
            self._sync(gone.config)

    def list(self, function_name: str) -> list[Allocation]:
        with self._lock:
            return [a for (name, _), a in sorted(self._allocations.items()) if name == function_name]

    def others(self, function_name: str, qualifier: str | None = None) -> list[Allocation]:
        """Every config except `function_name`'s `qualifier` (all of its own when `qualifier` is None)."""
        with self._lock:
            return [a for key, a in self._allocations.items()
                    if key[0] != function_name or (qualifier is not None and key[1] != qualifier)]

    def shown(self, allocation: Allocation) -> dict:
        """The config as Get/Put answer it (List adds FunctionArn)."""
        ready = min(allocation.requested, self.runtime.provisioned_ready(allocation.config))
        lab_target = min(allocation.requested, LAB_ENVIRONMENT_LIMIT)
        body = {"RequestedProvisionedConcurrentExecutions": allocation.requested}
        if allocation.failure:
            body.update(AvailableProvisionedConcurrentExecutions=0, AllocatedProvisionedConcurrentExecutions=0,
                        Status="FAILED", StatusReason=INIT_FAILURE)
        elif ready >= lab_target and not allocation.running and self.clock.now() >= allocation.ready_at:
            body.update(AvailableProvisionedConcurrentExecutions=allocation.requested,
                        AllocatedProvisionedConcurrentExecutions=allocation.requested, Status="READY")
        else:
            body.update(AvailableProvisionedConcurrentExecutions=ready,
                        AllocatedProvisionedConcurrentExecutions=ready, Status="IN_PROGRESS")
        body["LastModified"] = stamp(allocation.last_modified)
        return body

    def count(self, metrics: LambdaMetrics, target: Target, at: float, served: bool) -> None:
        """ProvisionedConcurrencyInvocations, or SpilloverInvocations for a call its config could not serve."""
        if served:
            metrics.count("ProvisionedConcurrencyInvocations", target, at)
        elif self._allocations and (target.function_name, target.qualifier) in self._allocations:
            metrics.count("ProvisionedConcurrencySpilloverInvocations", target, at)

    # -- the lab clock ---------------------------------------------------------------------------
    def idle(self) -> bool:
        """No allocation is still starting environments (`lab.wait_for_async()` waits for them)."""
        with self._lock:
            return not any(a.running for a in self._allocations.values())

    def next_due(self) -> float | None:
        """The lab time the next allocation turns READY, if one is still waiting for it."""
        now = self.clock.now()
        with self._lock:
            due = [a.ready_at for a in self._allocations.values() if a.ready_at > now and not a.failure]
        return min(due, default=None)

    # -- environments ----------------------------------------------------------------------------
    def _allocate(self, allocation: Allocation, moved: FunctionConfig | None) -> None:
        """Start the allocation's environments (and retire those of the version an alias moved away from)."""
        try:
            if moved is not None:
                self._sync(moved)
            error = self._sync(allocation.config)
        except Exception as failed:  # a package that cannot be unpacked, a stopped runtime
            error = type(failed).__name__
        with self._lock:
            allocation.running = 0
            if error is not None:
                allocation.failure = error

    def _sync(self, config: FunctionConfig) -> str | None:
        """Keep as many environments of `config` as its configs ask for (up to the lab's limit)."""
        with self._lock:
            wanted = sum(a.requested for a in self._allocations.values() if a.config == config)
        return self.runtime.provision(config, min(wanted, LAB_ENVIRONMENT_LIMIT))


def stamp(epoch_s: float) -> str:
    """LastModified as Lambda writes it for these configs, e.g. 2026-11-30T12:00:00+0000."""
    return datetime.fromtimestamp(epoch_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")
