"""A server that forks notebook kernels for the test suite from a process that has already imported them.

Each notebook nbval runs needs a kernel, and a new kernel spends about a second of CPU importing ipykernel,
IPython, boto3, moto, matplotlib and lambda_lab before its first cell runs: a minute of the suite's CPU over
some fifty notebooks. This server imports all that once (and parses the botocore models a lab's clients load),
then forks a kernel for each request from `jupyter/kernels/lambda-lab-tests/launch.py`. Each child is a real
ipykernel in its own session, with the notebook's folder, environment and stdio: it starts no thread and
opens no socket before the fork, so the kernel is what `python -m ipykernel_launcher` would have made.

    python tests/warm_kernels.py /tmp/llk-xxxx/socket [--cold]   # serves until its stdin closes
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys

# what a notebook's kernel imports; none of these starts a thread or opens a socket on import
PRELOAD = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.comm", "ipykernel.debugger",
           "IPython.core.completerlib", "IPython.extensions.storemagic", "sqlite3", "ipywidgets", "matplotlib",
           "matplotlib.pyplot", "matplotlib_inline.backend_inline"]
# ... and what a lab and nearly every lesson import next: the front door, moto's server app and its handlers for the
# services the lessons call. CloudFormation and the SAM translator (seconds each) are left to the few notebooks
# that make a stack (and a test checks that a lab that makes none never imports them)
LAB = ["boto3", "botocore.session", "moto", "moto.moto_server.werkzeug_app", "lambda_lab", "lambda_lab.plots",
       "lambda_lab.widgets", "lambda_lab.service._front_door", "lambda_lab.service._authorizers",
       "moto.apigateway.models", "moto.apigatewayv2.models", "moto.secretsmanager.models", "openapi_spec_validator",
       "pydantic", "boto3.s3.transfer", *(f"moto.{service}.{part}" for service in (
           "awslambda", "iam", "sts", "s3", "sqs", "sns", "logs", "cloudwatch", "events", "dynamodb", "kinesis",
           "scheduler", "ssm", "kms", "xray", "codedeploy") for part in ("responses", "urls"))]
# the services whose models a lab and its lessons' clients parse first
SERVICES = ["lambda", "iam", "sts", "s3", "sqs", "sns", "logs", "cloudwatch", "events", "dynamodb", "kinesis",
            "cloudformation", "apigateway", "apigatewayv2", "secretsmanager", "ssm", "xray", "codedeploy",
            "scheduler", "kms"]
INLINE = "module://matplotlib_inline.backend_inline"


def preload() -> None:
    """What a kernel imports, and the botocore models a lab's clients and moto parse first."""
    import botocore.session

    os.environ.setdefault("MPLBACKEND", INLINE)  # matplotlib reads it on import; the kernel sets it again
    _import(PRELOAD + LAB)
    from lambda_lab.service._botocore_models import share_loaders
    from lambda_lab.service._moto._models import _create_loader

    share_loaders()
    session, moto_models = botocore.session.get_session(), _create_loader()  # moto parses requests with its own
    for service in SERVICES:
        session.create_client(service, region_name="us-east-1", aws_access_key_id="warm",
                              aws_secret_access_key="warm")
        moto_models.load_service_model(service, "service-2")


def _import(names: list[str]) -> None:
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:  # a module a later version renames: the process imports what it needs itself
            pass


def kernel(job: dict, stdio: list[int], inherited: set[int]) -> None:
    """In the forked child: become the kernel `job` asks for, and die with the process that asked."""
    os.setsid()
    for fd in inherited:  # the server's sockets and the other kernels' pidfds are not this kernel's
        os.close(fd)
    for source, target in zip(stdio, (0, 1, 2)):
        os.dup2(source, target)
        os.close(source)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    sys.path[0] = job["cwd"]  # as `python -m ipykernel_launcher` started there would have it
    # what the imports above read from the environment, read again from the kernel's
    argv = ["-f", job["connection_file"], f"--IPKernelApp.parent_handle={os.environ.get('JPY_PARENT_PID') or 0}"]
    sys.argv = [sys.argv[0], *argv]
    import matplotlib

    matplotlib.rcParams["backend"] = os.environ.get("MPLBACKEND", INLINE)  # ipykernel's default is inline
    launcher = os.pidfd_open(job["launcher"])

    def die_with_launcher() -> None:  # jupyter_client kills the launcher (SIGKILL) to stop a kernel at once
        select.select([launcher], [], [])
        os.kill(os.getpid(), signal.SIGKILL)

    import threading

    threading.Thread(target=die_with_launcher, name="lambda-lab-tests-launcher", daemon=True).start()
    code = 0
    try:
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=argv)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        import atexit

        try:
            atexit._run_exitfuncs()  # a lab still running stops its workers, as at a normal interpreter exit
        finally:
            os._exit(code)


def receive(connection: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    while not data.endswith(b"\n"):
        more = connection.recv(1 << 20)
        if not more:
            raise ConnectionError("the launcher went away before sending its job")
        data += more
    return json.loads(data), fds


def serve(address: str, warm: bool = True) -> None:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(address)
    listener.listen(64)  # launchers queue here while the imports below run
    stderr, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # pydevd's warning about frozen modules: a kernel's goes nowhere either
    try:
        if warm:
            preload()
    finally:
        os.dup2(stderr, 2)
        os.close(stderr)
        os.close(devnull)
    # what every kernel inherits stays out of its collections (gc.freeze's own advice for a server that forks):
    # otherwise each full collection in a kernel walks the whole of boto3, moto, IPython and matplotlib again
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, *gc.get_threshold()[1:])  # as in the test processes (conftest.py), for the same reason
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, the launcher's connection)
    stdin = sys.stdin.fileno()
    try:
        while True:
            ready, _, _ = select.select([listener, stdin, *children], [], [])
            if stdin in ready and not os.read(stdin, 4096):
                return
            if listener in ready:
                connection, _ = listener.accept()
                try:
                    job, stdio = receive(connection)
                except (OSError, ValueError):
                    connection.close()
                    continue
                inherited = {listener.fileno(), connection.fileno(), *children,
                             *(c.fileno() for _, c in children.values())}
                pid = os.fork()
                if pid == 0:  # the child never returns to this loop, whatever fails before its kernel starts
                    try:
                        kernel(job, stdio, inherited)
                    finally:
                        os._exit(1)
                for fd in stdio:
                    os.close(fd)
                try:
                    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                except OSError:  # the launcher was killed meanwhile: the kernel sees it go and ends itself
                    pass
                children[os.pidfd_open(pid)] = (pid, connection)
            for pidfd in [fd for fd in ready if fd in children]:
                pid, connection = children.pop(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                try:
                    connection.sendall(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                except OSError:  # the launcher was killed first
                    pass
                connection.close()
    finally:
        for pid, _ in children.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    serve(sys.argv[1], warm="--cold" not in sys.argv[2:])  # --cold: no preload (tests of the server itself)
