"""moto reads botocore's models (with its own moto-extras) through one loader that looks in one service's folders.

moto makes a new loader for each service model it parses requests with, and botocore's loader lists every
service's folders to find one model: 0.17 s of CPU per service, in every kernel and test process.
"""

from __future__ import annotations

import functools

import moto.core.loaders
import moto.core.utils

from .._botocore_models import Loader

__all__ = ["PATCHES"]


class _MotoLoader(moto.core.loaders.Loader, Loader):
    """moto's Loader (its extras applied to botocore's models), finding a model as the lab's loader does."""


@functools.cache
def _create_loader() -> _MotoLoader:
    """What moto.core.loaders.create_loader makes, made once."""
    return _MotoLoader(extra_search_paths=[moto.core.loaders.moto_root])


PATCHES = {(moto.core.utils, "create_loader"): _create_loader}
