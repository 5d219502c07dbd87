"""A practice exam: 65 questions drawn by DVA-C02's domain weights, an optional 130-minute timer, a scaled score.

>>> from lambda_lab.exam import _practice
>>> _practice.domain_counts(65)
{1: 21, 2: 17, 3: 15, 4: 12}
>>> _practice.scaled_score(47, 65)
751
"""

from __future__ import annotations

import html
import io
import random
import time

from . import _store
from ._bank import DOMAINS, EXAM_WEIGHTS, questions
from ._quiz import Quiz, _option_widget, question_html, shuffled

__all__ = ["domain_counts", "draw", "scaled_score", "PASS_MARK", "PracticeExam", "practice_exam", "domain_chart"]

PASS_MARK = 720
EXAM_MINUTES = 130


def domain_counts(n: int) -> dict[int, int]:
    """Questions per domain for an exam of `n`, by largest remainder so they always add up to `n`."""
    exact = {d: n * w for d, w in EXAM_WEIGHTS.items()}
    counts = {d: int(x) for d, x in exact.items()}
    for d in sorted(exact, key=lambda d: exact[d] - counts[d], reverse=True)[:n - sum(counts.values())]:
        counts[d] += 1
    return counts


def draw(n: int = 65, seed: int | None = None) -> list[dict]:
    """`n` questions, each domain's share as on the exam, shuffled; a seed repeats a draw."""
    rng = random.Random(seed)
    chosen = []
    for domain, count in domain_counts(n).items():
        pool = [q for q in questions() if q["domain"] == domain]
        if len(pool) < count:
            raise ValueError(f"the bank has {len(pool)} questions in domain {domain}, {count} needed")
        chosen += rng.sample(pool, count)
    rng.shuffle(chosen)
    return [shuffled(q, seed) for q in chosen]


def scaled_score(right: int, total: int) -> int:
    """An estimate on the exam's 100-1000 scale (AWS scales by form difficulty; this maps linearly)."""
    if total <= 0:
        raise ValueError("an exam needs at least one question")
    return round(100 + 900 * right / total)


def by_domain(records: list[dict], checked: list[bool | None]) -> dict[int, tuple[int, int]]:
    """(right, asked) per domain."""
    result = {d: (0, 0) for d in DOMAINS}
    for record, verdict in zip(records, checked):
        right, asked = result[record["domain"]]
        result[record["domain"]] = (right + bool(verdict), asked + 1)
    return result


def domain_chart(scores: dict[int, tuple[int, int]]):
    """Horizontal bars: the share right in each domain, with the estimated pass line."""
    from .. import plots
    from matplotlib.figure import Figure

    plots.style()
    fig = Figure(figsize=(7.0, 2.8))
    ax = fig.subplots()
    names = [DOMAINS[d] for d in scores][::-1]
    shares = [100 * r / a if a else 0 for r, a in scores.values()][::-1]
    colours = plots.palette()
    bars = ax.barh(names, shares, color=[colours[i % len(colours)] for i in range(len(names))][::-1],
                   hatch=["//", "..", "xx", "--"][:len(names)])
    ax.axvline(100 * (PASS_MARK - 100) / 900, color="0.3", linestyle="--", label="pass line (estimate)")
    ax.set_xlim(0, 100)
    ax.set_xlabel("questions right (%)")
    ax.set_title("Practice exam by domain")
    ax.legend(loc="lower right")
    for bar, (right, asked) in zip(bars, list(scores.values())[::-1]):
        ax.text(min(bar.get_width() + 1, 90), bar.get_y() + bar.get_height() / 2, f"{right}/{asked}",
                va="center")
    fig.tight_layout()
    return fig


class PracticeExam(Quiz):
    """A Quiz answered all the way through and marked at the end, against the clock if asked."""

    def __init__(self, records: list[dict], minutes: float | None = EXAM_MINUTES, record_results: bool = True):
        super().__init__(records, title="Practice exam", record_results=record_results, kind="exam")
        self.minutes, self.started, self.submitted_after = minutes, time.monotonic(), None

    def remaining_s(self) -> float | None:
        if self.minutes is None:
            return None
        return self.minutes * 60 - (time.monotonic() - self.started)

    def submit(self) -> dict:
        """Mark every question (unanswered ones are wrong) and record the result."""
        for index, record in enumerate(self.records):
            if len(self.choices[index]) != len(record["answers"]):
                self.choices[index] = set(self.choices[index])  # too few or too many picks: wrong
                self.checked[index] = False
                if self.record_results:
                    _store.record_answer(record["id"], False)
            else:
                self.check(index)
        self.submitted_after = time.monotonic() - self.started
        domains = by_domain(self.records, self.checked)
        score = scaled_score(self.right, len(self.records))
        if self.record_results:
            _store.record_exam(score, domains, self.submitted_after)
        return {"score": score, "right": self.right, "total": len(self.records), "by_domain": domains,
                "passed_estimate": score >= PASS_MARK,
                "over_time": self.minutes is not None and self.submitted_after > self.minutes * 60}

    def missed(self) -> list[int]:
        return [i for i, verdict in enumerate(self.checked) if not verdict]


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def build(exam: PracticeExam):
    """One question at a time, Previous/Next, Submit; then the score, the chart and what was missed."""
    import ipywidgets as w

    state = {"index": 0}
    header, body, footer = w.HTML(), w.VBox(), w.HTML()
    clock = w.HTML()
    clock.add_class("lab-exam-clock")
    previous, following = w.Button(description="◀ Previous"), w.Button(description="Next ▶")
    submit = w.Button(description="Submit the exam", button_style="warning")
    submit.add_class("lab-exam-submit")
    results = w.VBox()
    results.add_class("lab-exam-results")

    def clock_text():
        left = exam.remaining_s()
        answered = sum(1 for c in exam.choices if c)
        text = f"{answered} of {len(exam.records)} answered"
        if left is not None:
            text += f" · {max(left, 0) / 60:.0f} of {exam.minutes:.0f} minutes left" + (
                " (time is up: submit to see your score)" if left <= 0 else "")
        clock.value = text

    def show():
        index = state["index"]
        record = exam.records[index]
        header.value = question_html(record, index + 1, len(exam.records))
        options = _option_widget(record, lambda chosen, index=index: (exam.choices.__setitem__(index, chosen),
                                                                     clock_text()))
        _restore(options, exam.choices[index], len(record["answers"]) == 1)
        body.children = [options]
        previous.disabled, following.disabled = index == 0, index == len(exam.records) - 1
        clock_text()

    def move(step):
        state["index"] = max(0, min(len(exam.records) - 1, state["index"] + step))
        show()

    def finish(_):
        outcome = exam.submit()
        submit.disabled = previous.disabled = following.disabled = True
        verdict = ("at or above" if outcome["passed_estimate"] else "below")
        summary = w.HTML(
            f"<h3 class='lab-exam-score'>Score {outcome['score']} of 1000 ({outcome['right']}/{outcome['total']} "
            f"right)</h3><p>That is {verdict} the pass mark of {PASS_MARK}. <b>An estimate:</b> AWS scales real "
            "scores across exam forms and leaves unscored questions out; this maps the share you got right onto "
            "100-1000.</p>")
        chart = w.Image(value=_png(domain_chart(outcome["by_domain"])), format="png")
        missed = [w.HTML(f"<hr>{question_html(exam.records[i], i + 1, len(exam.records))}"
                         f"{exam.feedback_html(i)}") for i in exam.missed()]
        results.children = [summary, chart, w.HTML(f"<h4>Review what you missed ({len(missed)})</h4>"), *missed]

    previous.on_click(lambda _: move(-1))
    following.on_click(lambda _: move(1))
    submit.on_click(finish)
    show()
    widget = w.VBox([w.HTML("<h3>Practice exam · DVA-C02 style</h3>"), clock, header, body,
                     w.HBox([previous, following, submit]), footer, results])
    widget.add_class("lab-exam")
    widget.controller = exam
    return widget


def _restore(options, chosen: set[int], single: bool) -> None:
    if single:
        options.value = next(iter(chosen)) if chosen else None
    else:
        for i, box in enumerate(options.children):
            box.value = i in chosen


def practice_exam(n: int = 65, seed: int | None = None, timer: bool = True, record_results: bool = True):
    """A DVA-C02-style practice exam from the whole bank: `n` questions by domain weight, 130 minutes if `timer`."""
    return build(PracticeExam(draw(n, seed), minutes=EXAM_MINUTES * n / 65 if timer else None,
                              record_results=record_results))
