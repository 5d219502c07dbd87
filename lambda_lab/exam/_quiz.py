"""Exam-style questions as an ipywidgets quiz: pick, check, read why each option is right or wrong.

>>> import lambda_lab
>>> lambda_lab.quiz("04_invocation_types")     # the last expression of a notebook's quiz cell
"""

from __future__ import annotations

import html
import random

from . import _store
from ._bank import DOMAINS, questions

__all__ = ["Quiz", "quiz", "anchor", "question_html", "shuffled"]

_WORDS = {2: "two", 3: "three"}


def shuffled(record: dict, seed=None) -> dict:
    """A copy of `record` with its options in a new order (explanations and answers follow): the bank's files
    keep the right answer wherever its author put it, and a learner must not learn "it is usually A"."""
    order = list(range(len(record["options"])))
    random.Random(f"{record['id']}:{seed}").shuffle(order)
    return {**record, "options": [record["options"][i] for i in order],
            "explanations": [record["explanations"][i] for i in order],
            "answers": sorted(order.index(a) for a in record["answers"])}


def anchor(record: dict, from_folder: str = "notebooks") -> str:
    """A link to the lesson section that teaches `record` (JupyterLab makes heading ids from their text)."""
    target = record["section"].replace(" ", "-")
    prefix = "" if from_folder == "notebooks" else "../notebooks/"
    return f"{prefix}{record['notebook']}.ipynb#{html.escape(target, quote=True)}"


def question_html(record: dict, number: int, total: int) -> str:
    return (f"<div class='lab-quiz-stem'><b>Question {number} of {total}</b> · "
            f"<span style='color:#555'>{DOMAINS[record['domain']]}</span><br>{html.escape(record['stem'])}</div>")


class Quiz:
    """The state behind a quiz widget: the questions, the learner's choices, and what has been checked."""

    def __init__(self, records: list[dict], title: str = "Quiz", record_results: bool = True, kind: str = "quiz",
                 link_folder: str = "notebooks"):
        self.records, self.title, self.record_results, self.kind = records, title, record_results, kind
        self.link_folder = link_folder
        self.choices: list[set[int]] = [set() for _ in records]
        self.checked: list[bool | None] = [None for _ in records]  # None: not checked yet; else right or wrong
        self._reported = False

    def choose(self, index: int, options) -> None:
        """Set the learner's choice for question `index` (an option number, or several for "choose two")."""
        chosen = {options} if isinstance(options, int) else set(options)
        if not all(0 <= o < len(self.records[index]["options"]) for o in chosen):
            raise ValueError(f"question {index + 1} has options 0 to {len(self.records[index]['options']) - 1}")
        self.choices[index] = chosen

    def check(self, index: int) -> bool | None:
        """Mark question `index`: True or False once enough options are picked, None while too few are."""
        record = self.records[index]
        if len(self.choices[index]) != len(record["answers"]):
            return None
        right = self.choices[index] == set(record["answers"])
        first_time = self.checked[index] is None
        self.checked[index] = right
        if first_time and self.record_results:
            _store.record_answer(record["id"], right)
            if self.kind == "quiz" and all(c is not None for c in self.checked) and not self._reported:
                self._reported = True
                _store.record_quiz(record["notebook"], self.right, len(self.records))
        return right

    @property
    def right(self) -> int:
        return sum(1 for c in self.checked if c)

    def feedback_html(self, index: int) -> str:
        """What a learner reads after checking: the verdict, every option's explanation, the lesson's section."""
        record, verdict = self.records[index], self.checked[index]
        if verdict is None:
            need = len(record["answers"])
            return (f"<span class='lab-quiz-wait'>Pick {_WORDS.get(need, 'one')} option{'s' if need > 1 else ''}, "
                    "then check.</span>")
        head = ("<b style='color:#1b7837'>✔ Right.</b>" if verdict
                else "<b style='color:#b2182b'>✘ Not quite.</b> The right answer is marked ✔.")
        rows = []
        for i, (text, why) in enumerate(zip(record["options"], record["explanations"])):
            mark = "✔" if i in record["answers"] else "✘"
            picked = " <i>(your pick)</i>" if i in self.choices[index] else ""
            rows.append(f"<li>{mark} <b>{html.escape(text)}</b>{picked}<br>{html.escape(why)}</li>")
        link = (f"<a href='{anchor(record, self.link_folder)}' target='_self'>{html.escape(record['section'])}</a>"
                f" in {record['notebook']} · <a href='{html.escape(record['source'])}' target='_blank'>AWS docs</a>")
        return f"<div class='lab-quiz-explained'>{head}<ul>{''.join(rows)}</ul>Read again: {link}</div>"

    def score_html(self) -> str:
        done = sum(1 for c in self.checked if c is not None)
        return f"<b>{self.right} of {len(self.records)} right</b> ({done} checked)"


def _option_widget(record: dict, on_change):
    import ipywidgets as w

    labels = [(text, i) for i, text in enumerate(record["options"])]
    if len(record["answers"]) == 1:
        radio = w.RadioButtons(options=labels, value=None, layout=w.Layout(width="100%"))
        radio.add_class("lab-quiz-options")
        radio.observe(lambda change: on_change({change["new"]} if change["new"] is not None else set()), "value")
        return radio
    boxes = [w.Checkbox(description=text, value=False, indent=False, layout=w.Layout(width="100%"))
             for text, _ in labels]

    def changed(_):
        on_change({i for i, box in enumerate(boxes) if box.value})

    for box in boxes:
        box.add_class("lab-quiz-option")
        box.observe(changed, "value")
    group = w.VBox(boxes)
    group.add_class("lab-quiz-options")
    return group


def build(controller: Quiz):
    """The widget for a Quiz controller (kept apart so tests drive the controller without a browser)."""
    import ipywidgets as w

    score = w.HTML(controller.score_html())
    score.add_class("lab-quiz-score")
    parts = [w.HTML(f"<h3>{html.escape(controller.title)}</h3>")]
    for index, record in enumerate(controller.records):
        feedback = w.HTML("")
        feedback.add_class("lab-quiz-feedback")
        button = w.Button(description="Check", button_style="primary")
        button.add_class("lab-quiz-check")

        def choose(options, index=index):
            controller.choices[index] = options

        def check(_, index=index, feedback=feedback):
            controller.check(index)
            feedback.value = controller.feedback_html(index)
            score.value = controller.score_html()

        button.on_click(check)
        box = w.VBox([w.HTML(question_html(record, index + 1, len(controller.records))),
                      _option_widget(record, choose), button, feedback])
        box.add_class("lab-quiz-question")
        parts.append(box)
    parts.append(score)
    widget = w.VBox(parts)
    widget.add_class("lab-quiz")
    widget.controller = controller
    return widget


def quiz(notebook: str, n: int | None = None, seed: int | None = None, record_results: bool = True):
    """A quiz of `n` questions (default: up to 8) from the notebook's part of the bank, in a stable order.

    Introduced at the end of every notebook; `seed` draws a different set, results go to lambda_lab.progress().
    """
    records = questions(notebook)
    name = records[0]["notebook"]
    count = min(n or 8, len(records))
    chosen = [shuffled(r, seed) for r in random.Random(f"{name}:{seed}").sample(records, count)]
    return build(Quiz(chosen, title=f"Quiz · {name.replace('_', ' ', 1)} ({count} questions)",
                      record_results=record_results))
