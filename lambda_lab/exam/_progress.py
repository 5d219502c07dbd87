"""Spaced review of missed questions, and a learner's progress through checks, quizzes and practice exams.

>>> import lambda_lab
>>> lambda_lab.review()        # the questions due again, missed ones first
>>> lambda_lab.progress()      # a table and a chart of what is done
"""

from __future__ import annotations

import html
import pathlib

from . import _store
from ._bank import questions
from ._quiz import Quiz, build, shuffled

__all__ = ["review", "progress", "Progress", "summarise"]

NOTEBOOKS = pathlib.Path(__file__).parents[2] / "notebooks"


def review(n: int = 10, record_results: bool = True):
    """A quiz of up to `n` questions that are due again (Leitner boxes), or one line saying nothing is due."""
    import ipywidgets as w

    by_id = {q["id"]: q for q in questions()}
    due = [shuffled(by_id[qid], len(_store.load()["answers"])) for qid in _store.due() if qid in by_id][:n]
    if not due:
        answered = len(_store.load()["answers"])
        message = ("Nothing is due for review: answer a notebook's quiz or the practice exam first."
                   if not answered else f"Nothing is due for review now ({answered} questions answered); "
                   "questions you got right come back after 1, 3, 7 and 21 days.")
        note = w.HTML(f"<p class='lab-review-empty'>{html.escape(message)}</p>")
        note.controller = None
        return note
    return build(Quiz(due, title=f"Review · {len(due)} questions due", record_results=record_results,
                      kind="review"))


def _check_names() -> dict[str, list[str]]:
    """Exercise check names per notebook number ("05": ["ex_05_timeout", ...])."""
    from .. import checks

    names: dict[str, list[str]] = {}
    for name in checks.CHECKS:
        names.setdefault(name.split("_")[1], []).append(name)
    return names


def summarise(data: dict) -> list[dict]:
    """One row per notebook: checks passed of available, best quiz score, bank questions answered right."""
    bank = questions()
    rows = []
    for notebook in sorted({q["notebook"] for q in bank}):
        number = notebook.split("_")[0]
        mine = [q["id"] for q in bank if q["notebook"] == notebook]
        check_names = _check_names().get(number, [])
        quiz = data["quizzes"].get(notebook)
        rows.append({
            "notebook": notebook,
            "checks_passed": sum(1 for c in check_names if data["checks"].get(c, {}).get("passed")),
            "checks": len(check_names),
            "quiz_best": quiz["best"] if quiz else None, "quiz_total": quiz["total"] if quiz else None,
            "questions_right": sum(1 for qid in mine if data["answers"].get(qid, {}).get("right")),
            "questions": len(mine),
        })
    return rows


class Progress:
    """What a learner has done: `rows` per notebook, `exams` taken; shows as a table, `.chart()` draws it."""

    def __init__(self, data: dict):
        self.rows, self.exams = summarise(data), data["exams"]

    def _repr_html_(self) -> str:
        head = ("<tr><th>notebook</th><th>exercise checks</th><th>best quiz</th>"
                "<th>bank questions right</th></tr>")
        body = "".join(
            f"<tr><td>{r['notebook']}</td><td>{r['checks_passed']}/{r['checks']}</td>"
            f"<td>{'—' if r['quiz_best'] is None else str(r['quiz_best']) + '/' + str(r['quiz_total'])}</td>"
            f"<td>{r['questions_right']}/{r['questions']}</td></tr>" for r in self.rows)
        exams = (", ".join(str(e["score"]) for e in self.exams[-5:]) if self.exams else "none yet")
        return (f"<table class='lab-progress'>{head}{body}</table>"
                f"<p>Practice exams (latest last, of 1000; 720 passes, as an estimate): {exams}</p>")

    def __repr__(self) -> str:
        lines = [f"{r['notebook']:<28} checks {r['checks_passed']}/{r['checks']}  quiz "
                 f"{'-' if r['quiz_best'] is None else r['quiz_best']}/{r['quiz_total'] or '-'}  "
                 f"questions {r['questions_right']}/{r['questions']}" for r in self.rows]
        return "\n".join(lines + [f"practice exams: {[e['score'] for e in self.exams] or 'none yet'}"])

    def chart(self):
        """Per notebook: share of its bank questions answered right, and whether its checks all passed."""
        from matplotlib.figure import Figure

        from .. import plots

        plots.style()
        fig = Figure(figsize=(7.5, 3.6))
        ax = fig.subplots()
        labels = [r["notebook"][:2] for r in self.rows]
        shares = [100 * r["questions_right"] / r["questions"] if r["questions"] else 0 for r in self.rows]
        checks = [100 * r["checks_passed"] / r["checks"] if r["checks"] else float("nan") for r in self.rows]
        x = range(len(labels))
        colours = plots.palette()
        ax.bar([i - 0.2 for i in x], shares, width=0.4, color=colours[0], label="bank questions right")
        ax.bar([i + 0.2 for i in x], checks, width=0.4, color=colours[1], hatch="//", label="exercise checks passed")
        ax.set_xticks(list(x), labels)
        ax.set_ylim(0, 100)
        ax.set_xlabel("notebook")
        ax.set_ylabel("done (%)")
        ax.set_title("Your progress")
        ax.legend(loc="upper right")
        fig.tight_layout()
        return fig


def progress() -> Progress:
    """Which checks, quizzes and practice exams this learner has passed (from LAMBDA_LAB_HOME/progress.json)."""
    return Progress(_store.load())
