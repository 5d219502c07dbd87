"""The suite's notebook kernel, for every path pytest is given (notebooks/, solutions/, tests/ or one file).

`./run.py test` asks nbval for the kernel `lambda-lab-tests` (tests/jupyter/kernels/): a real ipykernel that, on
Linux, is forked from one server that has already imported what notebooks use (tests/warm_kernels.py).
"""

import gc
import os
import shutil
import sys
from pathlib import Path

import pytest

KERNELS = Path(__file__).parent / "tests" / "jupyter"  # kernels/lambda-lab-tests: the kernel run.py asks nbval for


def pytest_configure(config):
    """Make the suite's notebook kernel findable and, on Linux, start the one server its kernels fork from.

    The process that starts the session (xdist's controller, or pytest alone) starts `warm_kernels.py` when
    notebooks are to run; xdist's workers inherit its address. Without it each kernel starts as a plain one.
    """
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(KERNELS), os.environ.get("JUPYTER_PATH")]))
    if os.name == "posix":  # nbval's plugin has imported jupyter_client already: this costs a folder
        _kernels_over_unix_sockets(config)
    if hasattr(config, "workerinput") or not getattr(config.option, "nbval", False) or config.option.collectonly:
        return
    if sys.platform != "linux" or not hasattr(os, "pidfd_open") or not _notebooks_among(config.args):
        return
    import subprocess
    import tempfile

    folder = tempfile.mkdtemp(prefix="lambda-lab-kernels-")  # short: a socket's path has about 100 bytes
    address = os.path.join(folder, "socket")
    server = subprocess.Popen([sys.executable, str(Path(__file__).parent / "tests" / "warm_kernels.py"), address],
                              stdin=subprocess.PIPE)
    os.environ["LAMBDA_LAB_TEST_KERNELS"] = address
    os.environ["LAMBDA_LAB_TEST_KERNELS_PID"] = str(server.pid)  # tests/test_warm_kernels.py checks this one

    def stop() -> None:  # closing its input ends it; it takes any kernel still running with it
        server.stdin.close()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    config.add_cleanup(stop)


def _kernels_over_unix_sockets(config) -> None:
    """nbval's kernels (in this process) talk to it over Unix sockets (ZeroMQ's ipc) rather than TCP ports.

    Over TCP, jupyter_client picks five free ports and lets them go; the kernel binds them a moment later. Any
    TCP connection the machine opens meanwhile may take one as its local port, and the kernel dies with
    "Address already in use": a CI run lost notebook 04 that way. bench/bench_kernel_ports.py starts kernels
    during a storm of local connections: over TCP 1 of 1,419 failed, over ipc none of 1,548. A socket named after
    its kernel's connection file, in a folder of this process's own, cannot be taken by anything else.
    """
    import tempfile
    import uuid

    import nbval.kernel
    from jupyter_client.manager import KernelManager
    from traitlets import CaselessStrEnum, default

    folder = tempfile.mkdtemp(prefix="llk-")  # short: a socket's path has about 100 bytes

    class UnixSocketKernelManager(KernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("connection_file")
        def _connection_file_here(self) -> str:  # its sockets are this path, less ".json", plus "-ipc-<n>"
            return os.path.join(folder, f"kernel-{uuid.uuid4().hex[:12]}.json")

    nbval.kernel.KernelManager = UnixSocketKernelManager  # nbval's start_new_kernel makes its manager with it
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def _notebooks_among(args) -> bool:
    return any(Path(arg.split("::")[0]).suffix == ".ipynb"
               or (Path(arg).is_dir() and next(Path(arg).rglob("*.ipynb"), None) is not None) for arg in args)


# files whose tests mostly wait (a moto server's IAM settling, pip, hostile handlers' timeouts, a real browser)
# rather than compute, longest first (the browser's one test takes 30 s: last, it ended the run 15 s after the
# other workers had finished): spread evenly through the run (with xdist's --no-loadscope-reorder, files
# are handed out in the order below), about one worker in four waits while the others compute
WAIT_MOSTLY = ["tests/test_browser.py", "tests/test_cleanup_identity.py", "tests/test_remote_views.py",
               "tests/test_hardening_runtime.py", "tests/test_packaging.py", "tests/test_backends.py"]


def pytest_collection_modifyitems(session, config, items):
    """Group the items by file, the largest files first (as xdist's own reordering would), with the files above
    placed evenly among them."""
    by_file: dict[str, list] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::")[0], []).append(item)
    waiting = [name for name in WAIT_MOSTLY if name in by_file]
    rest = sorted((name for name in by_file if name not in WAIT_MOSTLY), key=lambda name: -len(by_file[name]))
    step = len(rest) / max(len(waiting), 1)
    place = {**{name: i for i, name in enumerate(rest)}, **{name: k * step - 0.5 for k, name in enumerate(waiting)}}
    items[:] = [item for name in sorted(by_file, key=place.__getitem__) for item in by_file[name]]


# Python's full collections walk every object a process has ever kept: in an xdist worker, the test modules,
# botocore's parsed models and every file's leftovers, half a million objects or more. They took about a fifth
# of each worker's CPU (30 s of a 205 s run). So once a file's tests and fixtures are done, its garbage is
# collected and what survives (imports, caches, session fixtures) is frozen out of later collections. And the
# youngest generation is collected every 20,000 allocations rather than 700: boto3 and moto allocate in bursts
# whose objects mostly die together (over seven test files, 11 % less CPU in the worker that ran them).
gc.set_threshold(20_000, *gc.get_threshold()[1:])


def _collect_and_freeze() -> None:
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session):
    _collect_and_freeze()


@pytest.hookimpl(trylast=True)  # after pytest's own teardown has finalised the file's fixtures
def pytest_runtest_teardown(item, nextitem):
    if nextitem is None or nextitem.path != item.path:
        _collect_and_freeze()
