"""One thread that holds every busy environment to its timeout and memory size.

It lives in the lab's process, outside the worker, because a handler stuck in C code or spinning with
the GIL held cannot be stopped from inside. Fast invocations finish before it ever looks at them, so
the warm path pays nothing for it.

Memory counts the environment's whole process tree, as a Lambda sandbox's cgroup does: every TREE_POLL_S
the descendants of the environment's supervisor (the worker and whatever it started, even in a session of
its own) are summed by proportional set size, so pages a fork shares are counted once. That walk costs far
more than the worker's own sample, hence the lower rate; invocations shorter than TREE_POLL_S never pay it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import psutil

from ._model import modelled_duration_ms
from ._supervisor import descendants, runqueue_wait_ms

POLL_S = 0.005
TREE_POLL_S = 0.1


@dataclass
class _Watch:
    process: psutil.Process
    on_kill: object  # callable(reason)
    started: float
    limit_bytes: int
    budget_ms: float
    memory_mb: int | None  # None: wall-clock budget (init); else the CPU-share model applies
    cpu_baseline_ms: float
    peak_bytes: int = field(default=0)
    tree_root: int | None = None  # the supervisor: memory counts all its descendants
    tick: Callable[[], None] | None = None  # called at the tree's rate (the environment's own housekeeping)
    next_tree_at: float = field(default=0.0)
    wait_baseline_ms: float | None = None  # the worker's run-queue wait at the first look (see _check)


class Watchdog:
    def __init__(self) -> None:
        self._watched: dict[int, _Watch] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, key: int, watch: _Watch) -> None:
        watch.next_tree_at = watch.started + TREE_POLL_S
        with self._cond:
            self._watched[key] = watch
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lambda-lab-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()

    def unwatch(self, key: int) -> int:
        """Stop watching; return the peak memory seen, in bytes (0 if never sampled)."""
        with self._cond:
            watch = self._watched.pop(key, None)
        return watch.peak_bytes if watch else 0

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._watched:
                    self._cond.wait()
                watches = list(self._watched.values())
            now = time.monotonic()
            for watch in watches:
                if now - watch.started >= POLL_S:
                    self._check(watch, now)
            time.sleep(POLL_S)

    @staticmethod
    def _check(watch: _Watch, now: float) -> None:
        try:
            with watch.process.oneshot():
                rss = watch.process.memory_info().rss
                times = watch.process.cpu_times()
        except psutil.Error:
            return  # already gone; the invoking thread sees the exit
        if now >= watch.next_tree_at:
            watch.next_tree_at = now + TREE_POLL_S
            if watch.tick is not None:
                watch.tick()
            if watch.tree_root is not None:
                rss = max(rss, tree_bytes(watch.tree_root))
        watch.peak_bytes = max(watch.peak_bytes, rss)
        if rss > watch.limit_bytes:
            watch.on_kill("oom")
            return
        wall_ms = (now - watch.started) * 1000
        if watch.memory_mb is None:
            elapsed = wall_ms
        else:
            cpu_ms = max(0.0, (times.user + times.system) * 1000 - watch.cpu_baseline_ms)
            # Lambda gives a function its share of a core whatever its neighbours do: time the handler's thread
            # (the worker's main one) waited for a core this machine is busy with counts toward neither the timeout
            # nor the REPORT line's Duration (the bootstrap leaves it out there). It can only lower the figure, so
            # it is read at the first look and again only once the figure without it reaches the budget.
            if watch.wait_baseline_ms is None:
                watch.wait_baseline_ms = runqueue_wait_ms(watch.process.pid)
            elapsed = modelled_duration_ms(wall_ms, cpu_ms, watch.memory_mb)
            if elapsed >= watch.budget_ms:
                waited = runqueue_wait_ms(watch.process.pid) - watch.wait_baseline_ms
                elapsed = modelled_duration_ms(max(0.0, wall_ms - waited), cpu_ms, watch.memory_mb)
        if elapsed >= watch.budget_ms:
            watch.on_kill("timeout")


def tree_bytes(root: int) -> int:
    """Memory of every descendant of `root` (not `root` itself): PSS on Linux, else RSS."""
    total = 0
    for pid in _descendants(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
                for line in rollup:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
            continue
        except (OSError, ValueError):
            pass
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            pass
    return total


def _descendants(root: int) -> list[int]:
    if os.path.isdir(f"/proc/{root}/task"):
        return descendants(root)  # the supervisor's own walk: /proc children files, cheap and exact
    try:
        return [p.pid for p in psutil.Process(root).children(recursive=True)]
    except psutil.Error:
        return []
