"""Function states as Lambda reports them: `Pending` after CreateFunction, `InProgress` after an update.

On AWS a new function is `Pending` until Lambda has set it up, and an update leaves `LastUpdateStatus`
`InProgress` until it has been applied; meanwhile an Invoke of a Pending function, and any further update or
PublishVersion, fail with `ResourceConflictException`. Code that waits (`get_waiter("function_active_v2")`,
`"function_updated_v2"`) works everywhere; code that does not fails now and then on AWS.

The local lab answers CreateFunction and updates with the states AWS answers them with, and has finished by the
next call (`window_s=0`). A stand-in account (`tools/standin_account.py`) keeps a function busy for `window_s`
real seconds or until its configuration is read, whichever comes first: a notebook that invokes without
waiting fails there as it would on AWS, and a waiter's first look already finds the function ready.

>>> states = FunctionStates(window_s=2.0)
>>> states.created("arn:aws:lambda:us-east-1:123456789012:function:f")
>>> states.busy("arn:aws:lambda:us-east-1:123456789012:function:f")
'Pending'
"""

from __future__ import annotations

import threading
import time

from ._errors import ServiceError

__all__ = ["FunctionStates", "CREATED", "UPDATING", "pending_refusal", "update_refusal"]

# what CreateFunction's and the updates' own answers say on AWS (recorded responses: an update's reason is
# "being created" too)
CREATED = {"State": "Pending", "StateReason": "The function is being created.", "StateReasonCode": "Creating"}
UPDATING = {"LastUpdateStatus": "InProgress", "LastUpdateStatusReason": "The function is being created.",
            "LastUpdateStatusReasonCode": "Creating"}


def pending_refusal() -> ServiceError:
    return ServiceError("ResourceConflictException", "The operation cannot be performed at this time. The function "
                        "is currently in the following state: Pending", 409)


def update_refusal(function_arn: str) -> ServiceError:
    return ServiceError("ResourceConflictException", "The operation cannot be performed at this time. An update is "
                        f"in progress for resource: {function_arn}", 409)


class FunctionStates:
    """Which functions are still Pending or InProgress, by unqualified function ARN."""

    def __init__(self, window_s: float = 0.0) -> None:
        self.window_s = window_s
        self._busy: dict[str, tuple[str, float]] = {}  # arn -> ("Pending" | "InProgress", monotonic deadline)
        self._lock = threading.Lock()

    def created(self, arn: str) -> None:
        self._start(arn, "Pending")

    def updated(self, arn: str) -> None:
        self._start(arn, "InProgress")

    def _start(self, arn: str, state: str) -> None:
        if self.window_s > 0:
            with self._lock:
                self._busy[arn] = (state, time.monotonic() + self.window_s)

    @property
    def active(self) -> bool:
        """Whether any function may still be busy (never in the local lab: nothing is, after its own answer)."""
        return bool(self._busy)

    def busy(self, arn: str) -> str | None:
        """'Pending', 'InProgress', or None once the function is Active and its last update Successful."""
        if not self._busy:
            return None
        with self._lock:
            entry = self._busy.get(arn)
            if entry is not None and time.monotonic() >= entry[1]:
                del self._busy[arn]
                entry = None
        return entry[0] if entry else None

    def read(self, arn: str) -> None:
        """Someone looked at the configuration (a waiter polling): the stand-in finishes the work now."""
        if self._busy:
            with self._lock:
                self._busy.pop(arn, None)

    forget = read  # a deleted function is busy no more

    def check_invoke(self, arn: str) -> None:
        """Lambda invokes nothing Pending; an update in progress still runs the function's previous settings."""
        if self.busy(arn) == "Pending":
            raise pending_refusal()

    def check_change(self, arn: str) -> None:
        """Another update or PublishVersion while the function is Pending or its last update InProgress."""
        state = self.busy(arn)
        if state == "Pending":
            raise pending_refusal()
        if state == "InProgress":
            raise update_refusal(arn)

    @staticmethod
    def answer(config: dict, action: str) -> dict:
        """The configuration as CreateFunction or an update answers it on AWS."""
        if action == "CreateFunction":
            config.pop("LastUpdateStatus", None)
            return {**config, **CREATED}
        return {**config, "State": "Active", **UPDATING}
