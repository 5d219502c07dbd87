"""What an invoke names (Target, Alias) and what the async queue and pollers need of the service (Runner).

Kept apart from `_invoke` so that `_async` and `_mappings` depend on this small interface, not on the
service that owns them: `_invoke` imports them, they import only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from ..runtime import FunctionConfig, InvokeResult

__all__ = ["Alias", "Runner", "Target"]


@dataclass(frozen=True)
class Alias:
    """An alias: its primary version and at most one extra version with its share, e.g. {"2": 0.1}."""

    name: str
    version: str
    weights: dict = field(default_factory=dict)


@dataclass
class Target:
    """A function as one Invoke call names it, resolved by the bridge from the service's records."""

    function_name: str
    function_arn: str  # unqualified
    qualifier: str | None
    version: str | None  # "$LATEST" or a number; None when the qualifier is an alias
    alias: Alias | None
    config_for: Callable[[str], FunctionConfig]
    reserved_concurrency: int | None = None
    reserved_elsewhere: int = 0  # reserved by the account's other functions
    dead_letter_arn: Callable[[str], str | None] = lambda version: None

    @property
    def invoked_arn(self) -> str:
        return f"{self.function_arn}:{self.qualifier}" if self.qualifier else self.function_arn


class EventConfigs(Protocol):
    def effective(self, name: str, qualifier: str | None) -> dict: ...


class Runner(Protocol):
    """The part of the Lambda service that the async queue and the pollers call back into."""

    event_configs: EventConfigs

    def route(self, target: Target) -> str:
        """The version this call runs (an alias's weighted pick)."""

    def run(self, target: Target, version: str, payload: bytes, client_context: dict | None,
            invocation_type: str, request_id: str | None = None) -> InvokeResult:
        """Run one invocation under the function's concurrency limits."""
