"""The lab clock: Lambda's delays (a retry a minute later, a schedule every hour) in seconds, not minutes.

Simulated time starts at the real time and runs `speed` times faster; `advance()` jumps ahead, and a
scheduler thread runs each timer when simulated time reaches it. Timestamps shown to learners (retry
attempts, destination records, schedules) are simulated ones.

>>> clock = LabClock(speed=60)      # a minute of Lambda time per second
>>> clock.call_later(60, retry)     # runs about one real second from now
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable


class LabClock:
    def __init__(self, speed: float = 60.0) -> None:
        self._lock = threading.Condition()
        self._real0 = time.time()
        self._sim0 = self._real0
        self._speed = float(speed)
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._running = False

    # -- time --------------------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated epoch seconds."""
        with self._lock:
            return self._now()

    def _now(self) -> float:
        return self._sim0 + (time.time() - self._real0) * self._speed

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError("the lab clock's speed must be positive (1 = real time, 60 = a minute a second)")
        with self._lock:
            self._sim0, self._real0, self._speed = self._now(), time.time(), float(value)
            self._lock.notify_all()

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward; timers that fall due run now."""
        with self._lock:
            self._sim0 += seconds
            self._lock.notify_all()

    # -- timers ------------------------------------------------------------------------------------
    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None:
        """Run `callback` (on the clock's thread; keep it short) after `delay_s` simulated seconds."""
        with self._lock:
            heapq.heappush(self._timers, (self._now() + max(0.0, delay_s), next(self._seq), callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lambda-lab-clock", daemon=True)
                self._thread.start()
            self._lock.notify_all()

    def has_due(self) -> bool:
        """Whether a timer is due and not yet run (the clock's thread is about to run it)."""
        with self._lock:
            return bool(self._timers) and self._timers[0][0] <= self._now() or self._running

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._timers.clear()
            self._lock.notify_all()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopped and (not self._timers or self._timers[0][0] > self._now()):
                    wait = None if not self._timers else (self._timers[0][0] - self._now()) / self._speed
                    self._lock.wait(timeout=None if wait is None else min(max(wait, 0.0), 0.5))
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._timers)
                self._running = True
            try:
                callback()
            except Exception:  # a timer's failure must not stop every later timer
                import traceback

                traceback.print_exc()
            finally:
                with self._lock:
                    self._running = False
