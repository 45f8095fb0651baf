"""Composite alarms' AlarmRule expressions (pure): parse once, list the alarms named, evaluate.

Grammar (CloudWatch's PutCompositeAlarm documentation): ``ALARM(x)``, ``OK(x)``, ``INSUFFICIENT_DATA(x)``
where ``x`` is an alarm name or ARN, bare or in double quotes; ``TRUE``, ``FALSE``; ``NOT``, ``AND``, ``OR``
(NOT binds tightest, then AND, then OR) and parentheses. At most 10,240 characters (the model's limit).
A malformed rule raises ``RuleError``; the api answers it as AWS does (ValidationError).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

MAX_RULE_CHARS = 10_240  # botocore model: AlarmRule max 10240
STATE_FUNCTIONS = {"ALARM": "ALARM", "OK": "OK", "INSUFFICIENT_DATA": "INSUFFICIENT_DATA"}


class RuleError(ValueError):
    pass


@dataclass(slots=True, frozen=True)
class StateIs:
    state: str
    alarm: str


@dataclass(slots=True, frozen=True)
class Const:
    value: bool


@dataclass(slots=True, frozen=True)
class Not:
    operand: Rule


@dataclass(slots=True, frozen=True)
class Join:
    op: str  # "AND" | "OR"
    operands: tuple[Rule, ...]


Rule = Union[StateIs, Const, Not, Join]

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))')


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise RuleError(f"Error in AlarmRule [{text}] at position {pos}: unexpected character")
        start = m.start(m.lastindex or 0)
        if m.group(1):
            out.append(("(", "(", start))
        elif m.group(2):
            out.append((")", ")", start))
        elif m.group(3) is not None:
            out.append(("str", m.group(3).replace('\\"', '"'), start))
        else:
            out.append(("word", m.group(4), start))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def fail(self, what: str) -> RuleError:
        where = self.toks[self.i][2] if self.i < len(self.toks) else len(self.text.rstrip())
        return RuleError(f"Error in AlarmRule [{self.text}] at position {where}: {what}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1] == word:
            self.i += 1
            return True
        return False

    def rule(self) -> Rule:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Join("OR", tuple(parts))

    def conjunction(self) -> Rule:
        parts = [self.unary()]
        while self.keyword("AND"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else Join("AND", tuple(parts))

    def unary(self) -> Rule:
        if self.keyword("NOT"):
            return Not(self.unary())
        tok = self.peek()
        if tok is None:
            raise self.fail("unexpected end of rule")
        kind, value, _ = tok
        if kind == "(":
            self.i += 1
            inner = self.rule()
            if self.peek() is None or self.peek()[0] != ")":  # type: ignore[index]
                raise self.fail("missing ')'")
            self.i += 1
            return inner
        if kind == "word" and value in ("TRUE", "FALSE"):
            self.i += 1
            return Const(value == "TRUE")
        if kind == "word" and value in STATE_FUNCTIONS:
            self.i += 1
            if self.peek() is None or self.peek()[0] != "(":  # type: ignore[index]
                raise self.fail(f"'(' expected after {value}")
            self.i += 1
            arg = self.peek()
            if arg is None or arg[0] not in ("str", "word") or not arg[1].strip():
                raise self.fail(f"alarm name or ARN expected in {value}(...)")
            self.i += 1
            if self.peek() is None or self.peek()[0] != ")":  # type: ignore[index]
                raise self.fail("missing ')'")
            self.i += 1
            return StateIs(STATE_FUNCTIONS[value], arg[1])
        raise self.fail(f"unexpected token '{value}'")


def parse(text: str) -> Rule:
    """The rule's tree; RuleError for an empty, too long or malformed rule."""
    if not text.strip():
        raise RuleError("AlarmRule must not be empty")
    if len(text) > MAX_RULE_CHARS:
        raise RuleError(f"AlarmRule must be at most {MAX_RULE_CHARS} characters long")
    parser = _Parser(text)
    rule = parser.rule()
    if parser.peek() is not None:
        raise parser.fail(f"unexpected token '{parser.peek()[1]}'")  # type: ignore[index]
    return rule


def alarms_named(rule: Rule) -> list[str]:
    """Alarm names or ARNs the rule refers to, in order of first appearance."""
    out: list[str] = []

    def walk(node: Rule) -> None:
        if isinstance(node, StateIs):
            if node.alarm not in out:
                out.append(node.alarm)
        elif isinstance(node, Not):
            walk(node.operand)
        elif isinstance(node, Join):
            for part in node.operands:
                walk(part)

    walk(rule)
    return out


def evaluate(rule: Rule, state_of: Callable[[str], str | None]) -> bool:
    """True when the rule holds; ``state_of(name_or_arn)`` gives an alarm's state (None: no such alarm,
    which matches no state function)."""
    if isinstance(rule, Const):
        return rule.value
    if isinstance(rule, StateIs):
        return state_of(rule.alarm) == rule.state
    if isinstance(rule, Not):
        return not evaluate(rule.operand, state_of)
    if rule.op == "AND":
        return all(evaluate(part, state_of) for part in rule.operands)
    return any(evaluate(part, state_of) for part in rule.operands)
