#!/usr/bin/env python3
"""Make each exercise notebook from its solution: `solutions/NN_topic_sol_KK.ipynb` -> `exercises/NN_topic_ex_KK.ipynb`.

In a solution, a code cell tagged `solution` keeps its lines up to the marker line `# solution` and the
rest becomes `...` for the learner to fill in (no marker: the whole cell becomes `...`); a markdown cell
tagged `solution` (an explanation of the answer) is left out. Outputs and execution counts are cleared.

    python tools/make_exercises.py           # write exercises/
    python tools/make_exercises.py --check   # exit 1 if any exercise is stale (the test suite runs this)
"""

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# solution"


def _placeholder(kept: list[str], removed: list[str]) -> str:
    """What stands for the removed lines: `...` where Python needs a statement (after a `def ...:`), else a
    comment, because a bare `...` ending a cell would print `Ellipsis` under it."""
    code = [line for line in kept if line.strip() and not line.strip().startswith("#")]
    if code and code[-1].rstrip().endswith(":"):
        first = next((line for line in removed if line.strip()), "    ...")
        return first[:len(first) - len(first.lstrip())] + "...  # your code here"
    return "# your code here"


def exercise_from(solution: dict) -> dict:
    """The exercise notebook for one solution notebook (both as JSON dicts)."""
    nb = copy.deepcopy(solution)
    cells = []
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "solution" in tags:
            if cell["cell_type"] == "markdown":
                continue
            lines = source.split("\n")
            cut = next((i for i, line in enumerate(lines) if line.strip() == MARKER), 0)
            kept = lines[:cut]
            source = "\n".join(kept + [_placeholder(kept, lines[cut + 1:])])
            cell["metadata"]["tags"] = [t for t in tags if t != "solution"]
            if not cell["metadata"]["tags"]:
                del cell["metadata"]["tags"]
        cell["source"] = source
        cell.get("metadata", {}).pop("execution", None)  # run timings of the solution: not the learner's
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    nb["cells"] = cells
    return nb


def targets() -> list[tuple[Path, Path]]:
    return [(path, ROOT / "exercises" / path.name.replace("_sol_", "_ex_"))
            for path in sorted((ROOT / "solutions").glob("*_sol_*.ipynb"))]


def render(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for solution, exercise in targets():
        text = render(exercise_from(json.loads(solution.read_text())))
        if "--check" in argv:
            if not exercise.exists() or exercise.read_text() != text:
                stale.append(exercise.name)
        else:
            exercise.parent.mkdir(exist_ok=True)
            exercise.write_text(text)
    if stale:
        print("Stale exercises (run python tools/make_exercises.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
