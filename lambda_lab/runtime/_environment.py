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

from ._frames import FrameReader
from ._protocol import write_frame
from ._report import exit_reason
from ._supervisor import FD_VARIABLE
from ._types import FunctionConfig, InvokeRequest
from ._watchdog import Watchdog, _Watch

BOOTSTRAP = Path(__file__).with_name("_start.py")  # runs _bootstrap.py's main()
SUPERVISOR = BOOTSTRAP.with_name("_supervisor.py")
SUPERVISED = os.name == "posix"  # a supervisor process per environment (see _supervisor.py); Windows has no fork
INIT_TIMEOUT_S = 10.0  # Lambda's limit on the init phase of an on-demand environment
KILL_GRACE_S = 1.0  # after a kill, how long the lab still reads what is on its way from the worker
STDERR_KEEP_BYTES = 1 << 20  # past this the stderr file is cut: only its tail is ever shown


def launch_command(runtime: str, task_root: Path, opt_dir: Path | None, isolate_imports: bool) -> list[str]:
    """The worker's command line for a function's runtime; every worker speaks the same frames."""
    if runtime.startswith("python") or not runtime:
        # Isolated imports reach only the SDK in site-packages, which needs no .pth file: skipping site's start-up
        # (and the import hooks of editable installs it runs) saves a few ms of CPU per cold start
        flags = ["-I", "-S"] if isolate_imports else ["-I"]
        args = [sys.executable, *flags, str(BOOTSTRAP), str(task_root), "1" if isolate_imports else "0"]
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


_fallocate = None


def _punch_hole(fd: int, length: int) -> None:
    """Free the first `length` bytes of a file on disk, keeping its size and the rest (Linux; else nothing)."""
    global _fallocate
    if not sys.platform.startswith("linux"):
        return
    if _fallocate is None:
        import ctypes
        _fallocate = ctypes.CDLL(None, use_errno=True).fallocate
        _fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    _fallocate(fd, 3, 0, length)  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE


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

    provisioned = False  # True: started and initialised ahead for provisioned concurrency

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
        # appending, so the lab can cut the file while the worker writes to it
        self._stderr = open(self._stderr_path, "ab")
        popen_kw = {"start_new_session": True} if os.name == "posix" else \
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        self._death_w: int | None = None  # closing it tells the supervisor to end the environment
        self._killed_at = 0.0
        death_r = None
        if SUPERVISED:
            death_r, self._death_w = os.pipe()
            env[FD_VARIABLE] = str(death_r)
            popen_kw["pass_fds"] = (death_r,)
            if str(BOOTSTRAP) not in args:  # Python's bootstrap forks its own supervisor; others are exec'd by one
                args = [sys.executable, "-I", "-S", str(SUPERVISOR), *args]
        self._started = time.monotonic()
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                         env=env, cwd=task_root, close_fds=True, **popen_kw)
        except BaseException:
            self._stderr.close()
            if self._death_w is not None:
                os.close(self._death_w)
            raise
        finally:
            if death_r is not None:
                os.close(death_r)
        self._reader = FrameReader(self.proc.stdout.fileno(), self._gave_up)
        # the worker: the process itself, or (supervised) the pid the supervisor announces first
        self._ps: psutil.Process | None = None if SUPERVISED else psutil.Process(self.proc.pid)

    @property
    def alive(self) -> bool:
        return self._kill_reason is None and self.proc.poll() is None

    def init(self) -> tuple[Outcome, float]:
        """Wait for the module to load; return the outcome and the init duration in ms."""
        if self._ps is None and not self._meet_worker():
            return self._ended(None, 0), (time.monotonic() - self._started) * 1000
        watch = _Watch(self._ps, self.kill, self._started, self._limit_bytes(), INIT_TIMEOUT_S * 1000, None, 0.0,
                       tree_root=self.proc.pid if SUPERVISED else None, tick=self._free_stderr)
        self._watchdog.watch(id(self), watch)
        try:
            frame = self._next_frame("init")
        finally:
            peak = self._watchdog.unwatch(id(self))
        init_ms = (time.monotonic() - self._started) * 1000
        if frame is not None and frame[0].get("kind") != "ready":
            self.kill("exit")
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
                       self._cpu_mark_ms, tree_root=self.proc.pid if SUPERVISED else None, tick=self._free_stderr)
        self._watchdog.watch(id(self), watch)
        header = {"request_id": request.request_id, "remaining_ms": remaining_ms,
                  "invoked_function_arn": request.invoked_function_arn,
                  "client_context": request.client_context, "tenant_id": request.tenant_id,
                  "trace_header": request.trace_header}
        streamed: list = []
        try:
            write_frame(self.proc.stdin, header, request.payload)
            frame = self._read_result(request.request_id, streamed)
        except (BrokenPipeError, OSError):
            frame = None
        finally:
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
        self._trim_stderr()
        kb = max(header.get("peak_rss_kb") or 0, peak // 1024, self._windows_peak_kb())
        # time spent waiting for a core of this (busy) machine is not time the handler would take on Lambda
        wall = max(header["cpu_ms"], header["wall_ms"] - header.get("waited_ms", 0.0))
        return Outcome("error" if header["error"] else "result", payload=payload, events=header["log"],
                       wall_ms=wall, cpu_ms=header["cpu_ms"], peak_kb=kb, error=None)

    def _read_result(self, request_id: str, streamed: list):
        """Read frames until the invocation's answer; log frames that stream in meanwhile are kept."""
        while True:
            frame = self._next_frame(request_id)
            if frame is None or frame[0].get("kind") != "log":
                return frame
            streamed.extend(frame[0].get("log") or [])

    def _next_frame(self, request_id: str):
        """The next frame about `request_id` ("init" for the init phase); stale or stray frames are dropped."""
        while True:
            frame = self._reader.read()
            if frame is None:
                if self._reader.broken:
                    self.kill("exit")
                return None
            if frame[0].get("request_id") == request_id:
                return frame

    def _meet_worker(self) -> bool:
        """Read the supervisor's first frame, which names the worker's pid."""
        frame = self._next_frame("init")
        try:
            if frame is not None and frame[0].get("kind") == "hello":
                try:
                    self._ps = psutil.Process(int(frame[0]["pid"]))
                except psutil.NoSuchProcess:
                    # the worker already ended (a module that failed to import, on a busy machine): its frames
                    # are still in the pipe, and the supervisor (our child, not yet reaped) stands in for it
                    self._ps = psutil.Process(self.proc.pid)
                return True
        except (psutil.Error, KeyError, TypeError, ValueError):
            pass
        self.kill("exit")
        return False

    def _gave_up(self) -> bool:
        return self._kill_reason is not None and time.monotonic() - self._killed_at > KILL_GRACE_S

    def kill(self, reason: str) -> None:
        """End the process and everything it started; the first reason given is the one reported."""
        with self._kill_lock:
            if self._kill_reason is None:
                self._kill_reason = reason
                self._killed_at = time.monotonic()
            death_w, self._death_w = self._death_w, None
        if not SUPERVISED:
            try:
                self.proc.kill()
            except OSError:
                pass
            return
        if self._ps is not None:
            try:
                self._ps.kill()  # at once, whatever the supervisor is doing; psutil refuses a reused pid
            except psutil.Error:
                pass
        if death_w is not None:
            os.close(death_w)  # the supervisor kills the rest of the tree, then exits

    def _reap(self, timeout: float = 5.0) -> int:
        """Wait for the supervisor (or worker) to exit; SIGKILL its process group if it does not."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # a stopped or stuck supervisor
            try:
                if os.name == "posix":
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.kill()
            except OSError:
                pass
            return self.proc.wait()

    def close(self) -> None:
        """Kill the process tree and remove its /tmp."""
        self.kill("retired")
        self._reap()
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
        """What the process wrote below Python (a C library, a crash report), for the log: the last `limit` bytes."""
        try:
            with open(self._stderr_path, "rb") as stderr:
                stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - limit))
                data = stderr.read(limit)
        except OSError:
            return ""
        return data.decode("utf-8", errors="replace").strip()

    def _trim_stderr(self) -> None:
        """Between invocations: empty the stderr file once it passes STDERR_KEEP_BYTES (the worker appends)."""
        try:
            fd = self._stderr.fileno()
            if os.fstat(fd).st_size > STDERR_KEEP_BYTES:
                os.ftruncate(fd, 0)
        except (OSError, ValueError):
            pass

    def _free_stderr(self) -> None:
        """During an invocation: free the disk under all but the file's tail, which a crash report may need."""
        try:
            fd = self._stderr.fileno()
            size = os.fstat(fd).st_size
            if size > STDERR_KEEP_BYTES:
                _punch_hole(fd, size - STDERR_KEEP_BYTES // 2)
        except (OSError, ValueError):
            pass

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
            returncode = self._reap()
        reason = self._kill_reason or "exit"
        if reason == "init-error":
            reason = "exit"
        self._kill_reason = self._kill_reason or "exit"
        kb = peak_bytes // 1024
        if reason == "oom":
            kb = max(kb, self.config.memory_mb * 1024)
        return Outcome(reason, events=events, peak_kb=kb, exit_detail=exit_reason(returncode))
