"""Quizzes, the practice exam, spaced review and progress: driven as a learner would, results kept on disk."""

import collections
import json
import pathlib

import pytest

import lambda_lab
from lambda_lab import checks
from lambda_lab.exam import _bank, _practice, _store
from lambda_lab.exam._bank import EXAM_WEIGHTS

NOTEBOOKS = sorted(p.stem for p in (pathlib.Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))  # lessons


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMBDA_LAB_HOME", str(tmp_path))
    return tmp_path


def _pick(options, indexes):
    """Click the options a learner would: a radio button, or several checkboxes."""
    if not hasattr(options, "children"):
        options.value = indexes[0]
    else:
        for i, box in enumerate(options.children):
            box.value = i in indexes


# --- the bank as a whole ------------------------------------------------------------------------------------

def test_the_bank_is_big_enough_and_weighted_like_the_exam():
    bank = lambda_lab.questions()
    assert len(bank) >= 200
    shares = collections.Counter(q["domain"] for q in bank)
    for domain, weight in EXAM_WEIGHTS.items():
        assert abs(shares[domain] / len(bank) - weight) <= 0.05, (domain, shares[domain], len(bank))


def test_every_notebook_has_at_least_eight_questions():
    per_notebook = collections.Counter(q["notebook"] for q in lambda_lab.questions())
    assert {nb: per_notebook[nb] for nb in NOTEBOOKS if per_notebook[nb] < 8} == {}


def test_choose_two_questions_say_so_and_single_ones_do_not():
    for q in lambda_lab.questions():
        assert ("(Choose two.)" in q["stem"]) == (len(q["answers"]) == 2), q["id"]


def test_questions_by_notebook_name_or_number_and_a_helpful_error():
    assert lambda_lab.questions("04") == lambda_lab.questions("04_invocation_types")
    with pytest.raises(ValueError, match="no questions for notebook '99'"):
        lambda_lab.questions("99")


# --- a notebook's quiz --------------------------------------------------------------------------------------

def test_a_right_answer_is_marked_right_and_every_option_is_explained(home):
    widget = lambda_lab.quiz("04_invocation_types", n=3)
    quiz = widget.controller
    first = widget.children[1]
    record = quiz.records[0]
    _pick(first.children[1], record["answers"])
    first.children[2].click()
    feedback = first.children[3].value
    assert "Right" in feedback
    for explanation in record["explanations"]:
        assert explanation.replace("'", "&#x27;").replace('"', "&quot;") in feedback or explanation in feedback
    assert f"{record['notebook']}.ipynb#{record['section'].replace(' ', '-')}" in feedback.replace("&#x27;", "'")
    assert "1 of 3 right" in widget.children[-1].value
    saved = json.loads((home / "progress.json").read_text())
    assert saved["answers"][record["id"]]["box"] == 2


def test_a_wrong_answer_shows_the_right_one_and_comes_back_for_review(home):
    quiz = lambda_lab.quiz("04_invocation_types", n=2).controller
    record = quiz.records[0]
    wrong = next(i for i in range(len(record["options"])) if i not in record["answers"])
    if len(record["answers"]) == 1:
        quiz.choose(0, wrong)
    else:
        quiz.choose(0, [wrong, *record["answers"][1:]])
    assert quiz.check(0) is False
    assert "Not quite" in quiz.feedback_html(0) and "(your pick)" in quiz.feedback_html(0)
    assert _store.due() == [record["id"]]
    again = lambda_lab.review().controller
    assert [r["id"] for r in again.records] == [record["id"]]


def test_too_few_picks_for_choose_two_ask_for_two_instead_of_marking():
    record = next(q for q in lambda_lab.questions() if len(q["answers"]) == 2)
    from lambda_lab.exam._quiz import Quiz
    quiz = Quiz([record], record_results=False)
    quiz.choose(0, record["answers"][0])
    assert quiz.check(0) is None
    assert "Pick two options" in quiz.feedback_html(0)


def test_a_finished_quiz_is_recorded_once_with_its_score(home):
    quiz = lambda_lab.quiz("04", n=2).controller
    for i, record in enumerate(quiz.records):
        quiz.choose(i, record["answers"])
        quiz.check(i)
    quiz.check(0)
    assert _store.load()["quizzes"]["04_invocation_types"] == {"best": 2, "total": 2, "attempts": 1}


# --- spaced review ------------------------------------------------------------------------------------------

def test_leitner_boxes_move_up_on_right_and_back_to_one_on_wrong(home):
    day = _store.DAY_S
    assert _store.record_answer("q", True, now=0)["box"] == 2
    assert _store.due(now=0.5 * day) == [] and _store.due(now=1.0 * day) == ["q"]
    assert _store.record_answer("q", True, now=day)["box"] == 3
    assert _store.due(now=3.9 * day) == [] and _store.due(now=4.0 * day) == ["q"]
    assert _store.record_answer("q", False, now=4 * day) == {"box": 1, "right": 2, "wrong": 1, "last": 4 * day,
                                                             "due": 4 * day}


def test_review_says_so_when_nothing_is_due(home):
    assert "Nothing is due" in lambda_lab.review().value


def test_a_damaged_progress_file_is_set_aside_not_trusted(home):
    (home / "progress.json").write_text("{not json")
    _store.record_answer("q", True)
    assert _store.load()["answers"]["q"]["right"] == 1
    assert [p.name for p in home.iterdir() if p.name.startswith("progress.damaged-")]


# --- practice exam ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [65, 20, 7])
def test_the_draw_follows_the_exam_weights(n):
    drawn = _practice.draw(n, seed=3)
    assert len(drawn) == n == len({q["id"] for q in drawn})
    counts = collections.Counter(q["domain"] for q in drawn)
    assert dict(counts) == {d: c for d, c in _practice.domain_counts(n).items() if c}
    for domain, weight in EXAM_WEIGHTS.items():
        assert abs(counts[domain] - n * weight) < 1


def test_the_scaled_score_and_the_pass_mark():
    assert _practice.scaled_score(0, 65) == 100 and _practice.scaled_score(65, 65) == 1000
    assert _practice.scaled_score(47, 65) == 751 and _practice.scaled_score(46, 65) == 737
    assert _practice.scaled_score(40, 65) == 654 < _practice.PASS_MARK


def test_a_practice_exam_taken_in_the_widget_is_scored_charted_and_recorded(home):
    widget = lambda_lab.practice_exam(n=10, seed=1)
    exam = widget.controller
    clock, body, buttons, results = widget.children[1], widget.children[3], widget.children[4], widget.children[6]
    assert "0 of 10 answered" in clock.value and "20 of 20 minutes left" in clock.value
    for index, record in enumerate(exam.records):
        if index < 7:
            _pick(body.children[0], record["answers"])
        buttons.children[1].click()
    assert "7 of 10 answered" in clock.value
    buttons.children[2].click()
    summary = results.children[0].value
    assert "Score 730 of 1000 (7/10 right)" in summary and "estimate" in summary.lower()
    assert len(results.children) == 3 + 3  # summary, chart, heading, and the three missed questions
    saved = _store.load()["exams"][0]
    assert saved["score"] == 730 and sum(a for _, a in saved["by_domain"].values()) == 10


def test_the_domain_chart_draws_each_domains_share():
    fig = _practice.domain_chart({1: (3, 4), 2: (1, 2), 3: (0, 2), 4: (2, 2)})
    ax = fig.axes[0]
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == [100.0, 0.0, 50.0, 75.0]  # drawn bottom-up: domain 4 first


# --- progress -----------------------------------------------------------------------------------------------

def test_progress_counts_checks_quizzes_and_exams(home):
    with lambda_lab.Lab(quiet=True):
        with pytest.raises(checks.CheckFailed):
            checks.ex_05_timeout(function_name="missing")
    _store.record_check("ex_05_timeout", True)
    quiz = lambda_lab.quiz("05", n=1).controller
    quiz.choose(0, quiz.records[0]["answers"])
    quiz.check(0)
    mine = {r["notebook"]: r for r in lambda_lab.progress().rows}["05_function_configuration"]
    assert (mine["checks_passed"], mine["checks"], mine["quiz_best"], mine["questions_right"]) == (1, 2, 1, 1)
    assert _store.load()["checks"]["ex_05_timeout"] == {"passed": True, "runs": 2}
    fig = lambda_lab.progress().chart()
    assert 50.0 in [bar.get_height() for bar in fig.axes[0].patches]  # 05: one of its two checks passed


# --- the instructor's overview ------------------------------------------------------------------------------

def test_the_class_overview_gathers_every_learners_file(tmp_path, monkeypatch):
    import csv
    import subprocess
    import sys

    for learner, right in (("ada", True), ("grace", False)):
        monkeypatch.setenv("LAMBDA_LAB_HOME", str(tmp_path / "home" / learner / ".lambda-lab"))
        _store.record_check("ex_05_timeout", right)
        _store.record_answer("q04-async-retries-default", right)
    (tmp_path / "home" / "broken").mkdir()
    tool = pathlib.Path(__file__).parents[1] / "tools" / "class_progress.py"
    done = subprocess.run([sys.executable, str(tool), *map(str, sorted((tmp_path / "home").glob("*/.lambda-lab"))),
                           str(tmp_path / "home" / "broken"), "--out", str(tmp_path / "class")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "2 learners" in done.stdout and "skipped" in done.stderr
    rows = list(csv.DictReader(open(tmp_path / "class.csv")))
    assert [(r["learner"], r["checks_passed"], r["questions_right"]) for r in rows] == [("ada", "1", "1"),
                                                                                      ("grace", "0", "0")]
    assert (tmp_path / "class.png").read_bytes()[:4] == b"\x89PNG"


def test_options_are_shuffled_with_their_explanations_and_answers():
    bank = lambda_lab.questions()
    from lambda_lab.exam._quiz import shuffled
    positions = collections.Counter()
    for record in bank:
        mixed = shuffled(record, seed=1)
        assert sorted(zip(mixed["options"], mixed["explanations"])) == sorted(zip(record["options"],
                                                                                  record["explanations"]))
        assert {mixed["options"][a] for a in mixed["answers"]} == {record["options"][a] for a in record["answers"]}
        positions.update(mixed["answers"])
    assert min(positions[i] for i in range(4)) > len(bank) / 8  # no position holds most right answers
