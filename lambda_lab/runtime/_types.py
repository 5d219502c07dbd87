"""What the runtime is given and what it gives back; plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeArchive:
    """A deployment package or layer: zip bytes named by their SHA-256 (hex)."""

    sha256: str
    zip_bytes: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class LogConfig:
    """A function's LoggingConfig as the runtime applies it; levels are None in Text format."""

    log_format: str = "Text"  # Text | JSON
    application_level: str | None = None  # TRACE | DEBUG | INFO | WARN | ERROR | FATAL
    system_level: str | None = None  # DEBUG | INFO | WARN
    log_group: str | None = None  # None: /aws/lambda/<function name>


@dataclass(frozen=True)
class FunctionConfig:
    """Everything an execution environment is built from; a change in any field means new environments."""

    function_name: str
    version: str
    handler: str
    runtime: str
    code: CodeArchive
    memory_mb: int = 128
    timeout_s: float = 3.0
    environment: tuple[tuple[str, str], ...] = ()
    layers: tuple[CodeArchive, ...] = ()
    region: str = "us-east-1"
    account_id: str = "123456789012"
    architecture: str = "x86_64"
    ephemeral_mb: int = 512
    role: str = ""  # the execution role: its session's credentials are the environment's
    logging: LogConfig = LogConfig()
    tracing: str = "PassThrough"  # TracingConfig Mode: Active | PassThrough
    extensions: tuple[str, ...] = ()  # AWS-published extension layers the lab serves, e.g. "parameters-and-secrets"

    @property
    def log_group(self) -> str:
        return self.logging.log_group or f"/aws/lambda/{self.function_name}"


@dataclass(frozen=True)
class InvokeRequest:
    """One invocation: the event bytes and what the context object reports."""

    request_id: str
    payload: bytes
    invoked_function_arn: str
    client_context: dict | None = None
    tenant_id: str | None = None
    trace_header: str | None = None  # _X_AMZN_TRACE_ID for this invocation (Root=...;Parent=...;Sampled=...)


@dataclass
class InvokeResult:
    """What an invocation produced, measured and modelled; `error_type` is None on success."""

    request_id: str
    function_name: str
    version: str
    payload: bytes
    error_type: str | None
    status: str  # success | error | timeout
    log: str  # the invocation's whole log, START to REPORT
    log_group: str
    log_stream: str
    cold: bool
    duration_ms: float  # modelled on Lambda's CPU share; see runtime._model
    billed_ms: int
    init_ms: float | None
    memory_mb: int
    max_memory_mb: int
    wall_ms: float  # measured on this machine
    cpu_ms: float  # measured on this machine
    started_at: float  # epoch seconds
    architecture: str = "x86_64"
    invoked_at: float | None = None  # epoch seconds the event went to the worker (after init on a cold start)
    provisioned: bool = False  # served by an environment of provisioned concurrency

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    @property
    def log_tail(self) -> str:
        """The last 4 KB of the log, as Lambda returns it in LogResult."""
        data = self.log.encode()[-4096:]
        return data.decode("utf-8", errors="ignore")
