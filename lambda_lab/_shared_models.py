"""One botocore loader per search path for every session in the process, so a new session reuses parsed models.

moto starts each mock with `boto3.DEFAULT_SESSION = None`, and botocore gives every new session its own loader,
which reads and parses `endpoints.json`, the partitions and each service's model again: about 0.1 s of CPU per
session and its first clients, paid at each lab start and by each client the lab makes for deliveries. The
models are read-only data keyed by botocore's search path (`AWS_DATA_PATH`), so one loader per path serves all.

>>> share_loaders()
>>> one, two = botocore.session.get_session(), botocore.session.get_session()
>>> one.get_component("data_loader") is two.get_component("data_loader")
True
"""

from __future__ import annotations

import functools

import botocore.loaders
import botocore.session

__all__ = ["share_loaders"]


def share_loaders() -> None:
    """Make botocore's sessions share a loader per search path (idempotent)."""
    if getattr(botocore.session.create_loader, "lambda_lab_shared", False):
        return
    shared = functools.lru_cache(maxsize=8)(botocore.loaders.create_loader)
    shared.lambda_lab_shared = True
    botocore.session.create_loader = shared
