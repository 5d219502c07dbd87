"""GetAccountSettings: the account's Lambda limits, the ones the lab enforces, and its usage."""

from __future__ import annotations

from ..limits import min_unreserved, value
from ._validation import UNZIPPED_MAX_BYTES

ZIPPED_MAX_BYTES = value("zipped_max_bytes")  # 50 MB: a direct upload (the request limit in _validation is this, base64-encoded)
TOTAL_CODE_MAX_BYTES = 80_530_636_800  # 75 GB of functions and layers per region


def account_settings(concurrency: int, reserved: list[int], code_sizes: list[int], function_count: int) -> dict:
    """The GetAccountSettings answer: `reserved` lists each function's reserved concurrency, `code_sizes` every
    stored package (each version's and each layer version's, as AWS counts them)."""
    return {
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_MAX_BYTES,
            "CodeSizeUnzipped": UNZIPPED_MAX_BYTES,
            "CodeSizeZipped": ZIPPED_MAX_BYTES,
            "ConcurrentExecutions": concurrency,
            # what is left for functions without reserved concurrency; never below the minimum the lab keeps
            "UnreservedConcurrentExecutions": max(min_unreserved(concurrency), concurrency - sum(reserved)),
        },
        "AccountUsage": {"TotalCodeSize": sum(code_sizes), "FunctionCount": function_count},
    }
