"""How errors from AWS and from the lab show in a notebook: the error code and message, not library frames.

A `ClientError` raised deep inside botocore prints a dozen frames of library code (with this machine's paths)
before the one line a learner needs, `InvalidParameterValueException: ...`. In IPython the lab shows exceptions
raised by botocore or by the lab itself as that one line; everything else keeps IPython's usual traceback.

>>> compact_errors()      # Lab() calls it; a no-op outside IPython
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["compact_errors"]

_PACKAGE = str(Path(__file__).resolve().parent)
_COMPACT_MODULES = ("botocore", "boto3", "lambda_lab")


def compact_errors() -> None:
    """Register the one-line display with the running IPython shell, once; nothing happens elsewhere."""
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "_lambda_lab_compact_errors", False):
        return
    shell._lambda_lab_compact_errors = True
    shell.set_custom_exc((Exception,), _show)


def _show(shell, etype, value, tb, tb_offset=None) -> list[str]:
    # IPython's run_code calls a custom handler and shows nothing itself, so the handler shows what it returns
    if _from_aws_or_the_lab(etype, tb):
        stb = [f"\x1b[31m{etype.__name__}\x1b[39m: {value}"]
    else:  # the learner's own error: IPython's usual traceback, without IPython's own frame
        offset = shell.InteractiveTB.tb_offset if tb_offset is None else tb_offset
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=offset)
    shell._showtraceback(etype, value, stb)
    return stb


def _from_aws_or_the_lab(etype, tb) -> bool:
    """An exception class of botocore, boto3 or the lab, or one the lab raised itself (an argument check)."""
    if etype.__module__.split(".")[0] in _COMPACT_MODULES:
        return True
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(_PACKAGE)
