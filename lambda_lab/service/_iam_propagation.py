"""IAM's eventual consistency, as Lambda meets it: a new role or a new policy reaches Lambda seconds later.

On AWS, `create_function` with a role made a moment ago can fail with "The role defined for the function cannot
be assumed by Lambda", and a policy attached a moment ago is not yet seen when Lambda checks the role (creating
an SQS mapping: "... does not have permissions to call ReceiveMessage on SQS"). Code that retries on those
answers (`lab.wait_for_iam`) works everywhere. The local lab applies IAM changes at once (`delay_s=0`); a
stand-in account (`tools/standin_account.py`) delays them by `delay_s` real seconds, so that a notebook that
does not retry fails there as it would on AWS.

>>> iam = IamPropagation(delay_s=2.0)
>>> iam.changed("123456789012", "my-role", "arn:aws:iam::aws:policy/AmazonSQSFullAccess")
>>> iam.pending("123456789012", "my-role")
{'arn:aws:iam::aws:policy/AmazonSQSFullAccess'}
"""

from __future__ import annotations

import contextlib
import threading
import time

from ._errors import ServiceError

__all__ = ["IamPropagation", "NOT_YET", "ROLE_NOT_READY", "settled", "retry_until_ready"]

ROLE_NOT_READY = "The role defined for the function cannot be assumed by Lambda."
# what AWS answers while a new role or policy has not reached Lambda (also KMS grants for a new role)
NOT_YET = ("cannot be assumed by Lambda", "does not have permissions to call", "Please ensure the role can perform",
           "KMS key is invalid for CreateGrant")
_local = threading.local()
_delay_s = 0.0  # the running lab's delay (one per process): where it is 0, a refusal is final


def retry_until_ready(call, timeout: float | None = None, report=None):
    """`call()`, retried with backoff while the answer says IAM has not reached Lambda yet (`report(message, s)`
    before each pause), as CloudFormation's handlers and lab.wait_for_iam do. `timeout` None: long enough for
    this process's own delay, and no retry at all where IAM has none."""
    from botocore.exceptions import ClientError

    timeout = 10 * _delay_s if timeout is None else timeout
    deadline, pause = time.monotonic() + timeout, 0.5
    while True:
        try:
            return call()
        except ClientError as error:
            message = error.response.get("Error", {}).get("Message", "")
            if not any(m in message for m in NOT_YET) or time.monotonic() + pause > deadline:
                raise
            if report is not None:
                report(message, pause)
            time.sleep(pause)
            pause = min(pause * 2, 8.0)


@contextlib.contextmanager
def settled():
    """IAM changes made inside are ready at once: CloudFormation waits for its roles before it goes on."""
    _local.depth = getattr(_local, "depth", 0) + 1  # a resource may make what it references, inside this
    try:
        yield
    finally:
        _local.depth -= 1


class IamPropagation:
    """When each role and each of its policies changed, and what Lambda therefore does not see yet."""

    def __init__(self, delay_s: float = 0.0) -> None:
        global _delay_s
        self.delay_s = _delay_s = delay_s
        self._changes: dict[tuple[str, str, str], float] = {}  # (account, role, policy or "") -> monotonic time
        self._lock = threading.Lock()

    def changed(self, account: str, role: str, key: str = "") -> None:
        """A role was made (`key` ""), or a policy (ARN or inline name) attached to it or put on it."""
        if self.delay_s > 0 and not getattr(_local, "depth", 0):
            with self._lock:
                self._changes[(account, role, key)] = time.monotonic()

    def pending(self, account: str, role: str) -> set[str]:
        """The policies of `role` that have not reached Lambda yet ("" stands for the role itself)."""
        if not self._changes:
            return set()
        now = time.monotonic()
        with self._lock:
            for done in [k for k, at in self._changes.items() if now - at >= self.delay_s]:
                del self._changes[done]
            return {key for (a, r, key) in self._changes if a == account and r == role}

    def check_assumable(self, account: str, role_arn: str) -> None:
        """CreateFunction and updates refuse a role too new for Lambda to assume."""
        if "" in self.pending(account, role_arn.rsplit("/", 1)[-1]):
            raise ServiceError("InvalidParameterValueException", ROLE_NOT_READY)
