"""A learner's results, kept in LAMBDA_LAB_HOME/progress.json: answers (with a Leitner box each), checks, exams.

>>> from lambda_lab.exam import _store
>>> _store.record_answer("q04-async-retries-default", correct=False)   # back to box 1, due at once
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from .._recorder import lab_home

__all__ = ["path", "load", "record_answer", "record_check", "record_quiz", "record_exam", "due", "BOX_DAYS"]

# Leitner boxes: a right answer moves a question up one box, a wrong one back to box 1; a box's number says
# how many days pass before the question comes back.
BOX_DAYS = {1: 0, 2: 1, 3: 3, 4: 7, 5: 21}
DAY_S = 86400.0


def path() -> Path:
    return lab_home() / "progress.json"


def load() -> dict:
    """Everything recorded so far ({} parts for a new learner); a damaged file is set aside, not trusted."""
    empty = {"answers": {}, "checks": {}, "quizzes": {}, "exams": []}
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return empty
    except (OSError, ValueError):
        try:
            path().replace(path().with_suffix(f".damaged-{int(time.time())}"))
        except OSError:
            pass
        return empty
    return {**empty, **data} if isinstance(data, dict) else empty


def _save(data: dict) -> None:
    """Write the whole file at once (a second kernel, or Ctrl-C mid-write, never leaves half a file)."""
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".progress-")
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=1, sort_keys=True)
    os.replace(tmp, target)


def _update(change) -> dict:
    data = load()
    change(data)
    try:
        _save(data)
    except OSError:
        pass  # a read-only home must not break a quiz; the learner just loses the record
    return data


def record_answer(question_id: str, correct: bool, now: float | None = None) -> dict:
    """Note one answer and reschedule the question; returns its record (box, due, right, wrong)."""
    now = time.time() if now is None else now

    def change(data):
        entry = data["answers"].setdefault(question_id, {"box": 1, "right": 0, "wrong": 0})
        entry["box"] = min(entry["box"] + 1, max(BOX_DAYS)) if correct else 1
        entry["right" if correct else "wrong"] += 1
        entry["last"] = now
        entry["due"] = now + BOX_DAYS[entry["box"]] * DAY_S

    return _update(change)["answers"][question_id]


def record_check(name: str, ok: bool) -> None:
    """An exercise check ran: passed once stays passed."""
    def change(data):
        entry = data["checks"].setdefault(name, {"passed": False, "runs": 0})
        entry["runs"] += 1
        entry["passed"] = entry["passed"] or ok

    _update(change)


def record_quiz(notebook: str, right: int, total: int) -> None:
    def change(data):
        entry = data["quizzes"].setdefault(notebook, {"best": 0, "total": total, "attempts": 0})
        entry["attempts"] += 1
        entry["best"], entry["total"] = max(entry["best"], right), total

    _update(change)


def record_exam(score: int, by_domain: dict, seconds: float | None = None) -> None:
    _update(lambda data: data["exams"].append({"when": time.time(), "score": score, "seconds": seconds,
                                               "by_domain": {str(k): v for k, v in by_domain.items()}}))


def due(now: float | None = None) -> list[str]:
    """Ids of questions answered before whose box says they are due again, lowest box (most missed) first."""
    now = time.time() if now is None else now
    answers = load()["answers"]
    ready = [(entry["box"], entry["due"], qid) for qid, entry in answers.items() if entry["due"] <= now]
    return [qid for _, _, qid in sorted(ready)]
