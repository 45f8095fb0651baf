import pytest

from nimbus.services.logs.filters import PatternError, compile_pattern

EVENT = '{"level": "ERROR", "code": 500, "user": {"id": 1, "name": "ann"}, "tags": ["a", "b"], "ok": true, "gone": null}'


def matches(pattern: str, message: str = EVENT) -> bool:
    return compile_pattern(pattern)(message)


def test_string_equality_with_wildcards_and_regex() -> None:
    assert matches('{ $.level = "ERROR" }') and matches("{$.level=ERROR}") and matches('{ $.level = "ERR*" }')
    assert not matches('{ $.level = "error" }') and matches('{ $.level != "INFO" }')
    assert matches("{ $.level = %^ER+OR$% }") and not matches("{ $.level != %ERR% }")


def test_numbers_nested_selectors_and_arrays() -> None:
    assert matches("{ $.code >= 500 }") and not matches("{ $.code < 500 }") and matches("{ $.code = 500 }")
    assert matches("{ $.user.id = 1 }") and matches('{ $.tags[1] = "b" }') and not matches('{ $.tags[5] = "b" }')


def test_boolean_null_and_existence() -> None:
    assert matches("{ $.ok IS TRUE }") and not matches("{ $.ok IS FALSE }")
    assert matches("{ $.gone IS NULL }") and matches("{ $.nothing NOT EXISTS }") and not matches("{ $.user NOT EXISTS }")


def test_and_or_and_parentheses() -> None:
    assert matches("{ " + "(" * 10 + "$.code = 500" + ")" * 10 + " }")
    assert matches('{ $.level = "ERROR" && $.code = 500 }')
    assert not matches('{ $.level = "ERROR" && $.code = 200 }')
    assert matches('{ ($.code = 200 || $.code = 500) && $.user.name = "a*" }')


def test_missing_fields_and_non_json_messages_do_not_match() -> None:
    assert not matches('{ $.missing = "x" }') and not matches('{ $.missing != "x" }')
    assert not matches('{ $.level = "ERROR" }', "ERROR plain text") and not matches("{ $.code = 1 }", "[1]")


def test_malformed_patterns_are_errors() -> None:
    deep = "{ " + "(" * 400 + "$.code = 500" + ")" * 400 + " }"
    for bad in ('{ $.code > "a" }', "{ level = 1 }", "{ $.a = }", "{ $.a = 1", "{ $.a = %(x)% }", "{ $.a = 1 ) }", deep):
        with pytest.raises(PatternError):
            compile_pattern(bad)
