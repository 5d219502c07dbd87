"""Exercises are generated from their solutions, and every exercise left blank fails its checks."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_lab.checks import CheckFailed

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = sorted((ROOT / "exercises").glob("*_ex_*.ipynb"))


def test_generated_exercises_are_current():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_exercises.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_solution_has_its_exercise_and_a_check():
    solutions = sorted((ROOT / "solutions").glob("*_sol_*.ipynb"))
    assert [p.name.replace("_sol_", "_ex_") for p in solutions] == [p.name for p in EXERCISES]
    for path in solutions:
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        assert "checks." in text, f"{path.name} calls no check"


@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_blank_exercise_fails_its_checks(path):
    """Run the exercise as a learner who wrote nothing would: its check must say what is missing."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    namespace: dict = {"__name__": "__main__"}
    failures = []
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in cells:
            source = "".join(cell["source"])
            try:
                exec(compile(source, path.name, "exec"), namespace)
            except CheckFailed as failed:
                failures.append(str(failed))
            except Exception:  # a blank cell may break what follows it; only check cells must answer
                continue
    try:
        lab = namespace.get("lab")
        if lab is not None:
            lab.stop()
    finally:
        assert failures, f"{path.name}: no check failed on the blank exercise"
        assert all(len(message) > 20 for message in failures)
