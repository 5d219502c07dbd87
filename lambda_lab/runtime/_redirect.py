"""Loopback ports an environment reaches elsewhere: an extension's fixed port (2773) served by the lab.

An extension listens on a fixed localhost port inside its execution environment; here many environments
share one machine, so the lab serves each on a free port and the worker's sockets are pointed there.
Standard library only: the worker imports it before the handler.
"""

from __future__ import annotations

REDIRECT_VARIABLE = "_LAMBDA_LAB_LOOPBACK_PORTS"  # "2773=41234,...": popped by the worker before the handler runs
_LOOPBACK_NAMES = {"localhost", "::1", "0.0.0.0", "::", "ip6-localhost"}

__all__ = ["REDIRECT_VARIABLE", "encode", "install"]


def encode(ports: dict[int, int]) -> str:
    """The variable's value for {port inside the environment: port the lab listens on}."""
    return ",".join(f"{inside}={outside}" for inside, outside in sorted(ports.items()))


def install(value: str) -> dict[int, int]:
    """Point connections to localhost:<inside> at 127.0.0.1:<outside>, for every socket of this process."""
    ports = {}
    for pair in filter(None, value.split(",")):
        inside, _, outside = pair.partition("=")
        ports[int(inside)] = int(outside)
    if not ports:
        return ports
    import socket  # only here: most workers have no extension, and their start stays as fast as it was

    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def target(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and len(address) >= 2:
            host, port = address[0], address[1]
            if port in ports and _is_loopback(host):
                # an IPv6 socket (localhost as ::1) reaches the lab's IPv4 listener through a v4-mapped address
                mapped = "127.0.0.1" if sock.family == socket.AF_INET else "::ffff:127.0.0.1"
                return (mapped, ports[port], *address[2:])
        return address

    socket.socket.connect = lambda self, address: connect(self, target(self, address))
    socket.socket.connect_ex = lambda self, address: connect_ex(self, target(self, address))
    return ports


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).lower()
    return host in _LOOPBACK_NAMES or host.startswith("127.") or host.startswith("::ffff:127.")
