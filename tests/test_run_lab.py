"""`./run.py lab` serves the whole repository and opens the first lesson: exercises and links are reachable."""

import importlib.util
import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_py():
    spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_lab_command_serves_the_repository_root_and_opens_lesson_00(tmp_path):
    port = _free_port()
    command = _run_py().lab_command() + ["--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                                         "--IdentityProvider.token=t", "--ServerApp.open_browser=False"]
    server = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "JUPYTER_CONFIG_DIR": str(tmp_path)})
    try:
        deadline, listing = time.monotonic() + 60, None
        while listing is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=t", timeout=2) as answer:
                    listing = json.load(answer)
            except OSError:
                time.sleep(0.2)
        assert listing is not None, "JupyterLab did not answer"
        names = {item["name"] for item in listing["content"]}
        assert {"notebooks", "exercises", "solutions", "README.md"} <= names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?token=t", timeout=5) as answer:
            assert answer.geturl().split("?")[0].endswith("/lab/tree/notebooks/00_start_here.ipynb")
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_the_test_command_caches_compiled_modules_outside_the_working_tree(monkeypatch):
    """Workers and kernels reuse compiled modules even where PYTHONDONTWRITEBYTECODE is set, under .venv."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = _run_py().test_env()
    assert "PYTHONDONTWRITEBYTECODE" not in env
    prefix = Path(env["PYTHONPYCACHEPREFIX"])
    assert prefix.is_relative_to(ROOT / ".venv")  # .gitignore'd, and removed with the environment
    probe = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", "import sys; print(sys.pycache_prefix,"
                            " sys.dont_write_bytecode)"], env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.split() == [str(prefix), "False"]
