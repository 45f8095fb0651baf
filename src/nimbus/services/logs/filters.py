"""CloudWatch Logs filter patterns for FilterLogEvents (pure).

Supported: plain terms (every term must appear, case-sensitive), quoted phrases (``"ERROR 42"``),
``?term`` alternatives (any of the ``?`` terms matches), ``-term`` exclusions, and the empty pattern
(everything). JSON (``{ $.x = ... }``) and space-delimited (``[a, b]``) patterns are answered with
InvalidParameterException rather than silently matching everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class PatternError(ValueError):
    pass


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
    if text[0] in "{[":
        raise PatternError("Nimbus supports term filter patterns (terms, quoted phrases, ?alternatives, -exclusions) only.")
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
