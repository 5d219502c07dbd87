"""The question bank: one YAML file per notebook under `exam/bank/`, read and checked once.

>>> import lambda_lab
>>> q = lambda_lab.questions("04_invocation_types")[0]
>>> sorted(q)[:3]
['answers', 'domain', 'explanations']
"""

from __future__ import annotations

import functools
import pathlib
import re

import yaml

__all__ = ["DOMAINS", "TASKS", "EXAM_WEIGHTS", "questions", "BankError"]

BANK = pathlib.Path(__file__).parent / "bank"
NOTEBOOKS = pathlib.Path(__file__).parents[2] / "notebooks"

# DVA-C02's four content domains, their share of the scored questions, and their task statements.
DOMAINS = {1: "Development with AWS Services", 2: "Security", 3: "Deployment",
           4: "Troubleshooting and Optimization"}
EXAM_WEIGHTS = {1: 0.32, 2: 0.26, 3: 0.24, 4: 0.18}
TASKS = {
    "1.1": "Develop code for applications hosted on AWS",
    "1.2": "Develop code for AWS Lambda",
    "1.3": "Use data stores in application development",
    "2.1": "Implement authentication and/or authorization for applications and AWS services",
    "2.2": "Implement encryption by using AWS services",
    "2.3": "Manage sensitive data in application code",
    "3.1": "Prepare application artifacts to be deployed to AWS",
    "3.2": "Test applications in development environments",
    "3.3": "Automate deployment testing",
    "3.4": "Deploy code by using AWS CI/CD services",
    "4.1": "Assist in a root cause analysis",
    "4.2": "Instrument code for observability",
    "4.3": "Optimize applications by using AWS services and features",
}
_WORDS = {1: "one", 2: "two", 3: "three"}
_FIELDS = {"id", "domain", "task", "section", "stem", "options", "source"}


class BankError(ValueError):
    """A question in the bank is malformed; the message names the file, the question and what is wrong."""


def _check(where: str, raw: dict, notebook: str) -> dict:
    """Turn one YAML entry into a record, refusing anything a learner could be misled by."""
    def fail(why):
        raise BankError(f"{where} ({raw.get('id', '?')}): {why}")

    missing = _FIELDS - set(raw)
    if missing:
        fail(f"missing {sorted(missing)}")
    extra = set(raw) - _FIELDS
    if extra:
        fail(f"unknown fields {sorted(extra)}")
    if raw["domain"] not in DOMAINS:
        fail(f"domain {raw['domain']!r} is not 1-4")
    task = str(raw["task"])
    if task not in TASKS or int(task[0]) != raw["domain"]:
        fail(f"task {task!r} is not a DVA-C02 task statement of domain {raw['domain']}")
    options = raw["options"]
    if not 4 <= len(options) <= 6:
        fail(f"{len(options)} options; the exam gives 4 to 6")
    for option in options:
        if set(option) - {"text", "correct", "why"} or not option.get("text") or not option.get("why"):
            fail(f"each option needs `text` and `why` (and `correct: true` on the right ones): {option}")
    answers = [i for i, option in enumerate(options) if option.get("correct") is True]
    if not answers:
        fail("no option is marked `correct: true`")
    stem = " ".join(str(raw["stem"]).split())
    asked = re.search(r"\((?:choose|select) (one|two|three)\.?\)", stem, re.I)
    if len(answers) > 1 and (not asked or asked.group(1).lower() != _WORDS.get(len(answers))):
        fail(f"{len(answers)} correct options, so the stem must say \"(Choose {_WORDS.get(len(answers))}.)\"")
    if len(answers) == 1 and asked and asked.group(1).lower() != "one":
        fail("one correct option, but the stem asks for more")
    if not str(raw["source"]).startswith("https://docs.aws.amazon.com/"):
        fail("`source` must be the AWS documentation page that backs the answer")
    texts = [" ".join(str(o["text"]).split()) for o in options]
    if len(set(texts)) != len(texts):
        fail("two options read the same")
    return {"id": str(raw["id"]), "domain": raw["domain"], "task": task, "notebook": notebook,
            "section": str(raw["section"]), "stem": stem, "options": texts, "answers": answers,
            "explanations": [" ".join(str(o["why"]).split()) for o in options], "source": str(raw["source"])}


# libyaml's safe loader when PyYAML has it (its wheels do): the same documents, a tenth of the CPU (0.04 s vs 0.4 s
# for the whole bank, paid in each kernel that shows a quiz)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _load() -> tuple[dict, ...]:
    records, ids, stems = [], set(), set()
    for path in sorted(BANK.glob("*.yaml")):
        notebook = path.stem
        entries = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or []
        for raw in entries:
            record = _check(path.name, raw, notebook)
            if record["id"] in ids:
                raise BankError(f"{path.name}: duplicate id {record['id']}")
            if record["stem"].lower() in stems:
                raise BankError(f"{path.name} ({record['id']}): the same stem is already in the bank")
            ids.add(record["id"])
            stems.add(record["stem"].lower())
            records.append(record)
    return tuple(records)


def questions(notebook: str | None = None) -> list[dict]:
    """The bank's questions (all, or one notebook's, by name like "04_invocation_types" or number "04").

    Each record: id, domain (1-4), task ("1.2"), notebook, section (the heading that teaches it), stem,
    options, answers (indices of the correct options), explanations (one per option) and source (an AWS page).
    """
    records = _load()
    if notebook is None:
        return [dict(r) for r in records]
    key = str(notebook).removesuffix(".ipynb")
    chosen = [dict(r) for r in records if r["notebook"] == key or r["notebook"].split("_")[0] == key]
    if not chosen:
        known = sorted({r["notebook"] for r in records})
        raise ValueError(f"no questions for notebook {notebook!r}; the bank has {', '.join(known)}")
    return chosen
