"""The lines Lambda writes around every invocation, and the words it uses when a process dies."""

import signal
import sys
import time

# Go's names for signals: Lambda's init process reports an exit the way os.ProcessState prints it.
_SIGNAL_NAMES = {"SIGKILL": "killed", "SIGSEGV": "segmentation fault", "SIGABRT": "aborted",
                 "SIGTERM": "terminated", "SIGBUS": "bus error", "SIGFPE": "floating point exception",
                 "SIGILL": "illegal instruction", "SIGINT": "interrupt"}
_WINDOWS_CRASH = {0xC0000005: "segmentation fault", 0xC00000FD: "segmentation fault"}


# Lambda's runtime version per runtime (runtime management): fixed here, as one version of each runtime.
# python:3.13.v14 and its id are the example in AWS's "Identifying Lambda runtime version changes"; the
# other ids are stand-ins of the same form (64 hex digits).
_RUNTIME_VERSIONS = {
    "python3.10": ("python:3.10.v62", "66bda7b8ff99dcdb6a24e54e3645f0a6a2bae3eb81d9462e744940dd7a8c69e2"),
    "python3.11": ("python:3.11.v55", "9d8ff7fe96fa43fb7b73155359cfcaf0ea7dfe855a7af3ba27630b71b82166a1"),
    "python3.12": ("python:3.12.v38", "7e4008d4b1753e8b8c8c55cc8659a589ecb5b87b5091f0ef2e64ec8033525568"),
    "python3.13": ("python:3.13.v14", "7b620fc2e66107a1046b140b9d320295811af3ad5d4c6a011fad1fa65127e9e6"),
    "python3.14": ("python:3.14.v7", "ac9b8a7485fcd7add2be5a710d925148c8299ab034397e9f7f0ec6ed6f7b829b"),
    "nodejs20.x": ("nodejs:20.v48", "1f5892377bea9f481f3e542568e8b74147a92584015c71b0199f1db2bc231a23"),
    "nodejs22.x": ("nodejs:22.v40", "9e3062be099944347cad29dd009feaa6bcfa116a4c80a6c7a38150236eee7d96"),
    "nodejs24.x": ("nodejs:24.v10", "e8fbae957685b11d45dccee49feb25b1eb75f6610daae0edb2e73d6c88d2c8de"),
}


def init_start_line(runtime: str, region: str) -> str:
    """The INIT_START line Lambda writes when it starts an execution environment."""
    label, version_id = _RUNTIME_VERSIONS.get(runtime, _RUNTIME_VERSIONS["python3.13"])
    return f"INIT_START Runtime Version: {label}\tRuntime Version ARN: arn:aws:lambda:{region}::runtime:{version_id}"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(request_id, duration_ms, billed_ms, memory_mb, max_memory_mb, init_ms=None,
                status=None, error_type=None) -> str:
    """The REPORT line, tab-separated, as log parsers such as Power Tuning expect it."""
    fields = [f"REPORT RequestId: {request_id}", f"Duration: {duration_ms:.2f} ms",
              f"Billed Duration: {billed_ms} ms", f"Memory Size: {memory_mb} MB",
              f"Max Memory Used: {max_memory_mb} MB"]
    if init_ms is not None:
        fields.append(f"Init Duration: {init_ms:.2f} ms")
    if status:
        fields.append(f"Status: {status}")
    if error_type:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields)


def exit_reason(returncode: int | None) -> str:
    """`Runtime exited ...` as Lambda words it for a process that ended with `returncode`."""
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"Runtime exited with error: signal: {_SIGNAL_NAMES.get(name, name.lower())}"
    if sys.platform == "win32" and returncode in _WINDOWS_CRASH:
        return f"Runtime exited with error: signal: {_WINDOWS_CRASH[returncode]}"
    return f"Runtime exited with error: exit status {returncode}"


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as CloudWatch's ISO time with milliseconds: 2026-11-30T09:15:02.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + f".{epoch_ms % 1000:03d}Z"
