"""The runtime: warm and cold execution environments for every function version, and their reports."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import warnings
import weakref
from collections import defaultdict
from pathlib import Path
from typing import Callable

from . import _json_logs, _report
from ._environment import ExecutionEnvironment, Outcome, UnsupportedRuntime
from ._model import billed_duration_ms, modelled_duration_ms
from ._supervisor import harden_host_process
from ._types import CodeArchive, FunctionConfig, InvokeRequest, InvokeResult
from ._unpack import unpack
from ._watchdog import Watchdog

LogSink = Callable[[FunctionConfig, str, list], None]  # (function, log stream, [[epoch ms, message], ...])

# Host variables a worker needs to start at all; nothing else of the lab's environment leaks in.
_HOST_VARS = ("PATH", "SYSTEMROOT", "SYSTEMDRIVE", "COMSPEC", "PATHEXT", "WINDIR", "LANG", "LC_ALL")


class RuntimeVersionWarning(UserWarning):
    """The function names another Python than the one the lab runs handlers on."""


class Runtime:
    """Runs handlers in worker processes, one environment per concurrent invocation of a version.

    >>> rt = Runtime(); result = rt.invoke(config, InvokeRequest("id", b"{}", arn)); rt.stop()
    """

    def __init__(self, sdk_env: dict[str, str] | None = None, log_sink: LogSink | None = None,
                 idle_timeout_s: float = 600.0, max_environments: int = 64, isolate_imports: bool = True,
                 warn_python_version: bool = True,
                 credentials_for: Callable[[FunctionConfig], dict[str, str]] | None = None) -> None:
        self.sdk_env = dict(sdk_env or {})
        self.credentials_for = credentials_for  # an environment's own credentials, asked for at its start
        # the service's X-Ray daemon variables for a new environment ({} while no daemon runs); None: none
        self.tracing_env: Callable[[FunctionConfig], dict[str, str]] | None = None
        # the service's variables for an environment whose layers include an extension it serves; None: none
        self.extension_env: Callable[[FunctionConfig, dict[str, str]], dict[str, str]] | None = None
        self.log_sink = log_sink
        self.idle_timeout_s = idle_timeout_s
        self.max_environments = max_environments
        self.isolate_imports = isolate_imports
        self._scratch = Path(tempfile.mkdtemp(prefix="lambda-lab-"))
        self._watchdog = Watchdog()
        self._lock = threading.Lock()
        self._idle: dict[FunctionConfig, list[ExecutionEnvironment]] = defaultdict(list)
        self._busy: set[ExecutionEnvironment] = set()
        # provisioned concurrency: idle environments initialised ahead, how many each config should keep, how many
        # it has (idle, busy or starting) and how many are still starting
        self._provisioned: dict[FunctionConfig, list[ExecutionEnvironment]] = {}
        self._wanted: dict[FunctionConfig, int] = {}
        self._live: dict[FunctionConfig, int] = defaultdict(int)
        self._starting: dict[FunctionConfig, int] = defaultdict(int)
        self._warned_runtimes: set[str] = set()
        self.warn_python_version = warn_python_version
        self._stopped = False
        self._expiry_wake = threading.Event()  # set by stop(): the idle-expiry thread ends
        self._expiry_thread: threading.Thread | None = None
        harden_host_process()  # handlers run as the same OS user: keep the lab's memory and environ unreadable

    # -- public --------------------------------------------------------------------------------
    def invoke(self, config: FunctionConfig, request: InvokeRequest) -> InvokeResult:
        """Run one invocation on a warm environment of `config`, or a new one (a cold start)."""
        self._warn_python_version(config.runtime)
        started_at = time.time()
        try:
            env, cold = self._acquire(config)
        except UnsupportedRuntime as missing:  # e.g. no Node.js here: the call fails, the lab does not
            return self._unavailable(config, request, started_at, str(missing))
        init_ms = None
        init_events: list = []
        try:
            if cold:
                outcome, init_ms = env.init()
                init_events, outcome.events = outcome.events or [], []
                if outcome.kind != "result":
                    return self._finish(config, request, env, outcome, init_ms, init_events, started_at)
            invoked_at = time.time()
            outcome = env.invoke(request, config.timeout_s * 1000)
            result = self._finish(config, request, env, outcome, init_ms, init_events, started_at)
            result.invoked_at = invoked_at
            result.provisioned = env.provisioned
            return result
        except BaseException:
            # e.g. KeyboardInterrupt while waiting: the worker's answer is unread, so the environment
            # cannot serve another request; _release closes it.
            env.kill("interrupted")
            raise
        finally:
            self._release(config, env)

    def environments(self, function_name: str | None = None) -> list[ExecutionEnvironment]:
        """Live environments, idle and busy, optionally of one function."""
        with self._lock:
            envs = [e for pool in (*self._idle.values(), *self._provisioned.values()) for e in pool] + list(self._busy)
        return [e for e in envs if function_name is None or e.config.function_name == function_name]

    def retire(self, function_name: str, keep: Callable[[FunctionConfig], bool] = lambda c: False) -> None:
        """Close idle environments of `function_name` whose config `keep` rejects (code or config changed)."""
        doomed = []
        with self._lock:
            for config in list(self._idle):
                if config.function_name == function_name and not keep(config):
                    doomed += self._idle.pop(config)
            for config in set(self._provisioned) | set(self._wanted):  # a deleted version takes its provisioned ones
                if config.function_name == function_name and not keep(config):
                    self._wanted.pop(config, None)
                    doomed += self._drop_provisioned(config, self._provisioned.pop(config, []))
        for env in doomed:
            env.close()

    def expire_idle(self) -> int:
        """Close environments idle for longer than `idle_timeout_s`; return how many."""
        cutoff = time.monotonic() - self.idle_timeout_s
        doomed = []
        with self._lock:
            for config, pool in list(self._idle.items()):
                doomed += [e for e in pool if e.last_used < cutoff]
                pool[:] = [e for e in pool if e.last_used >= cutoff]
                if not pool:
                    del self._idle[config]
        for env in doomed:
            env.close()
        return len(doomed)

    def stop(self) -> None:
        """End every worker process and remove the scratch space."""
        self._stopped = True
        self._expiry_wake.set()
        with self._lock:
            envs = [e for pool in (*self._idle.values(), *self._provisioned.values()) for e in pool] + list(self._busy)
            self._idle.clear()
            self._provisioned.clear()
            self._wanted.clear()
        for env in envs:
            env.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    # -- provisioned concurrency ---------------------------------------------------------------
    def provision(self, config: FunctionConfig, count: int) -> str | None:
        """Keep `count` environments of `config` initialised ahead (0: none); blocks while new ones start.

        Returns None, or the error type of an init that failed (Lambda's FUNCTION_ERROR_INIT_FAILURE).
        """
        with self._lock:
            if count > 0:
                self._wanted[config] = count
            else:
                self._wanted.pop(config, None)
            pool = self._provisioned.get(config, [])
            extra = max(0, min(len(pool), self._live[config] - count))
            doomed = self._drop_provisioned(config, [pool.pop() for _ in range(extra)])
        for env in doomed:
            env.close()
        while True:
            with self._lock:
                if self._stopped or self._live[config] >= self._wanted.get(config, 0):
                    return None
                self._live[config] += 1  # this one, while it starts
                self._starting[config] += 1
            env = error = None
            try:
                env, error = self._start_provisioned(config)
            finally:
                with self._lock:
                    self._starting[config] -= 1
                    keep = env is not None and not self._stopped and self._live[config] <= self._wanted.get(config, 0)
                    if keep:
                        self._provisioned.setdefault(config, []).append(env)
                    else:
                        self._live[config] -= 1
            if env is not None and not keep:
                env.close()
            if error is not None:
                return error

    def provisioned_ready(self, config: FunctionConfig) -> int:
        """How many provisioned environments of `config` are initialised (idle or serving a request)."""
        with self._lock:
            return self._live.get(config, 0) - self._starting.get(config, 0)

    def _drop_provisioned(self, config: FunctionConfig, envs: list) -> list:
        """Stop counting these provisioned environments (the caller closes them); called with the lock held."""
        self._live[config] -= len(envs)
        if self._live[config] <= 0:
            self._live.pop(config, None)
        return envs

    def _start_provisioned(self, config: FunctionConfig) -> tuple[ExecutionEnvironment | None, str | None]:
        """Start one environment and run its init now, logging INIT_START and the module's output ahead."""
        task_root = self._extract(config.code, "code")
        opt_dir = self._extract_layers(config.layers)
        base = self._base_env(config)
        base["AWS_LAMBDA_INITIALIZATION_TYPE"] = "provisioned-concurrency"
        started_at = time.time()
        try:
            env = ExecutionEnvironment(config, task_root, opt_dir, base, self._watchdog, self.isolate_imports,
                                       self._scratch)
        except UnsupportedRuntime:
            return None, "Runtime.Unavailable"
        env.provisioned = True
        outcome, _ = env.init()
        init_line = _report.init_start_line(config.runtime, config.region)
        if config.logging.log_format == "JSON":
            lines = _json_logs.init_lines(config, int(started_at * 1000), outcome.events or [], init_line,
                                          "provisioned-concurrency")
        else:
            lines = [[int(started_at * 1000), init_line], *(outcome.events or [])]
        if outcome.kind != "result":
            error = (outcome.error or {}).get("errorType") or "Runtime.ExitError"
            lines.append([int(time.time() * 1000), f"INIT_REPORT Init Duration: "
                          f"{(time.time() - started_at) * 1000:.2f} ms\tPhase: init\tStatus: error\tError Type: {error}"])
        if self.log_sink is not None:
            self.log_sink(config, env.stream_name, lines)
        if outcome.kind != "result":
            env.close()
            return None, error
        return env, None

    # -- environments --------------------------------------------------------------------------
    def _acquire(self, config: FunctionConfig) -> tuple[ExecutionEnvironment, bool]:
        if self._stopped:
            raise RuntimeError("this lab's runtime has been stopped; start a new Lab()")
        self.expire_idle()
        with self._lock:
            # provisioned environments serve first (initialised ahead); none are kept while none are wanted
            pool = self._provisioned.get(config) if self._wanted else None
            while pool:
                env = pool.pop()
                if env.alive:
                    self._busy.add(env)
                    return env, False
                self._drop_provisioned(config, [env])
                env.close()
            pool = self._idle.get(config)
            while pool:
                env = pool.pop()
                if env.alive:
                    self._busy.add(env)
                    return env, False
                env.close()
        self._make_room()
        task_root = self._extract(config.code, "code")
        opt_dir = self._extract_layers(config.layers)
        env = ExecutionEnvironment(config, task_root, opt_dir, self._base_env(config), self._watchdog,
                                   self.isolate_imports, self._scratch)
        with self._lock:
            self._busy.add(env)
        return env, True

    def _release(self, config: FunctionConfig, env: ExecutionEnvironment) -> None:
        with self._lock:
            self._busy.discard(env)
            replace = False
            if env.provisioned:
                if env.alive and not self._stopped and self._live[config] <= self._wanted.get(config, 0):
                    self._provisioned.setdefault(config, []).append(env)
                    return
                self._drop_provisioned(config, [env])
                # Lambda replaces a provisioned environment that died (a timeout, memory, an exit)
                replace = not self._stopped and self._live[config] < self._wanted.get(config, 0)
            elif env.alive and not self._stopped:
                self._idle[config].append(env)
                if self._expiry_thread is None:
                    self._expiry_thread = threading.Thread(target=_expire_on_schedule, args=(weakref.ref(self),),
                                                           name="lambda-lab-idle-expiry", daemon=True)
                    self._expiry_thread.start()
                return
        env.close()
        if replace:
            threading.Thread(target=self.provision, args=(config, self._wanted.get(config, 0)),
                             name="lambda-lab-provision", daemon=True).start()

    def _make_room(self) -> None:
        """Keep a laptop usable: past `max_environments`, close the least recently used idle ones."""
        with self._lock:
            idle = sorted((e for pool in self._idle.values() for e in pool), key=lambda e: e.last_used)
            excess = len(idle) + len(self._busy) + 1 - self.max_environments
            doomed = idle[:max(0, excess)]
            for env in doomed:
                self._idle[env.config].remove(env)
        for env in doomed:
            env.close()

    def _extract_layers(self, layers: tuple[CodeArchive, ...]) -> Path | None:
        """Lambda unpacks layers into /opt in order, later files over earlier: one such /opt per layer list."""
        if not layers:
            return None
        # one key per ordered list: a list that shares its first layer with another must not find that one's /opt
        key = CodeArchive(hashlib.sha256(" ".join(layer.sha256 for layer in layers).encode()).hexdigest(), b"")
        return self._extract(key, "opt", layers)

    def _extract(self, archive: CodeArchive, kind: str, parts: tuple[CodeArchive, ...] | None = None) -> Path:
        """Unzip a package once per content hash; environments share the read-only copy."""
        target = self._scratch / kind / archive.sha256
        if not target.exists():
            staging = Path(tempfile.mkdtemp(dir=self._scratch))
            try:
                for part in parts or (archive,):  # never writes or chmods outside staging; keeps executable bits
                    unpack(part.zip_bytes, staging)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                staging.rename(target)
            except OSError:  # another thread extracted the same package first
                shutil.rmtree(staging, ignore_errors=True)
        return target

    def _base_env(self, config: FunctionConfig) -> dict[str, str]:
        env = {k: os.environ[k] for k in _HOST_VARS if k in os.environ}
        env.update(dict(config.environment))
        env.update(self.sdk_env)
        if self.credentials_for is not None:
            env.update(self.credentials_for(config))
        env.update({
            "_HANDLER": config.handler,
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
            "LAMBDA_TASK_ROOT": str(self._scratch / "code" / config.code.sha256),
            "LAMBDA_RUNTIME_DIR": str(Path(__file__).parent),
            "TZ": dict(config.environment).get("TZ", ":UTC"),
        })
        if config.logging.log_format == "JSON":  # what the runtimes (and Powertools) read to log as Lambda asks
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            env["AWS_LAMBDA_LOG_LEVEL"] = config.logging.application_level or "INFO"
        if self.tracing_env is not None:
            env.update(self.tracing_env(config))
        if config.extensions and self.extension_env is not None:
            env.update(self.extension_env(config, env))
        return env

    def _warn_python_version(self, runtime: str) -> None:
        local = f"python{sys.version_info.major}.{sys.version_info.minor}"
        if (self.warn_python_version and runtime.startswith("python") and runtime != local
                and runtime not in self._warned_runtimes):
            self._warned_runtimes.add(runtime)
            # warn_explicit: no source line from the lab's internals under the message
            warnings.warn_explicit(f"Functions with Runtime {runtime} run on this machine's Python "
                                   f"({sys.version.split()[0]}) in the lab; code that needs {runtime} features "
                                   "may behave differently.", RuntimeVersionWarning, "lambda_lab", 0)

    # -- the report ----------------------------------------------------------------------------
    def _finish(self, config: FunctionConfig, request: InvokeRequest, env: ExecutionEnvironment,
                outcome: Outcome, init_ms: float | None, init_events: list, started_at: float) -> InvokeResult:
        rid, now_ms = request.request_id, int(time.time() * 1000)
        events = list(outcome.events or [])
        payload, duration = outcome.payload, modelled_duration_ms(outcome.wall_ms, outcome.cpu_ms, config.memory_mb)
        error_type = status = report_error = None
        if outcome.kind == "result" and duration >= config.timeout_s * 1000:
            env.kill("timeout")  # it finished here, but on Lambda's CPU share it would not have in time
            outcome.kind = "timeout"
        if outcome.kind == "timeout":
            duration, status, error_type = config.timeout_s * 1000, "timeout", "Sandbox.Timedout"
            text = f"Task timed out after {config.timeout_s:.2f} seconds"
            events.append([now_ms, f"{_report.iso_ms(now_ms)} {rid} {text}"])
            payload = _json({"errorMessage": f"RequestId: {rid} Error: {text}", "errorType": error_type})
        elif outcome.kind in ("oom", "exit"):
            duration, status, error_type = outcome.wall_ms, "error", "Runtime.ExitError"
            report_error = "Runtime.OutOfMemory" if outcome.kind == "oom" else error_type
            message = f"RequestId: {rid} Error: {outcome.exit_detail}"
            stray = env.stderr_tail()
            if stray:
                events.append([now_ms, stray])
            events.append([now_ms, f"{message}\n{error_type}"])
            payload = _json({"errorMessage": message, "errorType": error_type})
        elif outcome.kind == "error" and outcome.error is not None:
            # the module failed to load: the invoke answers with the init's error object
            error_type = report_error = outcome.error["errorType"]
            payload, status, duration = _json(outcome.error), "error", 0.0
        elif outcome.kind == "error":
            error_type = json.loads(payload)["errorType"]
        billed = billed_duration_ms(duration, init_ms)
        max_mb = -(-outcome.peak_kb // 1024)
        report = _report.report_line(rid, duration, billed, config.memory_mb, max_mb, init_ms, status, report_error)
        init_line = _report.init_start_line(config.runtime, config.region) if init_ms is not None else ""
        if config.logging.log_format == "JSON":
            json_status = status or ("failure" if error_type else "success")
            lines = _json_logs.invocation_lines(config, rid, int(started_at * 1000), now_ms, init_ms, init_events,
                                                events, duration, billed, max_mb, json_status, report_error,
                                                init_line, len(payload or b"") if status is None else 0)
        else:
            lines = []
            if init_ms is not None:
                lines.append([int(started_at * 1000), init_line])
                lines += init_events
            lines += [[int(started_at * 1000), _report.start_line(rid, config.version)], *events,
                      [now_ms, _report.end_line(rid)], [now_ms, report]]
        if self.log_sink is not None:
            self.log_sink(config, env.stream_name, lines)
        return InvokeResult(
            request_id=rid, function_name=config.function_name, version=config.version, payload=payload,
            error_type=error_type, status=status or ("error" if error_type else "success"), log="\n".join(m for _, m in lines) + "\n",
            log_group=config.log_group, log_stream=env.stream_name, cold=init_ms is not None,
            duration_ms=duration, billed_ms=billed, init_ms=init_ms, memory_mb=config.memory_mb,
            max_memory_mb=max_mb, wall_ms=outcome.wall_ms, cpu_ms=outcome.cpu_ms, started_at=started_at,
            architecture=config.architecture)

    def _unavailable(self, config: FunctionConfig, request: InvokeRequest, started_at: float,
                     message: str) -> InvokeResult:
        """The runtime cannot start on this machine: a function error that says what to install."""
        rid, error_type, now_ms = request.request_id, "Runtime.Unavailable", int(time.time() * 1000)
        stream = time.strftime("%Y/%m/%d/", time.gmtime(started_at)) + f"[{config.version}]{secrets.token_hex(16)}"
        report = _report.report_line(rid, 0.0, 0, config.memory_mb, 0, None, "error", error_type)
        lines = [[int(started_at * 1000), _report.start_line(rid, config.version)],
                 [now_ms, f"{_report.iso_ms(now_ms)} {rid} {error_type}: {message}"],
                 [now_ms, _report.end_line(rid)], [now_ms, report]]
        if self.log_sink is not None:
            self.log_sink(config, stream, lines)
        return InvokeResult(
            request_id=rid, function_name=config.function_name, version=config.version,
            payload=_json({"errorType": error_type, "errorMessage": message}), error_type=error_type,
            status="error", log="\n".join(m for _, m in lines) + "\n", log_group=config.log_group,
            log_stream=stream, cold=True, duration_ms=0.0, billed_ms=0, init_ms=None, memory_mb=config.memory_mb,
            max_memory_mb=0, wall_ms=0.0, cpu_ms=0.0, started_at=started_at, architecture=config.architecture)


def _expire_on_schedule(ref: "weakref.ref[Runtime]") -> None:
    """Expire idle environments when their time comes, not only when something is invoked again."""
    while (runtime := ref()) is not None and not runtime._stopped:
        runtime.expire_idle()
        with runtime._lock:
            oldest = min((e.last_used for pool in runtime._idle.values() for e in pool), default=None)
        wait = runtime.idle_timeout_s if oldest is None else oldest + runtime.idle_timeout_s - time.monotonic()
        wake = runtime._expiry_wake
        del runtime  # a forgotten Runtime can still be collected while this thread sleeps
        if wake.wait(max(0.05, wait) + 0.01):
            return


def _json(obj) -> bytes:
    return json.dumps(obj).encode()
