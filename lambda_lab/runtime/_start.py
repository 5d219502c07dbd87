"""The script an execution environment's interpreter runs: the bootstrap, from its cached bytecode.

Python compiles the script it is given on every start and caches only imported modules, so the bootstrap
(500 lines, 4.5 ms of CPU to compile) is imported from here rather than run as the script.

    python -I -S _start.py <task_root> <isolate_imports 0|1> [layer_dir ...]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bootstrap  # noqa: E402

del sys.path[0]  # the handler's imports never see the lab's runtime folder
_bootstrap.main()
