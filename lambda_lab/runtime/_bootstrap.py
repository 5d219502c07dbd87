"""An execution environment's entry point, run by _start.py in a fresh interpreter.

It plays the part of AWS's Python runtime interface client: import the handler once (init), then
answer one invocation at a time with the handler's result or an error object in the runtime's shape.
Standard library only: it must start fast and must not see the lab's own imports.

    python -I -S _start.py <task_root> <isolate_imports 0|1> [layer_dir ...]
"""

import importlib
import importlib.machinery
import json
import logging
import os
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _protocol import read_frame, write_frame  # noqa: E402
from _supervisor import FD_VARIABLE, runqueue_wait_ms, supervise  # noqa: E402
from _redirect import REDIRECT_VARIABLE, install as redirect_loopback  # noqa: E402

del sys.path[0]
if sys.flags.no_site:  # isolated imports (see _environment.launch_command): only the provided SDK is wanted
    # from site-packages, as the runtime's /var/runtime comes after the package on Lambda, and no .pth file runs
    import site

    sys.path += [p for p in site.getsitepackages() if p not in sys.path]

# What AWS's Python runtime ships besides the standard library; anything else must be in the package.
_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "awslambdaric"}
_LOG_HEAD_LIMIT = 1 << 20  # keep the first 1 MB of an invocation's output...
_LOG_TAIL_LIMIT = 8 << 10  # ...and its last 8 KB, so LogResult's 4 KB tail is always exact.
_current_request_id = ""
_worker_pid = os.getpid()  # a process forked by a handler is not the worker: it never sends a frame
_STREAM_INTERVAL_S = 0.02
_PARTIAL_LIMIT = 256 << 10  # an unfinished line becomes an event at CloudWatch's event size


class _LogBuffer:
    """The invocation's log events, capped so a print loop cannot exhaust the lab's memory.

    Events stream to the lab every few milliseconds (see _stream_logs), so what a handler printed before
    a timeout or a crash is in its log, as on Lambda.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.ready = threading.Event()  # set while events wait for the streamer
        self.pending, self.tail, self.kept, self.tail_bytes, self.dropped = [], [], 0, 0, 0
        self.request_id = "init"

    def begin(self, request_id):
        """Events from now on belong to `request_id`."""
        with self.lock:
            self.request_id = request_id

    def add(self, message):
        stamp = int(time.time() * 1000)
        with self.lock:
            room = _LOG_HEAD_LIMIT - self.kept
            if room > 0:  # a line longer than the room left is cut: its start ends the head...
                if not self.pending:
                    self.ready.set()
                self.pending.append([stamp, message[:room]])
                self.kept += min(room, len(message))
                message = message[room:]
                if not message:
                    return
            if len(message) > _LOG_TAIL_LIMIT:  # ...and only its last 8 KB can reach the tail
                self.dropped += len(message) - _LOG_TAIL_LIMIT
                message = message[-_LOG_TAIL_LIMIT:]
            self.tail.append([stamp, message])
            self.tail_bytes += len(message)
            while self.tail_bytes > _LOG_TAIL_LIMIT and len(self.tail) > 1:
                self.dropped += len(self.tail[0][1])
                self.tail_bytes -= len(self.tail.pop(0)[1])

    def take_pending(self):
        """(request id, events so far within the head limit); the capped tail waits for the invocation's end."""
        with self.lock:
            events, self.pending = self.pending, []
            self.ready.clear()
            return self.request_id, events

    def take(self):
        """Everything not yet taken; resets the caps for the next invocation."""
        with self.lock:
            events = self.pending
            if self.dropped:
                events.append([self.tail[0][0], f"[lambda-lab] {self.dropped} characters of log output left out here"])
            events.extend(self.tail)
            self.pending, self.tail, self.kept, self.tail_bytes, self.dropped = [], [], 0, 0, 0
            self.ready.clear()
        return events

    def after_fork(self):
        """A handler's fork may happen while the streamer holds a lock: the copy must still be able to print."""
        self.lock, self.ready = threading.Lock(), threading.Event()


_log = _LogBuffer()
os.register_at_fork(after_in_child=_log.after_fork)


class _LogStream:
    """Stands in for sys.stdout/sys.stderr: each completed line becomes one log event, as in Lambda."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self):
        self._partial = ""

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        # only the new text is split, and an unfinished line is cut at _PARTIAL_LIMIT: writes without a newline
        # cost linear time and bounded memory
        if "\n" not in text:
            self._partial += text
        else:
            lines = text.split("\n")
            lines[0] = self._partial + lines[0]
            self._partial = lines.pop()
            for line in lines:
                _log.add(line)
        if len(self._partial) >= _PARTIAL_LIMIT:
            partial, cut = self._partial, len(self._partial) - len(self._partial) % _PARTIAL_LIMIT
            for start in range(0, cut, _PARTIAL_LIMIT):
                _log.add(partial[start:start + _PARTIAL_LIMIT])
            self._partial = partial[cut:]
        return len(text)

    def end_line(self):
        """The unfinished line becomes a log event (the frame about to be sent carries it)."""
        if self._partial:
            _log.add(self._partial)
            self._partial = ""

    def flush(self):
        self.end_line()
        if _streaming is not None:  # print(..., flush=True) reaches the lab now, as a write to Lambda's pipe does:
            try:                    # a line flushed just before os._exit() or a crash is in the log
                _send_pending(_streaming)
            except OSError:
                pass

    def isatty(self):
        return False

    def writable(self):
        return True


_output = _LogStream()  # the handler's stdout and stderr


class _LambdaLogHandler(logging.Handler):
    """The runtime's root handler: `[LEVEL]\\t<UTC time>Z\\t<request id>\\t<message>`, one event per record."""

    def emit(self, record):
        try:
            if _JSON_LOGS:
                _log.add(_json_record(record))
                return
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            text = self.format(record)
            _log.add(f"[{record.levelname}]\t{stamp}.{int(record.msecs):03d}Z\t{_current_request_id}\t{text}")
        except Exception:
            self.handleError(record)


# LoggingConfig LogFormat=JSON: the runtime writes `logging` records as JSON objects (awslambdaric's JsonFormatter)
_JSON_LOGS = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
_current_tenant_id = None
_path_map = None  # set in main(): stack traces show /var/task paths, as on Lambda
# LogRecord attributes that are not the caller's `extra` fields
_RESERVED_FIELDS = {"name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
                    "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread",
                    "threadName", "processName", "process", "aws_request_id", "tenant_id", "_frame_type"}


def _json_record(record):
    """One `logging` record as Lambda's Python runtime writes it in JSON mode."""
    record.levelno = min(50, max(0, record.levelno)) // 10 * 10  # the runtime reports the standard level names
    record.levelname = logging.getLevelName(record.levelno)
    record.aws_request_id, record.tenant_id = _current_request_id, _current_tenant_id
    created = time.gmtime(record.created)
    exc = record.exc_info
    result = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", created) + f".{int(record.msecs):03d}Z",
        "level": record.levelname,
        "message": record.getMessage(),
        "logger": record.name,
        "stackTrace": _json_stack(exc[2]) if exc else None,
        "errorType": exc[0].__name__ if exc else None,
        "errorMessage": str(exc[1]) if exc else None,
        "requestId": record.aws_request_id,
        "location": f"{_shown_path(record.pathname)}:{record.funcName}:{record.lineno}" if exc else None,
    }
    if record.tenant_id is not None:
        result["tenantId"] = record.tenant_id
    result.update((key, value) for key, value in record.__dict__.items()
                  if key not in _RESERVED_FIELDS and key not in result)
    return json.dumps({k: v for k, v in result.items() if v is not None}, ensure_ascii=False)


def _shown_path(path):
    return _path_map(path) if _path_map else path


def _json_stack(tb):
    frames = traceback.extract_tb(tb)
    for frame in frames:
        frame.filename = _shown_path(frame.filename)
    return traceback.format_list(frames)


class _ProvidedModulesOnly:
    """Refuse third-party modules the Lambda runtime would not have, unless the package brings them.

    A meta path finder needs only find_spec: importlib.abc (it imports importlib.resources, tempfile and typing)
    would add ~15 ms of CPU to every cold start.
    """

    def __init__(self, package_paths):
        self.package_paths = package_paths

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if path is not None or top in sys.stdlib_module_names or top in _PROVIDED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, self.package_paths)
        if spec is None:
            raise ModuleNotFoundError(f"No module named '{fullname}'", name=fullname)
        return spec


class CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


def _from_dict(cls, data):
    """An object with cls's slots set from data's keys (None where absent), as awslambdaric builds it."""
    if not isinstance(data, dict):  # None stays None; a malformed value stays as the caller sent it
        return data
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, data.get(field))
    return obj


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __repr__(self):
        return (f"Client([installation_id={self.installation_id},app_title={self.app_title},"
                f"app_version_name={self.app_version_name},app_version_code={self.app_version_code},"
                f"app_package_name={self.app_package_name}])")


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class LambdaContext:
    """The `context` argument, with the attributes AWS's Python runtime gives it."""

    def __init__(self, request):
        self._deadline = time.monotonic() + request["remaining_ms"] / 1000.0
        self.aws_request_id = request["request_id"]
        self.invoked_function_arn = request["invoked_function_arn"]
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = CognitoIdentity()
        cc = request.get("client_context")
        if isinstance(cc, dict):
            cc = {k: v for k, v in cc.items() if k != "w3c"}  # the runtime strips trace context from it
        self.client_context = _from_dict(ClientContext, cc)
        if self.client_context is not None:
            self.client_context.client = _from_dict(Client, self.client_context.client)
        self.tenant_id = request.get("tenant_id")

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
                f"identity={self.identity}])")


class _Fault(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type, self.message = error_type, message


class _Encoder(json.JSONEncoder):
    def default(self, o):
        decimal = sys.modules.get("decimal")  # a Decimal exists only once the handler imported decimal
        if decimal is not None and isinstance(o, decimal.Decimal):
            return float(o)
        return super().default(o)


def _load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}") from None
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise _Fault("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {modname} as a handler module")
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}") from None
    except SyntaxError as e:
        raise _Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}") from None
    return getattr(module, fname, None), fname, modname


class _PathMap:
    """Shows local paths as Lambda shows them: /var/task, /opt, and the runtime's own /var/lang and /var/runtime.

    No path of the learner's machine (a user name, a virtualenv) reaches a log or an error object.
    """

    def __init__(self, task_root, layer_dirs):
        self.pairs = [(os.path.join(task_root, ""), "/var/task/")]
        if layer_dirs:  # the first layer path is <opt>/python
            self.pairs.append((os.path.join(os.path.dirname(layer_dirs[0]), ""), "/opt/"))
        self._all = None

    def _machine_pairs(self):
        """The interpreter's folders (its standard library, the SDK's site-packages), found when first needed."""
        runtime = os.environ.get("AWS_EXECUTION_ENV", "").removeprefix("AWS_Lambda_") or "python3"
        lang = f"/var/lang/lib/{runtime}/"
        ours = tuple(local for local, _ in self.pairs)  # a layer's own site-packages stays under /opt
        pairs = [(os.path.join(path, ""), lang + "site-packages/") for path in sys.path
                 if os.path.basename(path.rstrip(os.sep)) == "site-packages"
                 and not os.path.join(path, "").startswith(ours)]
        pairs += [(os.path.join(os.path.dirname(os.__file__), ""), lang),
                  (os.path.join(os.path.dirname(os.path.abspath(__file__)), ""), "/var/runtime/")]
        # the longest folder first: site-packages may sit inside the standard library's folder
        return sorted(self.pairs + pairs, key=lambda pair: -len(pair[0]))

    def __call__(self, filename):
        if self._all is None:
            self._all = self._machine_pairs()
        for local, shown in self._all:
            if filename.startswith(local):
                return shown + filename[len(local):].replace(os.sep, "/")
        return filename


def _stack_trace(exc, path_map):
    """The frames without the lab's bootstrap itself (Lambda's traces start past its runtime)."""
    here = os.path.abspath(__file__)
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if os.path.abspath(frame.filename) != here]
    for frame in frames:
        frame.filename = path_map(frame.filename)
    return traceback.format_list(frames)


def _error_object(error_type, message, request_id, stack):
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def _log_error(error):
    if _JSON_LOGS:  # the runtime's JSON error line: a timestamp without milliseconds, then the error object
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        _log.add(json.dumps({"timestamp": stamp, "level": "ERROR", **error}, ensure_ascii=False))
        return
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}", "Traceback (most recent call last):"]
    _log.add("\n".join(lines + [s.rstrip("\n") for s in error["stackTrace"]]))


def _peak_rss_kb():
    # Linux keeps ru_maxrss across fork and exec, so a worker would report the lab's own peak; the
    # high-water mark of this process's memory map (VmHWM) starts afresh at exec.
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows: the lab reads the peak from outside
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


class _Channel:
    """Frames to the lab; the log streamer and the main loop share it."""

    def __init__(self, stream):
        self.stream, self.lock = stream, threading.Lock()

    def send(self, header, body=b""):
        if os.getpid() != _worker_pid:  # AWS takes one answer per invocation: the worker's
            return
        with self.lock:
            write_frame(self.stream, header, body)


_streaming = None  # the channel, once the init is over (the lab reads the init's log with its answer only)


def _send_pending(channel):
    request_id, events = _log.take_pending()
    if events:
        channel.send({"kind": "log", "request_id": request_id, "log": events})


def _stream_logs(channel):
    """Send what the handler prints as it prints: a frame at most every 20 ms, none while nothing is printed.

    Waiting for the first line, not polling, keeps an idle environment idle: polling every 20 ms cost 0.2 % of
    a core for each warm environment a lab keeps.
    """
    while True:
        _log.ready.wait()
        time.sleep(_STREAM_INTERVAL_S)  # what the handler prints meanwhile goes in the same frame
        try:
            _send_pending(channel)
        except OSError:
            return


def _set_trace_header(header):
    """_X_AMZN_TRACE_ID for this invocation, as awslambdaric's update_xray_env_variable sets it."""
    if header:
        os.environ["_X_AMZN_TRACE_ID"] = header
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def main():
    global _current_request_id, _current_tenant_id, _worker_pid, _path_map, _streaming
    if FD_VARIABLE in os.environ:  # this process stays the environment's supervisor; the fork goes on
        supervise()
        _worker_pid = os.getpid()
    redirect_loopback(os.environ.pop(REDIRECT_VARIABLE, ""))  # extensions' fixed ports, served by the lab
    task_root, isolate, layer_dirs = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
    proto_in = os.fdopen(os.dup(0), "rb")
    channel = _Channel(os.fdopen(os.dup(1), "wb"))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # output written below Python (C libraries, os.write) lands in the environment's stderr file
    sys.stdout = sys.stderr = _output
    sys.stdin = open(os.devnull)
    root = logging.getLogger()
    root.addHandler(_LambdaLogHandler())
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG"}.get(level, level)
    if level in logging._nameToLevel:  # ApplicationLogLevel sets the root logger's level, as in the runtime
        root.setLevel(level)
    package_paths = [task_root] + list(layer_dirs)
    sys.path[:0] = package_paths
    if isolate:
        sys.meta_path.insert(0, _ProvidedModulesOnly(package_paths))
    _path_map = path_map = _PathMap(task_root, layer_dirs)

    handler, missing = None, None
    try:
        handler, fname, modname = _load_handler(os.environ["_HANDLER"])
        if handler is None:
            missing = _Fault("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")
    except _Fault as fault:
        init_error = _error_object(fault.error_type, fault.message, "", [])
    except Exception as e:
        init_error = _error_object(type(e).__name__, str(e), "", [])
        init_error["_trace"] = _stack_trace(e, path_map)
    else:
        init_error = None
    _output.end_line()
    if init_error:
        _log_error({**init_error, "stackTrace": init_error.pop("_trace", [])})
    channel.send({"kind": "ready", "request_id": "init", "error": init_error, "log": _log.take(), "peak_rss_kb": _peak_rss_kb(),
                            "cpu_total_ms": time.process_time() * 1000})
    if init_error:
        return
    threading.Thread(target=_stream_logs, args=(channel,), daemon=True).start()
    _streaming = channel

    while True:
        frame = read_frame(proto_in)
        if frame is None:
            return
        request, body = frame
        _current_request_id = request["request_id"]
        _current_tenant_id = request.get("tenant_id")
        _log.begin(_current_request_id)
        _set_trace_header(request.get("trace_header"))
        context = LambdaContext(request)
        wall0, cpu0, wait0 = time.perf_counter(), time.process_time(), runqueue_wait_ms()
        error = None
        try:
            if missing:
                raise missing
            event = json.loads(body) if body else {}
            result = handler(event, context)
            try:
                payload = json.dumps(result, cls=_Encoder).encode()
            except Exception as e:  # as awslambdaric: any failure to encode, RecursionError included
                raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {e}") from None
        except _Fault as fault:
            error = _error_object(fault.error_type, fault.message, _current_request_id, [])
        except Exception as e:
            error = _error_object(type(e).__name__, str(e), _current_request_id, _stack_trace(e, path_map))
        except BaseException:
            if os.getpid() != _worker_pid:
                os._exit(0)
            # SystemExit and the like end the environment, as they end AWS's runtime; keep what was logged.
            _output.end_line()
            channel.send({"kind": "dying", "request_id": _current_request_id, "log": _log.take()})
            raise
        if os.getpid() != _worker_pid:  # a handler forked and both processes returned: the copy ends here
            os._exit(0)
        # the wait is read inside the wall interval at both ends (wall0 before wait0, waited before wall): a
        # preemption between the two reads then counts in the wall only, never in the wait alone, so a busy
        # machine cannot make a 50 ms sleep report less than 50 ms
        waited = runqueue_wait_ms() - wait0
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if error:
            _log_error(error)
            payload = json.dumps(error).encode()
        _output.end_line()
        channel.send({
            "kind": "result", "request_id": _current_request_id, "error": error is not None, "wall_ms": wall * 1000, "cpu_ms": cpu * 1000,
            "waited_ms": waited,
            "peak_rss_kb": _peak_rss_kb(), "log": _log.take(), "cpu_total_ms": time.process_time() * 1000,
        }, payload)


if __name__ == "__main__":
    main()
