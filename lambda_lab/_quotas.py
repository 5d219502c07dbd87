"""What a remote account's Lambda quotas mean for the course: said once, when a lab starts there.

>>> quota_warning({"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": 10})[:64]
"lambda-lab: this account's concurrency quota is 10. Lambda keeps"
"""

from __future__ import annotations

from .limits import min_unreserved

__all__ = ["RESERVING_LESSONS", "LARGEST_RESERVATION", "quota_warning"]

# the lessons that reserve or provision concurrency, and the most one of them asks for (05 reserves 50);
# tests/test_quotas.py keeps both true to the notebooks
RESERVING_LESSONS = ("04", "05", "12", "15")
LARGEST_RESERVATION = 50


def quota_warning(limit: dict) -> str | None:
    """A warning when the account cannot reserve what the lessons reserve (`limit`: GetAccountSettings' AccountLimit)."""
    quota = int(limit.get("ConcurrentExecutions", 1000))
    keep = min_unreserved(quota)
    room = int(limit.get("UnreservedConcurrentExecutions", quota)) - keep
    if room >= LARGEST_RESERVATION:
        return None
    lessons = ", ".join(RESERVING_LESSONS[:-1]) + " and " + RESERVING_LESSONS[-1]
    can = "nothing" if room <= 0 else f"at most {room}"
    return (f"lambda-lab: this account's concurrency quota is {quota}. Lambda keeps {keep} unreserved, so {can} can "
            f"be reserved or provisioned here, and lessons {lessons} ask for up to {LARGEST_RESERVATION} "
            "(those cells will fail with InvalidParameterValueException). Ask for more 'Concurrent executions' in "
            "Service Quotas before the class (new accounts often start at 10; an increase can take a day).")
