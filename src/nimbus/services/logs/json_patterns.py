"""JSON filter patterns for FilterLogEvents (pure): ``{ $.level = "ERROR" && $.latency > 100 }``.

The grammar AWS documents for JSON log events: a selector (``$.a.b``, ``$.list[0]``) compared with
``=``/``!=`` to a string (``*`` is a wildcard) or a ``%regex%``, with ``= != < > <= >=`` to a number,
or tested with ``IS TRUE``, ``IS FALSE``, ``IS NULL``, ``NOT EXISTS``; comparisons joined with ``&&``
and ``||`` and grouped with parentheses. A message that is not a JSON object matches no JSON pattern,
and a comparison on a field the event does not have is false.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from nimbus.services.logs.filters import PatternError, compile_regex

Matcher = Callable[[Any], bool]

_MISSING = object()
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<regex>%[^%]*%)
      | (?P<selector>\$[^\s=!<>()&|]*)
      | (?P<word>[^\s=!<>()&|"]+)
    )""",
    re.VERBOSE,
)
_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
MAX_NESTING = 32  # parentheses; a 1,024-character pattern could otherwise exhaust the stack


def _compile(pattern: str) -> tuple[Matcher, list[tuple[str, list[str | int]]]]:
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise PatternError("Invalid JSON filter pattern: it must be enclosed in { }.")
    tokens = _tokenize(text[1:-1])
    parser = _Parser(tokens)
    test = parser.expression()
    if parser.pos != len(tokens):
        raise PatternError(f"Invalid JSON filter pattern: unexpected {tokens[parser.pos][1]!r}.")
    return test, parser.selectors


def _object(message: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(message)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def compile_json_pattern(pattern: str) -> Callable[[str], bool]:
    test, _ = _compile(pattern)

    def match(message: str) -> bool:
        doc = _object(message)
        return doc is not None and test(doc)

    return match


def compile_json_extractor(pattern: str) -> Callable[[str], dict[str, str] | None]:
    """None for a message the pattern does not match, else the values of the selectors it names
    (``{"$.latency": "120"}``; a selector the event lacks is left out)."""
    test, selectors = _compile(pattern)

    def extract(message: str) -> dict[str, str] | None:
        doc = _object(message)
        if doc is None or not test(doc):
            return None
        out: dict[str, str] = {}
        for selector, path in selectors:
            value = _lookup(doc, path)
            if value is not _MISSING:
                out[selector] = _text(value)
        return out

    return extract


def json_value(doc: Any, selector: str) -> Any:
    """The value at ``selector`` (``$.a.b[0]``) in a parsed document, or None."""
    value = _lookup(doc, _path(selector))
    return None if value is _MISSING else value


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise PatternError(f"Invalid JSON filter pattern near {text[pos:].strip()[:20]!r}.")
        kind = m.lastgroup or "word"
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def _path(selector: str) -> list[str | int]:
    rest = selector[1:]
    segments: list[str | int] = []
    pos = 0
    while pos < len(rest):
        m = _SEGMENT.match(rest, pos)
        if m is None:
            raise PatternError(f"Invalid JSON filter pattern: bad selector {selector!r}.")
        segments.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not segments:
        raise PatternError(f"Invalid JSON filter pattern: bad selector {selector!r}.")
    return segments


def _lookup(doc: Any, path: list[str | int]) -> Any:
    for seg in path:
        if isinstance(seg, int):
            if not isinstance(doc, list) or seg >= len(doc):
                return _MISSING
            doc = doc[seg]
        else:
            if not isinstance(doc, dict) or seg not in doc:
                return _MISSING
            doc = doc[seg]
    return doc


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.selectors: list[tuple[str, list[str | int]]] = []

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self) -> tuple[str, str]:
        tok = self._peek()
        if tok is None:
            raise PatternError("Invalid JSON filter pattern: it ends too early.")
        self.pos += 1
        return tok

    def expression(self) -> Matcher:
        left = self._conjunction()
        while self._peek() == ("op", "||"):
            self.pos += 1
            right = self._conjunction()
            left = (lambda a, b: lambda doc: a(doc) or b(doc))(left, right)
        return left

    def _conjunction(self) -> Matcher:
        left = self._unary()
        while self._peek() == ("op", "&&"):
            self.pos += 1
            right = self._unary()
            left = (lambda a, b: lambda doc: a(doc) and b(doc))(left, right)
        return left

    def _unary(self) -> Matcher:
        if self._peek() == ("op", "("):
            self.pos += 1
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise PatternError(f"Invalid JSON filter pattern: parentheses nest deeper than {MAX_NESTING}.")
            inner = self.expression()
            if self._next() != ("op", ")"):
                raise PatternError("Invalid JSON filter pattern: missing ')'.")
            self.depth -= 1
            return inner
        return self._comparison()

    def _comparison(self) -> Matcher:
        kind, selector = self._next()
        if kind != "selector":
            raise PatternError(f"Invalid JSON filter pattern: expected a $ selector, got {selector!r}.")
        path = _path(selector)
        if all(selector != s for s, _ in self.selectors):
            self.selectors.append((selector, path))
        kind, op = self._next()
        if kind == "word" and op.upper() in ("IS", "NOT"):
            _, what = self._next()
            test = {("IS", "NULL"): lambda v: v is None, ("IS", "TRUE"): lambda v: v is True, ("IS", "FALSE"): lambda v: v is False}
            if (op.upper(), what.upper()) == ("NOT", "EXISTS"):
                return lambda doc: _lookup(doc, path) is _MISSING
            check = test.get((op.upper(), what.upper()))
            if check is None:
                raise PatternError(f"Invalid JSON filter pattern: {op} {what}.")
            return lambda doc: check(_lookup(doc, path))
        if kind != "op" or op in ("&&", "||", "(", ")"):
            raise PatternError(f"Invalid JSON filter pattern: expected an operator after {selector}.")
        vkind, raw = self._next()
        value_test = self._value_test(op, vkind, raw)

        def compare(doc: Any) -> bool:
            value = _lookup(doc, path)
            return value is not _MISSING and value_test(value)

        return compare

    @staticmethod
    def _value_test(op: str, kind: str, raw: str) -> Callable[[Any], bool]:
        if kind == "regex":
            if op not in ("=", "!="):
                raise PatternError("Invalid JSON filter pattern: a regex compares with = or != only.")
            regex = compile_regex(raw[1:-1])
            hit: Callable[[Any], bool] = lambda v: v is not None and regex.search(_text(v)) is not None  # noqa: E731
            return hit if op == "=" else (lambda v: not hit(v))
        if kind == "word" and _NUMBER.fullmatch(raw):
            number = float(raw)
            ops: dict[str, Callable[[float], bool]] = {
                "=": lambda x: x == number,
                "!=": lambda x: x != number,
                "<": lambda x: x < number,
                ">": lambda x: x > number,
                "<=": lambda x: x <= number,
                ">=": lambda x: x >= number,
            }
            numeric = ops[op]
            return lambda v: numeric(float(v)) if _is_number(v) else (op in ("=", "!=") and (_text(v) == raw) == (op == "="))
        if kind not in ("string", "word"):
            raise PatternError(f"Invalid JSON filter pattern: unexpected {raw!r}.")
        if op not in ("=", "!="):
            raise PatternError(f"Invalid JSON filter pattern: {op} compares numbers only.")
        text = json.loads(raw) if kind == "string" else raw
        wildcard = re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)
        equal: Callable[[Any], bool] = lambda v: v is not None and wildcard.fullmatch(_text(v)) is not None  # noqa: E731
        return equal if op == "=" else (lambda v: not equal(v))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)
