"""Run lessons top to bottom on the endpoint backend, against a stand-in account, and say which cells failed.

    .venv/bin/python tools/run_notebooks_remote.py [notebooks/04_*.ipynb ...]

Each notebook runs in a fresh kernel with LAMBDA_LAB_BACKEND=endpoint and AWS_ENDPOINT_URL pointing at
tools/standin_account.py's server (started here, in its own process). A cell that raises is reported unless the
notebook tags it `raises-exception` (an error the lesson means to show). Prints one line per notebook and the
failing cells' errors; exits 1 if any failed. The executed copies are not written back.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def _start_server(home: Path) -> tuple[subprocess.Popen, str, str]:
    env = {**os.environ, "LAMBDA_LAB_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools" / "standin_account.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    found = re.search(r" at (\S+) \(APIs and function URLs at (\S+)\)", line)
    if found is None:
        proc.kill()
        raise SystemExit(f"the stand-in account did not start: {line!r}")
    return proc, found.group(1), found.group(2)


def run(path: Path, url: str, door: str, home: Path, timeout: int) -> list[str]:
    """The errors of the cells that raised and were not meant to."""
    notebook = nbformat.read(path, as_version=4)
    env_cell = nbformat.v4.new_code_cell(
        "import os\n"
        f"os.environ.update(LAMBDA_LAB_BACKEND='endpoint', AWS_ENDPOINT_URL={url!r}, LAMBDA_LAB_HOME={str(home)!r},"
        f" LAMBDA_LAB_FRONT_DOOR={door!r},"
        " AWS_ACCESS_KEY_ID='standin', AWS_SECRET_ACCESS_KEY='standin', AWS_DEFAULT_REGION='us-east-1')")
    notebook.cells.insert(0, env_cell)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as error:  # a timeout or a dead kernel
        return [f"kernel: {str(error).splitlines()[0]}"]
    errors = []
    for index, cell in enumerate(notebook.cells[1:]):
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                errors.append(f"cell {index}: {output.ename}: {output.evalue[:300]}")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"lambda-lab-remote-{os.getpid()}"
    home.mkdir(parents=True, exist_ok=True)
    server, url, door = _start_server(home)
    failed = 0
    try:
        for path in paths:
            start = time.time()
            errors = run(path, url, door, home, args.timeout)
            failed += bool(errors)
            print(f"{'FAIL' if errors else 'ok  '} {path.name} ({time.time() - start:.0f} s)", flush=True)
            for error in errors:
                print("     " + error.replace("\n", " "), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
