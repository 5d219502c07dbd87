"""One execution environment: a worker process with its own package copy, /tmp and log stream."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from ._protocol import read_frame, write_frame
from ._report import exit_reason
from ._types import FunctionConfig, InvokeRequest
from ._watchdog import Watchdog, _Watch

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
INIT_TIMEOUT_S = 10.0  # Lambda's limit on the init phase of an on-demand environment


def launch_command(runtime: str, task_root: Path, opt_dir: Path | None, isolate_imports: bool) -> list[str]:
    """The worker's command line for a function's runtime; every worker speaks the same frames."""
    if runtime.startswith("python") or not runtime:
        args = [sys.executable, "-I", str(BOOTSTRAP), str(task_root), "1" if isolate_imports else "0"]
        if opt_dir is not None:  # layers: /opt/python, then its site-packages, as Lambda's PYTHONPATH has them
            args.append(str(opt_dir / "python"))
            args += [str(p) for p in sorted((opt_dir / "python" / "lib").glob("python3*/site-packages"))]
        return args
    if runtime.startswith("nodejs"):
        node = shutil.which("node")
        if node is None:
            raise UnsupportedRuntime(
                f"Runtime {runtime} needs Node.js, and there is no `node` on this machine's PATH. Install "
                "Node.js 22 or newer from https://nodejs.org or your package manager (restart the Jupyter "
                "kernel if you installed it just now), then invoke again.")
        worker = BOOTSTRAP.with_name("_bootstrap.mjs")
        script = [str(worker), str(task_root), "" if opt_dir is None else str(opt_dir)]
        flags = ["--expose-gc", "--max-http-header-size", "81920"]  # as AWS's /var/runtime/bootstrap
        sh = shutil.which("sh") or ("/bin/sh" if os.path.exists("/bin/sh") else None)
        if sh is None:  # Windows: V8's default heap sizes
            return [node, *flags, *script]
        # AWS's bootstrap is a shell script that sizes V8's heap from the function's memory: a tenth for
        # the new space (half of it per semi-space), the rest old space. Only the environment knows the
        # memory, so sh does the arithmetic and then execs node in its place (same pid for the watchdog).
        sized = ('m=${AWS_LAMBDA_FUNCTION_MEMORY_SIZE:-128}; n=$((m / 10)); exec "$0" ' + " ".join(flags)
                 + ' --max-semi-space-size=$((n / 2)) --max-old-space-size=$((m - n)) "$@"')
        return [sh, "-c", sized, node, *script]
    raise UnsupportedRuntime(f"The lab runs Python and Node.js functions; Runtime {runtime} is not available.")


class UnsupportedRuntime(Exception):
    """The function's runtime cannot run on this machine; the message says what to install."""


@dataclass
class Outcome:
    """What came back from the worker, before it is turned into Lambda's answer."""

    kind: str  # result | error | timeout | oom | exit
    payload: bytes = b""
    error: dict | None = None
    events: list | None = None  # [[epoch ms, message], ...]
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    peak_kb: int = 0
    exit_detail: str = ""


class ExecutionEnvironment:
    """A worker process for one function version; runs one invocation at a time."""

    def __init__(self, config: FunctionConfig, task_root: Path, opt_dir: Path | None, base_env: dict,
                 watchdog: Watchdog, isolate_imports: bool, scratch: Path) -> None:
        self.config = config
        self.created = time.time()
        self.stream_name = time.strftime("%Y/%m/%d/", time.gmtime(self.created)) + \
            f"[{config.version}]{secrets.token_hex(16)}"
        self.last_used = time.monotonic()
        self.invocations = 0
        self._watchdog = watchdog
        self._kill_reason: str | None = None
        self._kill_lock = threading.Lock()
        self._cpu_mark_ms = 0.0
        self.tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=scratch))
        self._stderr_path = self.tmp.parent / (self.tmp.name + ".stderr")
        env = dict(base_env)
        env.update({"AWS_LAMBDA_LOG_STREAM_NAME": self.stream_name,
                    "TMPDIR": str(self.tmp), "TEMP": str(self.tmp), "TMP": str(self.tmp)})
        args = launch_command(config.runtime, task_root, opt_dir, isolate_imports)
        self._stderr = open(self._stderr_path, "wb")
        popen_kw = {"start_new_session": True} if os.name == "posix" else \
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        self._started = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=env, cwd=task_root, close_fds=True, **popen_kw)
        self._ps = psutil.Process(self.proc.pid)

    @property
    def alive(self) -> bool:
        return self._kill_reason is None and self.proc.poll() is None

    def init(self) -> tuple[Outcome, float]:
        """Wait for the module to load; return the outcome and the init duration in ms."""
        watch = _Watch(self._ps, self.kill, self._started, self._limit_bytes(), INIT_TIMEOUT_S * 1000, None, 0.0)
        self._watchdog.watch(id(self), watch)
        frame = read_frame(self.proc.stdout)
        peak = self._watchdog.unwatch(id(self))
        init_ms = (time.monotonic() - self._started) * 1000
        if frame is None or self._kill_reason:
            return self._ended(None, peak), init_ms
        header, _ = frame
        self._cpu_mark_ms = header["cpu_total_ms"]
        kb = max(header.get("peak_rss_kb") or 0, peak // 1024)
        if header["error"]:
            self.kill("init-error")
            return Outcome("error", error=header["error"], events=header["log"], peak_kb=kb), init_ms
        return Outcome("result", events=header["log"], peak_kb=kb), init_ms

    def invoke(self, request: InvokeRequest, remaining_ms: float) -> Outcome:
        """Send one event and wait for the handler, the watchdog or the process's end."""
        self.invocations += 1
        started = time.monotonic()
        watch = _Watch(self._ps, self.kill, started, self._limit_bytes(), remaining_ms, self.config.memory_mb,
                       self._cpu_mark_ms)
        self._watchdog.watch(id(self), watch)
        header = {"request_id": request.request_id, "remaining_ms": remaining_ms,
                  "invoked_function_arn": request.invoked_function_arn,
                  "client_context": request.client_context, "tenant_id": request.tenant_id}
        streamed: list = []
        try:
            write_frame(self.proc.stdin, header, request.payload)
            frame = self._read_result(streamed)
        except (BrokenPipeError, OSError):
            frame = None
        peak = self._watchdog.unwatch(id(self))
        self.last_used = time.monotonic()
        if frame is None or frame[0]["kind"] == "dying" or self._kill_reason:
            events = streamed + (frame[0]["log"] if frame else [])
            outcome = self._ended(events, peak)
            outcome.wall_ms = (time.monotonic() - started) * 1000
            return outcome
        header, payload = frame
        header["log"] = streamed + header["log"]
        self._cpu_mark_ms = header["cpu_total_ms"]
        kb = max(header.get("peak_rss_kb") or 0, peak // 1024, self._windows_peak_kb())
        # time spent waiting for a core of this (busy) machine is not time the handler would take on Lambda
        wall = max(header["cpu_ms"], header["wall_ms"] - header.get("waited_ms", 0.0))
        return Outcome("error" if header["error"] else "result", payload=payload, events=header["log"],
                       wall_ms=wall, cpu_ms=header["cpu_ms"], peak_kb=kb, error=None)

    def _read_result(self, streamed: list):
        """Read frames until the invocation's answer; log frames that stream in meanwhile are kept."""
        while True:
            frame = read_frame(self.proc.stdout)
            if frame is None or frame[0]["kind"] != "log":
                return frame
            streamed.extend(frame[0]["log"])

    def kill(self, reason: str) -> None:
        """End the process (and anything it started); the first reason given is the one reported."""
        with self._kill_lock:
            if self._kill_reason is None:
                self._kill_reason = reason
        try:
            if os.name == "posix":
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.kill()
        except (ProcessLookupError, PermissionError, OSError):
            pass

    def close(self) -> None:
        """Kill the process and remove its /tmp."""
        self.kill("retired")
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        try:
            self._stderr_path.unlink()
        except OSError:
            pass

    def stderr_tail(self, limit: int = 2048) -> str:
        """What the process wrote below Python (a C library, a crash report), for the log."""
        self._stderr.flush()
        try:
            data = self._stderr_path.read_bytes()[-limit:]
        except OSError:
            return ""
        return data.decode("utf-8", errors="replace").strip()

    def _limit_bytes(self) -> int:
        return self.config.memory_mb * 1024 * 1024

    def _windows_peak_kb(self) -> int:
        if os.name != "nt":
            return 0
        try:
            return self._ps.memory_info().peak_wset // 1024
        except psutil.Error:
            return 0

    def _ended(self, events, peak_bytes: int) -> Outcome:
        """The process is gone or going: say why, as Lambda would."""
        try:
            returncode = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill("exit")
            returncode = self.proc.wait()
        reason = self._kill_reason or "exit"
        if reason == "init-error":
            reason = "exit"
        self._kill_reason = self._kill_reason or "exit"
        kb = peak_bytes // 1024
        if reason == "oom":
            kb = max(kb, self.config.memory_mb * 1024)
        return Outcome(reason, events=events, peak_kb=kb, exit_detail=exit_reason(returncode))
