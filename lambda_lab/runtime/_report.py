"""The lines Lambda writes around every invocation, and the words it uses when a process dies."""

import signal
import sys

# Go's names for signals: Lambda's init process reports an exit the way os.ProcessState prints it.
_SIGNAL_NAMES = {"SIGKILL": "killed", "SIGSEGV": "segmentation fault", "SIGABRT": "aborted",
                 "SIGTERM": "terminated", "SIGBUS": "bus error", "SIGFPE": "floating point exception",
                 "SIGILL": "illegal instruction", "SIGINT": "interrupt"}
_WINDOWS_CRASH = {0xC0000005: "segmentation fault", 0xC00000FD: "segmentation fault"}


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
