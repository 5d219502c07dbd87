"""The question bank: every question well-formed, weights as the exam's, every notebook covered."""

import collections
import json
import pathlib

import pytest

import lambda_lab
from lambda_lab.exam import _bank

ROOT = pathlib.Path(__file__).parents[1]


def test_every_question_is_well_formed_and_points_at_a_real_section():
    headings = {}
    for record in lambda_lab.questions():
        path = ROOT / "notebooks" / f"{record['notebook']}.ipynb"
        assert path.exists(), record["id"]
        if path not in headings:
            cells = json.loads(path.read_text())["cells"]
            headings[path] = {line.lstrip("#").strip() for c in cells if c["cell_type"] == "markdown"
                              for line in "".join(c["source"]).splitlines() if line.startswith("#")}
        assert record["section"] in headings[path], (record["id"], record["section"], sorted(headings[path]))
        assert len(record["options"]) == len(record["explanations"])
        assert all(0 <= a < len(record["options"]) for a in record["answers"])


@pytest.mark.parametrize("bad, why", [
    ({"domain": 5}, "domain"),
    ({"task": "3.1"}, "task"),
    ({"source": "https://example.com/dump"}, "source"),
    ({"options": [{"text": "a", "why": "x", "correct": True}, {"text": "b", "why": "y"}]}, "4 to 6"),
    ({"options": [{"text": t, "why": "w", "correct": True} for t in "abcd"]}, "Choose"),
    ({"options": [{"text": t, "why": "w"} for t in "abcd"]}, "correct"),
    ({"options": [{"text": t} for t in "abcd"]}, "why"),
])
def test_a_malformed_question_is_refused_with_a_reason(bad, why):
    good = {"id": "x", "domain": 1, "task": "1.2", "section": "s", "stem": "What happens?",
            "options": [{"text": t, "why": "w", "correct": t == "a"} for t in "abcd"],
            "source": "https://docs.aws.amazon.com/lambda/latest/dg/welcome.html"}
    assert _bank._check("f.yaml", good, "00")["answers"] == [0]
    with pytest.raises(_bank.BankError, match=why):
        _bank._check("f.yaml", {**good, **bad}, "00")
