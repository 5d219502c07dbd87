#!/usr/bin/env python3
"""The course's two commands: `./run.py lab` opens the course, `./run.py test` runs every test.

Both first make `.venv` with everything the course needs (only when requirements change), so a fresh
machine with Python 3.11+ needs nothing else. On Windows: `python run.py lab`.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".lambda-lab-installed"
# a test file's tests (and a notebook's cells) stay on one worker. Much of a test's time is spent waiting for
# handler processes and kernels (or for a moto server, pip or a browser), so more workers than cores finish
# sooner: on 2 cores 2.9 min with 5 workers, 3.0 with 4 and 6 (5.1 min with 4 and 6.4 with 2 before the warm kernels)
WORKERS = str(min(5, 2 * (os.cpu_count() or 1) + 1))
# files handed out in conftest.py's order; notebooks run in tests/jupyter's kernel, forked from a warm server
TEST_ARGS = ["-n", WORKERS, "--dist", "loadfile", "--no-loadscope-reorder", "--nbval",
             "--nbval-kernel-name", "lambda-lab-tests", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
             "-p", "no:cacheprovider", "-p", "tests.skip_slow_imports"]


def setup() -> None:
    """Create .venv and install the pinned requirements and the package, unless already current."""
    if sys.version_info < (3, 11):
        sys.exit(f"lambda-lab needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    wanted = hashlib.sha256(b"".join((ROOT / f).read_bytes() for f in ("requirements.txt", "pyproject.toml")))
    if STAMP.exists() and STAMP.read_text() == wanted.hexdigest():
        return
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except Exception as error:  # Debian/Ubuntu ship venv without ensurepip
            sys.exit(f"Could not create a virtual environment ({error}).\n"
                     "On Debian or Ubuntu: sudo apt-get install python3-venv, then run this again.")
    print("Installing the course's packages (first time only) ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["-r", str(ROOT / "requirements.txt")], check=True)
    subprocess.run(pip + ["--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(wanted.hexdigest())


def lab_command() -> list[str]:
    """JupyterLab serving the whole repository (notebooks/, exercises/, solutions/ all reachable, links work),
    opened on the first lesson. A file argument would make its folder the root and hide exercises/."""
    args = [str(BIN / "jupyter"), "lab", f"--ServerApp.root_dir={ROOT}",
            "--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    return args


def test_env() -> dict:
    """The tests' environment: compiled modules cached under .venv, even where PYTHONDONTWRITEBYTECODE is set.

    Without the cache every test worker and notebook kernel compiles lambda_lab and rewrites the tests again
    (7 s of CPU per worker to collect the tests instead of 4, 0.2 s more per kernel); under .venv the cache
    leaves the working tree as it was.
    """
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(VENV / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command not in ("lab", "test", "setup"):
        print(__doc__)
        return 2
    setup()
    if command == "lab":
        return subprocess.call(lab_command() + argv[1:], cwd=ROOT)
    if command == "test":
        extra = argv[1:]
        named = any((ROOT / arg.split("::")[0]).exists() for arg in extra if not arg.startswith("-"))
        paths = [] if named else [p for p in ("notebooks", "solutions", "tests") if (ROOT / p).is_dir()]
        return subprocess.call([str(PYTHON), "-m", "pytest", *paths, *TEST_ARGS, *extra], cwd=ROOT, env=test_env())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
