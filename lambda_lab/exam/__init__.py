"""Exam practice: the question bank, quizzes, a practice exam, spaced review and progress."""

from ._bank import questions

__all__ = ["questions"]
