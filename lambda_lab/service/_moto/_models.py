"""moto reads botocore's models (with its own moto-extras) through one loader that looks in one service's folders.

moto makes a new loader for each service model it parses requests with, and botocore's loader lists every
service's folders to find one model: 0.17 s of CPU per service, in every kernel and test process. And moto lists a
responses class's methods with `inspect.getmembers` at every request to find the action's: listed once per class
here (the list is forgotten whenever the lab patches moto or puts it back, the only times it changes).
"""

from __future__ import annotations

import functools
import inspect

import moto.core.loaders
import moto.core.responses
import moto.core.utils

from .._botocore_models import Loader

__all__ = ["PATCHES", "forget_method_names"]


class _MotoLoader(moto.core.loaders.Loader, Loader):
    """moto's Loader (its extras applied to botocore's models), finding a model as the lab's loader does."""


@functools.cache
def _create_loader() -> _MotoLoader:
    """What moto.core.loaders.create_loader makes, made once."""
    return _MotoLoader(extra_search_paths=[moto.core.loaders.moto_root])


@functools.cache
def _method_names(clazz: type) -> list[str]:
    """moto.core.utils.method_names_from_class, once per class."""
    return [name for name, _ in inspect.getmembers(clazz, predicate=inspect.isfunction)]


def forget_method_names() -> None:
    """The lab patched moto's classes or put them back: list their methods again."""
    _method_names.cache_clear()


PATCHES = {(moto.core.utils, "create_loader"): _create_loader,
           (moto.core.responses, "method_names_from_class"): _method_names}
