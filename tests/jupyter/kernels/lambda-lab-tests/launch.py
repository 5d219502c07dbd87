"""Start an ipykernel for the test suite: forked from a server that has already imported what notebooks use.

jupyter_client starts this script as the kernel's process. It hands the connection file, its folder, its
environment and its stdin/stdout/stderr to the server named by LAMBDA_LAB_TEST_KERNELS (tests/warm_kernels.py),
passes on the signals jupyter_client sends (an interrupt is SIGINT), and ends with the kernel's exit code. If
this process is killed, the kernel kills itself. Without a server it becomes a plain `ipykernel_launcher`.
"""

import json
import os
import signal
import socket
import sys


def plain_kernel(connection_file: str) -> None:
    command = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]
    if os.name == "nt":  # Windows has no exec: jupyter_client would see this process end and the kernel die
        import subprocess

        sys.exit(subprocess.call(command))
    os.execv(sys.executable, command)


def main(connection_file: str) -> int:
    address = os.environ.get("LAMBDA_LAB_TEST_KERNELS")
    if not address:  # conftest.py starts a server only where it can (Linux)
        plain_kernel(connection_file)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.connect(address)
    except OSError:  # the test process that started the server has ended
        plain_kernel(connection_file)
    job = {"connection_file": os.path.abspath(connection_file), "cwd": os.getcwd(), "env": dict(os.environ),
           "launcher": os.getpid()}
    socket.send_fds(server, [json.dumps(job).encode() + b"\n"], [0, 1, 2])
    replies = server.makefile("r")
    pid = json.loads(replies.readline())["pid"]
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, lambda received, _frame: os.kill(pid, received))
    ended = replies.readline()  # the server writes the kernel's exit code when it has reaped it
    if not ended:  # the server is gone: take the kernel with it
        os.kill(pid, signal.SIGKILL)
        return 1
    code = json.loads(ended)["code"]
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
