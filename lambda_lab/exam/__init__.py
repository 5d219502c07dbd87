"""Exam practice: the question bank, quizzes, a practice exam, spaced review and progress."""

from ._bank import questions
from ._practice import practice_exam
from ._progress import progress, review
from ._quiz import quiz

__all__ = ["questions", "quiz", "practice_exam", "review", "progress"]
