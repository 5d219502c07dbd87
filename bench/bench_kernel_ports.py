"""How often a notebook kernel fails to start while the machine opens TCP connections, over TCP and over ipc.

    .venv/bin/python bench/bench_kernel_ports.py [--transport tcp|ipc] [--seconds 90] [--parallel 4]

jupyter_client picks a kernel's five TCP ports by binding port 0 and closing the socket; the kernel binds them a
moment later. A connection opened meanwhile may be given one of them as its local port, and the kernel dies with
"Address already in use" (a CI run lost notebook 04 that way). This starts the suite's notebook kernel
(tests/jupyter, forked from tests/warm_kernels.py) `--parallel` at a time for `--seconds`, while two threads
open and close connections to a local listener as fast as they can, and prints how many kernels answered and
how many failed, with each failure's last lines. Over ipc (what conftest.py gives nbval) none should fail.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["tcp", "ipc"], default="tcp")
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="llk-")
    address = os.path.join(folder, "socket")
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "warm_kernels.py"), address],
                              stdin=subprocess.PIPE)
    os.environ["LAMBDA_LAB_TEST_KERNELS"] = address
    os.environ["JUPYTER_PATH"] = str(ROOT / "tests" / "jupyter")
    while not os.path.exists(address):
        time.sleep(0.05)
    from jupyter_client.manager import KernelManager

    stop = time.monotonic() + args.seconds
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)

    def accept() -> None:
        while True:
            connection, _ = listener.accept()
            connection.close()

    def storm() -> None:  # short connections, each given a local port from the range jupyter_client picks from
        while time.monotonic() < stop:
            with socket.socket() as client:
                try:
                    client.connect(listener.getsockname())
                except OSError:
                    pass

    counts = {"answered": 0, "failed": 0}

    def start_kernels(n: int) -> None:
        while time.monotonic() < stop:
            extra = {}
            if args.transport == "ipc":
                extra = {"transport": "ipc", "connection_file": os.path.join(folder, f"k-{uuid.uuid4().hex[:12]}.json")}
            manager = KernelManager(kernel_name="lambda-lab-tests", **extra)
            err = Path(folder) / f"err-{n}"
            with open(err, "w") as stderr:
                manager.start_kernel(stderr=stderr, cwd=str(ROOT / "notebooks"))
            client = manager.client()
            client.start_channels()
            try:
                client.wait_for_ready(timeout=60)
                counts["answered"] += 1
            except RuntimeError as error:
                counts["failed"] += 1
                print(f"failed: {error}\n{err.read_text()[-600:]}", flush=True)
            finally:
                client.stop_channels()
                manager.shutdown_kernel(now=True)

    threading.Thread(target=accept, daemon=True).start()
    for _ in range(2):
        threading.Thread(target=storm, daemon=True).start()
    workers = [threading.Thread(target=start_kernels, args=(n,)) for n in range(args.parallel)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    server.stdin.close()
    server.wait()
    shutil.rmtree(folder, ignore_errors=True)
    total = counts["answered"] + counts["failed"]
    print(f"{args.transport}: {counts['failed']} of {total} kernels failed to start in {args.seconds:.0f} s")


if __name__ == "__main__":
    main()
