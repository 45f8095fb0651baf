"""Composite alarms' AlarmRule language: parsing, the alarms named, evaluation, malformed rules."""

from __future__ import annotations

import pytest

from nimbus.services.cloudwatch.alarm_rules import (
    MAX_RULE_CHARS,
    Const,
    Join,
    Not,
    RuleError,
    StateIs,
    alarms_named,
    evaluate,
    parse,
)

ARN = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:disk-high"


def test_state_functions_bare_and_quoted() -> None:
    assert parse("ALARM(cpu)") == StateIs("ALARM", "cpu")
    assert parse('OK("my alarm")') == StateIs("OK", "my alarm")
    assert parse(f"INSUFFICIENT_DATA({ARN})") == StateIs("INSUFFICIENT_DATA", ARN)


def test_precedence_not_and_or() -> None:
    rule = parse("ALARM(a) OR NOT ALARM(b) AND TRUE")
    assert rule == Join("OR", (StateIs("ALARM", "a"), Join("AND", (Not(StateIs("ALARM", "b")), Const(True)))))
    assert parse("(ALARM(a) OR ALARM(b)) AND FALSE") == Join(
        "AND", (Join("OR", (StateIs("ALARM", "a"), StateIs("ALARM", "b"))), Const(False))
    )


def test_alarms_named_in_order_once() -> None:
    assert alarms_named(parse(f'ALARM(a) AND (OK(b) OR NOT ALARM("a")) OR ALARM({ARN})')) == ["a", "b", ARN]


def test_evaluate() -> None:
    states = {"a": "ALARM", "b": "OK", "c": "INSUFFICIENT_DATA"}
    rule = parse("ALARM(a) AND (OK(b) OR ALARM(c))")
    assert evaluate(rule, states.get)
    assert not evaluate(parse("ALARM(a) AND NOT OK(b)"), states.get)
    assert evaluate(parse("INSUFFICIENT_DATA(c)"), states.get)
    assert not evaluate(parse("ALARM(missing)"), states.get)
    assert evaluate(parse("TRUE"), states.get) and not evaluate(parse("FALSE"), states.get)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ALARM",
        "ALARM()",
        "ALARM(a",
        "ALARM(a))",
        "ALARM(a) AND",
        "AND ALARM(a)",
        "ALARM(a) ALARM(b)",
        "alarm(a)",
        "ALARMS(a)",
        "(ALARM(a)",
        "NOT",
        "ALARM(a) XOR ALARM(b)",
        "x" * (MAX_RULE_CHARS + 1),
    ],
)
def test_malformed_rules_refused(text: str) -> None:
    with pytest.raises(RuleError):
        parse(text)
