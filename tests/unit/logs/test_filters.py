import pytest

from nimbus.services.logs.filters import PatternError, compile_pattern, tokenize


def test_terms_are_all_required_and_case_sensitive() -> None:
    m = compile_pattern("ERROR disk")
    assert m("ERROR: disk full") and not m("ERROR: net") and not m("error disk")


def test_quoted_phrases_alternatives_and_exclusions() -> None:
    assert compile_pattern('"disk full"')("the disk full now")
    assert not compile_pattern('"disk full"')("disk is full")
    anyof = compile_pattern("?WARN ?ERROR")
    assert anyof("WARN x") and anyof("ERROR y") and not anyof("INFO")
    assert compile_pattern("ERROR -timeout")("ERROR disk") and not compile_pattern("ERROR -timeout")("ERROR timeout")
    assert [t.kind for t in tokenize('a ?"b c" -d')] == ["all", "any", "not"]


def test_empty_matches_everything() -> None:
    assert compile_pattern("")("anything") and compile_pattern(None)("x")
    assert compile_pattern("[ip, user, status]")("1.2.3.4 bob 200")  # space-delimited: test_space_patterns.py
    with pytest.raises(PatternError):
        compile_pattern('"unterminated')


def test_regex_patterns_within_aws_limits() -> None:
    colour = compile_pattern("%colou?r%")
    assert colour("the color") and colour("the colour") and not colour("the colr")
    assert compile_pattern("%^START %")("START RequestId") and not compile_pattern("%^START %")("x START ")
    for bad in ("%(a|b)%", "%é%"):
        with pytest.raises(PatternError):
            compile_pattern(bad)
