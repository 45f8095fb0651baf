"""CloudWatch Logs filter patterns for FilterLogEvents (pure).

Supported: plain terms (every term must appear, case-sensitive), quoted phrases (``"ERROR 42"``),
``?term`` alternatives (any of the ``?`` terms matches), ``-term`` exclusions, ``%regex%`` patterns
(AWS's subset: no parentheses, no multi-byte characters), JSON patterns (``{ $.x = ... }``, see
``json_patterns``), space-delimited patterns (``[ip, user, ..., status = 4*]``, see ``space_patterns``)
and the empty pattern (everything). ``compile_extractor`` also answers the values a match extracts
(TestMetricFilter's extractedValues, metric filters' ``$field`` values).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


class PatternError(ValueError):
    pass


def compile_regex(body: str) -> re.Pattern[str]:
    """The inside of a ``%regex%`` term, within AWS's limits: "The ( and ) operators are not supported",
    "Multi-byte characters are not supported"."""
    if "(" in body or ")" in body:
        raise PatternError("Invalid regex in filter pattern: the ( and ) operators are not supported.")
    if not body.isascii():
        raise PatternError("Invalid regex in filter pattern: multi-byte characters are not supported.")
    try:
        return re.compile(body)
    except re.error as e:
        raise PatternError(f"Invalid regex in filter pattern: {e}.") from e


@dataclass(slots=True, frozen=True)
class Term:
    text: str
    kind: str  # "all" | "any" | "not"


def tokenize(pattern: str) -> list[Term]:
    terms: list[Term] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c.isspace():
            i += 1
            continue
        kind = "all"
        if c in "?-" and i + 1 < n and not pattern[i + 1].isspace():
            kind = "any" if c == "?" else "not"
            i += 1
            c = pattern[i]
        if c == '"':
            end = i + 1
            buf: list[str] = []
            while end < n and pattern[end] != '"':
                if pattern[end] == "\\" and end + 1 < n:
                    end += 1
                buf.append(pattern[end])
                end += 1
            if end >= n:
                raise PatternError("Invalid filter pattern: unterminated quoted term")
            terms.append(Term("".join(buf), kind))
            i = end + 1
        else:
            end = i
            while end < n and not pattern[end].isspace():
                end += 1
            terms.append(Term(pattern[i:end], kind))
            i = end
    return terms


def compile_pattern(pattern: str | None) -> Callable[[str], bool]:
    text = (pattern or "").strip()
    if not text or text == '""':
        return lambda message: True
    if text[0] == "{":
        from nimbus.services.logs.json_patterns import compile_json_pattern

        return compile_json_pattern(text)
    if text[0] == "[":
        from nimbus.services.logs.space_patterns import compile_space_pattern

        extract = compile_space_pattern(text)
        return lambda message: extract(message) is not None
    if len(text) >= 2 and text[0] == "%" and text[-1] == "%":
        regex = compile_regex(text[1:-1])
        return lambda message: regex.search(message) is not None
    terms = tokenize(text)
    required = [t.text for t in terms if t.kind == "all"]
    anyof = [t.text for t in terms if t.kind == "any"]
    excluded = [t.text for t in terms if t.kind == "not"]

    def match(message: str) -> bool:
        if anyof and not any(t in message for t in anyof):
            return False
        if any(t not in message for t in required):
            return False
        return not any(t in message for t in excluded)

    return match


def compile_extractor(pattern: str | None) -> Callable[[str], dict[str, str] | None]:
    """None for a message the pattern does not match, else the values it extracts: ``{"$name": ...}`` for a
    space-delimited pattern's named fields, ``{"$.a.b": ...}`` for a JSON pattern's selectors, ``{}`` else."""
    text = (pattern or "").strip()
    if text[:1] == "[":
        from nimbus.services.logs.space_patterns import compile_space_pattern

        return compile_space_pattern(text)
    if text[:1] == "{":
        from nimbus.services.logs.json_patterns import compile_json_extractor

        return compile_json_extractor(text)
    match = compile_pattern(pattern)
    return lambda message: {} if match(message) else None
