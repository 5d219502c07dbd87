"""The suite's notebook kernel (tests/warm_kernels.py): forked, yet the kernel a notebook would get anyway."""

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the kernel server forks: Linux only (CI is Linux)")


@pytest.fixture
def server():
    """The suite's own server when the run has one (conftest.py starts it for notebooks), else one started here."""
    if os.environ.get("LAMBDA_LAB_TEST_KERNELS") and os.environ.get("LAMBDA_LAB_TEST_KERNELS_PID"):
        yield os.environ["LAMBDA_LAB_TEST_KERNELS"], int(os.environ["LAMBDA_LAB_TEST_KERNELS_PID"])
        return
    with kernel_server() as (address, process):
        yield address, process.pid


@contextlib.contextmanager
def kernel_server(*flags: str):
    """tests/warm_kernels.py on a socket of its own: (address, process) once it listens; stopped after."""
    folder = tempfile.mkdtemp(prefix="llk-")  # short: a socket's path has about 100 bytes
    address = os.path.join(folder, "socket")
    process = subprocess.Popen([sys.executable, str(Path(__file__).parent / "warm_kernels.py"), address, *flags],
                               stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(address):  # bound before it imports: until then a launcher starts a plain kernel
            assert process.poll() is None and time.monotonic() < deadline, "the kernel server did not start"
            time.sleep(0.05)
        yield address, process
    finally:
        process.stdin.close()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def run(client, code: str, timeout: float = 60):
    """Execute `code`: its last printed line as JSON, or the error's name."""
    outputs: list = []
    reply = client.execute_interactive(code, timeout=timeout, output_hook=outputs.append)
    if reply["content"]["status"] != "ok":
        return {"error": reply["content"].get("ename", reply["content"]["status"])}  # "aborted" has no name
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    return json.loads(text.strip().splitlines()[-1])


def test_a_warm_kernel_has_the_notebooks_folder_environment_and_backend_and_answers_an_interrupt(server, tmp_path):
    import nbval.kernel

    address, server_pid = server
    # started as nbval starts a notebook's kernel; the root conftest put the kernel's folder on JUPYTER_PATH
    manager, client = nbval.kernel.start_new_kernel(
        kernel_name="lambda-lab-tests", cwd=str(tmp_path),
        env={**os.environ, "LAMBDA_LAB_TEST_KERNELS": address, "WARM_KERNEL_TEST": "set by this test only"})
    try:
        # over Unix sockets the kernel has bound, not TCP ports another connection could take first (conftest.py)
        info = manager.get_connection_info()
        assert info["transport"] == "ipc"
        for channel in ("shell", "iopub", "stdin", "control", "hb"):
            assert stat.S_ISSOCK(os.stat(f"{info['ip']}-{info[channel + '_port']}").st_mode)
        seen = run(client, "import json, os, sys, matplotlib\n"
                           "print(json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'cwd': os.getcwd(),"
                           " 'path0': sys.path[0], 'env': os.environ.get('WARM_KERNEL_TEST'),"
                           " 'backend': matplotlib.get_backend(), 'sid': os.getsid(0)}))")
        launcher = manager.provisioner.process.pid
        assert seen["ppid"] == server_pid and seen["pid"] != launcher  # forked from the server, not the fallback
        assert seen["sid"] == seen["pid"]  # a session of its own, as jupyter_client gives a kernel
        assert seen["cwd"] == seen["path0"] == str(tmp_path)
        assert seen["env"] == "set by this test only"
        assert seen["backend"] == "module://matplotlib_inline.backend_inline"  # charts show in the notebook
        # a kernel thread that loses its core between an error reply and ipykernel's abort of queued requests,
        # as on a busy CI machine: a cell sent the way nbval sends it must still run after the interrupt
        run(client, "import time\nkernel = get_ipython().kernel; abort = kernel._abort_queues\n"
                    "kernel._abort_queues = lambda *a, **k: (time.sleep(0.3), abort(*a, **k))[1]\nprint(1)")
        # a cell's timeout in nbval interrupts the kernel: the launcher passes the signal on
        # stop_on_error=False as nbval sends each cell: with True, ipykernel aborts what arrives between its error
        # reply and its abort window's end, and on a busy machine that can be the next cell (a CI run saw it)
        client.execute("import time; time.sleep(60)", stop_on_error=False)
        time.sleep(1)
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=20)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert run(client, "print(1 + 1)") == 2  # and it goes on
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)  # as nbval does: the launcher is killed, and the kernel with it
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{seen['pid']}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{seen['pid']}"), "the kernel outlived its launcher"


def test_a_launcher_gone_before_its_reply_leaves_the_server_serving(tmp_path):
    """A launcher killed just after sending its job (nbval gave up on it) must not take the other kernels along."""
    import socket

    with kernel_server("--cold") as (address, process):
        def send(job: dict) -> socket.socket:
            connection = socket.socket(socket.AF_UNIX)
            connection.connect(address)
            with open(os.devnull, "rb") as null:
                socket.send_fds(connection, [json.dumps(job).encode() + b"\n"], [null.fileno()] * 3)
            return connection

        # a job whose kernel ends at once (no such folder), from a launcher that has gone before the reply
        job = {"connection_file": "unused.json", "cwd": str(tmp_path / "absent"), "env": {}, "launcher": os.getpid()}
        send(job).close()
        time.sleep(0.5)
        assert process.poll() is None, "the server died with the launcher"
        with send(job) as connection:  # and the next launcher is answered: its kernel's pid, then its exit code
            replies = connection.makefile("r")
            assert json.loads(replies.readline())["pid"] > 0
            assert json.loads(replies.readline()) == {"code": 1}
