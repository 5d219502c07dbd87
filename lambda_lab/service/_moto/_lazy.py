"""Patches for moto modules that are slow to import, applied the moment moto imports them, not before.

moto's CloudFormation imports every other moto service (seconds of CPU). A lab that never makes a stack should not
pay that at `import lambda_lab` nor at `Lab()`: the patches wait until moto itself imports the module, which it
does on the first CloudFormation request.

>>> when_imported("moto.cloudformation", apply)    # apply() runs once moto.cloudformation has loaded
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Callable

__all__ = ["when_imported", "forget"]

_waiting: dict[str, Callable[[], None]] = {}


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, name: str) -> None:
        self._loader, self._name = loader, name

    def __getattr__(self, name):  # get_source, is_package, ...: inspect and tracebacks read through these
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        apply = _waiting.pop(self._name, None)
        if apply is not None:
            apply()


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname not in _waiting:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                spec.loader = _Loader(spec.loader, fullname)
                return spec
        return None


_finder = _Finder()


def when_imported(module: str, apply: Callable[[], None], ready: Callable = lambda module: True) -> None:
    """Run `apply()` now if `module` is already imported (and `ready(module)`), else right after moto imports it."""
    if module in sys.modules and ready(sys.modules[module]):
        apply()
        return
    _waiting[module] = apply
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def forget(module: str) -> None:
    """Do not patch `module` after all (the lab stopped before moto imported it)."""
    _waiting.pop(module, None)
    if not _waiting and _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
