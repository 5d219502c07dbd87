"""Frames between the lab and a worker: a JSON header and a raw body, each length-prefixed.

Kept to the standard library because the worker imports it before anything else.
"""

import json
import struct

_PREFIX = struct.Struct("!II")


def write_frame(stream, header, body=b""):
    """Write one frame and flush it; `header` is a JSON-able dict, `body` bytes."""
    head = json.dumps(header, separators=(",", ":")).encode()
    stream.write(_PREFIX.pack(len(head), len(body)) + head + body)
    stream.flush()


def read_frame(stream):
    """Read one frame; return (header, body), or None when the other side has gone."""
    prefix = _read_exact(stream, _PREFIX.size)
    if prefix is None:
        return None
    head_len, body_len = _PREFIX.unpack(prefix)
    head = _read_exact(stream, head_len)
    body = _read_exact(stream, body_len) if body_len else b""
    if head is None or body is None:
        return None
    return json.loads(head), body


def _read_exact(stream, n):
    data = stream.read(n)
    if len(data) < n:
        return None
    return data
