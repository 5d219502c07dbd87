#!/usr/bin/env python3
"""Gather a class's lambda-lab progress files into one table (CSV) and one overview chart (PNG).

Each learner's results live in their LAMBDA_LAB_HOME (default ~/.lambda-lab) as progress.json. Point this at
JupyterHub home directories, or at a folder of files learners uploaded (one per learner, any name):

    python tools/class_progress.py /home/*/.lambda-lab            # JupyterHub: one folder per learner
    python tools/class_progress.py uploads/*.json --out class      # writes class.csv and class.png

A learner's name is their home folder's name (for .../<name>/.lambda-lab/progress.json) or the file's name.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lambda_lab.exam._progress import summarise  # noqa: E402


def learner_files(paths: list[str]) -> dict[str, Path]:
    """{learner name: progress file} for folders (holding progress.json) and files given on the command line."""
    found = {}
    for given in map(Path, paths):
        file = given / "progress.json" if given.is_dir() else given
        if not file.is_file():
            print(f"skipped {given}: no progress.json there", file=sys.stderr)
            continue
        name = file.parent.parent.name if file.parent.name == ".lambda-lab" else (
            file.parent.name if file.name == "progress.json" else file.stem)
        found[name] = file
    return found


def read(file: Path) -> dict:
    base = {"answers": {}, "checks": {}, "quizzes": {}, "exams": []}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"skipped {file}: {error}", file=sys.stderr)
        return base
    return {**base, **data} if isinstance(data, dict) else base


def table(files: dict[str, Path]) -> list[dict]:
    """One row per learner: checks passed, bank questions right, quizzes taken, best practice exam."""
    rows = []
    for name, file in sorted(files.items()):
        data = read(file)
        per_notebook = summarise(data)
        exams = [e["score"] for e in data["exams"]]
        rows.append({"learner": name,
                     "checks_passed": sum(r["checks_passed"] for r in per_notebook),
                     "checks": sum(r["checks"] for r in per_notebook),
                     "questions_right": sum(r["questions_right"] for r in per_notebook),
                     "questions": sum(r["questions"] for r in per_notebook),
                     "quizzes_taken": sum(1 for r in per_notebook if r["quiz_best"] is not None),
                     "best_exam": max(exams) if exams else ""})
    return rows


def chart(rows: list[dict], target: Path) -> None:
    from matplotlib.figure import Figure

    from lambda_lab import plots

    plots.style()
    fig = Figure(figsize=(8.0, max(2.5, 0.35 * len(rows) + 1.2)))
    ax = fig.subplots()
    names = [r["learner"] for r in rows]
    y = range(len(rows))
    colours = plots.palette()
    ax.barh([i + 0.2 for i in y], [100 * r["checks_passed"] / (r["checks"] or 1) for r in rows], height=0.4,
            color=colours[0], label="exercise checks passed (%)")
    ax.barh([i - 0.2 for i in y], [100 * r["questions_right"] / (r["questions"] or 1) for r in rows], height=0.4,
            color=colours[1], hatch="//", label="bank questions right (%)")
    ax.set_yticks(list(y), names)
    ax.set_xlim(0, 100)
    ax.set_xlabel("done (%)")
    ax.set_title(f"Class progress ({len(rows)} learners)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(target)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="learners' LAMBDA_LAB_HOME folders or progress files")
    parser.add_argument("--out", default="class-progress", help="file name stem for the .csv and .png")
    args = parser.parse_args(argv)
    rows = table(learner_files(args.paths))
    if not rows:
        print("no progress files found", file=sys.stderr)
        return 1
    with open(f"{args.out}.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    chart(rows, Path(f"{args.out}.png"))
    print(f"wrote {args.out}.csv and {args.out}.png for {len(rows)} learners")
    return 0


if __name__ == "__main__":
    sys.exit(main())
