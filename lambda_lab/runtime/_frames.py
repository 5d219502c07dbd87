"""The lab's side of a worker's output pipe: frames (see _protocol.py) read so that a kill always ends the wait.

A process the worker started can hold the pipe open after the worker has gone; the environment's supervisor
kills it, but the lab does not rely on that: once the environment is killed, the reader waits at most a
short grace for what is already on its way, then gives up. (Windows pipes cannot be polled: there the read
blocks until the pipe closes.)
"""

from __future__ import annotations

import json
import os
import select
from typing import Callable

__all__ = ["FrameReader", "MAX_FRAME_BYTES"]

from ._protocol import _PREFIX  # one definition for the writer and both readers
_POLL_MS = 50
MAX_FRAME_BYTES = 256 << 20  # far above any answer Lambda allows; a forged length must not size the lab's memory


class FrameReader:
    """Reads frames from a raw pipe descriptor; `give_up()` is asked while no data arrives."""

    def __init__(self, fd: int, give_up: Callable[[], bool]) -> None:
        self._fd, self._give_up, self._buf = fd, give_up, bytearray()
        self._poll = None
        self.broken = False  # the worker wrote something that is not a frame
        if hasattr(select, "poll") and os.name == "posix":
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)

    def read(self) -> tuple[dict, bytes] | None:
        """The next frame as (header, body), or None once the pipe has closed, broke, or the reader gave up."""
        if not self._fill(_PREFIX.size):
            return None
        head_len, body_len = _PREFIX.unpack_from(self._buf)
        end = _PREFIX.size + head_len + body_len
        if end > MAX_FRAME_BYTES:
            self.broken = True
            return None
        if not self._fill(end):
            return None
        head, body = bytes(self._buf[_PREFIX.size:_PREFIX.size + head_len]), bytes(self._buf[_PREFIX.size + head_len:end])
        del self._buf[:end]
        try:
            header = json.loads(head)
        except ValueError:
            header = None
        if not isinstance(header, dict):
            self.broken = True
            return None
        return header, body

    def _fill(self, n: int) -> bool:
        while len(self._buf) < n:
            if self._poll is not None and not self._poll.poll(_POLL_MS):
                if self._give_up():
                    return False
                continue
            try:
                chunk = os.read(self._fd, max(1 << 16, n - len(self._buf)))
            except OSError:
                return False
            if not chunk:
                return False
            self._buf += chunk
        return True
