"""CloudWatch Logs filter patterns, as FilterLogEvents applies them to log events.

Unstructured patterns: terms (all must occur, case-sensitive), `"quoted phrases"`, `?term` (any of the `?`
terms), `-term` (must not occur), `%regular expression%`. JSON patterns: `{ $.level = "ERROR" }` with `=`, `!=`,
`<`, `<=`, `>`, `>=`, `*` wildcards in strings, `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`, `&&`, `||` and
parentheses; selectors `$.a.b`, `$.list[0]`. Space-delimited patterns (`[ip, user, ...]`) are not supported:
they raise ValueError, which the caller answers as CloudWatch answers a pattern it cannot parse.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Callable

__all__ = ["compile_pattern"]

Matcher = Callable[[str], bool]
_TOKEN = re.compile(r'\s*(&&|\|\||\(|\)|!=|<=|>=|=|<|>|"(?:[^"\\]|\\.)*"|\$[\w.\[\]]*|[^\s()&|!=<>"]+)')


@lru_cache(maxsize=256)
def compile_pattern(pattern: str | None) -> Matcher:
    """A function telling whether a log message matches `pattern` (empty: every message)."""
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        if not text.endswith("}"):
            raise ValueError("a JSON filter pattern ends with }")
        return _json_matcher(text[1:-1])
    if text.startswith("["):
        raise ValueError("space-delimited filter patterns ([w1, w2, ...]) are not supported by the lab")
    if len(text) > 1 and text.startswith("%") and text.endswith("%"):
        regex = re.compile(text[1:-1])
        return lambda message: regex.search(message) is not None
    return _terms_matcher(text)


def _terms_matcher(text: str) -> Matcher:
    required, optional, excluded = [], [], []
    for match in re.finditer(r'([?-]?)("(?:[^"\\]|\\.)*"|\S+)', text):
        sign, term = match.groups()
        if term.startswith('"') and term.endswith('"') and len(term) > 1:
            term = term[1:-1].replace('\\"', '"')
        {"?": optional, "-": excluded}.get(sign, required).append(term)

    def matches(message: str) -> bool:
        return (all(term in message for term in required) and not any(term in message for term in excluded)
                and (not optional or any(term in message for term in optional)))

    return matches


def _json_matcher(body: str) -> Matcher:
    tokens, at = [], 0
    while body[at:].strip():
        token = _TOKEN.match(body, at)
        if token is None:
            raise ValueError(f"cannot parse the JSON filter pattern {{{body}}} at {body[at:]!r}")
        tokens.append(token.group(1))
        at = token.end()
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise ValueError(f"the JSON filter pattern {{{body}}} ends too early")
        position += 1
        return tokens[position - 1]

    def expression() -> Callable[[dict], bool]:
        left = term()
        while peek() in ("&&", "||"):
            operator, right = take(), term()
            left = (lambda a, b: lambda doc: a(doc) and b(doc))(left, right) if operator == "&&" else \
                (lambda a, b: lambda doc: a(doc) or b(doc))(left, right)
        return left

    def term() -> Callable[[dict], bool]:
        if peek() == "(":
            take()
            inner = expression()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {{{body}}}")
            return inner
        selector = take()
        if not selector.startswith("$"):
            raise ValueError(f"a JSON filter term starts with a selector such as $.level, not {selector!r}")
        path = _path(selector)
        operator = take()
        if operator.upper() == "IS":
            word = take().upper()
            if word not in ("NULL", "TRUE", "FALSE"):
                raise ValueError(f"IS must be followed by NULL, TRUE or FALSE, not {word}")
            expected = {"NULL": None, "TRUE": True, "FALSE": False}[word]
            return lambda doc: (found := _select(doc, path))[0] and found[1] is expected
        if operator.upper() == "NOT":
            if take().upper() != "EXISTS":
                raise ValueError("NOT must be followed by EXISTS")
            return lambda doc: not _select(doc, path)[0]
        return _comparison(path, operator, take())

    matcher = expression()
    if position != len(tokens):
        raise ValueError(f"unexpected {tokens[position]!r} in the JSON filter pattern")

    def matches(message: str) -> bool:
        if not message.lstrip().startswith("{"):
            return False
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and matcher(document)

    return matches


def _path(selector: str) -> list:
    parts: list = []
    for name, index in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", selector[1:]):
        parts.append(int(index) if index else name)
    return parts


def _select(document, path: list) -> tuple[bool, object]:
    value = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return False, None
            value = value[part]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return False, None
    return True, value


def _comparison(path: list, operator: str, literal: str) -> Callable[[dict], bool]:
    if literal.startswith('"'):
        wanted: object = literal[1:-1].replace('\\"', '"')
    else:
        try:
            wanted = float(literal)
        except ValueError:
            wanted = literal  # an unquoted word compares as a string, as CloudWatch allows
    if isinstance(wanted, str):
        if operator not in ("=", "!="):
            raise ValueError(f"strings compare only with = or != in a JSON filter pattern, not {operator}")
        regex = re.compile("^" + ".*".join(re.escape(part) for part in wanted.split("*")) + "$", re.S)

        def string_test(doc: dict) -> bool:
            found, value = _select(doc, path)
            if not found or isinstance(value, (dict, list)) or value is None:
                return False
            text = value if isinstance(value, str) else json.dumps(value)
            return (regex.match(text) is not None) == (operator == "=")

        return string_test
    compare = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[operator]

    def number_test(doc: dict) -> bool:
        found, value = _select(doc, path)
        return found and isinstance(value, (int, float)) and not isinstance(value, bool) and compare(value, wanted)

    return number_test
